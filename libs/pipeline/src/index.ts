export { PipelineModule } from './pipeline.module.js';
export { AnswerQuery, QUERY_DEFAULTS } from './query-pipeline.js';
export { RerankService, DEFAULT_RERANK_METHOD } from './rerank.service.js';
export { PackService } from './pack.service.js';
