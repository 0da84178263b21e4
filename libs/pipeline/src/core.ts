// The query path as plain functions over three steps (retrieve, rerank, pack). The API runs the
// CPU-heavy ones as jobs; an evaluation, already inside a pool thread or worker, calls the
// processors directly. Both go through this code, so an evaluation measures exactly what
// /v1/query serves. Nest-free: worker threads load it.
import type {
  EncodingName,
  Metadata,
  PackPayload,
  PackResult,
  RerankPayload,
  RerankResult,
  SearchHit,
} from '@keel/contracts/jobs';
import type {
  FusionSettings,
  Retrieval,
  RetrievalMode,
  RetrieveSpec,
} from '@keel/retrieval/processors';

export interface PipelineSteps {
  /** Retrieval for one collection under the caller's deadline and signal (the steps add them). */
  retrieve(spec: Omit<RetrieveSpec, 'deadline' | 'signal'>): Promise<Retrieval>;
  rerank(payload: RerankPayload): Promise<RerankResult>;
  pack(payload: PackPayload): Promise<PackResult>;
}

export const QUERY_DEFAULTS = {
  topK: 50,
  contextTopK: 8,
  budgetTokens: 3_000,
  encoding: 'o200k_base',
  rerank: 'keel',
} as const;

export interface RankSpec {
  query: string;
  /** Candidates of the first stage. */
  topK: number;
  mode: RetrievalMode;
  fusion?: FusionSettings;
  group: 'chunk' | 'document';
  filter?: Metadata;
  /** Rerank method, or 'none' to keep the first-stage order. */
  rerank: string;
  rerankWeights?: Record<string, number>;
  mmrLambda?: number;
  /** How many of the reranked candidates to keep. */
  keep: number;
}

export interface RankedHit {
  hit: SearchHit;
  score: number;
}

export interface Ranking {
  ranked: RankedHit[];
  /** The first stage's hits, by id (the reranker returns ids). */
  hits: ReadonlyMap<string, SearchHit>;
  timings: { retrieve: number; rerank: number };
  /** What retrieval said about its legs. */
  retrieval: Pick<Retrieval, 'legs' | 'degraded' | 'failedLegs'>;
}

/** Retrieve, then rerank (unless `rerank` is 'none'): the ranked passages, best first. */
export async function rankPassages(steps: PipelineSteps, spec: RankSpec): Promise<Ranking> {
  const started = performance.now();
  const retrieved = await steps.retrieve({
    query: spec.query,
    topK: spec.topK,
    mode: spec.mode,
    group: spec.group,
    ...(spec.filter ? { filter: spec.filter } : {}),
    ...(spec.fusion ? { fusion: spec.fusion } : {}),
    withStats: spec.rerank !== 'none',
  });
  const afterRetrieve = performance.now();
  const hits = new Map(retrieved.hits.map((h) => [h.id, h]));
  let ranked: RankedHit[];
  if (spec.rerank === 'none' || retrieved.hits.length === 0) {
    ranked = retrieved.hits.slice(0, spec.keep).map((hit) => ({ hit, score: hit.score }));
  } else {
    const { results } = await steps.rerank({
      version: 1,
      query: spec.query,
      candidates: retrieved.hits.map((h) => ({
        id: h.id,
        text: h.text,
        score: h.score,
        ...(h.title !== undefined ? { title: h.title } : {}),
      })),
      topK: spec.keep,
      method: spec.rerank,
      ...(spec.rerankWeights ? { weights: spec.rerankWeights } : {}),
      ...(spec.mmrLambda !== undefined ? { mmrLambda: spec.mmrLambda } : {}),
      ...(retrieved.stats ? { stats: retrieved.stats } : {}),
    });
    ranked = results.map((r) => ({ hit: hits.get(r.id)!, score: r.score }));
  }
  return {
    ranked,
    hits,
    timings: {
      retrieve: afterRetrieve - started,
      rerank: performance.now() - afterRetrieve,
    },
    retrieval: {
      legs: retrieved.legs,
      degraded: retrieved.degraded,
      failedLegs: retrieved.failedLegs,
    },
  };
}

/**
 * Packs the ranked passages into the budget and extracts the answer from what was packed (unless
 * `extractive` is false: an LLM will answer, and the pack job need not spend CPU on sentences).
 */
export function packAnswer(
  steps: PipelineSteps,
  options: {
    query: string;
    ranked: readonly RankedHit[];
    budgetTokens: number;
    encoding: EncodingName;
    extractive?: boolean;
  },
): Promise<PackResult> {
  return steps.pack({
    version: 1,
    query: options.query,
    passages: options.ranked.map(({ hit, score }) => ({
      id: hit.id,
      text: hit.text,
      score,
      documentId: hit.documentId,
      ...(hit.title !== undefined ? { title: hit.title } : {}),
    })),
    budgetTokens: options.budgetTokens,
    encoding: options.encoding,
    extractiveAnswer: options.extractive ?? true,
  });
}
