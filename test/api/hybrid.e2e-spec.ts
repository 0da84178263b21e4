// Dense and hybrid retrieval on the embedded store, with the embedding-server test double in
// place of a model: vectors are written with the chunks, legs run in parallel and fuse, and a
// failing or slow embedding server degrades hybrid answers to BM25 instead of failing them.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startEmbeddingServer, type EmbeddingServer } from '../support/embedding-server.js';
import { startKeel, type KeelServer } from '../support/keel-server.js';
import { sampleDocuments } from '../support/samples.js';

const MODEL = 'hash-512';

describe('dense and hybrid retrieval (SQLite store, sqlite-vec)', () => {
  let embeddings: EmbeddingServer;
  let keel: KeelServer;

  beforeAll(async () => {
    embeddings = await startEmbeddingServer({ dimensions: 512, model: MODEL });
    keel = await startKeel({
      env: {
        EMBEDDINGS_URL: embeddings.url,
        EMBEDDINGS_PROTOCOL: 'openai',
        EMBEDDINGS_MODEL: MODEL,
        EMBEDDINGS_MAX_RETRIES: '0',
      },
    });
    const created = await keel.request('POST', '/v1/collections', { name: 'sample' });
    expect(created.status).toBe(201);
    expect(created.body.embedding).toEqual({ model: MODEL, dimensions: 512 });
    const ingest = await keel.request('POST', '/v1/collections/sample/documents?wait=true', {
      documents: sampleDocuments(),
    });
    expect(ingest.status).toBe(200);
    expect(ingest.body.created).toBe(31);
    // One probe for the dimensions at creation, then the chunks, embedded inside the ingest job.
    const texts = embeddings.requests.flatMap((r) => r.texts);
    expect(texts[0]).toBe('dimension probe');
    expect(texts.length).toBe(1 + 31);
  });

  beforeEach(() => embeddings.reset());

  afterAll(async () => {
    await keel?.dispose();
    await embeddings?.close();
  });

  const retrieve = (body: Record<string, unknown>, headers: Record<string, string> = {}) =>
    keel.request(
      'POST',
      '/v1/retrieve',
      { collection: 'sample', query: 'sourdough bread starter', topK: 5, ...body },
      headers,
    );

  it('dense retrieval ranks by cosine similarity of the query embedding', async () => {
    const res = await retrieve({ mode: 'dense', group: 'document' });
    expect(res.status).toBe(200);
    expect(res.body.mode).toBe('dense');
    expect(res.body.hits[0].documentId).toBe('sourdough');
    expect(res.body.hits[0].legs.dense.rank).toBe(1);
    expect(res.body.hits[0].legs.bm25).toBeUndefined();
    expect(res.body.legs.dense).toMatchObject({ status: 'ok', contributed: 5 });
    expect(embeddings.requests.map((r) => r.texts)).toEqual([['sourdough bread starter']]);
  });

  it('hybrid fuses both legs and reports each one', async () => {
    const res = await retrieve({ mode: 'hybrid', group: 'document' });
    expect(res.status).toBe(200);
    expect(res.body.degraded).toBe(false);
    expect(res.body.hits[0].documentId).toBe('sourdough');
    expect(res.body.hits[0].legs).toMatchObject({ bm25: { rank: 1 }, dense: { rank: 1 } });
    expect(res.body.hits[0].score).toBeCloseTo(2 / 61, 6);
    expect(res.body.legs.bm25.status).toBe('ok');
    expect(res.body.legs.dense.status).toBe('ok');
    const convex = await retrieve({
      mode: 'hybrid',
      group: 'document',
      fusion: { method: 'convex', weights: { bm25: 0.5, dense: 0.5 } },
    });
    expect(convex.body.hits[0]).toMatchObject({ documentId: 'sourdough', score: 1 });
  });

  it('the query pipeline answers in hybrid mode', async () => {
    const res = await keel.request('POST', '/v1/query', {
      collection: 'sample',
      query: 'How does Keel size its worker pool in a container?',
      mode: 'hybrid',
    });
    expect(res.status).toBe(200);
    expect(res.body.citations.length).toBeGreaterThan(0);
    expect(res.body.degraded).toBe(false);
    expect(res.body.contexts[0].documentId).toBe('keel-container-sizing');
  });

  it('with the embedding server failing, hybrid degrades to BM25 and dense alone answers 503', async () => {
    embeddings.faults.unavailable(10);
    const hybrid = await retrieve({ mode: 'hybrid', group: 'document' });
    expect(hybrid.status).toBe(200);
    expect(hybrid.body.degraded).toBe(true);
    expect(hybrid.body.failedLegs).toEqual(['dense']);
    expect(hybrid.body.legs.dense).toMatchObject({
      status: 'failed',
      error: { code: 'EMBEDDINGS_UNAVAILABLE' },
    });
    expect(hybrid.body.hits[0]).toMatchObject({
      documentId: 'sourdough',
      legs: { bm25: { rank: 1 } },
    });
    const dense = await retrieve({ mode: 'dense' });
    expect(dense.status).toBe(503);
    expect(dense.body.code).toBe('EMBEDDINGS_UNAVAILABLE');
  });

  it('a slow embedding server is cut at the leg deadline and the answer comes from BM25', async () => {
    embeddings.faults.delayMs = 5_000;
    const started = Date.now();
    const res = await retrieve(
      { mode: 'hybrid', group: 'document' },
      { 'x-keel-timeout-ms': '1000' },
    );
    expect(res.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(4_000);
    expect(res.body.legs.dense.status).toBe('timeout');
    expect(res.body.degraded).toBe(true);
    // The dense leg's call was cancelled, not left running.
    await expect
      .poll(() => embeddings.requests.at(-1)?.clientClosed, { timeout: 5_000 })
      .toBe(true);
  });

  it('a collection without vectors, or bad fusion settings, is a clear 400', async () => {
    const plain = await keel.request('POST', '/v1/collections', { name: 'plain', vectors: false });
    expect(plain.status).toBe(201);
    expect(plain.body.embedding).toBeUndefined();
    const res = await keel.request('POST', '/v1/retrieve', {
      collection: 'plain',
      query: 'anything',
      mode: 'hybrid',
    });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('DENSE_UNAVAILABLE');
    const bad = await retrieve({ mode: 'hybrid', fusion: { method: 'max' } });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('VALIDATION_FAILED');
  });
});

describe('without an embedding server', () => {
  let keel: KeelServer;
  beforeAll(async () => {
    keel = await startKeel();
  });
  afterAll(async () => keel?.dispose());

  it('asking for vectors is 400 DENSE_UNAVAILABLE, and nothing is created', async () => {
    const res = await keel.request('POST', '/v1/collections', { name: 'v', vectors: true });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('DENSE_UNAVAILABLE');
    expect((await keel.request('GET', '/v1/collections/v')).status).toBe(404);
  });
});
