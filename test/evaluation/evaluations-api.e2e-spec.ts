import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, startKeel, tempDir, type KeelServer } from '../support/keel-server.js';
import { sampleDocuments } from '../support/samples.js';

const SAMPLE_EVAL = join(REPO_ROOT, 'samples/keel-sample-eval');

function sampleQueries(): Array<{ id: string; text: string }> {
  return readFileSync(join(SAMPLE_EVAL, 'queries.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { _id: string; text: string })
    .map((q) => ({ id: q._id, text: q.text }));
}

function sampleQrels(): Record<string, Record<string, number>> {
  const qrels: Record<string, Record<string, number>> = {};
  for (const row of readFileSync(join(SAMPLE_EVAL, 'qrels/test.tsv'), 'utf8')
    .trim()
    .split('\n')
    .slice(1)) {
    const [qid, doc, grade] = row.split('\t');
    (qrels[qid] ??= {})[doc] = Number(grade);
  }
  return qrels;
}

describe('evaluations over HTTP', () => {
  let keel: KeelServer;
  const datasets = tempDir('keel-datasets-');

  async function finished(id: string): Promise<any> {
    for (let i = 0; i < 600; i++) {
      const { body } = await keel.request('GET', `/v1/evaluations/${id}`);
      if (['completed', 'failed', 'cancelled'].includes(body.state)) return body;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`evaluation ${id} did not finish`);
  }

  beforeAll(async () => {
    cpSync(SAMPLE_EVAL, join(datasets, 'sample-eval'), { recursive: true });
    cpSync(
      join(REPO_ROOT, 'samples/keel-sample-answers.jsonl'),
      join(datasets, 'sample-answers.jsonl'),
    );
    // A dataset whose qrels have a row with a missing column, on line 3.
    mkdirSync(join(datasets, 'broken/qrels'), { recursive: true });
    cpSync(join(SAMPLE_EVAL, 'queries.jsonl'), join(datasets, 'broken/queries.jsonl'));
    writeFileSync(
      join(datasets, 'broken/qrels/test.tsv'),
      'query-id\tcorpus-id\tscore\nq1\tkeel-container-sizing\t2\nq2\tkeel-backpressure\n',
    );
    keel = await startKeel({ env: { KEEL_DATASETS_DIR: datasets } });
    expect((await keel.request('POST', '/v1/collections', { name: 'sample' })).status).toBe(201);
    const ingest = await keel.request('POST', '/v1/collections/sample/documents?wait=true', {
      documents: sampleDocuments(),
    });
    expect(ingest.status).toBe(200);
  });

  afterAll(async () => {
    await keel?.dispose();
    rmSync(datasets, { recursive: true, force: true });
  });

  let bm25Id = '';
  let rerankId = '';

  it('runs an uploaded retrieval dataset as an eval job and keeps per-query values', async () => {
    const accepted = await keel.request('POST', '/v1/evaluations', {
      collection: 'sample',
      label: 'bm25',
      dataset: {
        name: 'sample-eval',
        split: 'test',
        queries: sampleQueries(),
        qrels: sampleQrels(),
      },
      config: {
        rerank: 'none',
        metrics: ['ndcg@10', 'mrr@10', 'recall@5', 'precision@3', 'map@10', 'hit@1'],
      },
    });
    expect(accepted.status).toBe(202);
    expect(accepted.headers.get('location')).toBe(`/v1/evaluations/${accepted.body.id}`);
    bm25Id = accepted.body.id;
    const done = await finished(bm25Id);
    expect(done.state).toBe('completed');
    const report = done.report;
    expect(report.metrics).toEqual([
      'ndcg@10',
      'mrr@10',
      'recall@5',
      'precision@3',
      'map@10',
      'hit@1',
    ]);
    expect(report.dataset).toEqual({
      kind: 'retrieval',
      name: 'sample-eval',
      split: 'test',
      queries: 12,
    });
    expect(report.perQuery).toHaveLength(12);
    // The sourdough question has one relevant document, and nothing else in the corpus is about
    // bread: it must be ranked first.
    const sourdough = report.perQuery.find((q: any) => q.id === 'q11');
    expect(sourdough.retrieved[0]).toBe('sourdough');
    expect(sourdough.metrics).toMatchObject({ 'mrr@10': 1, 'hit@1': 1, 'recall@5': 1 });
    for (const metric of report.metrics) {
      const mean = report.perQuery.reduce((s: number, q: any) => s + q.metrics[metric], 0) / 12;
      expect(report.aggregate[metric]).toBeCloseTo(mean, 12);
      expect(report.aggregate[metric]).toBeGreaterThan(0);
      expect(report.aggregate[metric]).toBeLessThanOrEqual(1);
    }
    const job = (await keel.request('GET', `/v1/jobs/${bm25Id}`)).body;
    expect(job).toMatchObject({ queue: 'eval', name: 'run-evaluation', state: 'completed' });
  });

  it('runs a named BEIR dataset from KEEL_DATASETS_DIR with rerank on', async () => {
    const accepted = await keel.request('POST', '/v1/evaluations', {
      collection: 'sample',
      dataset: { name: 'sample-eval', split: 'test' },
      config: {
        rerank: 'keel',
        metrics: ['ndcg@10', 'mrr@10', 'recall@5', 'precision@3', 'map@10', 'hit@1'],
      },
    });
    expect(accepted.status).toBe(202);
    rerankId = accepted.body.id;
    const done = await finished(rerankId);
    expect(done.state).toBe('completed');
    expect(done.report.label).toBe('bm25 + keel rerank');
    expect(done.report.config).toMatchObject({ rerank: 'keel', topK: 100, mode: 'bm25' });
    const listed = (await keel.request('GET', '/v1/evaluations')).body;
    expect(listed.map((e: any) => e.id)).toEqual(expect.arrayContaining([bm25Id, rerankId]));
  });

  it('compares two runs query by query with p-values', async () => {
    const res = await keel.request(
      'GET',
      `/v1/evaluations/${bm25Id}/compare/${rerankId}?metric=ndcg@10`,
    );
    expect(res.status).toBe(200);
    const c = res.body;
    expect(c.a.id).toBe(bm25Id);
    expect(c.b.id).toBe(rerankId);
    expect(c.queries).toBe(12);
    expect(c.focus).toBe('ndcg@10');
    const ndcg = c.metrics.find((m: any) => m.metric === 'ndcg@10');
    expect(ndcg.delta).toBeCloseTo(ndcg.b - ndcg.a, 12);
    expect(ndcg.randomization.pValue).toBeGreaterThan(0);
    expect(ndcg.randomization.pValue).toBeLessThanOrEqual(1);
    expect(ndcg.tTest.test).toBe('paired-t');
    expect(typeof ndcg.significant).toBe('boolean');

    const unknown = '00000000-0000-4000-8000-000000000000';
    const missing = await keel.request('GET', `/v1/evaluations/${bm25Id}/compare/${unknown}`);
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe('EVALUATION_NOT_FOUND');
    const badMetric = await keel.request(
      'GET',
      `/v1/evaluations/${bm25Id}/compare/${rerankId}?metric=ndcg@20`,
    );
    expect(badMetric.status).toBe(400);
    expect(badMetric.body.code).toBe('METRIC_UNKNOWN');
  });

  it('runs an answer-level dataset: exact match, token F1, context recall, citation precision', async () => {
    const accepted = await keel.request('POST', '/v1/evaluations', {
      collection: 'sample',
      dataset: { name: 'sample-answers' },
    });
    expect(accepted.status).toBe(202);
    const done = await finished(accepted.body.id);
    expect(done.state).toBe('completed');
    const { report } = done;
    expect(report.dataset).toMatchObject({ kind: 'answers', queries: 6 });
    expect(report.metrics).toEqual([
      'exact_match',
      'token_f1',
      'context_recall',
      'citation_precision',
    ]);
    // Every gold document is in the sample corpus and its question names it plainly.
    expect(report.aggregate.context_recall).toBeGreaterThanOrEqual(5 / 6);
    expect(report.aggregate.token_f1).toBeGreaterThan(0);
    for (const q of report.perQuery) expect(q.answer).toMatch(/\[\d+\]/);
  });

  it('rejects bad input with stable codes and records nothing', async () => {
    const before = (await keel.request('GET', '/v1/evaluations')).body.length;
    const unknownCollection = await keel.request('POST', '/v1/evaluations', {
      collection: 'nope',
      dataset: { name: 'sample-eval' },
    });
    expect(unknownCollection.status).toBe(404);
    expect(unknownCollection.body.code).toBe('COLLECTION_NOT_FOUND');

    const strayQuery = await keel.request('POST', '/v1/evaluations', {
      collection: 'sample',
      dataset: {
        name: 'x',
        queries: [{ id: 'q1', text: 'pool size' }],
        qrels: { q9: { bm25: 1 } },
      },
    });
    expect(strayQuery.status).toBe(400);
    expect(strayQuery.body.code).toBe('DATASET_INVALID');
    expect(strayQuery.body.details[0].field).toBe('dataset.qrels.q9');

    const fractional = await keel.request('POST', '/v1/evaluations', {
      collection: 'sample',
      dataset: {
        name: 'x',
        queries: [{ id: 'q1', text: 'pool size' }],
        qrels: { q1: { bm25: 0.5 } },
      },
    });
    expect(fractional.status).toBe(400);
    expect(fractional.body.code).toBe('VALIDATION_FAILED');

    const metric = await keel.request('POST', '/v1/evaluations', {
      collection: 'sample',
      dataset: { name: 'sample-eval' },
      config: { metrics: ['ndcg@10', 'bleu@4'] },
    });
    expect(metric.status).toBe(400);
    expect(metric.body.code).toBe('METRIC_UNKNOWN');

    const noDataset = await keel.request('POST', '/v1/evaluations', {
      collection: 'sample',
      dataset: { name: 'not-there' },
    });
    expect(noDataset.status).toBe(404);
    expect(noDataset.body.code).toBe('DATASET_NOT_FOUND');

    const traversal = await keel.request('POST', '/v1/evaluations', {
      collection: 'sample',
      dataset: { name: '../etc' },
    });
    expect(traversal.status).toBe(400);
    expect(traversal.body.code).toBe('VALIDATION_FAILED');

    const dense = await keel.request('POST', '/v1/evaluations', {
      collection: 'sample',
      dataset: { name: 'sample-eval' },
      config: { mode: 'dense' },
    });
    expect(dense.status).toBe(400);
    expect(dense.body.code).toBe('DENSE_UNAVAILABLE');

    expect((await keel.request('GET', '/v1/evaluations')).body.length).toBe(before);
  });

  it('fails a run over a bad dataset file with the file and line, and keeps no report', async () => {
    const accepted = await keel.request('POST', '/v1/evaluations', {
      collection: 'sample',
      dataset: { name: 'broken', split: 'test' },
    });
    expect(accepted.status).toBe(202);
    const done = await finished(accepted.body.id);
    expect(done.state).toBe('failed');
    expect(done.error.code).toBe('DATASET_INVALID');
    expect(done.error.message).toMatch(
      /broken\/qrels\/test\.tsv:3: expected 3 tab-separated columns/,
    );
    expect(done.report).toBeUndefined();
    const listed = (await keel.request('GET', '/v1/evaluations')).body;
    expect(listed.map((e: any) => e.id)).not.toContain(accepted.body.id);
  });

  it('cancels a running evaluation: the job stops and no report is recorded', async () => {
    // 4,000 queries over the sample collection: long enough to be caught running.
    const base = sampleQueries();
    const queries = Array.from({ length: 4_000 }, (_, i) => ({
      id: `c${i}`,
      text: base[i % base.length].text,
    }));
    const qrels = Object.fromEntries(queries.map((q) => [q.id, { bm25: 1 }]));
    const accepted = await keel.request('POST', '/v1/evaluations', {
      collection: 'sample',
      dataset: { name: 'long', queries, qrels },
    });
    expect(accepted.status).toBe(202);
    const id = accepted.body.id;
    for (let i = 0; i < 200; i++) {
      const { body } = await keel.request('GET', `/v1/evaluations/${id}`);
      if (body.state === 'active' && body.progress > 0) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const cancelled = await keel.request('DELETE', `/v1/evaluations/${id}`);
    expect(cancelled.status).toBe(204);
    const done = await finished(id);
    expect(done.state).toBe('cancelled');
    expect(done.progress).toBeLessThan(1);
    expect(done.report).toBeUndefined();
    const notReady = await keel.request('GET', `/v1/evaluations/${bm25Id}/compare/${id}`);
    expect(notReady.status).toBe(409);
    expect(notReady.body.code).toBe('EVALUATION_NOT_READY');
  });
});
