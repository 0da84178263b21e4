import { analyzeWithPositions, STOP_WORDS } from '@keel/text';
import type { CorpusStats } from './types.js';

/**
 * Body positions start this far after the title's, so that no proximity window bridges the two
 * fields. Windows are capped below it ({@link MAX_PROXIMITY_WINDOW}).
 */
const FIELD_GAP = 1024;

/** The largest proximity window accepted. */
export const MAX_PROXIMITY_WINDOW = 64;

/** A candidate analyzed once (with `@keel/text`) and shared by every scorer. */
export interface AnalyzedCandidate {
  /** Terms in title + text, stop words included (as in the index). */
  length: number;
  /** Term frequency over title + text. */
  termFrequency: ReadonlyMap<string, number>;
  /** Distinct terms of the title. */
  titleTerms: ReadonlySet<string>;
  /** Positions of each term, title first; body positions are offset past a gap. Ascending. */
  positions: ReadonlyMap<string, readonly number[]>;
  /** Euclidean norm of the term-frequency vector without stop words (for cosine similarity). */
  contentNorm: number;
}

export function analyzeCandidate(candidate: { text: string; title?: string }): AnalyzedCandidate {
  const title = candidate.title ? analyzeWithPositions(candidate.title) : [];
  const body = analyzeWithPositions(candidate.text);
  const termFrequency = new Map<string, number>();
  const positions = new Map<string, number[]>();
  const titleTerms = new Set<string>();
  const add = (term: string, position: number): void => {
    termFrequency.set(term, (termFrequency.get(term) ?? 0) + 1);
    const list = positions.get(term);
    if (list) list.push(position);
    else positions.set(term, [position]);
  };
  for (const { term, position } of title) {
    titleTerms.add(term);
    add(term, position);
  }
  const bodyStart = title.length + FIELD_GAP;
  for (const { term, position } of body) add(term, bodyStart + position);
  let squares = 0;
  for (const [term, tf] of termFrequency) if (!STOP_WORDS.has(term)) squares += tf * tf;
  return {
    length: title.length + body.length,
    termFrequency,
    titleTerms,
    positions,
    contentNorm: Math.sqrt(squares),
  };
}

/** Query terms with their IDF and the length statistics that the scorers need. */
export interface QueryContext {
  terms: readonly string[];
  /** `idf[i]` belongs to `terms[i]`. */
  idf: readonly number[];
  /** Sum of `idf`, the denominator of the share-of-query scorers. */
  idfSum: number;
  averageLength: number;
}

/**
 * Lucene's BM25 IDF, `ln(1 + (N - df + 0.5) / (df + 0.5))`: positive for every df, so a term that
 * every candidate has still counts a little.
 */
export function idf(documentCount: number, documentFrequency: number): number {
  const df = Math.min(Math.max(documentFrequency, 0), documentCount);
  return Math.log(1 + (documentCount - df + 0.5) / (df + 0.5));
}

/**
 * IDF and average length from `stats` when given, else from the candidates themselves (a candidate
 * list is a biased sample: every member matched the query, so its IDFs are flatter than the
 * corpus's).
 */
export function queryContext(
  terms: readonly string[],
  candidates: readonly AnalyzedCandidate[],
  stats?: CorpusStats,
): QueryContext {
  let documentCount: number;
  let averageLength: number;
  let frequencyOf: (term: string) => number;
  if (stats) {
    documentCount = Math.max(stats.documentCount, 0);
    averageLength = stats.averageLength;
    // Own properties only: a term such as "constructor" must not read Object.prototype.
    frequencyOf = (term) => {
      const df = Object.hasOwn(stats.documentFrequency, term) ? stats.documentFrequency[term] : 0;
      return typeof df === 'number' && Number.isFinite(df) ? df : 0;
    };
  } else {
    documentCount = candidates.length;
    let total = 0;
    for (const c of candidates) total += c.length;
    averageLength = candidates.length > 0 ? total / candidates.length : 0;
    const counts = new Map<string, number>();
    for (const term of terms) {
      let n = 0;
      for (const c of candidates) if (c.termFrequency.has(term)) n++;
      counts.set(term, n);
    }
    frequencyOf = (term) => counts.get(term) ?? 0;
  }
  const weights = terms.map((t) => idf(documentCount, frequencyOf(t)));
  return {
    terms,
    idf: weights,
    idfSum: weights.reduce((a, b) => a + b, 0),
    averageLength: Number.isFinite(averageLength) && averageLength > 0 ? averageLength : 1,
  };
}
