import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { defineProcessor, type RerankPayload } from '@keel/contracts/jobs';
import { createThreadHandler, PING, WARM } from '@keel/jobs/thread';
import { PROCESSORS, prepare } from './processors.js';

const RERANK: RerankPayload = {
  version: 1,
  query: 'quota',
  candidates: [{ id: 'a', text: 'the CPU quota' }],
  topK: 1,
  method: 'none',
};

/** The processors, with rerank replaced by one that waits until its job is aborted. */
const WAITS_FOR_ABORT = [
  ...PROCESSORS.filter((p) => p.queue !== 'rerank'),
  defineProcessor({
    queue: 'rerank',
    name: 'rerank',
    handle: (_payload, context) =>
      new Promise<never>((_resolve, reject) =>
        context.signal.addEventListener('abort', () => reject(context.signal.reason as Error)),
      ),
  }),
];

const armedTimers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

describe('a pool thread’s task handler', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('prepares on the readiness ping and warms only when asked', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'keel-thread-'));
    dirs.push(dataDir);
    const events: string[] = [];
    const handler = createThreadHandler(PROCESSORS, {
      dataDir,
      prepare: () => {
        prepare(dataDir);
        events.push('prepare');
      },
      warm: () => events.push('warm'),
    });
    expect(await handler(PING)).toEqual({ ok: true, result: null });
    expect(events).toEqual(['prepare']);
    expect(await handler(WARM)).toEqual({ ok: true, result: null });
    expect(events).toEqual(['prepare', 'warm']);
  });

  it('reports a warm-up that fails as a failed task, with a code', async () => {
    const handler = createThreadHandler(PROCESSORS, {
      dataDir: tmpdir(),
      warm: () => {
        throw new Error('tables missing');
      },
    });
    const reply = await handler(WARM);
    expect(reply).toMatchObject({ ok: false, error: { code: 'JOB_FAILED' } });
  });

  it('aborts a job at its deadline with DEADLINE_EXCEEDED', async () => {
    const handler = createThreadHandler(WAITS_FOR_ABORT, { dataDir: tmpdir() });
    const reply = await handler({
      queue: 'rerank',
      name: 'rerank',
      payload: RERANK,
      deadline: Date.now() + 50,
    });
    expect(reply).toMatchObject({ ok: false, error: { code: 'DEADLINE_EXCEEDED' } });
  });

  it('leaves no deadline timer behind once a job has answered', async () => {
    const handler = createThreadHandler(PROCESSORS, { dataDir: tmpdir() });
    const before = armedTimers();
    const reply = await handler({
      queue: 'rerank',
      name: 'rerank',
      payload: RERANK,
      deadline: Date.now() + 30_000,
    });
    expect(reply).toMatchObject({ ok: true, result: { results: [{ id: 'a' }] } });
    expect(armedTimers()).toBe(before);
  });
});
