import { cpus } from 'node:os';
import { describe, expect, it } from 'vitest';
import { insideCgroup, withTestCgroup } from '../support/cgroup.js';
import { startKeel } from '../support/keel-server.js';

function gauge(metrics: string, name: string): number {
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(metrics);
  if (!m) throw new Error(`no ${name} in metrics`);
  return Number(m[1]);
}

describe('the Keel server inside a container-like cgroup', () => {
  it('sizes its job pool from a 1-CPU quota, not from the host cores, and reports the limits', async () => {
    expect(cpus().length).toBeGreaterThanOrEqual(2);
    await withTestCgroup({ cpuQuotaCores: 1, memoryLimitBytes: 1024 * 2 ** 20 }, async (group) => {
      const keel = await startKeel({ wrap: insideCgroup(group) });
      try {
        const metrics = (await keel.request('GET', '/metrics')).text;
        expect(gauge(metrics, 'keel_runtime_cpu_quota_cores')).toBe(1);
        expect(gauge(metrics, 'keel_runtime_memory_limit_bytes')).toBe(1024 * 2 ** 20);
        expect(gauge(metrics, 'keel_runtime_host_cores')).toBe(cpus().length);
        expect(gauge(metrics, 'keel_runtime_pool_threads')).toBe(1);
        expect(gauge(metrics, 'keel_job_pool_threads')).toBe(1);
        // The heap follows the 1 GiB limit (85% of it, plus V8's young generation), where on
        // this host V8 alone would plan for gigabytes.
        const heap = gauge(metrics, 'keel_runtime_heap_size_limit_bytes');
        expect(heap).toBeGreaterThan(0.8 * 1024 * 2 ** 20);
        expect(heap).toBeLessThan(0.95 * 1024 * 2 ** 20);
        const ready = (await keel.request('GET', '/health/ready')).body;
        expect(ready.details.jobs).toMatchObject({ threads: 1, expectedThreads: 1 });
        const boot = keel.logs
          .map((l) => JSON.parse(l))
          .find((l) => String(l.msg).startsWith('runtime:'));
        expect(boot.msg).toContain('cpu quota 1');
        expect(boot.msg).toContain('pool 1 threads');
      } finally {
        await keel.dispose();
      }
    });
  });

  it('without a quota, sizes the pool from the host cores', async () => {
    const keel = await startKeel();
    try {
      const metrics = (await keel.request('GET', '/metrics')).text;
      expect(gauge(metrics, 'keel_runtime_cpu_quota_cores')).toBe(0);
      expect(gauge(metrics, 'keel_runtime_pool_threads')).toBe(cpus().length);
    } finally {
      await keel.dispose();
    }
  });
});
