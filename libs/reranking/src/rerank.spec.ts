import { describe, expect, it } from 'vitest';
import { RerankError } from './errors.js';
import { rerank } from './rerank.js';
import {
  RERANK_FEATURES,
  RERANK_METHODS,
  type RerankCandidate,
  type RerankMethod,
} from './types.js';

const candidates: RerankCandidate[] = [
  { id: 'far', text: 'Heart disease is common. Many studies of the attack rate exist.', score: 3 },
  { id: 'adjacent', text: 'Aspirin lowers the heart attack rate in adults.', score: 2 },
  { id: 'titled', title: 'Aspirin and heart attack', text: 'A trial in adults.', score: 1 },
  { id: 'off', text: 'Lung function in smokers.', score: 4 },
];
const query = 'Does aspirin prevent a heart attack?';

describe('rerank', () => {
  it('returns ranked results with every feature, cut to topK', () => {
    const results = rerank(query, candidates, { method: 'keel', topK: 2 });
    expect(results).toHaveLength(2);
    expect(results.map((r) => r.rank)).toEqual([1, 2]);
    expect(results[0].score).toBeGreaterThanOrEqual(results[1].score);
    for (const r of results)
      expect(Object.keys(r.features).sort()).toEqual([...RERANK_FEATURES].sort());
  });

  it('lets content overturn a small first-stage margin under keel', () => {
    const close: RerankCandidate[] = [
      { id: 'off', text: 'Lung function in smokers.', score: 10 },
      { id: 'match', text: 'Aspirin lowers the heart attack rate.', score: 9.9 },
      { id: 'weak', text: 'A heart study.', score: 1 },
    ];
    const ids = rerank(query, close, { method: 'keel', topK: 3 }).map((r) => r.id);
    // 'weak' shares "heart" with the best candidate, which feedback rewards; 'off' shares nothing.
    expect(ids).toEqual(['match', 'weak', 'off']);
  });

  it('lifts a candidate like the best one over an unrelated one (feedback)', () => {
    const list: RerankCandidate[] = [
      { id: 'best', text: 'Aspirin lowers the heart attack rate in adults.', score: 10 },
      { id: 'off', text: 'Lung function in smokers.', score: 6 },
      { id: 'like', text: 'Heart attack rates in adults who take aspirin daily.', score: 5 },
      { id: 'other', text: 'Blood pressure after surgery.', score: 1 },
    ];
    const keel = rerank(query, list, { method: 'keel', topK: 4, weights: { feedback: 1 } });
    expect(keel.map((r) => r.id).slice(0, 2)).toEqual(['best', 'like']);
    const like = keel.find((r) => r.id === 'like')!;
    const off = keel.find((r) => r.id === 'off')!;
    expect(like.features.feedback).toBeGreaterThan(off.features.feedback);
    // Weight 0: nothing is computed and the feature reads 0.
    const without = rerank(query, list, { method: 'keel', topK: 4, weights: { feedback: 0 } });
    for (const r of without) expect(r.features.feedback).toBe(0);
  });

  it('ranks by the first-stage score alone when only that feature is weighted', () => {
    const weights = { first: 1, bm25: 0, proximity: 0, title: 0, coverage: 0, feedback: 0 };
    const ids = rerank(query, candidates, { method: 'keel', topK: 4, weights }).map((r) => r.id);
    expect(ids).toEqual(['off', 'far', 'adjacent', 'titled']);
  });

  it('has each single-scorer method follow its own feature', () => {
    expect(rerank(query, candidates, { method: 'title', topK: 1 })[0].id).toBe('titled');
    const proximity = rerank(query, candidates, { method: 'proximity', topK: 4 }).map((r) => r.id);
    expect(proximity.indexOf('adjacent')).toBeLessThan(proximity.indexOf('far'));
  });

  it('lets MMR demote a duplicate', () => {
    const dup: RerankCandidate[] = [
      { id: 'a', text: 'aspirin prevents heart attack in adults', score: 10 },
      { id: 'a-copy', text: 'aspirin prevents heart attack in adults', score: 9.9 },
      { id: 'b', text: 'heart attack risk after surgery', score: 9 },
      { id: 'z', text: 'lung function in smokers', score: 1 },
    ];
    const plain = rerank(query, dup, { method: 'keel', topK: 3 }).map((r) => r.id);
    const mmr = rerank(query, dup, { method: 'mmr', topK: 3 }).map((r) => r.id);
    // keel's feedback lifts a copy of the best candidate, so its MMR needs more weight on novelty.
    const keelMmr = rerank(query, dup, { method: 'keel', topK: 4, mmrLambda: 0.5 });
    expect(plain).toEqual(['a', 'a-copy', 'b']);
    expect(mmr).toEqual(['a', 'b', 'a-copy']);
    const keelIds = keelMmr.map((r) => r.id);
    expect(keelIds.slice(0, 2)).toEqual(['a', 'b']);
    expect(keelIds.indexOf('a-copy')).toBeGreaterThan(keelIds.indexOf('b'));
  });

  it('is deterministic and breaks ties by input order', () => {
    const same: RerankCandidate[] = ['x', 'y', 'z'].map((id) => ({ id, text: 'heart attack' }));
    for (const method of RERANK_METHODS) {
      const first = rerank(query, same, { method, topK: 3 });
      expect(first.map((r) => r.id)).toEqual(['x', 'y', 'z']);
      expect(rerank(query, same, { method, topK: 3 })).toEqual(first);
    }
    expect(rerank(query, candidates, { method: 'keel', topK: 4 })).toEqual(
      rerank(query, candidates, { method: 'keel', topK: 4 }),
    );
  });

  it('ranks unscored candidates by content (IDF from the candidates themselves)', () => {
    const unscored = candidates.map(({ id, text, title }) =>
      title ? { id, text, title } : { id, text },
    );
    const ids = rerank(query, unscored, { method: 'keel', topK: 4 }).map((r) => r.id);
    expect(ids[3]).toBe('off');
    expect(ids.slice(0, 2).sort()).toEqual(['adjacent', 'titled']);
  });

  it('returns nothing for no candidates', () => {
    expect(rerank(query, [], { method: 'keel', topK: 10 })).toEqual([]);
  });

  it('rejects an unknown method with a typed error and a stable code', () => {
    const call = () =>
      rerank(query, candidates, { method: 'cross-encoder' as RerankMethod, topK: 3 });
    expect(call).toThrow(RerankError);
    expect(call).toThrow(expect.objectContaining({ code: 'RERANK_METHOD_UNKNOWN' }));
  });

  it('rejects bad options as VALIDATION_FAILED', () => {
    for (const options of [
      { topK: 0 },
      { topK: 1.5 },
      { topK: 3, mmrLambda: 2 },
      { topK: 3, proximity: { window: 1000 } },
      { topK: 3, weights: { bogus: 1 } as never },
      { topK: 3, stats: { documentCount: Number.NaN, averageLength: 1, documentFrequency: {} } },
    ]) {
      expect(() => rerank(query, candidates, { method: 'keel', ...options })).toThrow(
        expect.objectContaining({ code: 'VALIDATION_FAILED' }),
      );
    }
  });
});
