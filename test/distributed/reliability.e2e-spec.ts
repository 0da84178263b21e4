// Fault cases of the distributed mode against a real redis-server (AOF on): a worker killed
// mid-job, a worker told to stop, Redis restarted under load, a transient failure retried, a
// permanent one kept for inspection, an idempotent retry and a cancellation.
import { DatabaseSync } from 'node:sqlite';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startKeel, startKeelWorker, tempDir, type KeelServer } from '../support/keel-server.js';
import { RedisServer } from '../support/redis.js';

const WORDS = (
  'quota pool thread cgroup latency queue worker redis stream backlog deadline shard replica ' +
  'index chunk token budget rerank score proximity title corpus claim evidence abstract'
).split(' ');

/**
 * `n` documents (a batch holds at most 1,000) of about 6,000 characters, distinct by their id and
 * word order: a full batch takes a worker thread a few seconds to chunk and write.
 */
function corpus(n: number, seed = 0): Array<{ id: string; title: string; text: string }> {
  return Array.from({ length: n }, (_, i) => ({
    id: `doc-${seed}-${i}`,
    title: `Document ${i}`,
    text: Array.from({ length: 900 }, (_, j) => WORDS[(i * 31 + j * 7 + seed) % WORDS.length]).join(
      ' ',
    ),
  }));
}

async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  ms = 30_000,
): Promise<T> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('distributed mode: fault cases', () => {
  let redis: RedisServer;
  let client: Redis;
  let api: KeelServer;
  const dataDir = tempDir('keel-faults-');
  const workers: KeelServer[] = [];
  // Short locks so a dead worker's job comes back in seconds, not in 30.
  const workerEnv = () => ({
    REDIS_URL: redis.url,
    KEEL_JOB_LOCK_MS: '2000',
    KEEL_SHUTDOWN_GRACE_MS: '20000',
  });
  const worker = async (args: string[] = ['--concurrency', '1']) => {
    const w = await startKeelWorker('ingest', { dataDir, env: workerEnv(), args });
    workers.push(w);
    return w;
  };
  const job = async (id: string) => (await api.request('GET', `/v1/jobs/${id}`)).body;
  const finished = (id: string, ms?: number) =>
    until(
      `job ${id} to finish`,
      async () => {
        const j = await job(id);
        return ['completed', 'failed', 'cancelled'].includes(j.state) ? j : undefined;
      },
      ms,
    );
  const ingest = async (collection: string, docs: unknown[], headers = {}) => {
    const res = await api.request(
      'POST',
      `/v1/collections/${collection}/documents`,
      { documents: docs },
      headers,
    );
    expect(res.status).toBe(202);
    return res.body.jobId as string;
  };
  const collection = async (name: string) =>
    (await api.request('GET', `/v1/collections/${name}`)).body;

  beforeAll(async () => {
    redis = await RedisServer.start();
    client = redis.client();
    api = await startKeel({
      dataDir,
      env: { REDIS_URL: redis.url, KEEL_JOB_BACKOFF_MS: '300', KEEL_INGEST_MAX_BACKLOG: '16' },
    });
  }, 60_000);

  afterEach(async () => {
    await Promise.allSettled(workers.splice(0).map((w) => w.stop('SIGKILL')));
  });

  afterAll(async () => {
    await api?.stop();
    client?.disconnect();
    await redis?.dispose();
    await api?.dispose();
  });

  it('a worker killed with SIGKILL mid-job: another worker completes the job, once', async () => {
    await api.request('POST', '/v1/collections', { name: 'killed' });
    const docs = corpus(1_000, 1);
    const first = await worker();
    const id = await ingest('killed', docs);
    await until('the job to be running', async () =>
      (await job(id)).state === 'active' ? true : undefined,
    );
    await first.stop('SIGKILL');
    const second = await worker();
    const done = await finished(id);
    expect(done.state).toBe('completed');
    // All created: the killed attempt committed nothing, and nothing was written twice.
    expect(done.result).toMatchObject({ created: 1_000, updated: 0, unchanged: 0 });
    const stats = await collection('killed');
    expect(stats.documentCount).toBe(1_000);
    expect(second.logs.some((l) => l.includes('took back a stalled job'))).toBe(true);
    // The same batch again changes nothing: the store holds exactly one copy of each document.
    const again = await finished(await ingest('killed', docs));
    expect(again.result).toMatchObject({ created: 0, updated: 0, unchanged: 1_000 });
    expect((await collection('killed')).chunkCount).toBe(stats.chunkCount);
  });

  it('SIGTERM: the worker takes no new job and finishes the one it runs within the grace period', async () => {
    await api.request('POST', '/v1/collections', { name: 'drained' });
    const w = await worker();
    const running = await ingest('drained', corpus(1_000, 2));
    await until('the job to be running', async () =>
      (await job(running)).state === 'active' ? true : undefined,
    );
    const exited = w.stop('SIGTERM', 30_000);
    await new Promise((r) => setTimeout(r, 200));
    const next = await ingest('drained', corpus(10, 3));
    const code = await exited;
    expect(code === 0 || w.child.signalCode === 'SIGTERM').toBe(true);
    expect((await job(running)).state).toBe('completed');
    expect((await job(next)).state).toBe('waiting');
    await worker();
    expect((await finished(next)).state).toBe('completed');
    expect((await collection('drained')).documentCount).toBe(1_010);
  });

  it('Redis restarted mid-run: readiness goes red then green, and no accepted job is lost', async () => {
    await api.request('POST', '/v1/collections', { name: 'restarted' });
    const w = await worker(['--concurrency', '2']);
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push(await ingest('restarted', corpus(400, 10 + i)));
    await redis.stop();
    await until('API readiness to go red', async () =>
      (await api.request('GET', '/health/ready')).status === 503 ? true : undefined,
    );
    await until('worker readiness to go red', async () =>
      (await w.request('GET', '/health/ready')).status === 503 ? true : undefined,
    );
    // While Redis is away, new work is refused at once rather than left hanging.
    const refused = await api.request('POST', '/v1/collections/restarted/documents', {
      documents: corpus(1, 99),
    });
    expect(refused.status).toBe(503);
    expect(refused.body.code).toBe('UNAVAILABLE');
    await redis.start();
    await until('API readiness to go green', async () =>
      (await api.request('GET', '/health/ready')).status === 200 ? true : undefined,
    );
    await until('worker readiness to go green', async () =>
      (await w.request('GET', '/health/ready')).status === 200 ? true : undefined,
    );
    for (const id of ids) expect((await finished(id, 60_000)).state).toBe('completed');
    expect((await collection('restarted')).documentCount).toBe(2_400);
  });

  it('a transient failure is retried with back-off; a permanent one fails at once and is kept', async () => {
    await api.request('POST', '/v1/collections', { name: 'retried' });
    const w = await worker();
    // Another process holds the store's write lock for longer than SQLite's busy timeout (5 s):
    // the first attempt fails with "database is locked", the retry after the back-off succeeds.
    const db = new DatabaseSync(join(dataDir, 'keel.sqlite'));
    db.exec('PRAGMA busy_timeout = 0; BEGIN IMMEDIATE');
    const id = await ingest('retried', corpus(20, 20));
    await until(
      'the first attempt to fail',
      async () => {
        const text = (await w.request('GET', '/metrics')).text;
        return /keel_job_duration_seconds_count\{queue="ingest",name="ingest-documents",outcome="JOB_FAILED"\} 1/.test(
          text,
        )
          ? true
          : undefined;
      },
      20_000,
    );
    const between = await job(id);
    expect(between.state).toBe('waiting');
    expect(between.error.message).toMatch(/locked/);
    db.exec('COMMIT');
    db.close();
    const done = await finished(id);
    expect(done.state).toBe('completed');
    expect(await client.hget(`bull:ingest:${id}`, 'atm')).toBe('2');

    // A collection deleted after the job was accepted: not found is not worth a retry.
    await api.request('POST', '/v1/collections', { name: 'vanishing' });
    await w.stop('SIGKILL');
    const doomed = await ingest('vanishing', corpus(5, 21));
    expect((await api.request('DELETE', '/v1/collections/vanishing')).status).toBe(204);
    await worker();
    const failed = await finished(doomed);
    expect(failed.state).toBe('failed');
    expect(failed.error.code).toBe('COLLECTION_NOT_FOUND');
    expect(await client.hget(`bull:ingest:${doomed}`, 'atm')).toBe('1');
    expect(await client.zscore('bull:ingest:failed', doomed)).not.toBeNull();
  });

  it("an ingest's documents wait in a payload key of their own, not in the job's hash, until the job completes", async () => {
    await api.request('POST', '/v1/collections', { name: 'carried' });
    const docs = corpus(200, 40);
    const id = await ingest('carried', docs);
    const hash = await client.hgetall(`bull:ingest:${id}`);
    const data = JSON.parse(hash.data) as { payloadKey?: string; payload?: unknown };
    expect(data.payload).toBeUndefined();
    expect(data.payloadKey).toBe(`bull:keel:payload:${id}`);
    expect(hash.data.length).toBeLessThan(1_000);
    const stored = JSON.parse((await client.get(data.payloadKey!))!) as {
      documents: Array<{ id: string; text: string }>;
    };
    expect(stored.documents.map((d) => [d.id, d.text])).toEqual(docs.map((d) => [d.id, d.text]));
    expect(await client.ttl(data.payloadKey!)).toBeGreaterThan(0);

    await worker();
    const done = await finished(id);
    expect(done.state, JSON.stringify(done.error)).toBe('completed');
    expect(done.result.created).toBe(200);
    expect((await collection('carried')).documentCount).toBe(200);
    expect(await client.exists(data.payloadKey!)).toBe(0);
  });

  it('the same Idempotency-Key gives the same job; cancel stops a waiting and a running job', async () => {
    await api.request('POST', '/v1/collections', { name: 'keyed' });
    const docs = corpus(1_000, 30);
    const first = await ingest('keyed', docs, { 'idempotency-key': 'batch-30' });
    const retry = await ingest('keyed', docs, { 'idempotency-key': 'batch-30' });
    expect(retry).toBe(first);
    expect(await client.llen('bull:ingest:wait')).toBe(1);

    // Waiting (no worker yet): it leaves the queue and reads as cancelled.
    const waiting = await ingest('keyed', corpus(5, 31));
    expect((await api.request('DELETE', `/v1/jobs/${waiting}`)).status).toBe(204);
    expect((await job(waiting)).state).toBe('cancelled');
    expect(await client.llen('bull:ingest:wait')).toBe(1);

    // Running: its worker stops it cooperatively; nothing of it is stored.
    await worker();
    await until('the keyed job to run', async () =>
      (await job(first)).state === 'active' ? true : undefined,
    );
    expect((await api.request('DELETE', `/v1/jobs/${first}`)).status).toBe(204);
    const cancelled = await finished(first);
    expect(cancelled.state).toBe('cancelled');
    expect(cancelled.error.code).toBe('CANCELLED');
    expect((await collection('keyed')).documentCount).toBe(0);
  });
});
