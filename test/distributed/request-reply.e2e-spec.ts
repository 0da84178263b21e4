// Distributed mode over a real redis-server: the API enqueues, only workers consume, a request
// waits for its job within its deadline, and a job nobody waits for is not left to run.
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKeel, startKeelWorker, tempDir, type KeelServer } from '../support/keel-server.js';
import { RedisServer } from '../support/redis.js';
import { sampleDocuments } from '../support/samples.js';

const ADMIN = 'an-admin-token-for-tests';
const QUERY = { collection: 'sample', query: 'How does Keel size its worker pool in a container?' };

/** A Prometheus sample's value, or 0 when the series is absent. */
function metric(text: string, name: string, labels: Record<string, string>): number {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const inner = line.slice(name.length + 1, line.indexOf('}'));
    if (want.every((w) => inner.split(',').includes(w))) return Number(line.split(' ').pop());
  }
  return 0;
}

async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  ms = 15_000,
): Promise<T> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('distributed mode: request/reply over BullMQ', () => {
  let redis: RedisServer;
  let client: Redis;
  let api: KeelServer;
  let batch: KeelServer;
  const dataDir = tempDir('keel-dist-');
  const workers: KeelServer[] = [];

  const waiting = async (queue: string) =>
    (await client.llen(`bull:${queue}:wait`)) + (await client.zcard(`bull:${queue}:prioritized`));

  beforeAll(async () => {
    redis = await RedisServer.start();
    client = redis.client();
    const env = { REDIS_URL: redis.url, KEEL_QUEUE_MAX_BACKLOG: '3', KEEL_ADMIN_TOKEN: ADMIN };
    api = await startKeel({ dataDir, env });
    batch = await startKeelWorker('ingest,eval', { dataDir, env: { REDIS_URL: redis.url } });
    expect((await api.request('POST', '/v1/collections', { name: 'sample' })).status).toBe(201);
    const ingest = await api.request('POST', '/v1/collections/sample/documents?wait=true', {
      documents: sampleDocuments(),
    });
    expect(ingest.status).toBe(200);
    expect(ingest.body.created).toBe(31);
  }, 120_000);

  afterAll(async () => {
    await Promise.allSettled([api?.stop(), batch?.stop(), ...workers.map((w) => w.stop())]);
    client?.disconnect();
    await redis?.dispose();
    await api?.dispose();
  });

  it('ingest ran on the worker, not on the API', async () => {
    const workerMetrics = (await batch.request('GET', '/metrics')).text;
    expect(
      metric(workerMetrics, 'keel_job_duration_seconds_count', {
        queue: 'ingest',
        name: 'ingest-documents',
        outcome: 'ok',
      }),
    ).toBe(1);
    // The API never consumes: its /metrics have no worker series.
    expect((await api.request('GET', '/metrics')).text).not.toMatch(/keel_worker_utilization/);
  });

  it('without a query worker, /v1/query answers 504 at its deadline and leaves no job behind', async () => {
    const started = Date.now();
    const res = await api.request('POST', '/v1/query', QUERY, { 'x-keel-timeout-ms': '600' });
    expect(res.status).toBe(504);
    expect(res.body.code).toBe('DEADLINE_EXCEEDED');
    expect(Date.now() - started).toBeLessThan(5_000);
    await until('the rerank job to be removed', async () =>
      (await waiting('rerank')) === 0 ? true : undefined,
    );
  });

  it('a client that goes away takes its waiting job with it', async () => {
    const gone = fetch(`${api.url}/v1/query`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-keel-timeout-ms': '20000' },
      body: JSON.stringify(QUERY),
      signal: AbortSignal.timeout(400),
    }).catch((error: unknown) => error);
    await until('the job to be queued', async () =>
      (await waiting('rerank')) > 0 ? true : undefined,
    );
    expect(await gone).toBeInstanceOf(Error);
    await until('the job to be removed', async () =>
      (await waiting('rerank')) === 0 ? true : undefined,
    );
  });

  it('past the backlog bound new requests get 429 with Retry-After; the queued ones finish once a worker comes', async () => {
    const held = Array.from({ length: 3 }, () =>
      api.request('POST', '/v1/query', QUERY, { 'x-keel-timeout-ms': '30000' }),
    );
    await until('three queued jobs', async () =>
      (await waiting('rerank')) >= 3 ? true : undefined,
    );
    // The API refreshes its view of the backlog every 250 ms.
    await new Promise((r) => setTimeout(r, 600));
    const shed = await api.request('POST', '/v1/query', QUERY);
    expect(shed.status).toBe(429);
    expect(shed.body.code).toBe('OVERLOADED');
    expect(Number(shed.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);

    workers.push(await startKeelWorker('rerank,pack', { dataDir, env: { REDIS_URL: redis.url } }));
    const answers = await Promise.all(held);
    for (const answer of answers) {
      expect(answer.status).toBe(200);
      expect(answer.body.citations.length).toBeGreaterThan(0);
    }
  });

  it('with a worker, queries answer and both processes report the queues', async () => {
    // The API's view of the backlog, which the previous test filled, refreshes every 250 ms.
    await new Promise((r) => setTimeout(r, 400));
    const res = await api.request('POST', '/v1/query', QUERY);
    expect(res.status).toBe(200);
    expect(res.body.mode).toBe('extractive');
    // A refresh may have counted this query's own rerank job while it waited; the next one must not.
    const apiMetrics = await until('the API to see the rerank queue empty', async () => {
      const text = (await api.request('GET', '/metrics')).text;
      return /^keel_queue_jobs\{queue="rerank",state="wait"\} 0$/m.test(text) ? text : undefined;
    });
    for (const state of ['wait', 'prioritized', 'active', 'delayed', 'failed']) {
      expect(apiMetrics).toContain(`keel_queue_jobs{queue="ingest",state="${state}"}`);
    }
    expect(
      metric(apiMetrics, 'keel_remote_job_duration_seconds_count', {
        queue: 'rerank',
        outcome: 'ok',
      }),
    ).toBeGreaterThanOrEqual(4);
    const workerMetrics = (await workers[0].request('GET', '/metrics')).text;
    expect(
      metric(workerMetrics, 'keel_job_duration_seconds_count', { queue: 'pack', outcome: 'ok' }),
    ).toBeGreaterThanOrEqual(4);
    expect(workerMetrics).toMatch(/^keel_worker_utilization\{queue="rerank"\} \d/m);
    const ready = await workers[0].request('GET', '/health/ready');
    expect(ready.status).toBe(200);
    expect(ready.body.info.worker.queues).toEqual({ rerank: 'running', pack: 'running' });
  });

  it('a job a worker already took when its deadline passes is stopped there', async () => {
    // One thread, two slots: job A holds the thread, job B waits on the worker for it (taken
    // from Redis, locked, counted active) when its deadline passes.
    await workers.shift()?.stop();
    const worker = await startKeelWorker('rerank,pack', {
      dataDir,
      env: { REDIS_URL: redis.url, KEEL_POOL_THREADS: '1' },
      args: ['--concurrency', '2'],
    });
    workers.push(worker);
    const outcomes = async () => {
      const text = (await worker.request('GET', '/metrics')).text;
      const count = (outcome: string) =>
        metric(text, 'keel_job_duration_seconds_count', { queue: 'pack', outcome });
      return { ok: count('ok'), stopped: count('CANCELLED') + count('DEADLINE_EXCEEDED') };
    };
    // About a second of tokenizing: 400 distinct passages.
    let seed = 7;
    const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648;
    const passages = Array.from({ length: 400 }, (_, i) => ({
      id: `p${i}`,
      score: 400 - i,
      text: Array.from(
        { length: 1_500 },
        (_, j) => `w${Math.floor(random() * 5_000)}${j % 17 === 16 ? '.' : ''}`,
      ).join(' '),
    }));
    const long = api.request('POST', '/v1/pack', {
      query: 'worker pool quota',
      passages,
      budgetTokens: 1_000_000,
    });
    await until('job A to hold the thread', async () =>
      (await client.llen('bull:pack:active')) === 1 ? true : undefined,
    );
    const short = await api.request(
      'POST',
      '/v1/pack',
      { query: 'worker pool quota', passages: passages.slice(0, 2), budgetTokens: 1_000 },
      { 'x-keel-timeout-ms': '300' },
    );
    expect(short.status).toBe(504);
    expect(short.body.code).toBe('DEADLINE_EXCEEDED');
    const longRes = await long;
    // The body says why, should it fail (a 503's code and message).
    expect({ status: longRes.status, body: longRes.status === 200 ? null : longRes.body }).toEqual({
      status: 200,
      body: null,
    });
    const after = await until('the worker to record the stopped job', async () => {
      const o = await outcomes();
      return o.stopped > 0 ? o : undefined;
    });
    // A completed; B never ran.
    expect(after).toEqual({ ok: 1, stopped: 1 });
    expect((await api.request('POST', '/v1/query', QUERY)).status).toBe(200);
  });

  it('Bull Board is at /admin/queues behind the admin token', async () => {
    const anonymous = await api.request('GET', '/admin/queues');
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Basic /);
    expect(
      (await api.request('GET', '/admin/queues', undefined, { authorization: 'Bearer nope' }))
        .status,
    ).toBe(401);
    const page = await api.request('GET', '/admin/queues', undefined, {
      authorization: `Bearer ${ADMIN}`,
    });
    expect(page.status).toBe(200);
    expect(page.text).toMatch(/<html/i);
    const basic = Buffer.from(`admin:${ADMIN}`).toString('base64');
    const queues = await api.request('GET', '/admin/queues/api/queues', undefined, {
      authorization: `Basic ${basic}`,
    });
    expect(queues.status).toBe(200);
    expect(queues.body.queues.map((q: { name: string }) => q.name).sort()).toEqual([
      'eval',
      'ingest',
      'pack',
      'rerank',
    ]);
  });
});
