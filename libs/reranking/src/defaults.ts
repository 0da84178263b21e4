import type { Bm25Params, ProximityParams, RerankWeights } from './types.js';

// Tuned on BEIR SciFact TRAIN (809 claims, top 100 of the FTS5 first stage) by
// test/bench/tune-rerank.ts; test was only reported. Rerun it after changing a scorer or the
// analyzer, and update these together.

// The first stage's title weight, tuned by the same script, is BM25_TITLE_WEIGHT in retrieval.

/** BM25 of the rerank over title + text as one field. */
export const DEFAULT_BM25_PARAMS: Readonly<Bm25Params> = Object.freeze({ k1: 1.5, b: 0.75 });

export const DEFAULT_PROXIMITY_PARAMS: Readonly<ProximityParams> = Object.freeze({ window: 20 });

/**
 * `keel` = first-stage score + 0.5 × (0.556 bm25 + 0.278 proximity + 0.167 title), each feature
 * min-max normalized over the candidate list. The lexical shares were tuned on candidates without
 * first-stage scores (what a /v1/rerank caller may send): alone they rank as well as the tuned first
 * stage. The 0.5 was tuned with the scores present; there the rerank's gain over its own first
 * stage is within noise (see the script's cross-validation line). Coverage adds nothing once BM25
 * is there and is left out.
 */
export const DEFAULT_RERANK_WEIGHTS: Readonly<RerankWeights> = Object.freeze({
  first: 1,
  bm25: 0.278,
  proximity: 0.139,
  title: 0.084,
  coverage: 0,
  feedback: 0,
});

/** `keel` runs no MMR pass by default: on SciFact every λ < 1 tried lowered train nDCG@10. */
export const DEFAULT_MMR_LAMBDA = 1;

/** λ of the `mmr` method, Carbonell & Goldstein's usual relevance-leaning trade-off (not tuned). */
export const DEFAULT_MMR_METHOD_LAMBDA = 0.7;
