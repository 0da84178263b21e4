// The Nest-free part of the jobs lib: what a pool thread loads.
export { createThreadHandler, PING, WARM } from './thread-handler.js';
export type { ControlTask, ThreadOptions, ThreadReply, ThreadTask } from './thread-handler.js';
export { ProcessorRegistry, ProcessorRegistryError } from './registry.js';
export { lowerThreadPriority, POOL_THREAD_NICENESS } from './priority.js';
export { ownedBytes } from './bytes.js';
