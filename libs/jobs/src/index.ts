export { JobRunner } from './job-runner.js';
export type { EnqueueOptions, RunOptions, RunnerHealth } from './job-runner.js';
export { JobsModule } from './jobs.module.js';
export type { JobsModuleOptions } from './jobs.module.js';
export { PoolJobRunner } from './embedded/pool-job-runner.js';
export { ProcessorRegistry, ProcessorRegistryError } from './thread/index.js';
