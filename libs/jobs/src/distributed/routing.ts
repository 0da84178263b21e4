import type { QueueName } from '@keel/contracts/jobs';

/**
 * What runs on BullMQ workers in distributed mode, by job: the CPU-heavy steps of a query (rerank,
 * pack) and the long tracked jobs (ingest, evaluations). The rest stays in the API's own pool:
 * BM25 over the embedded store reads the store the API serves from, and the small store writes
 * (create or delete a collection, delete a document) take milliseconds and must not wait for a
 * batch worker that KEDA may have scaled to zero. A comparison of two evaluations reads the
 * API's store too.
 */
export const REMOTE_JOBS: Readonly<Record<QueueName, readonly string[]>> = {
  ingest: ['ingest-documents'],
  search: [],
  rerank: ['rerank'],
  pack: ['pack'],
  eval: ['run-evaluation'],
};

/** Queues a worker may consume: those with at least one remote job. */
export const WORKER_QUEUES = (Object.keys(REMOTE_JOBS) as QueueName[]).filter(
  (q) => REMOTE_JOBS[q].length > 0,
);

/** Tracked (enqueued, retried, kept for inspection) rather than request/reply. */
export const TRACKED_JOBS: Readonly<Record<string, true>> = {
  'ingest/ingest-documents': true,
  'eval/run-evaluation': true,
};

export function isRemote(queue: QueueName, name: string): boolean {
  return REMOTE_JOBS[queue].includes(name);
}

export function isTracked(queue: QueueName, name: string): boolean {
  return TRACKED_JOBS[`${queue}/${name}`] === true;
}

/** Parses `--queues rerank,pack`: known worker queues only, each once. */
export function parseWorkerQueues(list: string): QueueName[] {
  const names = list
    .split(',')
    .map((q) => q.trim())
    .filter((q) => q !== '');
  if (names.length === 0)
    throw new Error(`--queues needs one or more of ${WORKER_QUEUES.join(', ')}`);
  for (const name of names) {
    if (!(WORKER_QUEUES as string[]).includes(name)) {
      throw new Error(`unknown worker queue '${name}': expected ${WORKER_QUEUES.join(', ')}`);
    }
  }
  if (new Set(names).size !== names.length) throw new Error('--queues lists a queue twice');
  return names as QueueName[];
}
