import type { JobName, JobPayload, JobResult, QueueName } from './job-map.js';

/** What a processor may use besides its payload. Plain data and callbacks: it runs in any thread. */
export interface ProcessorContext {
  jobId?: string;
  requestId?: string;
  /** Epoch milliseconds after which nobody waits for the result. */
  deadline?: number;
  signal: AbortSignal;
  /** Directory of the embedded store (SQLite file and local state). */
  dataDir: string;
  /** Reports progress in [0, 1]; cheap to call often. */
  progress(fraction: number): void;
}

/** A plain function registered once for one (queue, name); the same code runs in every mode. */
export interface Processor<Q extends QueueName = QueueName, N extends JobName<Q> = JobName<Q>> {
  queue: Q;
  name: N;
  handle(payload: JobPayload<Q, N>, context: ProcessorContext): Promise<JobResult<Q, N>>;
}

export type AnyProcessor = {
  [Q in QueueName]: { [N in JobName<Q>]: Processor<Q, N> }[JobName<Q>];
}[QueueName];

export function defineProcessor<Q extends QueueName, N extends JobName<Q>>(
  processor: Processor<Q, N>,
): Processor<Q, N> {
  return processor;
}
