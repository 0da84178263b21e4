/** A passage to rerank, as a first-stage retriever or an API caller hands it over. */
export interface RerankCandidate {
  id: string;
  text: string;
  title?: string;
  /** First-stage score, higher is better (e.g. a negated FTS5 `bm25()`). */
  score?: number;
}

/**
 * Statistics of the collection the candidates come from, over `@keel/text` terms of title + text.
 * Without them, IDF and the average length are derived from the candidate list itself.
 */
export interface CorpusStats {
  documentCount: number;
  /** Mean number of terms (title + text, stop words included) per document. */
  averageLength: number;
  /** Number of documents that contain each analyzed term; a missing term counts as 0. */
  documentFrequency: Readonly<Record<string, number>>;
}

export const RERANK_METHODS = ['keel', 'bm25', 'proximity', 'title', 'mmr'] as const;
export type RerankMethod = (typeof RERANK_METHODS)[number];

/**
 * Names of the per-candidate features that `keel` combines. `feedback` depends on the others (it
 * compares each candidate with the best one by the rest of the combination), so it is computed
 * only when its weight is not 0, and reads 0 otherwise.
 */
export const RERANK_FEATURES = [
  'first',
  'bm25',
  'proximity',
  'title',
  'coverage',
  'feedback',
] as const;
export type RerankFeature = (typeof RERANK_FEATURES)[number];

/** Weights of the per-list min-max normalized features in the `keel` combination. */
export type RerankWeights = Record<RerankFeature, number>;

export interface Bm25Params {
  k1: number;
  b: number;
}

/** Query-term proximity ({@link proximityScore}). */
export interface ProximityParams {
  /** Terms this many positions apart or more no longer count as near each other. */
  window: number;
}

export interface RerankOptions {
  method: RerankMethod;
  topK: number;
  weights?: Partial<RerankWeights>;
  stats?: CorpusStats;
  /**
   * MMR trade-off: 1 is pure relevance, 0 pure novelty. For `keel`, MMR runs only when this is below
   * 1 (default {@link DEFAULT_MMR_LAMBDA} for `keel`, {@link DEFAULT_MMR_METHOD_LAMBDA} for `mmr`).
   */
  mmrLambda?: number;
  bm25?: Partial<Bm25Params>;
  proximity?: Partial<ProximityParams>;
}

export interface RerankResult {
  id: string;
  /**
   * Higher is better. After an MMR pass this is the marginal MMR value at selection, which need not
   * decrease with rank: order by `rank`.
   */
  score: number;
  /** 1-based. */
  rank: number;
  /** Raw (not normalized) feature values, for explanations and offline tuning. */
  features: Record<string, number>;
}

export function isRerankMethod(value: unknown): value is RerankMethod {
  return (RERANK_METHODS as readonly unknown[]).includes(value);
}
