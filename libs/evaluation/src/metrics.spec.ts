import { describe, expect, it } from 'vitest';
import {
  compareCodePoints,
  evaluate,
  evaluateRun,
  parseMetric,
  rankRun,
  scoreQuery,
} from './metrics.js';
import type { ScoredDoc } from './types.js';

const j = (entries: Array<[string, number]>) => new Map(entries);
/** A ranked list as strictly decreasing scores. */
const ranked = (...ids: string[]): ScoredDoc[] => ids.map((id, i) => ({ id, score: 100 - i }));

describe('parseMetric', () => {
  it('reads <measure>@<k> for every retrieval measure', () => {
    expect(parseMetric('ndcg@10')).toEqual({ name: 'ndcg@10', measure: 'ndcg', k: 10 });
    for (const m of ['mrr', 'recall', 'precision', 'map', 'hit']) {
      expect(parseMetric(`${m}@1`).measure).toBe(m);
    }
    expect(parseMetric('recall@10000').k).toBe(10_000);
  });

  it('rejects unknown names and bad cutoffs with a clear message', () => {
    expect(() => parseMetric('ndgc@10')).toThrow(/unknown retrieval metric 'ndgc@10'.*ndcg/);
    expect(() => parseMetric('NDCG@10')).toThrow(/unknown retrieval metric/);
    expect(() => parseMetric('ndcg')).toThrow(/unknown retrieval metric/);
    expect(() => parseMetric('exact_match')).toThrow(/unknown retrieval metric/);
    expect(() => parseMetric('ndcg@1.5')).toThrow(/unknown retrieval metric/);
    expect(() => parseMetric('ndcg@0')).toThrow(/k must be an integer from 1 to 10000/);
    expect(() => parseMetric('ndcg@10001')).toThrow(/k must be an integer/);
    expect(() => parseMetric('ndcg@010')).toThrow(/leading zeros/);
  });
});

describe('trec_eval ranking', () => {
  it('orders by score, then by document id descending', () => {
    const run = rankRun([
      { id: 'a', score: 1 },
      { id: 'c', score: 1 },
      { id: 'z', score: 0.5 },
      { id: 'b', score: 1 },
      { id: 'y', score: 2 },
    ]);
    expect(run.map((d) => d.id)).toEqual(['y', 'c', 'b', 'a', 'z']);
  });

  it('compares ids by code point (UTF-8 bytes), as strcmp does', () => {
    // UTF-16 code units would put the emoji (a surrogate pair) below U+FFFF.
    expect(compareCodePoints('😀', '\uffff')).toBeGreaterThan(0);
    expect(compareCodePoints('\uffff', '😀')).toBeLessThan(0);
    expect(compareCodePoints('é', 'z')).toBeGreaterThan(0);
    expect(compareCodePoints('ab', 'a')).toBeGreaterThan(0);
    expect(compareCodePoints('10', '9')).toBeLessThan(0);
    expect(compareCodePoints('x', 'x')).toBe(0);
    const ids = ['a', 'B', 'é', '\uffff', '😀', 'ab', 'a b', '10', '9', 'Z'];
    // pytrec_eval 0.5.11's ranks for these ids at one score (scripts in test/support).
    expect(rankRun(ids.map((id) => ({ id, score: 0.5 }))).map((d) => d.id)).toEqual([
      '😀',
      '\uffff',
      'é',
      'ab',
      'a b',
      'a',
      'Z',
      'B',
      '9',
      '10',
    ]);
  });

  it('rejects duplicate ids and NaN scores', () => {
    expect(() =>
      scoreQuery(
        [
          { id: 'a', score: 1 },
          { id: 'a', score: 2 },
        ],
        j([]),
        ['ndcg@10'],
      ),
    ).toThrow(/duplicate document id 'a'/);
    expect(() =>
      evaluate(new Map([['q', [...ranked('a', 'a')]]]), new Map([['q', j([])]]), ['ndcg@10']),
    ).toThrow(/duplicate document id 'a' in the run of query 'q'/);
    expect(() => scoreQuery([{ id: 'a', score: NaN }], j([]), ['ndcg@10'])).toThrow(
      /no numeric score/,
    );
  });
});

describe('retrieval metrics (trec_eval semantics)', () => {
  it('nDCG uses graded gains, a log2(rank + 1) discount and the ideal order of all judged documents', () => {
    const judgements = j([
      ['a', 2],
      ['b', 1],
      ['c', 0],
    ]);
    // run: c, b, a → DCG = 0 + 1/log2(3) + 2/log2(4); IDCG = 2 + 1/log2(3)
    const expected = (1 / Math.log2(3) + 2 / 2) / (2 + 1 / Math.log2(3));
    expect(scoreQuery(ranked('c', 'b', 'a'), judgements, ['ndcg@10'])['ndcg@10']).toBeCloseTo(
      expected,
      12,
    );
    expect(scoreQuery(ranked('a', 'b'), judgements, ['ndcg@10'])['ndcg@10']).toBe(1);
  });

  it('cuts both the run and the ideal at k', () => {
    const judgements = j([
      ['a', 1],
      ['b', 1],
      ['c', 1],
    ]);
    const s = scoreQuery(ranked('x', 'a'), judgements, ['ndcg@1', 'ndcg@2']);
    expect(s['ndcg@1']).toBe(0);
    expect(s['ndcg@2']).toBeCloseTo(1 / Math.log2(3) / (1 + 1 / Math.log2(3)), 12);
  });

  it('precision divides by k, recall by all relevant documents', () => {
    const judgements = j([
      ['a', 1],
      ['b', 2],
      ['c', 0],
    ]);
    const s = scoreQuery(ranked('a', 'c'), judgements, [
      'precision@1',
      'precision@10',
      'recall@1',
      'recall@100',
    ]);
    expect(s).toEqual({
      'precision@1': 1,
      'precision@10': 0.1,
      'recall@1': 0.5,
      'recall@100': 0.5,
    });
  });

  it('map@k sums precision at relevant ranks within k over all relevant documents', () => {
    const judgements = j([
      ['a', 1],
      ['b', 1],
      ['c', 1],
    ]);
    // run: a, x, b, y → precision at relevant ranks 1 and 3: 1 and 2/3; c never found.
    const s = scoreQuery(ranked('a', 'x', 'b', 'y'), judgements, ['map@1', 'map@2', 'map@100']);
    expect(s['map@1']).toBeCloseTo(1 / 3, 12);
    expect(s['map@2']).toBeCloseTo(1 / 3, 12);
    expect(s['map@100']).toBeCloseTo((1 + 2 / 3) / 3, 12);
  });

  it('mrr@k and hit@k look at the first relevant document within k', () => {
    const s = scoreQuery(ranked('x', 'y', 'a'), j([['a', 1]]), [
      'mrr@10',
      'mrr@2',
      'hit@2',
      'hit@3',
    ]);
    expect(s['mrr@10']).toBeCloseTo(1 / 3, 12);
    expect(s).toMatchObject({ 'mrr@2': 0, 'hit@2': 0, 'hit@3': 1 });
  });

  it('breaks score ties by descending document id', () => {
    const docs = [
      { id: 'a', score: 1 },
      { id: 'b', score: 1 },
    ];
    expect(scoreQuery(docs, j([['b', 1]]), ['mrr@10'])['mrr@10']).toBe(1);
    expect(scoreQuery(docs, j([['a', 1]]), ['mrr@10'])['mrr@10']).toBe(0.5);
    expect(scoreQuery(docs, j([['a', 1]]), ['hit@1'])['hit@1']).toBe(0);
  });

  it('grades below 1 are not relevant; negative grades give no gain', () => {
    const s = scoreQuery(
      ranked('n', 'z', 'r'),
      j([
        ['n', -1],
        ['z', 0],
        ['r', 1],
      ]),
      ['precision@1', 'mrr@10', 'ndcg@10', 'recall@10'],
    );
    expect(s['precision@1']).toBe(0);
    expect(s['mrr@10']).toBeCloseTo(1 / 3, 12);
    expect(s['ndcg@10']).toBeCloseTo(1 / Math.log2(4), 12);
    expect(s['recall@10']).toBe(1);
  });

  it('scores 0 when nothing is relevant, and a run shorter than k is fine', () => {
    const metrics = ['ndcg@10', 'mrr@10', 'recall@10', 'precision@10', 'map@10', 'hit@10'];
    const none = scoreQuery(ranked('a'), j([['a', 0]]), metrics);
    expect(Object.values(none)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(scoreQuery([], j([['a', 1]]), metrics)).toEqual(
      Object.fromEntries(metrics.map((m) => [m, 0])),
    );
    expect(scoreQuery(ranked('a'), j([['a', 1]]), ['recall@10000'])['recall@10000']).toBe(1);
  });
});

describe('evaluate', () => {
  const qrels = new Map([
    ['q1', j([['a', 1]])],
    ['q2', j([['b', 1]])],
    ['q3', j([['c', 1]])],
    ['q4', j([['d', 0]])],
  ]);

  it('averages over every qrels query: absent or empty runs score 0, run-only queries are ignored', () => {
    const run = new Map<string, ScoredDoc[]>([
      ['q1', ranked('a')],
      ['q3', []],
      ['q4', ranked('d')],
      ['extra', ranked('zz')],
    ]);
    const { aggregate, perQuery } = evaluate(run, qrels, ['mrr@10', 'precision@1']);
    expect(aggregate).toEqual({ 'mrr@10': 0.25, 'precision@1': 0.25 });
    expect([...perQuery.keys()]).toEqual(['q1', 'q2', 'q3', 'q4']);
    expect(perQuery.get('q2')).toEqual({ 'mrr@10': 0, 'precision@1': 0 });
  });

  it('gives 0 means for empty qrels', () => {
    expect(evaluate(new Map(), new Map(), ['ndcg@10']).aggregate).toEqual({ 'ndcg@10': 0 });
  });

  it('evaluateRun keeps the order of ranked lists', () => {
    const scores = evaluateRun(
      new Map([
        ['q1', ['a']],
        ['q2', ['x', 'b']],
      ]),
      new Map([
        ['q1', j([['a', 1]])],
        ['q2', j([['b', 1]])],
      ]),
    );
    expect(scores.queries).toBe(2);
    expect(scores.mrrAt10).toBe(0.75);
    expect(scores.recallAt100).toBe(1);
    expect(scores.ndcgAt10).toBeCloseTo((1 + 1 / Math.log2(3)) / 2, 12);
  });
});
