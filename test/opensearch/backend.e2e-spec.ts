// Keel's OpenSearch backend against the real node the harness starts: collections as aliased
// indices, ingest with vectors, BM25, k-NN, hybrid, updates and deletes, per-document failures,
// index names a collection cannot escape, and the cluster going away and coming back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddingServer, type EmbeddingServer } from '../support/embedding-server.js';
import { startKeel, type KeelServer } from '../support/keel-server.js';
import {
  canControlOpenSearch,
  openSearchUrl,
  startOpenSearch,
  stopOpenSearch,
} from '../support/opensearch.js';
import { sampleDocuments } from '../support/samples.js';

const MODEL = 'hash-512';
const PREFIX = `t${process.pid}`;

async function cluster(method: string, path: string, body?: unknown) {
  const res = await fetch(`${openSearchUrl()}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  return { status: res.status, body: (await res.json()) as any };
}

describe('the OpenSearch backend', () => {
  let embeddings: EmbeddingServer;
  let keel: KeelServer;
  const name = `${PREFIX}-sample`;

  beforeAll(async () => {
    embeddings = await startEmbeddingServer({ dimensions: 512, model: MODEL });
    keel = await startKeel({
      env: {
        OPENSEARCH_URL: openSearchUrl(),
        OPENSEARCH_TIMEOUT_MS: '3000',
        EMBEDDINGS_URL: embeddings.url,
        EMBEDDINGS_PROTOCOL: 'openai',
        EMBEDDINGS_MODEL: MODEL,
      },
    });
  }, 120_000);

  afterAll(async () => {
    await keel?.dispose();
    await embeddings?.close();
  });

  const retrieve = (body: Record<string, unknown>) =>
    keel.request('POST', '/v1/retrieve', {
      collection: name,
      query: 'sourdough bread starter',
      topK: 5,
      group: 'document',
      ...body,
    });

  it('creates a collection on OpenSearch by default, behind an alias, with a vector field', async () => {
    const res = await keel.request('POST', '/v1/collections', { name });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      backend: 'opensearch',
      embedding: { model: MODEL, dimensions: 512 },
    });
    const alias = await cluster('GET', `/_alias/keel-c-${name}`);
    expect(Object.keys(alias.body)).toEqual([`keel-ci-${name}-1`]);
    const mapping = await cluster('GET', `/keel-ci-${name}-1/_mapping`);
    const properties = mapping.body[`keel-ci-${name}-1`].mappings.properties;
    expect(properties.text).toMatchObject({
      analyzer: 'english',
      fields: { std: { analyzer: 'standard' } },
    });
    expect(properties.embedding).toMatchObject({
      type: 'knn_vector',
      dimension: 512,
      method: { engine: 'lucene', space_type: 'cosinesimil', name: 'hnsw' },
    });
    expect((await keel.request('POST', '/v1/collections', { name })).body.code).toBe(
      'COLLECTION_EXISTS',
    );
  });

  it('ingests with vectors, idempotently, and counts documents and chunks', async () => {
    const first = await keel.request('POST', `/v1/collections/${name}/documents?wait=true`, {
      documents: sampleDocuments(),
    });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ created: 31, updated: 0, unchanged: 0 });
    const again = await keel.request('POST', `/v1/collections/${name}/documents?wait=true`, {
      documents: sampleDocuments(),
    });
    expect(again.body).toMatchObject({ created: 0, unchanged: 31, chunks: 0 });
    const stats = await keel.request('GET', `/v1/collections/${name}`);
    expect(stats.body).toMatchObject({ documentCount: 31, chunkCount: 31, backend: 'opensearch' });
    const listed = await keel.request('GET', '/v1/collections');
    expect(listed.body.collections.map((c: { name: string }) => c.name)).toContain(name);
  });

  it('answers BM25, with metadata filters', async () => {
    const res = await retrieve({ mode: 'bm25' });
    expect(res.status).toBe(200);
    expect(res.body.hits[0]).toMatchObject({ documentId: 'sourdough', id: 'sourdough#0' });
    expect(res.body.hits[0].legs.bm25.rank).toBe(1);
    const filtered = await keel.request('POST', '/v1/retrieve', {
      collection: name,
      query: 'worker pool queue',
      topK: 10,
      filter: { topic: 'other' },
    });
    expect(filtered.status).toBe(200);
    for (const hit of filtered.body.hits) expect(hit.metadata.topic).toBe('other');
  });

  it('answers k-NN and hybrid, each leg reported', async () => {
    const dense = await retrieve({ mode: 'dense' });
    expect(dense.status).toBe(200);
    expect(dense.body.hits[0].documentId).toBe('sourdough');
    expect(dense.body.hits[0].legs.dense.score).toBeGreaterThan(0);
    expect(dense.body.hits[0].legs.dense.score).toBeLessThanOrEqual(1);
    const filtered = await keel.request('POST', '/v1/retrieve', {
      collection: name,
      query: 'worker pool queue',
      topK: 10,
      mode: 'dense',
      filter: { topic: 'other' },
    });
    expect(filtered.status).toBe(200);
    expect(filtered.body.hits.length).toBeGreaterThan(0);
    for (const hit of filtered.body.hits) expect(hit.metadata.topic).toBe('other');
    const hybrid = await retrieve({ mode: 'hybrid' });
    expect(hybrid.status).toBe(200);
    expect(hybrid.body.degraded).toBe(false);
    expect(hybrid.body.hits[0]).toMatchObject({
      documentId: 'sourdough',
      legs: { bm25: { rank: 1 }, dense: { rank: 1 } },
    });
    const answer = await keel.request('POST', '/v1/query', {
      collection: name,
      query: 'How does Keel size its worker pool in a container?',
      mode: 'hybrid',
    });
    expect(answer.status).toBe(200);
    expect(answer.body.contexts[0].documentId).toBe('keel-container-sizing');
    expect(answer.body.citations.length).toBeGreaterThan(0);
  });

  it('replaces a changed document and deletes one, chunks included', async () => {
    const changed = await keel.request('POST', `/v1/collections/${name}/documents?wait=true`, {
      documents: [
        { id: 'sourdough', title: 'Rye bread', text: 'Rye bread is dense and keeps for days.' },
      ],
    });
    expect(changed.body).toMatchObject({ updated: 1 });
    const doc = await keel.request('GET', `/v1/collections/${name}/documents/sourdough`);
    expect(doc.body).toMatchObject({ id: 'sourdough', title: 'Rye bread', chunks: 1 });
    const hits = await keel.request('POST', '/v1/retrieve', {
      collection: name,
      query: 'rye bread',
      topK: 3,
    });
    expect(hits.body.hits[0]).toMatchObject({
      documentId: 'sourdough',
      text: 'Rye bread is dense and keeps for days.',
    });
    // The old chunk is gone: still 31 chunks.
    expect((await keel.request('GET', `/v1/collections/${name}`)).body.chunkCount).toBe(31);
    expect(
      (await keel.request('DELETE', `/v1/collections/${name}/documents/sourdough`)).status,
    ).toBe(204);
    expect((await keel.request('GET', `/v1/collections/${name}/documents/sourdough`)).status).toBe(
      404,
    );
    const after = await keel.request('POST', '/v1/retrieve', {
      collection: name,
      query: 'rye bread',
      topK: 3,
    });
    expect(after.body.hits.map((h: { documentId: string }) => h.documentId)).not.toContain(
      'sourdough',
    );
    expect((await keel.request('GET', `/v1/collections/${name}`)).body).toMatchObject({
      documentCount: 30,
      chunkCount: 30,
    });
  });

  it('stores the rest of a batch when one document conflicts with the mapping; all conflicting is a 400', async () => {
    const col = `${PREFIX}-typed`;
    await keel.request('POST', '/v1/collections', { name: col, vectors: false });
    const first = await keel.request('POST', `/v1/collections/${col}/documents?wait=true`, {
      documents: [{ id: 'a', text: 'first document', metadata: { year: 2020 } }],
    });
    expect(first.body.created).toBe(1);
    const mixed = await keel.request('POST', `/v1/collections/${col}/documents?wait=true`, {
      documents: [
        { id: 'b', text: 'a year that is not a number', metadata: { year: 'nineteen' } },
        { id: 'c', text: 'a fine document', metadata: { year: 2021 } },
      ],
    });
    expect(mixed.status).toBe(200);
    expect(mixed.body).toMatchObject({ created: 1, failed: 1 });
    const b = mixed.body.documents.find((d: { id: string }) => d.id === 'b');
    expect(b).toMatchObject({ status: 'failed', error: { code: 'METADATA_CONFLICT' } });
    const all = await keel.request('POST', `/v1/collections/${col}/documents?wait=true`, {
      documents: [{ id: 'a', text: 'first document, changed', metadata: { year: 'twenty' } }],
    });
    expect(all.status).toBe(400);
    expect(all.body.code).toBe('METADATA_CONFLICT');
    expect(all.body.details[0].field).toBe('a');
    // 'a' keeps its previous version; 'b' was never stored; 'c' was.
    expect((await keel.request('GET', `/v1/collections/${col}/documents/a`)).body.text).toBe(
      'first document',
    );
    expect((await keel.request('GET', `/v1/collections/${col}/documents/b`)).status).toBe(404);
    expect((await keel.request('GET', `/v1/collections/${col}`)).body).toMatchObject({
      documentCount: 2,
      chunkCount: 2,
    });
  });

  it('a collection can only ever address its own indices', async () => {
    const a = `${PREFIX}-a`;
    const ab = `${PREFIX}-a-1`;
    for (const n of [a, ab]) {
      expect(
        (await keel.request('POST', '/v1/collections', { name: n, vectors: false })).status,
      ).toBe(201);
      await keel.request('POST', `/v1/collections/${n}/documents?wait=true`, {
        documents: [{ id: 'only', text: `the document of ${n}` }],
      });
    }
    // Deleting 'a' must not touch 'a-1' (whose chunk index keel-ci-…-a-1-1 shares a prefix).
    expect((await keel.request('DELETE', `/v1/collections/${a}`)).status).toBe(204);
    expect((await keel.request('GET', `/v1/collections/${ab}`)).body.documentCount).toBe(1);
    expect((await keel.request('GET', `/v1/collections/${a}`)).status).toBe(404);
    for (const bad of ['*', 'Keel', '_all', '.kibana', 'a,b', '../x']) {
      const res = await keel.request('POST', '/v1/collections', { name: bad });
      expect(res.status).toBe(400);
    }
    const catalog = await keel.request('POST', '/v1/collections', {
      name: 'catalog',
      vectors: false,
    });
    expect(catalog.status).toBe(201);
    expect((await cluster('GET', '/keel-catalog/_doc/catalog')).body.found).toBe(true);
    expect((await keel.request('DELETE', '/v1/collections/catalog')).status).toBe(204);
    expect((await cluster('GET', '/keel-catalog/_count')).status).toBe(200);
  });

  it.skipIf(!canControlOpenSearch())(
    'OpenSearch going away: readiness red, searches 503, the embedded store still serves; back when it returns',
    async () => {
      const local = `${PREFIX}-local`;
      expect(
        (
          await keel.request('POST', '/v1/collections', {
            name: local,
            backend: 'sqlite',
            vectors: false,
          })
        ).status,
      ).toBe(201);
      await keel.request('POST', `/v1/collections/${local}/documents?wait=true`, {
        documents: [{ id: 'x', text: 'the embedded store keeps answering' }],
      });
      try {
        await stopOpenSearch('SIGKILL');
        const ready = await keel.request('GET', '/health/ready');
        expect(ready.status).toBe(503);
        expect(ready.body.error.opensearch.status).toBe('down');
        const bm25 = await retrieve({ mode: 'bm25' });
        expect(bm25.status).toBe(503);
        expect(bm25.body.code).toBe('BACKEND_UNAVAILABLE');
        const hybrid = await retrieve({ mode: 'hybrid' });
        expect(hybrid.status).toBe(503);
        expect(hybrid.body.code).toBe('BACKEND_UNAVAILABLE');
        const still = await keel.request('POST', '/v1/retrieve', {
          collection: local,
          query: 'embedded store',
        });
        expect(still.status).toBe(200);
        expect(still.body.hits[0].documentId).toBe('x');
      } finally {
        await startOpenSearch();
      }
      await cluster('GET', '/_cluster/health?wait_for_status=green&timeout=60s');
      for (let i = 0; i < 100; i++) {
        if ((await keel.request('GET', '/health/ready')).status === 200) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      expect((await keel.request('GET', '/health/ready')).status).toBe(200);
      const back = await retrieve({ mode: 'hybrid' });
      expect(back.status).toBe(200);
      expect(back.body.degraded).toBe(false);
    },
    240_000,
  );
});
