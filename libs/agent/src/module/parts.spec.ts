// class-transformer's @Type needs the metadata polyfill that apps/cli/src/main.ts loads.
import 'reflect-metadata';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '@keel/platform';
import { afterEach, describe, expect, it } from 'vitest';
import { agentParts, type AgentParts } from './parts.js';

const settle = async () => {
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
};

/** Enqueues `runs` runs that each hold their slot until released, one by one; the peak at once. */
async function peakConcurrency(parts: AgentParts, runs: number): Promise<number> {
  let running = 0;
  let peak = 0;
  let ended = 0;
  const release: Array<() => void> = [];
  await parts.queue.start(async () => {
    running++;
    peak = Math.max(peak, running);
    await new Promise<void>((resolve) => release.push(resolve));
    running--;
    ended++;
    return 'ended';
  });
  for (let i = 0; i < runs; i++) await parts.queue.enqueue(`run-${i}`);
  for (let i = 0; i < runs * 2 && ended < runs; i++) {
    await settle();
    release.shift()?.();
  }
  await settle();
  await parts.queue.close();
  // Every run executed in the end: the ones over the limit waited, none was dropped.
  expect(ended).toBe(runs);
  return peak;
}

describe('agentParts (embedded)', () => {
  const dirs: string[] = [];
  const open = async (env: Record<string, string> = {}) => {
    const dir = mkdtempSync(join(tmpdir(), 'keel-agent-parts-'));
    dirs.push(dir);
    return agentParts(loadConfig({ KEEL_DATA_DIR: dir, ...env }));
  };

  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('executes KEEL_AGENT_CONCURRENCY async runs at once, the others wait for a slot', async () => {
    const parts = await open({ KEEL_AGENT_CONCURRENCY: '3' });
    try {
      expect(await peakConcurrency(parts, 7)).toBe(3);
    } finally {
      await parts.close();
    }
  });

  it('defaults to 16 at once', async () => {
    const parts = await open();
    try {
      expect(await peakConcurrency(parts, 20)).toBe(16);
    } finally {
      await parts.close();
    }
  });
});
