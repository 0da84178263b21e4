// The embedded pool without Nest: the CLI starts it before the API's modules load, so the threads
// come up in parallel with the rest of the boot.
import { Registry } from 'prom-client';
import type { KeelConfig, RuntimeInfo } from '@keel/platform';
import type { JobRunner } from '../job-runner.js';
import { PoolJobRunner } from './pool-job-runner.js';

export { PoolJobRunner } from './pool-job-runner.js';
export type { PoolOptions } from './pool-job-runner.js';
export { ThreadPool } from './thread-pool.js';
export type { ThreadPoolOptions } from './thread-pool.js';

export function createPoolRunner(
  config: KeelConfig,
  runtime: RuntimeInfo,
  registry: Registry,
  threadFile: URL,
): PoolJobRunner {
  const threads = runtime.sizing.poolThreads;
  return new PoolJobRunner({
    threadFile,
    threads,
    maxQueue: config.pool.maxQueue,
    dataDir: config.dataDir,
    ...(config.embeddings ? { embeddings: config.embeddings } : {}),
    ...(config.opensearch ? { opensearch: config.opensearch } : {}),
    // Leave at least one thread for queries when there is more than one.
    trackedConcurrency: Math.max(1, Math.floor(threads / 2)),
    trackedBacklog: config.ingest.maxBacklog,
    trackedTimeoutMs: config.ingest.timeoutMs,
    retentionHours: config.jobs.retentionHours,
    registry,
  });
}

export interface StartedPool<R extends JobRunner = JobRunner> {
  runner: R;
  /** The process's metrics registry, with the pool's metrics already on it. */
  registry: Registry;
  /** Resolves when the threads are up; readiness waits for it. */
  ready: Promise<void>;
}

/**
 * The process's job runner, started at once: the embedded pool, or with REDIS_URL set the BullMQ
 * runner over it (the pool keeps the jobs that stay in the API, see REMOTE_JOBS). BullMQ and
 * ioredis load only in that case, so the embedded default does not pay for them at start-up.
 */
export async function startJobs(
  config: KeelConfig,
  runtime: RuntimeInfo,
  threadFile: URL,
): Promise<StartedPool> {
  const pool = startPool(config, runtime, threadFile);
  if (!config.redisUrl) return pool;
  const { BullmqJobRunner } = await import('../distributed/index.js');
  const runner = new BullmqJobRunner({
    redisUrl: config.redisUrl,
    prefix: config.queues.prefix,
    maxBacklog: config.queues.maxBacklog,
    trackedBacklog: config.ingest.maxBacklog,
    trackedTimeoutMs: config.ingest.timeoutMs,
    attempts: config.queues.attempts,
    backoffMs: config.queues.backoffMs,
    retentionHours: config.jobs.retentionHours,
    redisTimeoutMs: config.queues.redisTimeoutMs,
    registry: pool.registry,
    local: pool.runner,
  });
  const ready = runner.start();
  ready.catch(() => undefined);
  return { runner, registry: pool.registry, ready };
}

/** Creates the process's registry and the pool, and starts the threads at once. */
export function startPool(
  config: KeelConfig,
  runtime: RuntimeInfo,
  threadFile: URL,
): StartedPool<PoolJobRunner> {
  const registry = new Registry();
  const runner = createPoolRunner(config, runtime, registry, threadFile);
  const ready = runner.start();
  // Observed later by whoever awaits readiness; this keeps an early failure from being unhandled.
  ready.catch(() => undefined);
  return { runner, registry, ready };
}
