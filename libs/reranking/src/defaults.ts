import type { Bm25Params, ProximityParams, RerankWeights } from './types.js';

// Tuned on BEIR SciFact TRAIN (809 claims, top 100 of the FTS5 first stage) by
// test/bench/tune-rerank.ts (`npm run bench:rerank`, report in docs/benchmarks/rerank.md); test was
// only reported. Rerun it after changing a scorer or the analyzer, and bake what it prints: it
// checks that these agree with what it tuned.

// The first stage's title weight, tuned by the same script, is BM25_TITLE_WEIGHT in retrieval.

/** BM25 of the rerank over title + text as one field. */
export const DEFAULT_BM25_PARAMS: Readonly<Bm25Params> = Object.freeze({ k1: 2, b: 0.75 });

export const DEFAULT_PROXIMITY_PARAMS: Readonly<ProximityParams> = Object.freeze({ window: 30 });

/**
 * `keel` = first-stage score + 2 × (0.385 bm25 + 0.231 proximity + 0.154 title + 0.231 coverage)
 * + 0.75 × feedback, each feature min-max normalized over the candidate list.
 *
 * The lexical shares were tuned by coordinate ascent on candidates without first-stage scores (what
 * a /v1/rerank caller may send): alone they rank as well as the tuned first stage. Their weight of 2
 * next to the first-stage score was tuned with the scores present; on its own that lexical part's
 * gain over the first stage is within noise (the script's first cross-validation line).
 *
 * `feedback` is what makes the difference: each candidate's similarity to the best candidate by the
 * rest of the combination (a pseudo-relevance feedback from one document, see `feedbackScores`).
 * Its 0.75 was tuned last, with the other weights fixed; it holds up in the script's 2-fold
 * cross-validation inside train, and expansion-term PRF (RM3-style) tried before it did not (see
 * docs/benchmarks/rerank.md).
 */
export const DEFAULT_RERANK_WEIGHTS: Readonly<RerankWeights> = Object.freeze({
  first: 1,
  bm25: 0.77,
  proximity: 0.462,
  title: 0.308,
  coverage: 0.462,
  feedback: 0.75,
});

/**
 * `keel` runs no MMR pass by default: on SciFact no λ < 1 gained train nDCG@10 beyond noise (the
 * script requires 0.001, as for keeping a feature).
 */
export const DEFAULT_MMR_LAMBDA = 1;

/** λ of the `mmr` method, Carbonell & Goldstein's usual relevance-leaning trade-off (not tuned). */
export const DEFAULT_MMR_METHOD_LAMBDA = 0.7;
