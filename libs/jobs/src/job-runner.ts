import type { JobName, JobPayload, JobRecord, JobResult, QueueName } from '@keel/contracts/jobs';

export interface RunOptions {
  /** Epoch milliseconds; past it the job is discarded and the caller gets DEADLINE_EXCEEDED. */
  deadline: number;
  signal?: AbortSignal;
  requestId?: string;
}

export interface EnqueueOptions {
  requestId?: string;
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

  /** Accepts a tracked job and returns at once; its record is readable by id. */
  abstract enqueue<Q extends QueueName, N extends JobName<Q>>(
    queue: Q,
    name: N,
    payload: JobPayload<Q, N>,
    options?: EnqueueOptions,
  ): JobRecord;

  abstract get(id: string): JobRecord | undefined;

  /** Resolves with the record once the job is completed, failed or cancelled. */
  abstract wait(id: string, signal?: AbortSignal): Promise<JobRecord>;

  abstract cancel(id: string): boolean;

  abstract health(): RunnerHealth;
}
