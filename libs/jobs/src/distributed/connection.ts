import { Redis, type RedisOptions } from 'ioredis';

export type ConnectionRole =
  /** The API's commands (adds, counts, lookups): fail fast while Redis is away, never queue up. */
  | 'producer'
  /** Blocking reads (workers, queue events): wait for Redis to come back, however long. */
  | 'blocking';

/**
 * ioredis options for a role. Reconnection is ioredis's own (capped exponential back-off), so a
 * restarted Redis is picked up again by the API and the workers without a restart of theirs.
 */
export function redisOptions(role: ConnectionRole, timeoutMs: number): RedisOptions {
  const common: RedisOptions = {
    connectTimeout: timeoutMs,
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2_000),
    // Commands of a connection that dropped are retried after it reconnects (BullMQ's scripts
    // are idempotent by job id), not failed.
    autoResendUnfulfilledCommands: true,
  };
  return role === 'producer'
    ? { ...common, enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: timeoutMs }
    : { ...common, maxRetriesPerRequest: null, enableOfflineQueue: true };
}

export function connectRedis(url: string, role: ConnectionRole, timeoutMs: number): Redis {
  return new Redis(url, { ...redisOptions(role, timeoutMs), lazyConnect: false });
}

/** Resolves once the connection is ready; rejects on `signal`. */
export function whenReady(redis: Redis, signal?: AbortSignal): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onReady = () => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    };
    const onAbort = (): void => {
      redis.off('ready', onReady);
      reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
    };
    if (signal?.aborted) return onAbort();
    redis.once('ready', onReady);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
