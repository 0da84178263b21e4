export {
  compareCodePoints,
  compareTrecOrder,
  evaluate,
  evaluateRun,
  MAX_CUTOFF,
  parseMetric,
  rankRun,
  RELEVANCE_LEVEL,
  scoreQuery,
} from './metrics.js';
export type { Evaluation, Judgements, RetrievalMetric, RetrievalScores } from './metrics.js';
export {
  DEFAULT_ITERATIONS,
  DEFAULT_SEED,
  pairedRandomization,
  pairedTTest,
} from './significance.js';
export type { RandomizationOptions } from './significance.js';
export { compareRuns, gate, MIN_SHARED_QUERIES } from './compare.js';
export type { CompareOptions, GateOptions, GateResult } from './compare.js';
export { loadBeir } from './beir.js';
export type { BeirDataset } from './beir.js';
export {
  DatasetError,
  jsonLines,
  loadAnswerDataset,
  loadRetrievalDataset,
  parseAnswerLine,
  parseQrelsRow,
  readBeirCorpus,
  readBeirQrels,
  readBeirQueries,
  textLines,
} from './datasets.js';
export type {
  AnswerDataset,
  AnswerItem,
  BeirDocument,
  BeirQuery,
  RetrievalDataset,
} from './datasets.js';
export { renderHtml, renderJson, renderMarkdown } from './reports.js';
export type { RenderOptions, ReportInput } from './reports.js';
export {
  citationPrecision,
  contextRecall,
  exactMatch,
  normalizeAnswer,
  scoreAnswer,
  tokenF1,
} from './answers.js';
export type { AnswerGold, AnswerJudge, AnswerPassage, AnswerSample } from './answers.js';
export * from './types.js';
