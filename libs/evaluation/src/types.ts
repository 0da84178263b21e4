/**
 * The shapes the evaluation module shares between its parts (metrics, runner, comparison,
 * reports). The result types live in `@keel/contracts/jobs` (the API and the job map use them) and
 * are re-exported here.
 */
import type { MetricName } from '@keel/contracts/jobs';

export type {
  Comparison,
  DatasetInfo,
  EvaluationConfig,
  EvaluationReport,
  MetricComparison,
  MetricName,
  PerQueryResult,
  QueryDelta,
  SignificanceTest,
} from '@keel/contracts/jobs';

/** Query id → (document id → graded relevance). A grade ≤ 0 is a judged non-relevant document. */
export type Qrels = ReadonlyMap<string, ReadonlyMap<string, number>>;

/** One retrieved document with the score that ranks it (higher is better). */
export interface ScoredDoc {
  id: string;
  score: number;
}

/** Query id → retrieved documents (any order: metrics sort them as trec_eval does). */
export type Run = ReadonlyMap<string, readonly ScoredDoc[]>;

/** Retrieval measures with trec_eval semantics; `@k` is the cutoff. */
export const RETRIEVAL_MEASURES = ['ndcg', 'mrr', 'recall', 'precision', 'map', 'hit'] as const;
export type RetrievalMeasure = (typeof RETRIEVAL_MEASURES)[number];

/** Measures of an answer-level evaluation (no LLM needed). */
export const ANSWER_MEASURES = [
  'exact_match',
  'token_f1',
  'context_recall',
  'citation_precision',
] as const;
export type AnswerMeasure = (typeof ANSWER_MEASURES)[number];

export const DEFAULT_RETRIEVAL_METRICS: readonly MetricName[] = [
  'ndcg@10',
  'mrr@10',
  'recall@10',
  'recall@100',
  'precision@10',
  'map@100',
  'hit@10',
];

export const DEFAULT_ANSWER_METRICS: readonly MetricName[] = [...ANSWER_MEASURES];
