import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import { countTokens as countCl100k } from 'gpt-tokenizer/encoding/cl100k_base';
import { startKeel, type KeelServer } from '../support/keel-server.js';

const DOCS = [
  {
    id: 'bm25',
    title: 'BM25 ranking',
    text: 'BM25 scores documents by term frequency, inverse document frequency and length normalisation. The parameter k1 controls term saturation.',
    metadata: { topic: 'retrieval', year: 2009 },
  },
  {
    id: 'keda',
    title: 'KEDA autoscaling',
    text: 'KEDA scales Kubernetes deployments on the length of a Redis list. A ScaledObject sets the target number of jobs per replica.',
    metadata: { topic: 'operations', year: 2020 },
  },
  {
    id: 'sourdough',
    title: 'Sourdough',
    text: 'Sourdough bread rises with wild yeast. A long cool fermentation develops flavour before baking.',
    metadata: { topic: 'baking', year: 2020, featured: true },
  },
];

describe('the embedded pipeline over HTTP', () => {
  let keel: KeelServer;

  beforeAll(async () => {
    keel = await startKeel();
    const created = await keel.request('POST', '/v1/collections', {
      name: 'docs',
      chunkSize: 64,
      chunkOverlap: 8,
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      name: 'docs',
      chunkSize: 64,
      chunkOverlap: 8,
      encoding: 'o200k_base',
      documentCount: 0,
    });
  });

  afterAll(async () => {
    await keel?.dispose();
  });

  it('accepts an ingest with 202 and a job that completes', async () => {
    const accepted = await keel.request('POST', '/v1/collections/docs/documents', {
      documents: DOCS,
    });
    expect(accepted.status).toBe(202);
    expect(accepted.headers.get('location')).toBe(`/v1/jobs/${accepted.body.jobId}`);
    let job: any;
    for (let i = 0; i < 200; i++) {
      job = (await keel.request('GET', `/v1/jobs/${accepted.body.jobId}`)).body;
      if (job.state === 'completed' || job.state === 'failed') break;
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(job).toMatchObject({
      queue: 'ingest',
      name: 'ingest-documents',
      state: 'completed',
      progress: 1,
    });
    expect(job.result).toMatchObject({ collection: 'docs', created: 3, updated: 0, unchanged: 0 });
    const collection = (await keel.request('GET', '/v1/collections/docs')).body;
    expect(collection).toMatchObject({ documentCount: 3 });
    expect(collection.chunkCount).toBeGreaterThanOrEqual(3);
  });

  it('re-ingesting the same documents changes nothing; a changed one replaces its chunks', async () => {
    const same = await keel.request('POST', '/v1/collections/docs/documents?wait=true', {
      documents: DOCS,
    });
    expect(same.status).toBe(200);
    expect(same.body).toMatchObject({ created: 0, updated: 0, unchanged: 3, chunks: 0 });

    const changed = {
      ...DOCS[2],
      text: 'Rye bread uses a sour starter and dense dough. It keeps for a week.',
    };
    const updated = await keel.request('POST', '/v1/collections/docs/documents?wait=true', {
      documents: [changed],
    });
    expect(updated.body).toMatchObject({ created: 0, updated: 1, unchanged: 0 });
    const gone = await keel.request('POST', '/v1/retrieve', {
      collection: 'docs',
      query: 'wild yeast fermentation',
    });
    expect(gone.body.hits.map((h: any) => h.documentId)).not.toContain('sourdough');
    const found = await keel.request('POST', '/v1/retrieve', {
      collection: 'docs',
      query: 'rye starter',
    });
    expect(found.body.hits[0].documentId).toBe('sourdough');
    expect((await keel.request('GET', '/v1/collections/docs/documents/sourdough')).body.text).toBe(
      changed.text,
    );
    await keel.request('POST', '/v1/collections/docs/documents?wait=true', {
      documents: [DOCS[2]],
    });
  });

  it('retrieves with BM25: stemmed terms, per-leg scores, timings', async () => {
    const res = await keel.request('POST', '/v1/retrieve', {
      collection: 'docs',
      query: 'How do deployments scale on Redis lists?',
      topK: 2,
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ mode: 'bm25', degraded: false, failedLegs: [] });
    expect(res.body.hits[0]).toMatchObject({
      documentId: 'keda',
      title: 'KEDA autoscaling',
      legs: { bm25: { rank: 1 } },
    });
    expect(res.body.hits[0].score).toBeGreaterThan(0);
    expect(res.body.hits.length).toBeLessThanOrEqual(2);
    expect(typeof res.body.timings.bm25).toBe('number');
  });

  it('filters on metadata equality, including numbers and booleans', async () => {
    const q = { collection: 'docs', query: 'bread fermentation scales deployments' };
    const y2020 = await keel.request('POST', '/v1/retrieve', { ...q, filter: { year: 2020 } });
    expect(new Set(y2020.body.hits.map((h: any) => h.documentId))).toEqual(
      new Set(['keda', 'sourdough']),
    );
    const featured = await keel.request('POST', '/v1/retrieve', {
      ...q,
      filter: { featured: true, topic: 'baking' },
    });
    expect(featured.body.hits.map((h: any) => h.documentId)).toEqual(['sourdough']);
    const none = await keel.request('POST', '/v1/retrieve', { ...q, filter: { topic: 'nothing' } });
    expect(none.body.hits).toEqual([]);
  });

  it('groups chunks so each document appears once when asked', async () => {
    const long = {
      id: 'long',
      title: 'Queues',
      text: Array.from(
        { length: 12 },
        (_, i) => `Paragraph ${i} talks about queues, workers and queue depth in detail.`,
      ).join('\n\n'),
    };
    await keel.request('POST', '/v1/collections/docs/documents?wait=true', { documents: [long] });
    const chunks = await keel.request('POST', '/v1/retrieve', {
      collection: 'docs',
      query: 'queue workers',
      topK: 20,
    });
    const ids = chunks.body.hits.map((h: any) => h.documentId);
    expect(ids.filter((d: string) => d === 'long').length).toBeGreaterThan(1);
    const grouped = await keel.request('POST', '/v1/retrieve', {
      collection: 'docs',
      query: 'queue workers',
      topK: 20,
      group: 'document',
    });
    const gids = grouped.body.hits.map((h: any) => h.documentId);
    expect(new Set(gids).size).toBe(gids.length);
    expect(gids).toContain('long');
    // The representative is the document's best chunk: the same as its first appearance ungrouped.
    const bestChunk = chunks.body.hits.find((h: any) => h.documentId === 'long').id;
    expect(grouped.body.hits.find((h: any) => h.documentId === 'long').id).toBe(bestChunk);
    expect((await keel.request('DELETE', '/v1/collections/docs/documents/long')).status).toBe(204);
    expect((await keel.request('GET', '/v1/collections/docs/documents/long')).body.code).toBe(
      'DOCUMENT_NOT_FOUND',
    );
    const after = await keel.request('POST', '/v1/retrieve', {
      collection: 'docs',
      query: 'queue workers',
      topK: 20,
    });
    expect(after.body.hits.map((h: any) => h.documentId)).not.toContain('long');
  });

  it('answers dense and hybrid with 400 DENSE_UNAVAILABLE', async () => {
    for (const mode of ['dense', 'hybrid']) {
      const res = await keel.request('POST', '/v1/retrieve', {
        collection: 'docs',
        query: 'x',
        mode,
      });
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('DENSE_UNAVAILABLE');
    }
  });

  it('reranks candidates and reports features', async () => {
    const res = await keel.request('POST', '/v1/rerank', {
      query: 'redis list scaling',
      candidates: DOCS.map((d) => ({ id: d.id, text: d.text, title: d.title })),
      topK: 2,
    });
    expect(res.status).toBe(200);
    expect(res.body.method).toBe('keel');
    expect(res.body.results).toHaveLength(2);
    expect(res.body.results[0]).toMatchObject({ id: 'keda', rank: 1 });
    expect(Object.keys(res.body.results[0].features).length).toBeGreaterThan(0);
  });

  it('packs within the budget; tokens equal the tokenizer count of the prompt', async () => {
    const passages = DOCS.map((d, i) => ({ id: d.id, text: d.text, score: 3 - i }));
    for (const [encoding, count] of [
      ['o200k_base', countTokens],
      ['cl100k_base', countCl100k],
    ] as const) {
      for (const budgetTokens of [120, 160, 4000]) {
        const res = await keel.request('POST', '/v1/pack', {
          query: 'what is bm25',
          passages,
          budgetTokens,
          encoding,
        });
        expect(res.status).toBe(200);
        expect(res.body.tokens).toBe(count(res.body.prompt));
        expect(res.body.tokens).toBeLessThanOrEqual(budgetTokens);
        expect(res.body.encoding).toBe(encoding);
        for (const c of res.body.citations) expect(res.body.prompt).toContain(`[${c.marker}]`);
      }
    }
    const tooSmall = await keel.request('POST', '/v1/pack', {
      query: 'what is bm25',
      passages,
      budgetTokens: 40,
    });
    expect(tooSmall.status).toBe(400);
    expect(tooSmall.body.code).toBe('PACK_BUDGET_TOO_SMALL');
  });

  it('answers a query extractively with citations to the passages it used', async () => {
    const res = await keel.request('POST', '/v1/query', {
      collection: 'docs',
      query: 'What does the parameter k1 control in BM25?',
    });
    expect(res.status).toBe(200);
    expect(res.body.mode).toBe('extractive');
    expect(res.body.answer).toMatch(/k1/);
    expect(res.body.citations.length).toBeGreaterThan(0);
    const markers = new Set(res.body.contexts.map((c: any) => c.marker));
    for (const c of res.body.citations) {
      expect(markers.has(c.marker)).toBe(true);
      expect(res.body.answer).toContain(`[${c.marker}]`);
    }
    expect(res.body.citations[0].documentId).toBe('bm25');
    expect(res.body.usage.completionTokens).toBe(0);
    expect(res.body.usage.promptTokens).toBeGreaterThan(0);
    for (const stage of ['retrieve', 'rerank', 'pack', 'total'])
      expect(typeof res.body.timings[stage]).toBe('number');
  });

  it('deletes a collection and its documents', async () => {
    await keel.request('POST', '/v1/collections', { name: 'scratch' });
    await keel.request('POST', '/v1/collections/scratch/documents?wait=true', {
      documents: [{ id: 'a', text: 'alpha' }],
    });
    expect((await keel.request('DELETE', '/v1/collections/scratch')).status).toBe(204);
    expect((await keel.request('GET', '/v1/collections/scratch')).status).toBe(404);
    expect((await keel.request('DELETE', '/v1/collections/scratch')).body.code).toBe(
      'COLLECTION_NOT_FOUND',
    );
    // A new collection of the same name starts empty.
    await keel.request('POST', '/v1/collections', { name: 'scratch' });
    const hits = await keel.request('POST', '/v1/retrieve', {
      collection: 'scratch',
      query: 'alpha',
    });
    expect(hits.body.hits).toEqual([]);
  });
});
