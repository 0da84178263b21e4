// The Nest-free part of the contracts: safe to load in worker threads and worker processes.
export * from '../errors.js';
export * from '../limits.js';
export * from './job-map.js';
export * from './processor.js';
export * from './evaluation.js';
