// The regression gate as CI runs it: SciFact ingested into a fresh server, then `keel eval gate`
// against the committed baseline (test/evaluation/baselines/README.md). A build whose nDCG@10 on
// SciFact test drops significantly by more than 0.01 fails here, and so fails CI.
import { execFile } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scifactDir } from '../bench/common.js';
import {
  KEEL_MAIN,
  REPO_ROOT,
  startKeel,
  tempDir,
  type KeelServer,
} from '../support/keel-server.js';

const run = promisify(execFile);
const BASELINE = join(REPO_ROOT, 'test/evaluation/baselines/scifact-test.json');

/** The CLI's exit code and output; a non-zero exit is a result here, not an error. */
async function keel(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [KEEL_MAIN, ...args], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: 'warn' },
      timeout: 300_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: unknown; stdout?: string; stderr?: string };
    if (typeof e.code !== 'number') throw error;
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('quality gate on SciFact test', () => {
  let server: KeelServer;
  const scratch = tempDir('keel-gate-');
  const scifact = scifactDir();

  beforeAll(async () => {
    server = await startKeel();
    const ingest = await keel([
      'ingest',
      '--collection',
      'scifact',
      '--beir',
      scifact,
      '--url',
      server.url,
    ]);
    expect(ingest.stderr).toBe('');
    expect(ingest.stdout).toMatch(/scifact: 5183 documents/);
  }, 300_000);

  afterAll(async () => {
    await server?.dispose();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('passes for this build, measured with the baseline configuration', async () => {
    const current = join(scratch, 'current.json');
    const gate = await keel([
      'eval',
      'gate',
      '--baseline',
      BASELINE,
      '--collection',
      'scifact',
      '--beir',
      scifact,
      '--max-drop',
      '0.01',
      '--write-current',
      current,
      '--url',
      server.url,
    ]);
    expect(gate.stdout).toMatch(/^gate PASS: ndcg@10 /m);
    expect(gate.code).toBe(0);
    const baseline = JSON.parse(readFileSync(BASELINE, 'utf8'));
    const measured = JSON.parse(readFileSync(current, 'utf8'));
    expect(measured.config).toEqual(baseline.config);
    expect(measured.dataset).toEqual(baseline.dataset);
  }, 300_000);

  it('fails (exit 3) when the pipeline is made worse: 3 candidates instead of 100', async () => {
    const gate = await keel([
      'eval',
      'gate',
      '--baseline',
      BASELINE,
      '--collection',
      'scifact',
      '--beir',
      scifact,
      '--max-drop',
      '0.01',
      '--top-k',
      '3',
      '--url',
      server.url,
    ]);
    expect(gate.stdout).toMatch(/^gate FAIL: ndcg@10 .* and significant \(p = /m);
    expect(gate.code).toBe(3);
  }, 300_000);
});
