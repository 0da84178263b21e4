// The module each embedded pool thread loads (piscina calls its default export per task).
import { workerData } from 'node:worker_threads';
import { createThreadHandler } from '@keel/jobs/thread';
import { PROCESSORS, prepare } from './processors.js';

const { dataDir } = workerData as { dataDir: string };

export default createThreadHandler(PROCESSORS, { dataDir, prepare: () => prepare(dataDir) });
