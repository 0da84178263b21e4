import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Settles with `promise`, or rejects with the signal's reason as soon as it aborts, whichever
 * comes first. This is what keeps one hung tool from delaying anything: a tool that ignores its
 * signal still loses the race at its deadline (its work is left to finish or fail on its own).
 */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    promise.catch(() => undefined);
    return Promise.reject(signal.reason as Error);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

/**
 * A wait that ends early (rejecting) when `signal` aborts, and leaves no listener behind when it
 * does not: cockatiel's back-off sleep cannot be ended so.
 */
export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return sleep(ms, undefined, { signal });
}
