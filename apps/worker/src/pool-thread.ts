// The module each embedded pool thread loads (piscina calls its default export per task).
import { workerData } from 'node:worker_threads';
import { createEmbeddingClient, toEmbedFunction } from '@keel/inference';
import { createThreadHandler, lowerThreadPriority } from '@keel/jobs/thread';
import type { KeelConfig } from '@keel/platform';
import { warmTokenizers } from '@keel/text';
import { PROCESSORS, prepare } from './processors.js';

const { dataDir, embeddings, opensearch } = workerData as {
  dataDir: string;
  embeddings?: KeelConfig['embeddings'];
  opensearch?: KeelConfig['opensearch'];
};
// One client per thread: ingest embeds chunks inside its job, off the event loop of the process.
const embed = embeddings ? toEmbedFunction(createEmbeddingClient(embeddings)) : undefined;

// CPU-heavy jobs yield the core to the process's event loop (see lowerThreadPriority).
lowerThreadPriority();

export default createThreadHandler(PROCESSORS, {
  dataDir,
  prepare: () => prepare(dataDir),
  // Packing and ingest count o200k tokens; the first such job on a thread no longer pays the load.
  warm: () => warmTokenizers(['o200k_base']),
  ...(embed ? { embed } : {}),
  ...(opensearch ? { opensearch } : {}),
});
