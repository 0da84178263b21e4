import type { AnyProcessor } from '@keel/contracts/jobs';
import { EVALUATION_PROCESSORS } from '@keel/evaluation/processors';
import { packProcessor } from '@keel/packing';
import { rerankProcessor } from '@keel/reranking';
import { RETRIEVAL_PROCESSORS, storeFor } from '@keel/retrieval/processors';

/**
 * Every processor of Keel, registered once. The API checks this list against the job map at boot
 * and every pool thread (and, later, every worker process) builds its handler from it.
 */
export const PROCESSORS: readonly AnyProcessor[] = [
  ...RETRIEVAL_PROCESSORS,
  rerankProcessor,
  packProcessor,
  ...EVALUATION_PROCESSORS,
];

/**
 * What every job needs, opened before the thread reports ready: the store connection. Tokenizer
 * tables (~140 ms a thread) load just after ready instead (ThreadOptions.warm in pool-thread.ts): waiting for them would
 * add that much to every pod's start-up (docs/benchmarks/startup.md).
 */
export function prepare(dataDir: string): void {
  storeFor({ dataDir });
}
