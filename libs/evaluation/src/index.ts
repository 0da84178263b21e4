export { evaluateRun, ndcgAtK, recallAtK, reciprocalRankAtK } from './metrics.js';
export type { Judgements, RetrievalScores } from './metrics.js';
export { DatasetError, loadBeir } from './beir.js';
export type { BeirDataset, BeirDocument } from './beir.js';
