import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insideCgroup, withTestCgroup } from '../support/cgroup.js';
import { startKeelWorker, tempDir } from '../support/keel-server.js';
import { RedisServer } from '../support/redis.js';

describe('keel worker inside a container-like cgroup', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await RedisServer.start();
  });
  afterAll(async () => {
    await redis?.dispose();
  });

  it('takes its per-queue concurrency and its threads from a 1-CPU quota', async () => {
    await withTestCgroup({ cpuQuotaCores: 1, memoryLimitBytes: 1024 * 2 ** 20 }, async (group) => {
      const dataDir = tempDir();
      const worker = await startKeelWorker('rerank,pack', {
        dataDir,
        env: { REDIS_URL: redis.url },
        wrap: insideCgroup(group),
      });
      try {
        const ready = (await worker.request('GET', '/health/ready')).body;
        expect(ready.details.worker).toMatchObject({
          concurrency: 1,
          pool: { threads: 1, expectedThreads: 1 },
        });
        const metrics = (await worker.request('GET', '/metrics')).text;
        expect(metrics).toMatch(/^keel_worker_concurrency\{queue="rerank"\} 1$/m);
        expect(metrics).toMatch(/^keel_runtime_cpu_quota_cores 1$/m);
      } finally {
        await worker.dispose();
        rmSync(dataDir, { recursive: true, force: true });
      }
    });
  });
});
