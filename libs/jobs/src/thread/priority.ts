import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';

/** How much lower than the event loop a pool thread runs (a nice value, 0..19). */
export const POOL_THREAD_NICENESS = 10;

/**
 * Lowers the calling thread's CPU priority below its process's event loop. A pool sized to the
 * CPU quota keeps every core busy at saturation, and then the thread that serves HTTP (or renews
 * BullMQ locks) waits for a core like any other: its event-loop delay becomes the scheduler's
 * time slice. With the pool threads niced, the loop gets a core as soon as it has work, and the
 * threads take what is left; throughput stays, since the loop needs little.
 *
 * Linux only: setpriority(2) with a thread id affects that thread alone. Elsewhere, or without
 * /proc, it does nothing and says so.
 */
export function lowerThreadPriority(niceness = POOL_THREAD_NICENESS): boolean {
  try {
    // /proc/thread-self → "<pid>/task/<tid>"
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (!Number.isSafeInteger(tid) || tid <= 0) return false;
    setPriority(tid, niceness);
    return true;
  } catch {
    return false;
  }
}
