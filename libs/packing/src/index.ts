export {
  packContext,
  DEFAULT_DEDUP_THRESHOLD,
  type PackOptions,
  type PackPassage,
  type PackResult,
  type PackedPassage,
  type DroppedPassage,
  type DropReason,
  type Citation,
} from './pack.js';
export {
  extractAnswer,
  DEFAULT_ANSWER_SENTENCES,
  NO_ANSWER,
  type AnswerPassage,
  type ExtractOptions,
  type ExtractiveAnswer,
} from './extract.js';
export {
  DEFAULT_TEMPLATE,
  ANSWER_SYSTEM_PROMPT,
  RAG_TEMPLATE,
  CONCISE_RAG_TEMPLATE,
  PROMPT_TEMPLATES,
  parseTemplate,
  renderTemplate,
  type ParsedTemplate,
} from './templates.js';
export { checkCitations, type CheckedCitations } from './citations.js';
export { PackingError, PackBudgetTooSmallError, type PackingErrorCode } from './errors.js';
export { boundRuns } from './runs.js';
export { jaccard, shingles, SHINGLE_WORDS } from './dedup.js';
export { packProcessor } from './processor.js';
