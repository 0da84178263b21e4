import { STOP_WORDS } from '@keel/text';
import { idf, type AnalyzedCandidate, type QueryContext } from './analysis.js';
import type { Bm25Params, ProximityParams } from './types.js';

/** BM25's length normalization, `(1 - b) + b * dl / avgdl`. */
function lengthNorm(candidate: AnalyzedCandidate, context: QueryContext, b: number): number {
  return 1 - b + (b * candidate.length) / context.averageLength;
}

/** Okapi BM25 over title + text as one field: `Σ idf · tf (k1 + 1) / (tf + k1 · norm)`. */
export function bm25Score(
  context: QueryContext,
  candidate: AnalyzedCandidate,
  params: Bm25Params,
): number {
  const norm = params.k1 * lengthNorm(candidate, context, params.b);
  let score = 0;
  for (let i = 0; i < context.terms.length; i++) {
    const tf = candidate.termFrequency.get(context.terms[i]) ?? 0;
    if (tf > 0) score += (context.idf[i] * tf * (params.k1 + 1)) / (tf + norm);
  }
  return score;
}

/**
 * Query-term proximity: the best IDF-weighted share of the query found around one spot of the
 * candidate. Around an anchor position, each query term contributes `idf · max(0, 1 − d / window)`
 * where d is the distance to its nearest occurrence, so adjacent terms count almost fully and terms
 * `window` or more apart not at all; the score is the best anchor's sum over the query's IDF sum,
 * in [0, 1]. Titles and bodies never share a window. The sum is piecewise linear with convex kinks
 * between occurrences, so its maximum lies on an occurrence: only those are tried as anchors.
 * Cost is (query-term occurrences) × (query terms) × log(occurrences of a term).
 */
export function proximityScore(
  context: QueryContext,
  candidate: AnalyzedCandidate,
  params: ProximityParams,
): number {
  const { terms } = context;
  if (context.idfSum <= 0) return 0;
  const lists: (readonly number[])[] = [];
  const weights: number[] = [];
  for (let t = 0; t < terms.length; t++) {
    const positions = candidate.positions.get(terms[t]);
    if (positions && context.idf[t] > 0) {
      lists.push(positions);
      weights.push(context.idf[t]);
    }
  }
  let best = 0;
  for (const anchors of lists) {
    for (const anchor of anchors) {
      let score = 0;
      for (let t = 0; t < lists.length; t++) {
        const distance = nearestDistance(lists[t], anchor);
        if (distance < params.window) score += weights[t] * (1 - distance / params.window);
      }
      if (score > best) best = score;
    }
  }
  return best / context.idfSum;
}

/** Distance from `target` to the nearest value of an ascending list (binary search). */
function nearestDistance(sorted: readonly number[], target: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] < target) lo = mid + 1;
    else hi = mid;
  }
  let distance = Infinity;
  if (lo < sorted.length) distance = sorted[lo] - target;
  if (lo > 0) distance = Math.min(distance, target - sorted[lo - 1]);
  return distance;
}

/** IDF-weighted share of the query terms that occur in the title, in [0, 1]. */
export function titleScore(context: QueryContext, candidate: AnalyzedCandidate): number {
  if (context.idfSum <= 0) return 0;
  let matched = 0;
  for (let i = 0; i < context.terms.length; i++) {
    if (candidate.titleTerms.has(context.terms[i])) matched += context.idf[i];
  }
  return matched / context.idfSum;
}

/** IDF-weighted share of the query terms that occur anywhere in title + text, in [0, 1]. */
export function coverageScore(context: QueryContext, candidate: AnalyzedCandidate): number {
  if (context.idfSum <= 0) return 0;
  let matched = 0;
  for (let i = 0; i < context.terms.length; i++) {
    if (candidate.termFrequency.has(context.terms[i])) matched += context.idf[i];
  }
  return matched / context.idfSum;
}

/** Cosine of the term-frequency vectors of two candidates, stop words left out; in [0, 1]. */
export function cosineSimilarity(a: AnalyzedCandidate, b: AnalyzedCandidate): number {
  if (a.contentNorm === 0 || b.contentNorm === 0) return 0;
  const [small, large] = a.termFrequency.size <= b.termFrequency.size ? [a, b] : [b, a];
  let dot = 0;
  for (const [term, tf] of small.termFrequency) {
    if (STOP_WORDS.has(term)) continue;
    const other = large.termFrequency.get(term);
    if (other !== undefined) dot += tf * other;
  }
  return dot / (a.contentNorm * b.contentNorm);
}

/**
 * One-document pseudo-relevance feedback: how much each candidate looks like the list's best one.
 * Each candidate is a vector of `(1 + ln tf) · idf` over its content terms (stop words left out),
 * with IDF from the candidate list itself rather than the corpus: every candidate already matched
 * the query, and a term they all share says nothing about which of them are alike (it also needs no
 * statistics beyond the list, which a /v1/rerank caller may not have). Returns the cosine of every
 * candidate to `best`; `best` itself, which cannot be compared with itself, gets its cosine to
 * `runnerUp`, so a top candidate unlike anything else in the list is not lifted by its own rank.
 * Values are in [0, 1]. Cost is linear in the total number of terms of the list.
 */
export function feedbackScores(
  candidates: readonly AnalyzedCandidate[],
  best: number,
  runnerUp: number,
): number[] {
  const n = candidates.length;
  const out = new Array<number>(n).fill(0);
  if (best < 0 || best >= n) return out;
  // Document frequency in the list, then replaced in place by IDF (0 for a stop word): the map
  // operations are most of the cost, so there is one map and one pass per candidate.
  const weights = new Map<string, number>();
  for (const c of candidates) {
    c.termFrequency.forEach((_, term) => weights.set(term, (weights.get(term) ?? 0) + 1));
  }
  weights.forEach((df, term) => weights.set(term, STOP_WORDS.has(term) ? 0 : idf(n, df)));
  const weightOf = (term: string, tf: number): number => {
    const w = weights.get(term)!;
    return tf === 1 ? w : (1 + Math.log(tf)) * w;
  };
  const anchor = new Map<string, number>();
  let anchorSquares = 0;
  candidates[best].termFrequency.forEach((tf, term) => {
    const w = weightOf(term, tf);
    if (w > 0) anchor.set(term, w);
    anchorSquares += w * w;
  });
  const anchorNorm = Math.sqrt(anchorSquares);
  for (let i = 0; i < n; i++) {
    if (i === best) continue;
    let dot = 0;
    let squares = 0;
    candidates[i].termFrequency.forEach((tf, term) => {
      const w = weightOf(term, tf);
      squares += w * w;
      const a = anchor.get(term);
      if (a !== undefined) dot += a * w;
    });
    const denominator = anchorNorm * Math.sqrt(squares);
    out[i] = denominator > 0 ? dot / denominator : 0;
  }
  if (runnerUp >= 0 && runnerUp < n && runnerUp !== best) out[best] = out[runnerUp];
  return out;
}
