export { PipelineModule } from './pipeline.module.js';
export { AnswerQuery, jobSteps } from './query-pipeline.js';
export { QUERY_DEFAULTS } from './core.js';
export { RerankService, DEFAULT_RERANK_METHOD } from './rerank.service.js';
export { PackService } from './pack.service.js';
