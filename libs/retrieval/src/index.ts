export { RetrievalModule } from './retrieval.module.js';
export { CollectionsService, refOf, toCollectionDto } from './collections.service.js';
export type { Collection } from './collections.service.js';
export { DocumentsService } from './documents.service.js';
export { RetrievalService, DEFAULT_TOP_K, round } from './retrieval.service.js';
export type { RetrievalOutcome } from './retrieval.service.js';
export { StoreHealthIndicator } from './store.health.js';
export type { CollectionRow } from './sqlite/sqlite-store.js';
export { QUERY_EMBEDDER } from './retrieval.tokens.js';
