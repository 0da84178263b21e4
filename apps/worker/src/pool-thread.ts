// The module each embedded pool thread loads (piscina calls its default export per task).
import { workerData } from 'node:worker_threads';
import { createThreadHandler, lowerThreadPriority } from '@keel/jobs/thread';
import { PROCESSORS, prepare } from './processors.js';

const { dataDir } = workerData as { dataDir: string };

// CPU-heavy jobs yield the core to the process's event loop (see lowerThreadPriority).
lowerThreadPriority();

export default createThreadHandler(PROCESSORS, { dataDir, prepare: () => prepare(dataDir) });
