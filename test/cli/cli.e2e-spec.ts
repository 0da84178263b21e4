import { execFile } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { KEEL_MAIN, REPO_ROOT, startKeel, tempDir } from '../support/keel-server.js';

const run = promisify(execFile);

function keel(args: string[], env: Record<string, string>) {
  return run(process.execPath, [KEEL_MAIN, ...args], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: 'warn', ...env },
    timeout: 120_000,
  });
}

describe('the keel CLI', () => {
  const dataDir = tempDir();
  // A port nothing listens on, so the CLI starts its own in-process API over dataDir.
  const env = { KEEL_DATA_DIR: dataDir, PORT: '1' };

  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('ingests a JSONL file with no server running, idempotently', async () => {
    const first = await keel(
      ['ingest', '--collection', 'sample', '--jsonl', 'samples/keel-sample.jsonl'],
      env,
    );
    expect(first.stdout).toMatch(
      /sample: 31 documents in [\d.]+ s — 31 created, 0 updated, 0 unchanged/,
    );
    const again = await keel(
      ['ingest', '--collection', 'sample', '--jsonl', 'samples/keel-sample.jsonl', '--batch', '7'],
      env,
    );
    expect(again.stdout).toMatch(
      /31 documents .* 0 created, 0 updated, 31 unchanged, 0 chunks written/,
    );
  });

  it('answers a query with citations', async () => {
    const { stdout } = await keel(
      ['query', '--collection', 'sample', 'What', 'does', 'KEDA', 'scale', 'on?'],
      env,
    );
    expect(stdout).toMatch(/\[\d+\]/);
    expect(stdout).toMatch(/^\[\d+\] KEDA \(keda#0\)$/m);
    expect(stdout).toMatch(/mode extractive/);
    const json = JSON.parse(
      (await keel(['query', '--collection', 'sample', '--json', 'KEDA'], env)).stdout,
    );
    expect(json.mode).toBe('extractive');
    expect(json.citations.length).toBeGreaterThan(0);
  });

  it('talks to a running server with --url', async () => {
    const server = await startKeel();
    try {
      await keel(
        [
          'ingest',
          '--collection',
          'remote',
          '--jsonl',
          'samples/keel-sample.jsonl',
          '--url',
          server.url,
        ],
        {},
      );
      const collection = (await server.request('GET', '/v1/collections/remote')).body;
      expect(collection.documentCount).toBe(31);
    } finally {
      await server.dispose();
    }
  });

  it('names the file and line of a bad input line, and exits non-zero', async () => {
    const dir = join(dataDir, 'beir');
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, 'corpus.jsonl'),
      '{"_id":"1","title":"t","text":"fine"}\n{"_id":"2","text":\n{"_id":"3","text":"x"}\n',
    );
    const failed = await keel(['ingest', '--collection', 'beir', '--beir', dir], env).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );
    expect(failed?.code).toBe(1);
    expect(failed?.stderr).toContain(`${join(dir, 'corpus.jsonl')}:2: not valid JSON`);
  });

  it('prints what it detects about its container', async () => {
    const { stdout } = await keel(['runtime', '--json'], {});
    const info = JSON.parse(stdout);
    expect(info.sizing.poolThreads).toBeGreaterThanOrEqual(1);
    expect(info.detected).toHaveProperty('cgroupVersion');
  });
});
