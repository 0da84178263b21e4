// A request/reply job whose `completed` event the API never reads (its events connection busy,
// reconnecting or gone): the result is still in Redis's event stream, written by the same script
// that removed the finished job, and the runner's sweep must find it there rather than call it lost.
import type { QueueEvents } from 'bullmq';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RerankPayload } from '@keel/contracts/jobs';
import { BullmqJobRunner } from '@keel/jobs/distributed';
import { PoolJobRunner } from '@keel/jobs/embedded';
import { repoRoot } from '../bench/common.js';
import { startKeelWorker, tempDir, type KeelServer } from '../support/keel-server.js';
import { RedisServer } from '../support/redis.js';

const THREAD = new URL(`file://${repoRoot()}/dist/bundle/apps/worker/src/pool-thread.js`);

const PAYLOAD: RerankPayload = {
  version: 1,
  query: 'worker pool quota',
  candidates: [
    { id: 'a', text: 'The worker pool is sized from the CPU quota of the container.', score: 2 },
    { id: 'b', text: 'Redis keeps the queues.', score: 1 },
  ],
  topK: 2,
  method: 'keel',
};

describe('distributed mode: a completed event the API missed', () => {
  let redis: RedisServer;
  let worker: KeelServer;
  let runner: BullmqJobRunner;
  const dataDir = tempDir('keel-lost-event-');

  beforeAll(async () => {
    redis = await RedisServer.start();
    worker = await startKeelWorker('rerank', { dataDir, env: { REDIS_URL: redis.url } });
    const registry = new Registry();
    runner = new BullmqJobRunner({
      redisUrl: redis.url,
      prefix: 'bull',
      maxBacklog: 100,
      trackedBacklog: 100,
      trackedTimeoutMs: 60_000,
      attempts: 1,
      backoffMs: 100,
      retentionHours: 1,
      redisTimeoutMs: 2_000,
      registry,
      local: new PoolJobRunner({
        threadFile: THREAD,
        threads: 1,
        maxQueue: 8,
        dataDir,
        trackedConcurrency: 1,
        trackedBacklog: 8,
        trackedTimeoutMs: 60_000,
        retentionHours: 1,
        registry,
      }),
    });
    await runner.start();
    // Baseline: with its events the runner answers.
    const first = await runner.run('rerank', 'rerank', PAYLOAD, { deadline: Date.now() + 10_000 });
    expect(first.results.map((r) => r.id)).toEqual(['a', 'b']);
    // From here on the runner hears no event of the rerank queue: only its sweep can answer.
    const events = (runner as unknown as { events: Map<string, QueueEvents> }).events;
    await events.get('rerank')!.close();
  }, 120_000);

  afterAll(async () => {
    await runner?.close(1_000);
    await worker?.stop();
    await worker?.dispose();
    await redis?.dispose();
  });

  it('reads the result from the event stream', async () => {
    const started = Date.now();
    const reply = await runner.run('rerank', 'rerank', PAYLOAD, {
      deadline: Date.now() + 10_000,
    });
    expect(reply.results.map((r) => r.id)).toEqual(['a', 'b']);
    expect(reply.results[0].score).toBeGreaterThan(reply.results[1].score);
    // The sweep, not the deadline, answered.
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('calls it lost only when the stream no longer has it', async () => {
    const client = redis.client();
    try {
      // Finished and trimmed away before anyone looked: the event stream keeps only so many.
      const pending = runner.run('rerank', 'rerank', PAYLOAD, { deadline: Date.now() + 10_000 });
      const settled = pending.then(
        () => undefined,
        (error: unknown) => error,
      );
      for (let i = 0; i < 100 && (await client.exists('bull:rerank:events')) === 0; i++) {
        await new Promise((r) => setTimeout(r, 10));
      }
      // Trim as the job finishes (before the sweep's first look, a second after the run).
      const until = Date.now() + 900;
      while (Date.now() < until) {
        await client.xtrim('bull:rerank:events', 'MAXLEN', 0);
        await new Promise((r) => setTimeout(r, 5));
      }
      const error = (await settled) as { code?: string; message?: string } | undefined;
      expect(error?.code).toBe('UNAVAILABLE');
      expect(error?.message).toMatch(/result was lost/);
    } finally {
      client.disconnect();
    }
  });
});
