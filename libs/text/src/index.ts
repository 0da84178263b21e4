export { analyze, analyzeWithPositions, queryTerms, STOP_WORDS, MAX_TERM_CHARS } from './analyzer.js';
export type { PositionedTerm } from './analyzer.js';
