export { ApiModule } from './api.module.js';
export { createApi, startApi } from './bootstrap.js';
export type { ApiBootOptions, RunningApi } from './bootstrap.js';
export { buildOpenApiDocument } from './openapi.js';
