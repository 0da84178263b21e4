import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import type { JobPayload } from '@keel/contracts/jobs';
import { PoolJobRunner } from './pool-job-runner.js';

const THREAD = new URL('./fixtures/busy-thread.mjs', import.meta.url);

describe('PoolJobRunner.wait', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const done of cleanup.splice(0)) await done();
  });

  async function start(): Promise<PoolJobRunner> {
    const dataDir = mkdtempSync(join(tmpdir(), 'keel-pool-runner-'));
    const runner = new PoolJobRunner({
      threadFile: THREAD,
      threads: 1,
      maxQueue: 4,
      dataDir,
      trackedConcurrency: 1,
      trackedBacklog: 4,
      trackedTimeoutMs: 10_000,
      retentionHours: 1,
      registry: new Registry(),
    });
    cleanup.push(async () => {
      await runner.close(1_000);
      rmSync(dataDir, { recursive: true, force: true });
    });
    await runner.start();
    return runner;
  }

  // The fixture thread spins for `ms`; the payload's shape is the fixture's, not an ingest's.
  const spin = (ms: number) =>
    ({ name: 'spin', ms }) as unknown as JobPayload<'ingest', 'ingest-documents'>;

  it('stops at once for a signal that was aborted before the wait began, and the job goes on', async () => {
    const runner = await start();
    const job = await runner.enqueue('ingest', 'ingest-documents', spin(1_500));
    const expired = AbortSignal.abort(new DOMException('deadline', 'TimeoutError'));
    await expect(runner.wait(job.id, expired)).rejects.toMatchObject({
      code: 'DEADLINE_EXCEEDED',
    });
    // It did not wait for the job to finish.
    expect((await runner.get(job.id))?.state).not.toBe('completed');
    const done = await runner.wait(job.id);
    expect(done.state).toBe('completed');
  });

  it('stops when the signal aborts during the wait', async () => {
    const runner = await start();
    const job = await runner.enqueue('ingest', 'ingest-documents', spin(1_500));
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 20);
    await expect(runner.wait(job.id, controller.signal)).rejects.toMatchObject({
      code: 'CANCELLED',
    });
    expect((await runner.get(job.id))?.state).not.toBe('completed');
    expect((await runner.wait(job.id)).state).toBe('completed');
  });
});
