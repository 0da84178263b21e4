import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createThreadHandler, PING, WARM } from '@keel/jobs/thread';
import { PROCESSORS, prepare } from './processors.js';

describe('a pool thread’s control tasks', () => {
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
});
