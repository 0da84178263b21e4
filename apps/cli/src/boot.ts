import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig, type KeelConfig, type RuntimeInfo } from '@keel/platform';
import { detectRuntime, sizeRuntime } from '@keel/platform/runtime';

/**
 * Where the running build lives. The entry module (main.js) sits at apps/cli/src/ in both the tsc
 * output and the bundle, so paths are taken relative to it, never to a module that a bundler may
 * have moved into a shared chunk.
 */
export interface Layout {
  /** The module each pool thread loads. */
  threadFile: URL;
  /** The module of the API's body thread. */
  bodyThreadFile: URL;
  /** The package root (package.json, samples/). */
  root: string;
  version: string;
}

let current: Layout | undefined;

export function setLayout(entryUrl: string): void {
  let dir = dirname(fileURLToPath(entryUrl));
  let root = dir;
  let version = '0.0.0';
  for (let i = 0; i < 8; i++) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'keel') {
        root = dir;
        version = pkg.version ?? version;
        break;
      }
    }
    dir = dirname(dir);
  }
  current = {
    threadFile: new URL('../../worker/src/pool-thread.js', entryUrl),
    bodyThreadFile: new URL('../../api/src/body/body-thread.js', entryUrl),
    root,
    version,
  };
}

export function layout(): Layout {
  if (!current) throw new Error('setLayout() was not called by the entry module');
  return current;
}

/**
 * Reads the environment once and sizes the process from its container. UV_THREADPOOL_SIZE only
 * takes effect if set before libuv's thread pool first runs, so this comes before anything
 * starts a file or DNS request in the background.
 */
export function bootConfig(overrides: Record<string, string | undefined> = {}): {
  config: KeelConfig;
  runtime: RuntimeInfo;
} {
  const env = { ...process.env, ...overrides };
  const config = loadConfig(env);
  const detected = detectRuntime();
  const uv = Number(process.env.UV_THREADPOOL_SIZE);
  const sizing = sizeRuntime(detected, {
    ...(config.pool.threads !== undefined ? { poolThreads: config.pool.threads } : {}),
    ...(Number.isSafeInteger(uv) && uv > 0 ? { uvThreadpoolSize: uv } : {}),
  });
  process.env.UV_THREADPOOL_SIZE = String(sizing.uvThreadpoolSize);
  return { config, runtime: { detected, sizing } };
}
