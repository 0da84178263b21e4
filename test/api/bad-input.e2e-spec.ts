import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startKeel, type KeelServer } from '../support/keel-server.js';
import { storeSnapshot } from '../support/store-snapshot.js';

/**
 * Every rejected request gets a 4xx with a stable code, and the store holds exactly what it held
 * before (checked on the SQLite file itself after each case).
 */
describe('bad input', () => {
  let keel: KeelServer;
  let before: string;

  beforeAll(async () => {
    keel = await startKeel({ env: { KEEL_BODY_LIMIT_BYTES: String(64 * 1024) } });
    await keel.request('POST', '/v1/collections', { name: 'kept' });
    const ok = await keel.request('POST', '/v1/collections/kept/documents?wait=true', {
      documents: [
        { id: 'one', title: 'One', text: 'The first document about queues.', metadata: { n: 1 } },
        { id: 'two', text: 'The second document about workers.' },
      ],
    });
    expect(ok.status).toBe(200);
  });

  afterAll(async () => {
    await keel?.dispose();
  });

  beforeEach(() => {
    before = storeSnapshot(keel.dataDir);
  });

  async function rejects(
    method: string,
    path: string,
    body: unknown,
    status: number,
    code: string,
    headers: Record<string, string> = {},
  ) {
    const res = await keel.request(method, path, body, headers);
    expect(res.status, res.text).toBe(status);
    expect(res.body.code).toBe(code);
    expect(res.body.statusCode).toBe(status);
    expect(typeof res.body.message).toBe('string');
    expect(res.body.requestId).toBe(res.headers.get('x-request-id'));
    expect(storeSnapshot(keel.dataDir)).toBe(before);
    return res.body;
  }

  it('malformed JSON → 400 INVALID_JSON', async () => {
    await rejects(
      'POST',
      '/v1/collections/kept/documents',
      '{"documents": [',
      400,
      'INVALID_JSON',
      {
        'content-type': 'application/json',
      },
    );
    await rejects('POST', '/v1/retrieve', '{"collection":"kept",}', 400, 'INVALID_JSON', {
      'content-type': 'application/json',
    });
  });

  it('a body that is not JSON → 415', async () => {
    await rejects('POST', '/v1/retrieve', 'collection=kept', 415, 'UNSUPPORTED_MEDIA_TYPE', {
      'content-type': 'application/x-www-form-urlencoded',
    });
  });

  it('unknown fields → 400 VALIDATION_FAILED naming the field', async () => {
    const body = await rejects(
      'POST',
      '/v1/retrieve',
      { collection: 'kept', query: 'q', colour: 'red' },
      400,
      'VALIDATION_FAILED',
    );
    expect(body.message).toContain('colour');
    expect(body.details).toContainEqual({
      field: 'colour',
      message: 'colour is not a known field',
    });
    const nested = await rejects(
      'POST',
      '/v1/collections/kept/documents',
      { documents: [{ id: 'x', text: 'y', extra: 1 }] },
      400,
      'VALIDATION_FAILED',
    );
    expect(nested.message).toContain('documents[0].extra');
  });

  it('wrongly typed fields → 400 VALIDATION_FAILED naming the field', async () => {
    const body = await rejects(
      'POST',
      '/v1/retrieve',
      { collection: 'kept', query: 'q', topK: '5' },
      400,
      'VALIDATION_FAILED',
    );
    expect(body.details.map((d: any) => d.field)).toContain('topK');
    const meta = await rejects(
      'POST',
      '/v1/collections/kept/documents',
      { documents: [{ id: 'x', text: 'y', metadata: { nested: { a: 1 } } }] },
      400,
      'VALIDATION_FAILED',
    );
    expect(meta.message).toContain('documents[0].metadata');
  });

  it('invalid collection names → 400', async () => {
    await rejects('GET', '/v1/collections/Has%20Spaces', undefined, 400, 'INVALID_COLLECTION_NAME');
    await rejects(
      'GET',
      `/v1/collections/${'a'.repeat(64)}`,
      undefined,
      400,
      'INVALID_COLLECTION_NAME',
    );
    await rejects('POST', '/v1/collections', { name: '-leading-dash' }, 400, 'VALIDATION_FAILED');
    await rejects('POST', '/v1/collections', { name: 'UPPER' }, 400, 'VALIDATION_FAILED');
    await rejects(
      'POST',
      '/v1/retrieve',
      { collection: '../etc', query: 'q' },
      400,
      'VALIDATION_FAILED',
    );
  });

  it('unknown collections → 404 COLLECTION_NOT_FOUND', async () => {
    await rejects('GET', '/v1/collections/missing', undefined, 404, 'COLLECTION_NOT_FOUND');
    await rejects(
      'POST',
      '/v1/retrieve',
      { collection: 'missing', query: 'q' },
      404,
      'COLLECTION_NOT_FOUND',
    );
    await rejects(
      'POST',
      '/v1/query',
      { collection: 'missing', query: 'q' },
      404,
      'COLLECTION_NOT_FOUND',
    );
    await rejects(
      'POST',
      '/v1/collections/missing/documents',
      { documents: [{ id: 'a', text: 'b' }] },
      404,
      'COLLECTION_NOT_FOUND',
    );
  });

  it('an existing collection cannot be created again → 409', async () => {
    await rejects('POST', '/v1/collections', { name: 'kept' }, 409, 'COLLECTION_EXISTS');
  });

  it('a body over the configured limit → 413', async () => {
    const text = 'x '.repeat(40 * 1024);
    await rejects(
      'POST',
      '/v1/collections/kept/documents',
      { documents: [{ id: 'big', text }] },
      413,
      'PAYLOAD_TOO_LARGE',
    );
  });

  it('topK outside 1..1000 → 400', async () => {
    for (const topK of [0, -1, 1001, 2.5]) {
      await rejects(
        'POST',
        '/v1/retrieve',
        { collection: 'kept', query: 'q', topK },
        400,
        'VALIDATION_FAILED',
      );
    }
  });

  it('an empty or blank query → 400', async () => {
    await rejects(
      'POST',
      '/v1/retrieve',
      { collection: 'kept', query: '' },
      400,
      'VALIDATION_FAILED',
    );
    await rejects(
      'POST',
      '/v1/query',
      { collection: 'kept', query: '  \n\t ' },
      400,
      'VALIDATION_FAILED',
    );
    await rejects('POST', '/v1/retrieve', { collection: 'kept' }, 400, 'VALIDATION_FAILED');
  });

  it('a document with empty text → 400 naming its index, and nothing of the batch is stored', async () => {
    const body = await rejects(
      'POST',
      '/v1/collections/kept/documents?wait=true',
      {
        documents: [
          { id: 'fine-1', text: 'a perfectly good document' },
          { id: 'one', text: 'an update that must not land' },
          { id: 'blank', text: '   ' },
        ],
      },
      400,
      'VALIDATION_FAILED',
    );
    expect(body.message).toContain('documents[2].text');
    expect(body.details).toContainEqual({
      field: 'documents[2].text',
      message: 'documents[2].text must not be empty',
    });
  });

  it('two documents with one id in a batch → 400 naming both indexes', async () => {
    const body = await rejects(
      'POST',
      '/v1/collections/kept/documents',
      {
        documents: [
          { id: 'dup', text: 'a' },
          { id: 'other', text: 'b' },
          { id: 'dup', text: 'c' },
        ],
      },
      400,
      'DUPLICATE_DOCUMENT_ID',
    );
    expect(body.message).toContain('documents[2]');
    expect(body.message).toContain('documents[0]');
  });

  it('an empty batch, a bad wait flag and a bad job id → 400', async () => {
    await rejects(
      'POST',
      '/v1/collections/kept/documents',
      { documents: [] },
      400,
      'VALIDATION_FAILED',
    );
    await rejects(
      'POST',
      '/v1/collections/kept/documents?wait=maybe',
      { documents: [{ id: 'a', text: 'b' }] },
      400,
      'VALIDATION_FAILED',
    );
    await rejects('GET', '/v1/jobs/not-a-uuid', undefined, 400, 'VALIDATION_FAILED');
    await rejects(
      'GET',
      '/v1/jobs/7c1d3a5e-8f5e-4b1e-9a51-2f4f3c2e1b0a',
      undefined,
      404,
      'JOB_NOT_FOUND',
    );
  });

  it('an unknown route → 404 NOT_FOUND', async () => {
    await rejects('GET', '/v1/nothing-here', undefined, 404, 'NOT_FOUND');
  });

  it('a 10,000-character unbroken token neither hangs the query path nor the ingest', async () => {
    const token = 'q'.repeat(10_000);
    const res = await keel.request('POST', '/v1/query', {
      collection: 'kept',
      query: `${token} queues`,
      budgetTokens: 8_000,
    });
    expect(res.status).toBe(200);
    expect(res.body.citations.length).toBeGreaterThan(0);
    // With the default budget the question alone does not fit the prompt: a clear 400, at once.
    const small = await keel.request('POST', '/v1/query', {
      collection: 'kept',
      query: `${token} queues`,
    });
    expect(small.status).toBe(400);
    expect(small.body.code).toBe('PACK_BUDGET_TOO_SMALL');
    const retrieved = await keel.request('POST', '/v1/retrieve', {
      collection: 'kept',
      query: token,
    });
    expect(retrieved.status).toBe(200);
    const ingested = await keel.request('POST', '/v1/collections/kept/documents?wait=true', {
      documents: [{ id: 'long-token', text: `before ${'z'.repeat(10_000)} after` }],
    });
    expect(ingested.status).toBe(200);
    expect(ingested.body.chunks).toBeGreaterThan(1);
    const doc = await keel.request('GET', '/v1/collections/kept/documents/long-token');
    expect(doc.body.text.length).toBe(10_013);
    expect((await keel.request('DELETE', '/v1/collections/kept/documents/long-token')).status).toBe(
      204,
    );
  });
});
