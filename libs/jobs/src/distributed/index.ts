// Distributed mode (DESIGN.md §2): BullMQ on Redis. Nest-free, like the embedded pool: the CLI
// builds these before Nest loads.
export { BullmqJobRunner } from './bullmq-job-runner.js';
export type { DistributedOptions } from './bullmq-job-runner.js';
export { KeelWorker } from './keel-worker.js';
export type { WorkerOptions } from './keel-worker.js';
export { isRemote, isTracked, parseWorkerQueues, REMOTE_JOBS, WORKER_QUEUES } from './routing.js';
export { decodeFailure, encodeFailure, readEnvelope } from './envelope.js';
export type { JobEnvelope } from './envelope.js';
export { keys as redisKeys } from './keys.js';
