import { queryTerms } from '@keel/text';
import {
  analyzeCandidate,
  MAX_PROXIMITY_WINDOW,
  queryContext,
  type AnalyzedCandidate,
  type QueryContext,
} from './analysis.js';
import {
  DEFAULT_BM25_PARAMS,
  DEFAULT_MMR_LAMBDA,
  DEFAULT_MMR_METHOD_LAMBDA,
  DEFAULT_PROXIMITY_PARAMS,
  DEFAULT_RERANK_WEIGHTS,
} from './defaults.js';
import { RerankError } from './errors.js';
import { mmrSelect } from './mmr.js';
import {
  bm25Score,
  cosineSimilarity,
  coverageScore,
  feedbackScores,
  proximityScore,
  titleScore,
} from './scorers.js';
import {
  RERANK_FEATURES,
  RERANK_METHODS,
  isRerankMethod,
  type Bm25Params,
  type ProximityParams,
  type RerankCandidate,
  type RerankFeature,
  type RerankMethod,
  type RerankOptions,
  type RerankResult,
  type RerankWeights,
} from './types.js';

export type FeatureVector = Record<RerankFeature, number>;

/**
 * Reranks first-stage candidates. Each candidate is analyzed once; every scorer reads that analysis.
 * Pure and deterministic (ties keep input order), so it runs unchanged in a worker thread.
 *
 * @throws RerankError `RERANK_METHOD_UNKNOWN` for a method not in {@link RERANK_METHODS},
 *   `VALIDATION_FAILED` for a bad `topK`, `mmrLambda`, weight, parameter or statistic.
 */
export function rerank(
  query: string,
  candidates: readonly RerankCandidate[],
  options: RerankOptions,
): RerankResult[] {
  validateOptions(options);
  if (candidates.length === 0) return [];
  return rerankAnalyzed(queryTerms(query), candidates, candidates.map(analyzeCandidate), options);
}

/**
 * {@link rerank} for callers that already hold the query terms and the analyses (`analyzed[i]`
 * belongs to `candidates[i]`), e.g. an offline tuner that caches them per document.
 */
export function rerankAnalyzed(
  terms: readonly string[],
  candidates: readonly RerankCandidate[],
  analyzed: readonly AnalyzedCandidate[],
  options: RerankOptions,
): RerankResult[] {
  validateOptions(options);
  if (candidates.length !== analyzed.length) {
    throw new RerankError('VALIDATION_FAILED', 'one analysis per candidate is required');
  }
  if (candidates.length === 0) return [];
  const bm25 = { ...DEFAULT_BM25_PARAMS, ...options.bm25 };
  const proximity = { ...DEFAULT_PROXIMITY_PARAMS, ...options.proximity };
  const context = queryContext(terms, analyzed, options.stats);
  const features = analyzed.map((a) => candidateFeatures(context, a, bm25, proximity));
  fillFirstStage(candidates, features);
  const weights = { ...DEFAULT_RERANK_WEIGHTS, ...options.weights };
  if (options.method === 'keel' && weights.feedback !== 0) {
    fillFeedback(analyzed, features, weights);
  }

  const relevance = relevanceOf(options.method, features, weights);
  const lambda =
    options.mmrLambda ??
    (options.method === 'mmr' ? DEFAULT_MMR_METHOD_LAMBDA : DEFAULT_MMR_LAMBDA);
  const useMmr = options.method === 'mmr' || (options.method === 'keel' && lambda < 1);

  let order: { index: number; score: number }[];
  if (useMmr) {
    const scaled = minMax(relevance);
    order = mmrSelect(
      scaled,
      (i, j) => cosineSimilarity(analyzed[i], analyzed[j]),
      lambda,
      options.topK,
    );
  } else {
    order = relevance.map((score, index) => ({ index, score }));
    // Array.prototype.sort is stable: equal scores keep input order.
    order.sort((a, b) => b.score - a.score);
    order = order.slice(0, options.topK);
  }
  return order.map(({ index, score }, i) => ({
    id: candidates[index].id,
    score,
    rank: i + 1,
    features: { ...features[index] },
  }));
}

/**
 * Raw feature values of one candidate; `first` and `feedback` depend on the whole list and are
 * filled in later.
 */
export function candidateFeatures(
  context: QueryContext,
  candidate: AnalyzedCandidate,
  bm25: Bm25Params = DEFAULT_BM25_PARAMS,
  proximity: ProximityParams = DEFAULT_PROXIMITY_PARAMS,
): FeatureVector {
  return {
    first: 0,
    bm25: bm25Score(context, candidate, bm25),
    proximity: proximityScore(context, candidate, proximity),
    title: titleScore(context, candidate),
    coverage: coverageScore(context, candidate),
    feedback: 0,
  };
}

/**
 * Fills `feedback` ({@link feedbackScores}): the similarity of each candidate to the best one
 * by every other feature of the combination (ties go to the earlier candidate).
 */
export function fillFeedback(
  analyzed: readonly AnalyzedCandidate[],
  features: FeatureVector[],
  weights: RerankWeights,
): void {
  const base = combine(features, { ...weights, feedback: 0 });
  let best = -1;
  let runnerUp = -1;
  for (let i = 0; i < base.length; i++) {
    if (best < 0 || base[i] > base[best]) [best, runnerUp] = [i, best];
    else if (runnerUp < 0 || base[i] > base[runnerUp]) runnerUp = i;
  }
  const scores = feedbackScores(analyzed, best, runnerUp);
  scores.forEach((score, i) => (features[i].feedback = score));
}

/**
 * Copies each candidate's first-stage score into `first`. A candidate without one (or with a
 * non-finite one) gets the lowest score in the list: it is assumed to come last from the first stage.
 */
function fillFirstStage(candidates: readonly RerankCandidate[], features: FeatureVector[]): void {
  let lowest = Infinity;
  for (const c of candidates) if (isScore(c.score)) lowest = Math.min(lowest, c.score);
  if (lowest === Infinity) lowest = 0;
  candidates.forEach((c, i) => {
    features[i].first = isScore(c.score) ? c.score : lowest;
  });
}

function relevanceOf(
  method: RerankMethod,
  features: readonly FeatureVector[],
  weights: RerankWeights,
): number[] {
  switch (method) {
    case 'keel':
      return combine(features, weights);
    case 'bm25':
      return features.map((f) => f.bm25);
    case 'proximity':
      return features.map((f) => f.proximity);
    case 'title':
      return features.map((f) => f.title);
    case 'mmr': {
      // Relevance is the first stage's when it gave scores, else BM25's.
      const first = features.map((f) => f.first);
      return first.some((s) => s !== first[0]) ? first : features.map((f) => f.bm25);
    }
  }
}

/** Weighted sum of per-list min-max normalized features. */
export function combine(features: readonly FeatureVector[], weights: RerankWeights): number[] {
  const out = new Array<number>(features.length).fill(0);
  for (const name of RERANK_FEATURES) {
    const weight = weights[name];
    if (weight === 0) continue;
    const scaled = minMax(features.map((f) => f[name]));
    for (let i = 0; i < out.length; i++) out[i] += weight * scaled[i];
  }
  return out;
}

/** Maps to [0, 1] by the list's min and max; a constant list maps to all zeros. */
export function minMax(values: readonly number[]): number[] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  const range = hi - lo;
  return values.map((v) => (range > 0 ? (v - lo) / range : 0));
}

function isScore(value: number | undefined): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function validateOptions(options: RerankOptions): void {
  const method: unknown = options.method;
  if (!isRerankMethod(method)) {
    throw new RerankError(
      'RERANK_METHOD_UNKNOWN',
      `unknown rerank method ${JSON.stringify(method)}; expected one of ${RERANK_METHODS.join(', ')}`,
    );
  }
  const invalid = (what: string): never => {
    throw new RerankError('VALIDATION_FAILED', what);
  };
  if (!Number.isInteger(options.topK) || options.topK < 1)
    invalid('topK must be a positive integer');
  const { mmrLambda, weights, bm25, proximity, stats } = options;
  if (
    stats &&
    !(
      Number.isFinite(stats.documentCount) &&
      stats.documentCount >= 0 &&
      Number.isFinite(stats.averageLength) &&
      stats.averageLength >= 0
    )
  ) {
    invalid('stats.documentCount and stats.averageLength must be finite and ≥ 0');
  }
  if (mmrLambda !== undefined && !(mmrLambda >= 0 && mmrLambda <= 1)) {
    invalid('mmrLambda must be within [0, 1]');
  }
  if (weights) {
    for (const [name, value] of Object.entries(weights)) {
      if (!(RERANK_FEATURES as readonly string[]).includes(name)) invalid(`unknown weight ${name}`);
      if (!Number.isFinite(value)) invalid(`weight ${name} must be a finite number`);
    }
  }
  if (bm25?.k1 !== undefined && !(bm25.k1 >= 0 && Number.isFinite(bm25.k1)))
    invalid('bm25.k1 must be ≥ 0');
  if (bm25?.b !== undefined && !(bm25.b >= 0 && bm25.b <= 1))
    invalid('bm25.b must be within [0, 1]');
  if (
    proximity?.window !== undefined &&
    !(
      Number.isInteger(proximity.window) &&
      proximity.window >= 1 &&
      proximity.window <= MAX_PROXIMITY_WINDOW
    )
  ) {
    invalid(`proximity.window must be an integer within [1, ${MAX_PROXIMITY_WINDOW}]`);
  }
}
