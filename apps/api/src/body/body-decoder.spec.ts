import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { IngestDocumentsDto, KeelError } from '@keel/contracts';
import { loadConfig, MetricsService } from '@keel/platform';
import { BodyDecoder } from './body-decoder.js';

const THREAD = new URL('./fixtures/held-body-thread.mjs', import.meta.url);

describe('BodyDecoder', () => {
  const decoders: BodyDecoder[] = [];
  afterEach(async () => {
    for (const decoder of decoders.splice(0)) await decoder.onModuleDestroy();
  });

  function start(backlogBytes = 64 * 1024 * 1024) {
    const config = loadConfig({ KEEL_BODY_DECODE_BACKLOG_BYTES: String(backlogBytes) });
    const metrics = new MetricsService(new Registry());
    const decoder = new BodyDecoder(THREAD, config, metrics);
    decoders.push(decoder);
    return { decoder, metrics };
  }

  const json = (value: unknown) => Buffer.from(JSON.stringify(value));

  it('decodes on its own thread, and the histogram says so', async () => {
    const { decoder, metrics } = start();
    const value = await decoder.decode(IngestDocumentsDto, json({ holdMs: 0 }));
    expect(value).toEqual({
      type: 'IngestDocumentsDto',
      byteLength: json({ holdMs: 0 }).byteLength,
    });
    await expect(decoder.decode(IngestDocumentsDto, undefined)).resolves.toEqual({
      type: 'IngestDocumentsDto',
      byteLength: 0,
    });
    const text = await metrics.registry.metrics();
    expect(text).toContain(
      'keel_body_decode_seconds_count{type="IngestDocumentsDto",thread="body"} 2',
    );
    expect(text).not.toContain('thread="main"');
  });

  it("answers the thread's error as a KeelError with its code and details", async () => {
    const { decoder } = start();
    const error = await decoder.decode(IngestDocumentsDto, json({ fail: 'INVALID_JSON' })).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(KeelError);
    expect(error).toMatchObject({
      code: 'INVALID_JSON',
      status: 400,
      details: [{ field: 'f', message: 'bad' }],
    });
  });

  it('moves a body that owns its memory, and copies a slice of Buffer’s shared pool', async () => {
    const { decoder } = start();
    const big = Buffer.alloc(64 * 1024, ' ');
    big.write('{"holdMs":0}');
    await expect(decoder.decode(IngestDocumentsDto, big)).resolves.toMatchObject({
      byteLength: 64 * 1024,
    });
    expect(big.buffer.byteLength).toBe(0); // moved, not copied

    // Small buffers are slices of one shared allocation; moving one would detach its neighbours.
    const small = Buffer.from('{"holdMs":0}');
    const neighbour = Buffer.from('still here');
    expect(small.buffer).toBe(neighbour.buffer);
    await expect(decoder.decode(IngestDocumentsDto, small)).resolves.toMatchObject({
      byteLength: small.byteLength,
    });
    expect(small.toString()).toBe('{"holdMs":0}');
    expect(neighbour.toString()).toBe('still here');
  });

  /** `{"holdMs":N}` padded with spaces to `bytes`. */
  const sized = (holdMs: number, bytes: number) => {
    const body = Buffer.alloc(bytes, ' ');
    body.write(JSON.stringify({ holdMs }));
    return body;
  };

  it('refuses bodies past its backlog in bytes with 429 OVERLOADED and Retry-After; it decodes the rest', async () => {
    const { decoder } = start(200 * 1024);
    await decoder.decode(IngestDocumentsDto, json({ holdMs: 0 })); // the thread is up
    const running = decoder.decode(IngestDocumentsDto, sized(400, 100 * 1024));
    const queued = decoder.decode(IngestDocumentsDto, sized(0, 90 * 1024));
    // Small bodies count 1 KiB each: ten more fit (200 KiB in all), the eleventh does not.
    const small = Array.from({ length: 10 }, () =>
      decoder.decode(IngestDocumentsDto, json({ holdMs: 0 })),
    );
    const refused = await decoder.decode(IngestDocumentsDto, json({ holdMs: 0 })).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(refused).toMatchObject({ code: 'OVERLOADED', status: 429, retryAfterSeconds: 1 });
    await expect(running).resolves.toMatchObject({ byteLength: 100 * 1024 });
    await expect(queued).resolves.toMatchObject({ byteLength: 90 * 1024 });
    await Promise.all(small);
    // Decoded, they leave the backlog: the next body is taken.
    await expect(decoder.decode(IngestDocumentsDto, json({ holdMs: 0 }))).resolves.toBeDefined();
  });

  it('takes one body larger than the whole backlog when nothing else waits', async () => {
    const { decoder } = start(64 * 1024);
    await expect(decoder.decode(IngestDocumentsDto, sized(0, 256 * 1024))).resolves.toMatchObject({
      byteLength: 256 * 1024,
    });
  });
});
