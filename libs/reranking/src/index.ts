export {
  rerank,
  rerankAnalyzed,
  candidateFeatures,
  combine,
  fillFeedback,
  minMax,
} from './rerank.js';
export type { FeatureVector } from './rerank.js';
export { analyzeCandidate, queryContext, idf, MAX_PROXIMITY_WINDOW } from './analysis.js';
export type { AnalyzedCandidate, QueryContext } from './analysis.js';
export {
  bm25Score,
  proximityScore,
  titleScore,
  coverageScore,
  cosineSimilarity,
  feedbackScores,
} from './scorers.js';
export { mmrSelect } from './mmr.js';
export type { MmrPick } from './mmr.js';
export {
  DEFAULT_BM25_PARAMS,
  DEFAULT_PROXIMITY_PARAMS,
  DEFAULT_RERANK_WEIGHTS,
  DEFAULT_MMR_LAMBDA,
  DEFAULT_MMR_METHOD_LAMBDA,
} from './defaults.js';
export { RerankError, RERANK_ERROR_CODES } from './errors.js';
export type { RerankErrorCode } from './errors.js';
export { RERANK_METHODS, RERANK_FEATURES, isRerankMethod } from './types.js';
export { rerankProcessor } from './processor.js';
export type {
  RerankCandidate,
  CorpusStats,
  RerankMethod,
  RerankFeature,
  RerankWeights,
  Bm25Params,
  ProximityParams,
  RerankOptions,
  RerankResult,
} from './types.js';
