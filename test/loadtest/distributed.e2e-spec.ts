// `keel loadtest` in distributed mode (API on Redis, a query worker, a batch worker): the queue
// depth comes from keel_queue_jobs, the jobs per request from the API's remote round trips, and
// the worker's own metrics give the job times and slots that `keel capacity` sizes the group with.
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keel } from '../support/keel-cli.js';
import { startKeel, startKeelWorker, tempDir, type KeelServer } from '../support/keel-server.js';
import { RedisServer } from '../support/redis.js';
import { sampleDocuments } from '../support/samples.js';

describe('keel loadtest in distributed mode', () => {
  let redis: RedisServer;
  let api: KeelServer;
  let query: KeelServer;
  let batch: KeelServer;
  const dataDir = tempDir('keel-loadtest-dist-');
  const out = tempDir('keel-loadtest-dist-out-');

  beforeAll(async () => {
    redis = await RedisServer.start();
    const env = { REDIS_URL: redis.url };
    api = await startKeel({ dataDir, env });
    [query, batch] = await Promise.all([
      startKeelWorker('rerank,pack', { dataDir, env: { ...env, KEEL_WORKER_CONCURRENCY: '1' } }),
      startKeelWorker('ingest,eval', { dataDir, env }),
    ]);
    expect((await api.request('POST', '/v1/collections', { name: 'sample' })).status).toBe(201);
    const ingest = await api.request('POST', '/v1/collections/sample/documents?wait=true', {
      documents: sampleDocuments(),
    });
    expect(ingest.status).toBe(200);
  }, 120_000);

  afterAll(async () => {
    await Promise.allSettled([query?.stop(), batch?.stop()]);
    await api?.dispose();
    await redis?.dispose();
    rmSync(out, { recursive: true, force: true });
  });

  it('reads the queue depth and the remote jobs, and sizes the query group from the worker', async () => {
    await keel([
      'loadtest',
      '--url',
      api.url,
      '--collection',
      'sample',
      '--beir',
      'samples/keel-sample-eval',
      '--mix',
      'retrieve=0.5,query=0.5',
      '--phase',
      'steady:6:2',
      '--max-requests',
      '50',
      // A shared 2-core machine: one late request of 12 must not leave the run without a
      // held step for keel capacity to size from (no timed assertions here).
      '--late-ms',
      '1000',
      '--error-budget',
      '0.5',
      '--worker-metrics',
      query.url,
      '--out',
      out,
    ]);
    const result = JSON.parse(readFileSync(join(out, 'loadtest.json'), 'utf8'));
    expect(result.target.mode).toBe('distributed');
    expect(result.setup.workers).toEqual([
      expect.objectContaining({
        url: `${query.url}/metrics`,
        concurrency: { rerank: 1, pack: 1 },
        error: null,
      }),
    ]);
    const step = result.steps[0];
    expect(step.counts.scheduled).toBe(12);
    expect(step.counts.ok + step.counts.errors).toBe(step.counts.sent);
    const s = step.server;
    expect(s.queueDepthSource).toBe('keel_queue_jobs{state="wait"}');
    expect(Object.keys(s.queueWaiting).sort()).toEqual(['eval', 'ingest', 'pack', 'rerank']);
    expect(s.queueDepth).toBeGreaterThanOrEqual(0);
    // /v1/query's rerank and pack went to the worker; the BM25 search stayed in the API's pool.
    expect(s.remoteJobs.rerank.count).toBeGreaterThan(0);
    expect(s.remoteJobs.pack.count).toBeGreaterThan(0);
    expect(s.jobs.rerank).toBeUndefined();
    expect(s.jobs.search.count).toBeGreaterThan(0);
    const worker = step.workers[0];
    expect(worker.error).toBeNull();
    expect(worker.jobs.rerank.count).toBe(s.remoteJobs.rerank.count);
    expect(worker.concurrency).toEqual({ rerank: 1, pack: 1 });

    const plan = JSON.parse(
      (
        await keel([
          'capacity',
          '--from',
          join(out, 'loadtest.json'),
          '--peak-rps',
          '100',
          '--json',
        ])
      ).stdout,
    );
    expect(plan.mode).toBe('distributed');
    const group = plan.groups.find((g: any) => g.name === 'query');
    expect(group.concurrency).toBe(1);
    expect(group.concurrencySource).toMatch(/keel_worker_concurrency of /);
    expect(group.queueFigures[0].meanSource).toMatch(/workers' keel_job_duration_seconds/);
    expect(group.maxReplicaCount).toBeGreaterThanOrEqual(1);
  });
});
