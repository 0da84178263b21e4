import { spawn } from 'node:child_process';
import { getHeapStatistics } from 'node:v8';

/** The V8 heap's share of a container memory limit (DESIGN.md §1.2); the image sets the same. */
export const HEAP_PERCENTAGE = 85;

function hasHeapFlag(): boolean {
  const flags = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  return flags.some((f) => f.startsWith('--max-old-space-size'));
}

/**
 * Makes the heap follow the container's memory limit (85% of it, DESIGN.md §1.2), rather than
 * V8's default share of whatever memory it sees. When a limit is set, the heap limit is well off
 * that target and no heap flag was given (the image gives one in NODE_OPTIONS), Keel starts itself
 * again with
 * `--max-old-space-size-percentage` and stays as a thin parent that forwards signals and the exit
 * status. Returns true when it did: the caller must then do nothing else.
 */
export async function followMemoryLimit(): Promise<boolean> {
  if (process.env.KEEL_HEAP_FOLLOWS_LIMIT === '0' || hasHeapFlag()) return false;
  const { detectRuntime } = await import('@keel/platform/runtime');
  const limit = detectRuntime().memoryLimitBytes;
  if (limit === null) return false;
  // V8's own default is a share of the memory it sees (here seen: 560 MiB in a 1 GiB group, most
  // of a host's gigabytes without one); restart only when it is well off the target.
  const target = (limit * HEAP_PERCENTAGE) / 100;
  if (Math.abs(getHeapStatistics().heap_size_limit - target) / target < 0.1) return false;
  const child = spawn(
    process.execPath,
    [
      `--max-old-space-size-percentage=${HEAP_PERCENTAGE}`,
      ...process.execArgv,
      ...process.argv.slice(1),
    ],
    { stdio: 'inherit', env: { ...process.env, KEEL_HEAP_FOLLOWS_LIMIT: '0' } },
  );
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    process.on(signal, () => child.kill(signal));
  }
  child.once('exit', (code, signal) => {
    if (signal) {
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
    } else {
      process.exit(code ?? 1);
    }
  });
  return true;
}
