import { execSync, spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { format, resolveConfig } from 'prettier';
import { existsSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, found from this file in both the source and the compiled layout. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) || !existsSync(join(dir, 'libs'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('repository root not found');
    dir = up;
  }
  return dir;
}

/** SciFact in BEIR layout: $SCIFACT_DIR, else ../shared/data/scifact beside the checkout. */
export function scifactDir(): string {
  const dir = process.env.SCIFACT_DIR ?? resolve(repoRoot(), '../shared/data/scifact');
  if (!existsSync(join(dir, 'corpus.jsonl'))) {
    throw new Error(`SciFact not found at ${dir}; set SCIFACT_DIR to a BEIR-layout directory`);
  }
  return dir;
}

export interface Machine {
  date: string;
  node: string;
  cpu: string;
  cores: number;
  memoryGiB: number;
  commit: string;
}

/**
 * The code being measured, read once when the bench starts: a report written later would find its
 * own earlier files (a chart) uncommitted and call the tree dirty. "-dirty": measured on changes
 * not yet committed, so the commit alone does not name the code.
 */
const COMMIT = ((): string => {
  try {
    return execSync('git describe --always --dirty --exclude "*"', {
      cwd: repoRoot(),
      stdio: ['ignore', 'pipe', 'ignore'],
    })
      .toString()
      .trim();
  } catch {
    return 'unknown'; // not a git checkout
  }
})();

export function machine(): Machine {
  return {
    date: new Date().toISOString(),
    node: process.version,
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    commit: COMMIT,
  };
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function fixed(n: number, digits = 4): string {
  return n.toFixed(digits);
}

export interface KeelProcess {
  child: ChildProcess;
  url: string;
  stop(): Promise<void>;
}

/** Starts the built `keel <args>` on `port` and resolves once its /health/ready answers 200. */
export async function startKeelProcess(
  args: string[],
  env: Record<string, string>,
  port: number,
  /** Wraps the command, e.g. to start it inside a control group. */
  wrap: (command: string[]) => string[] = (command) => command,
): Promise<KeelProcess> {
  const main = join(repoRoot(), 'dist/bundle/apps/cli/src/main.js');
  const [file, ...rest] = wrap([process.execPath, main, ...args]);
  const child = spawn(file, rest, {
    cwd: repoRoot(),
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await gone;
  };
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null) throw new Error(`keel ${args.join(' ')} exited ${child.exitCode}`);
    const status = await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(1_000) })
      .then((r) => r.status)
      .catch(() => 0);
    if (status === 200) return { child, url, stop };
    await new Promise((r) => setTimeout(r, 50));
  }
  await stop();
  throw new Error(`keel ${args.join(' ')} not ready`);
}

/** Writes a generated Markdown report formatted as the repository's Prettier check expects. */
export async function writeMarkdown(file: string, markdown: string): Promise<void> {
  const style = (await resolveConfig(file)) ?? {};
  writeFileSync(file, await format(markdown, { ...style, parser: 'markdown' }));
}
