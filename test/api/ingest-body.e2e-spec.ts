import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IngestDocumentsDto, KeelError, PackRequestDto, RerankRequestDto } from '@keel/contracts';
import { createValidationPipe } from '@keel/platform/validation';
import { startKeel, type KeelServer } from '../support/keel-server.js';
import { storeSnapshot } from '../support/store-snapshot.js';

/**
 * An ingest body is parsed and validated on the API's body thread, not on the event loop. These
 * check that it is (the decode histogram counts every ingest body, all on the body thread) and
 * that the thread refuses exactly what the ValidationPipe every other route uses refuses, with the
 * same message and field names, run here in the test process as the peer.
 */
describe('ingest bodies decoded off the event loop', () => {
  let keel: KeelServer;
  const json = { 'content-type': 'application/json' };

  beforeAll(async () => {
    keel = await startKeel();
    await keel.request('POST', '/v1/collections', { name: 'kept' });
  });

  afterAll(async () => {
    await keel?.dispose();
  });

  async function decodes(): Promise<Record<string, number>> {
    const metrics = (await keel.request('GET', '/metrics')).text;
    const counts: Record<string, number> = {};
    for (const m of metrics.matchAll(
      /^keel_body_decode_seconds_count\{[^}]*thread="(\w+)"\} (\d+)$/gmu,
    )) {
      counts[m[1]] = (counts[m[1]] ?? 0) + Number(m[2]);
    }
    return counts;
  }

  /** What the API's ValidationPipe answers for this body, computed in this process. */
  async function inline(
    raw: string,
    metatype: new () => object = IngestDocumentsDto,
  ): Promise<{ code: string; message: string; details?: unknown }> {
    try {
      await createValidationPipe().transform(raw === '' ? undefined : JSON.parse(raw), {
        type: 'body',
        metatype,
      });
    } catch (error) {
      const e = error as KeelError;
      return { code: e.code, message: e.message, ...(e.details ? { details: e.details } : {}) };
    }
    throw new Error(`the pipe accepted ${raw}`);
  }

  const invalid: Array<[string, unknown]> = [
    ['an empty batch', { documents: [] }],
    ['no documents field', { docs: [{ id: 'a', text: 'b' }] }],
    ['an unknown field deep inside', { documents: [{ id: 'a', text: 'b', extra: 1 }] }],
    ['a blank text and a missing id', { documents: [{ id: 'a', text: 'b' }, { text: '  ' }] }],
    ['nested metadata', { documents: [{ id: 'a', text: 'b', metadata: { n: { m: 1 } } }] }],
    ['a number for a title', { documents: [{ id: 'a', text: 'b', title: 7 }] }],
    ['documents not an array', { documents: { id: 'a', text: 'b' } }],
    ['an array', [{ id: 'a', text: 'b' }]],
  ];

  it.each(invalid)('%s → the same 400 as the ValidationPipe', async (_, body) => {
    const before = storeSnapshot(keel.dataDir);
    const raw = JSON.stringify(body);
    const res = await keel.request('POST', '/v1/collections/kept/documents', raw, json);
    expect(res.status, res.text).toBe(400);
    const { code, message, details } = res.body;
    expect({ code, message, ...(details ? { details } : {}) }).toEqual(await inline(raw));
    expect(storeSnapshot(keel.dataDir)).toBe(before);
  });

  it('an empty body → the same 400 as the ValidationPipe gives a missing one', async () => {
    const res = await keel.request('POST', '/v1/collections/kept/documents', '', json);
    expect(res.status).toBe(400);
    expect(res.body.details).toEqual((await inline('')).details);
  });

  it.each([
    ['malformed JSON', '{"documents": ['],
    ['a bare string', '"documents"'],
    ['a number', '42'],
  ])('%s → 400 INVALID_JSON', async (_, raw) => {
    const res = await keel.request('POST', '/v1/collections/kept/documents', raw, json);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('INVALID_JSON');
  });

  it('a charset other than UTF-8 → 415; UTF-8 with a byte-order mark and gzip are read', async () => {
    const body = JSON.stringify({ documents: [{ id: 'bom', text: 'Grüße aus Köln' }] });
    const latin = await keel.request('POST', '/v1/collections/kept/documents', body, {
      'content-type': 'application/json; charset=iso-8859-1',
    });
    expect(latin.status).toBe(415);
    expect(latin.body.code).toBe('UNSUPPORTED_MEDIA_TYPE');

    const bom = await keel.request(
      'POST',
      '/v1/collections/kept/documents?wait=true',
      new Uint8Array(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(body)])),
      { 'content-type': 'application/json; charset=utf-8' },
    );
    expect(bom.status, bom.text).toBe(200);
    expect((await keel.request('GET', '/v1/collections/kept/documents/bom')).body.text).toBe(
      'Grüße aus Köln',
    );

    const zipped = await keel.request(
      'POST',
      '/v1/collections/kept/documents?wait=true',
      new Uint8Array(gzipSync(JSON.stringify({ documents: [{ id: 'gz', text: 'zipped' }] }))),
      { ...json, 'content-encoding': 'gzip' },
    );
    expect(zipped.status, zipped.text).toBe(200);
  });

  it('every ingest body, accepted or refused, is decoded on the body thread', async () => {
    const before = await decodes();
    const ok = await keel.request('POST', '/v1/collections/kept/documents?wait=true', {
      documents: [{ id: 'counted', text: 'one more document' }],
    });
    expect(ok.status).toBe(200);
    const bad = await keel.request('POST', '/v1/collections/kept/documents', { documents: [] });
    expect(bad.status).toBe(400);
    const after = await decodes();
    expect((after.body ?? 0) - (before.body ?? 0)).toBe(2);
    expect(after.main).toBeUndefined();
  });

  it('rerank and pack bodies are decoded there too, and refused as the ValidationPipe refuses them', async () => {
    const before = await decodes();
    const candidates = [
      { id: 'a', text: 'queues hold jobs for workers' },
      { id: 'b', text: 'a garden in spring' },
    ];
    const reranked = await keel.request('POST', '/v1/rerank', {
      query: 'queues',
      candidates,
      topK: 1,
    });
    expect(reranked.status, reranked.text).toBe(200);
    expect(reranked.body.results.map((r: { id: string }) => r.id)).toEqual(['a']);
    const packed = await keel.request('POST', '/v1/pack', {
      query: 'queues',
      passages: candidates,
      budgetTokens: 200,
    });
    expect(packed.status, packed.text).toBe(200);
    for (const [path, metatype, body] of [
      ['/v1/rerank', RerankRequestDto, { query: 'q', candidates: [{ id: 'a' }], extra: 1 }],
      ['/v1/pack', PackRequestDto, { query: 'q', passages: [{ text: 7 }], budgetTokens: 0 }],
    ] as const) {
      const raw = JSON.stringify(body);
      const res = await keel.request('POST', path, raw, json);
      expect(res.status, res.text).toBe(400);
      const { code, message, details } = res.body;
      expect({ code, message, ...(details ? { details } : {}) }).toEqual(
        await inline(raw, metatype),
      );
    }
    const after = await decodes();
    expect((after.body ?? 0) - (before.body ?? 0)).toBe(4);
    expect(after.main).toBeUndefined();
  });

  it('a burst of 64 small rerank requests at once is decoded, none refused: the backlog is in bytes', async () => {
    const body = {
      query: 'queues',
      candidates: Array.from({ length: 20 }, (_, i) => ({
        id: `c${i}`,
        text: `queue ${i} `.repeat(20),
      })),
      topK: 5,
    };
    const statuses = await Promise.all(
      Array.from(
        { length: 64 },
        async () => (await keel.request('POST', '/v1/rerank', body)).status,
      ),
    );
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
  });
});
