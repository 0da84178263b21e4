import type { JobName, JobPayload, JobRecord, JobResult, QueueName } from '@keel/contracts/jobs';

export interface RunOptions {
  /** Epoch milliseconds; past it the job is discarded and the caller gets DEADLINE_EXCEEDED. */
  deadline: number;
  signal?: AbortSignal;
  requestId?: string;
}

export interface EnqueueOptions {
  requestId?: string;
  /**
   * Makes the enqueue idempotent: the same key for the same queue gives the same job, whose
   * record is returned instead of a second job (a client retrying a request it saw time out).
   */
  idempotencyKey?: string;
  /** Milliseconds the job may run once started. */
  timeoutMs?: number;
}

export interface RunnerHealth {
  up: boolean;
  details: Record<string, unknown>;
}

/**
 * The port between the API and CPU-heavy work (DESIGN.md §2): the embedded pool and the BullMQ
 * adapter implement it, and callers cannot tell which one they have.
 */
export abstract class JobRunner {
  /** Request/reply: runs a job and returns its typed result, within the deadline. */
  abstract run<Q extends QueueName, N extends JobName<Q>>(
    queue: Q,
    name: N,
    payload: JobPayload<Q, N>,
    options: RunOptions,
  ): Promise<JobResult<Q, N>>;

  /**
   * Accepts a tracked job and resolves once it is durably accepted (in SQLite, or in Redis);
   * its record is then readable by id.
   */
  abstract enqueue<Q extends QueueName, N extends JobName<Q>>(
    queue: Q,
    name: N,
    payload: JobPayload<Q, N>,
    options?: EnqueueOptions,
  ): Promise<JobRecord>;

  abstract get(id: string): Promise<JobRecord | undefined>;

  /** Resolves with the record once the job is completed, failed or cancelled. */
  abstract wait(id: string, signal?: AbortSignal): Promise<JobRecord>;

  /** Stops a waiting or running tracked job; false when there is nothing to stop. */
  abstract cancel(id: string): Promise<boolean>;

  abstract health(): Promise<RunnerHealth>;

  /** Resolves when the runner can take work (threads warm, Redis connected). */
  abstract start(): Promise<void>;

  /** Stops taking work, gives in-flight work the grace period, then releases everything. */
  abstract close(graceMs: number): Promise<void>;
}
