export {
  analyze,
  analyzeWithPositions,
  queryTerms,
  STOP_WORDS,
  MAX_TERM_CHARS,
} from './analyzer.js';
export type { PositionedTerm } from './analyzer.js';
export {
  getTokenizer,
  isEncoding,
  loadedEncodings,
  warmTokenizers,
  ENCODINGS,
  MAX_RUN_CHARS,
  type Encoding,
  type Tokenizer,
} from './tokenizer.js';
export { splitSentences, type Sentence } from './sentences.js';
