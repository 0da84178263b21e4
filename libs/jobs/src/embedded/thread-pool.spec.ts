import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { ThreadPool } from './thread-pool.js';

const THREAD = new URL('./fixtures/busy-thread.mjs', import.meta.url);

interface Ran {
  threadId: number;
  ran: string[];
}

describe('ThreadPool: a caller that stops waiting', () => {
  const pools: ThreadPool[] = [];
  afterEach(async () => {
    for (const pool of pools.splice(0)) await pool.destroy();
  });

  async function start(abandonedGraceMs?: number) {
    const registry = new Registry();
    const pool = new ThreadPool({
      threadFile: THREAD,
      threads: 1,
      maxQueue: 10,
      dataDir: '/nonexistent',
      registry,
      ...(abandonedGraceMs !== undefined ? { abandonedGraceMs } : {}),
    });
    pools.push(pool);
    await pool.start();
    const job = async (
      name: string,
      ms: number,
      signal?: AbortSignal,
      holdMiB?: number,
    ): Promise<Ran> => {
      const reply = await pool.run(
        { queue: 'rerank', name: 'rerank', payload: { name, ms, holdMiB } },
        signal,
      );
      if (!reply.ok) throw new Error(reply.error.message);
      return reply.result as Ran;
    };
    const abandoned = async (outcome: string) =>
      (await registry.getSingleMetric('keel_job_pool_abandoned_total')!.get()).values.find(
        (v) => v.labels.outcome === outcome,
      )?.value ?? 0;
    const heap = async (kind: 'used' | 'total') =>
      (await registry.getSingleMetric('keel_job_pool_heap_bytes')!.get()).values.find(
        (v) => v.labels.kind === kind,
      )?.value ?? NaN;
    return { pool, job, abandoned, heap };
  }

  it('takes a queued task out of the queue', async () => {
    const { job, abandoned } = await start();
    const first = job('first', 300);
    const controller = new AbortController();
    const queued = job('queued', 10, controller.signal);
    controller.abort();
    await expect(queued).rejects.toThrow();
    await first;
    const after = await job('after', 0);
    expect(after.ran).toEqual(['first', 'after']);
    expect(await abandoned('finished')).toBe(0);
  });

  it('rejects at once for a running task, which finishes on the same thread', async () => {
    const { job, abandoned } = await start();
    const before = await job('before', 0);
    const controller = new AbortController();
    const running = job('running', 400, controller.signal);
    await new Promise((r) => setTimeout(r, 100));
    const aborted = Date.now();
    controller.abort();
    await expect(running).rejects.toThrow();
    expect(Date.now() - aborted).toBeLessThan(200);
    const after = await job('after', 0);
    expect(after.threadId).toBe(before.threadId);
    expect(after.ran).toEqual(['before', 'running', 'after']);
    expect(await abandoned('finished')).toBe(1);
  });

  it('terminates the thread of a task that runs past the grace period', async () => {
    const { job, abandoned } = await start(100);
    const before = await job('before', 0);
    const controller = new AbortController();
    const runaway = job('runaway', 5_000, controller.signal);
    await new Promise((r) => setTimeout(r, 100));
    controller.abort();
    await expect(runaway).rejects.toThrow();
    const after = await job('after', 0);
    expect(after.threadId).not.toBe(before.threadId);
    expect(after.ran).toEqual(['after']);
    expect(await abandoned('terminated')).toBe(1);
  });

  it("reports the threads' heap, which the main thread's heap metrics do not count", async () => {
    const { job, heap } = await start();
    await job('small', 0);
    const before = await heap('used');
    const mainBefore = process.memoryUsage().heapUsed;
    await job('big', 0, undefined, 64);
    const after = await heap('used');
    expect(after - before).toBeGreaterThan(48 * 2 ** 20);
    expect(await heap('total')).toBeGreaterThanOrEqual(after);
    // The memory is the thread's: the main heap did not grow by it.
    expect(process.memoryUsage().heapUsed - mainBefore).toBeLessThan(16 * 2 ** 20);
  });

  it("lets the thread's event loop run between tasks: its timers fire, its WeakRefs let go", async () => {
    // A thread that waits for work inside its last task never ends that task as far as V8 is
    // concerned: no timer fires, and every object a WeakRef was made of stays alive for good
    // (AbortSignal.timeout and AbortSignal.any make them, once per job).
    const { pool } = await start();
    const probe = async (step: 'arm' | 'look') => {
      const reply = await pool.run({ queue: 'rerank', name: 'rerank', payload: { probe: step } });
      if (!reply.ok) throw new Error(reply.error.message);
      return reply.result as { fired: boolean; collected: boolean } | null;
    };
    await probe('arm');
    await new Promise((r) => setTimeout(r, 100));
    expect(await probe('look')).toEqual({ fired: true, collected: true });
  });
});
