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
  /**
   * The process's embedding server (EMBEDDINGS_URL), when one is configured: one L2-normalised
   * vector per text. Ingest embeds the chunks of collections with vectors through it.
   */
  embed?: EmbedFunction;
  /** The OpenSearch cluster (OPENSEARCH_URL), for jobs on collections that live there. */
  opensearch?: { url: string; timeoutMs: number; replicas: number };
}

export type EmbedFunction = (
  texts: readonly string[],
  options: { purpose: 'document' | 'query'; signal?: AbortSignal; deadline?: number },
) => Promise<{ model: string; vectors: number[][] }>;

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
