// Keel's retrieval metrics against trec_eval itself (pytrec_eval 0.5.11), query by query: hand-made
// edge cases, then real Keel BM25 runs over SciFact test (300 queries, top 100), with and
// without score ties. Every per-query value and every mean must agree to 1e-4.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_CHUNK_OVERLAP,
  DEFAULT_CHUNK_SIZE,
  type ProcessorContext,
} from '@keel/contracts/jobs';
import {
  evaluate,
  evaluateRun,
  loadBeir,
  parseMetric,
  type Evaluation,
  type Qrels,
  type Run,
  type ScoredDoc,
} from '@keel/evaluation';
import { ingestDocumentsProcessor, SqliteStore } from '@keel/retrieval/processors';
import { scifactDir } from '../bench/common.js';
import { ensureTrecEval, trecEval, type TrecEvalResult } from '../support/trec-eval.js';

const TOLERANCE = 1e-4;
const MEASURES = ['ndcg', 'precision', 'recall', 'map', 'hit', 'mrr'] as const;

const metricsAt = (ks: number[]) => MEASURES.flatMap((m) => ks.map((k) => `${m}@${k}`));

/** trec_eval's name for a Keel metric (see test/support/trec_eval.py for `@k`). */
function trecName(metric: string): string {
  const { measure, k } = parseMetric(metric);
  switch (measure) {
    case 'ndcg':
      return `ndcg_cut_${k}`;
    case 'precision':
      return `P_${k}`;
    case 'recall':
      return `recall_${k}`;
    case 'map':
      return `map_cut_${k}`;
    case 'hit':
      return `success_${k}`;
    case 'mrr':
      // trec_eval's recip_rank has no cutoff: it is computed on the run cut to k.
      return `recip_rank@${k}`;
  }
}

/**
 * Every per-query value and every mean of ours against trec_eval's. trec_eval's answer has no
 * entry for a query absent from the run or without judgements: Keel scores those 0 (trec_eval -c
 * semantics), so the reference mean is over all qrels queries with missing = 0.
 */
function expectAgreement(
  ours: Evaluation,
  theirs: TrecEvalResult,
  qrels: Qrels,
  metrics: string[],
): number {
  const mismatches: string[] = [];
  let compared = 0;
  for (const metric of metrics) {
    const name = trecName(metric);
    let sum = 0;
    for (const qid of qrels.keys()) {
      const reference = theirs[qid]?.[name];
      if (theirs[qid] && reference === undefined) mismatches.push(`${qid} ${name}: not computed`);
      const expected = reference ?? 0;
      const actual = ours.perQuery.get(qid)![metric];
      sum += expected;
      compared += 1;
      if (!(Math.abs(actual - expected) <= TOLERANCE)) {
        mismatches.push(`${qid} ${metric}: keel ${actual} trec_eval ${expected}`);
      }
    }
    const mean = sum / qrels.size;
    if (!(Math.abs(ours.aggregate[metric] - mean) <= TOLERANCE)) {
      mismatches.push(`mean ${metric}: keel ${ours.aggregate[metric]} trec_eval ${mean}`);
    }
  }
  expect(mismatches.slice(0, 20)).toEqual([]);
  return compared;
}

const docs = (entries: Array<[string, number]>): ScoredDoc[] =>
  entries.map(([id, score]) => ({ id, score }));

beforeAll(() => {
  ensureTrecEval();
}, 300_000);

describe('trec_eval agreement: edge cases', () => {
  const qrels: Qrels = new Map<string, Map<string, number>>([
    // Ties: every document at one of two scores; relevant ones at both ends of each tie.
    [
      'ties',
      new Map([
        ['d01', 1],
        ['d05', 2],
        ['d09', 1],
        ['d10', 1],
        ['d13', 3],
      ]),
    ],
    // Ties between ids that UTF-16 and UTF-8 order differently.
    [
      'unicode',
      new Map([
        ['é', 1],
        ['\uffff', 0],
        ['😀', 2],
        ['a b', 1],
      ]),
    ],
    [
      'no-relevant',
      new Map([
        ['a', 0],
        ['b', 0],
        ['c', 0],
      ]),
    ],
    [
      'short-run',
      new Map([
        ['a', 1],
        ['x', 1],
        ['y', 2],
      ]),
    ],
    [
      'graded',
      new Map([
        ['g0', 0],
        ['g1', 1],
        ['g2', 2],
        ['g3', 3],
        ['g3b', 3],
        ['unretrieved', 2],
      ]),
    ],
    [
      'unjudged',
      new Map([
        ['j1', 1],
        ['j2', 0],
      ]),
    ],
    [
      'negative-grade',
      new Map([
        ['n', -1],
        ['m', 1],
      ]),
    ],
    ['empty-run', new Map([['a', 1]])],
    ['absent', new Map([['a', 1]])],
    ['no-judgements', new Map()],
  ]);
  const tieRun: ScoredDoc[] = Array.from({ length: 14 }, (_, i) => ({
    id: `d${String(i + 1).padStart(2, '0')}`,
    score: i < 7 ? 2.5 : 1.25,
  }));
  const run: Run = new Map<string, ScoredDoc[]>([
    ['ties', tieRun],
    [
      'unicode',
      docs([
        ['a b', 0.5],
        ['é', 0.5],
        ['\uffff', 0.5],
        ['😀', 0.5],
        ['z', 0.5],
      ]),
    ],
    [
      'no-relevant',
      docs([
        ['a', 3],
        ['b', 2],
        ['c', 1],
        ['d', 0],
      ]),
    ],
    [
      'short-run',
      docs([
        ['q', -1],
        ['a', -2],
        ['y', -2],
      ]),
    ],
    [
      'graded',
      docs([
        ['g1', 0.9],
        ['g0', 0.8],
        ['g3', 0.7],
        ['other', 0.6],
        ['g2', 0.5],
        ['g3b', 0.1],
      ]),
    ],
    [
      'unjudged',
      docs([
        ['u1', 10],
        ['u2', 9],
        ['j2', 8],
        ['u3', 7],
        ['j1', 6],
      ]),
    ],
    [
      'negative-grade',
      docs([
        ['n', 1],
        ['m', 0],
      ]),
    ],
    ['empty-run', []],
    ['not-in-qrels', docs([['a', 1]])],
  ]);
  const metrics = metricsAt([1, 2, 3, 5, 10, 100]);

  it('agrees on every measure, query and mean', async () => {
    const theirs = await trecEval(qrels, run, metrics.map(trecName));
    const ours = evaluate(run, qrels, metrics);
    expect(expectAgreement(ours, theirs, qrels, metrics)).toBe(metrics.length * qrels.size);
    // The -c semantics: 10 qrels queries in the means, 'not-in-qrels' ignored.
    expect([...ours.perQuery.keys()]).toHaveLength(10);
    for (const qid of ['no-relevant', 'empty-run', 'absent', 'no-judgements']) {
      expect(Object.values(ours.perQuery.get(qid)!).every((v) => v === 0)).toBe(true);
    }
  });

  it('documents what pytrec_eval returns for missing, empty and unjudged queries', async () => {
    const theirs = await trecEval(qrels, run, ['P_5', 'ndcg_cut_10']);
    // Scored (0) although its run is empty; left out when absent from the run, when only in
    // the run, and when the qrels hold no judgement at all.
    expect(theirs['empty-run']).toEqual({ P_5: 0, ndcg_cut_10: 0 });
    expect(theirs['no-relevant']).toEqual({ P_5: 0, ndcg_cut_10: 0 });
    expect(Object.keys(theirs).sort()).toEqual(
      [
        'empty-run',
        'graded',
        'negative-grade',
        'no-relevant',
        'short-run',
        'ties',
        'unicode',
        'unjudged',
      ].sort(),
    );
  });

  it('breaks ties by descending document id (an ascending tie-break would disagree)', async () => {
    const theirs = await trecEval(qrels, run, ['recip_rank']);
    // Score 2.5 holds d01–d07: trec_eval ranks d07, d06, d05 (grade 2), …
    expect(theirs.ties.recip_rank).toBeCloseTo(1 / 3, 12);
    expect(theirs.unicode.recip_rank).toBe(1); // 😀 sorts above U+FFFF in UTF-8
    expect(evaluate(run, qrels, ['mrr@10']).perQuery.get('ties')!['mrr@10']).toBeCloseTo(1 / 3, 12);
    // Ranked d01, d02, … instead, the first document is relevant.
    const ascending = [...tieRun].sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : 1));
    const asc = evaluateRun(
      new Map([['ties', ascending.map((d) => d.id)]]),
      new Map([['ties', qrels.get('ties')!]]),
    );
    expect(asc.mrrAt10).toBe(1);
  });
});

describe('trec_eval agreement: Keel BM25 runs over SciFact test', () => {
  const metrics = metricsAt([1, 3, 5, 10, 100]);
  let qrels: Qrels;
  let bm25: Run;
  let dataDir: string;

  beforeAll(async () => {
    const data = loadBeir(scifactDir(), 'test');
    qrels = data.qrels;
    dataDir = mkdtempSync(join(tmpdir(), 'keel-trec-eval-'));
    const store = SqliteStore.open(dataDir);
    try {
      store.migrate();
      const chunking = {
        chunkSize: DEFAULT_CHUNK_SIZE,
        chunkOverlap: DEFAULT_CHUNK_OVERLAP,
        encoding: 'o200k_base' as const,
      };
      const collection = store.createCollection('scifact', chunking);
      const context: ProcessorContext = {
        signal: new AbortController().signal,
        dataDir,
        progress: () => undefined,
      };
      for (let i = 0; i < data.corpus.length; i += 1000) {
        await ingestDocumentsProcessor.handle(
          {
            version: 1,
            collection: { id: collection.id, name: collection.name },
            chunking,
            documents: data.corpus.slice(i, i + 1000).map((d) => ({
              id: d.id,
              text: d.text.trim() === '' ? d.title : d.text,
              ...(d.title ? { title: d.title } : {}),
            })),
          },
          context,
        );
      }
      const run = new Map<string, ScoredDoc[]>();
      for (const qid of qrels.keys()) {
        const { hits } = store.search(collection.id, data.queries.get(qid)!, {
          topK: 100,
          group: 'document',
        });
        run.set(
          qid,
          hits.map((h) => ({ id: h.documentId, score: h.score })),
        );
      }
      bm25 = run;
    } finally {
      store.close();
    }
  }, 120_000);

  afterAll(() => {
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  /** The same run with scores rounded to one decimal: many ties. */
  const rounded = (run: Run): Run =>
    new Map(
      [...run].map(([qid, list]) => [
        qid,
        list.map((d) => ({ ...d, score: Math.round(d.score * 10) / 10 })),
      ]),
    );

  /** Each query's list in a seeded random order. */
  const shuffled = (run: Run): Run => {
    let state = 12345;
    const random = () => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    return new Map(
      [...run].map(([qid, list]) => {
        const copy = [...list];
        for (let i = copy.length - 1; i > 0; i--) {
          const j = Math.floor(random() * (i + 1));
          [copy[i], copy[j]] = [copy[j], copy[i]];
        }
        return [qid, copy];
      }),
    );
  };

  it('is a real run: 300 queries, up to 100 documents each', () => {
    expect(qrels.size).toBe(300);
    expect(bm25.size).toBe(300);
    expect(Math.max(...[...bm25.values()].map((l) => l.length))).toBe(100);
    const ours = evaluate(bm25, qrels, ['ndcg@10']);
    // Keel's BM25 on SciFact is near the published 0.665–0.679.
    expect(ours.aggregate['ndcg@10']).toBeGreaterThan(0.6);
  });

  it.each([
    ['BM25 scores', (run: Run) => run],
    ['scores rounded to 0.1 (ties)', rounded],
    ['rounded scores, lists shuffled', (run: Run) => shuffled(rounded(run))],
  ])('agrees with trec_eval: %s', async (_name, transform) => {
    const run = transform(bm25);
    const theirs = await trecEval(qrels, run, metrics.map(trecName));
    const ours = evaluate(run, qrels, metrics);
    expect(expectAgreement(ours, theirs, qrels, metrics)).toBe(300 * metrics.length);
  });

  it('the rounded run has ties that decide ranks', () => {
    const run = rounded(bm25);
    let tiedInTop10 = 0;
    for (const list of run.values()) {
      const top = [...list].sort((a, b) => b.score - a.score).slice(0, 10);
      for (let i = 1; i < top.length; i++) if (top[i].score === top[i - 1].score) tiedInTop10++;
    }
    expect(tiedInTop10).toBeGreaterThan(100);
    // Ranking the ties by ascending id instead changes the per-query values of some queries.
    const ascending = new Map(
      [...run].map(([qid, list]) => [
        qid,
        [...list].sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : 1)).map((d) => d.id),
      ]),
    );
    const wrong = evaluateRun(ascending, qrels);
    const right = evaluate(run, qrels, ['ndcg@10', 'mrr@10']).aggregate;
    expect(
      Math.abs(wrong.ndcgAt10 - right['ndcg@10']) + Math.abs(wrong.mrrAt10 - right['mrr@10']),
    ).toBeGreaterThan(1e-4);
  });
});
