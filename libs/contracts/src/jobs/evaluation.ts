/**
 * Evaluation results as plain data: what the `eval` job produces, the API returns, reports render
 * and the regression gate reads. Reports are JSON files users keep and diff: add fields, never
 * rename one.
 */

/** A metric as a name: `ndcg@10`, `recall@100`, `exact_match`, … */
export type MetricName = string;

/** One query's values, kept so two runs can be compared query by query. */
export interface PerQueryResult {
  id: string;
  query?: string;
  metrics: Record<MetricName, number>;
  /** Documents (retrieval) or cited passages (answers) Keel returned, best first, for inspection. */
  retrieved?: string[];
  answer?: string;
}

/** How a run was configured: enough to run it again. */
export interface EvaluationConfig {
  mode: 'bm25' | 'dense' | 'hybrid';
  /** Candidates retrieved (documents). */
  topK: number;
  /** Rerank method, or 'none' for the first stage alone. */
  rerank: string;
  rerankWeights?: Record<string, number>;
  mmrLambda?: number;
  /** Token budget of the packed context (answer-level runs). */
  budgetTokens: number;
  /** Passages offered to the packer (answer-level runs). */
  contextTopK: number;
  encoding: 'o200k_base' | 'cl100k_base';
  metrics: MetricName[];
}

export interface DatasetInfo {
  kind: 'retrieval' | 'answers';
  name: string;
  split?: string;
  queries: number;
}

/** A finished evaluation: what the API returns, what reports render and what the gate reads. */
export interface EvaluationReport {
  id: string;
  /** A short name for tables and charts ("bm25", "rerank keel", a file name). */
  label: string;
  collection: string;
  dataset: DatasetInfo;
  config: EvaluationConfig;
  /** Metric names in display order. */
  metrics: MetricName[];
  /** Mean of each metric over every query of the dataset (a query with no result scores 0). */
  aggregate: Record<MetricName, number>;
  perQuery: PerQueryResult[];
  timings: { totalMs: number; queryP50Ms: number; queryP95Ms: number };
  createdAt: string;
  finishedAt: string;
  keelVersion: string;
}

/** A paired significance test over per-query values. */
export interface SignificanceTest {
  test: 'paired-randomization' | 'paired-t';
  pValue: number;
  /** Randomization: iterations; t-test: degrees of freedom. */
  detail: Record<string, number>;
}

export interface MetricComparison {
  metric: MetricName;
  a: number;
  b: number;
  /** b − a */
  delta: number;
  /** (b − a) / a, or null when a is 0. */
  relativeDelta: number | null;
  randomization: SignificanceTest;
  tTest: SignificanceTest;
  /** randomization p-value < alpha */
  significant: boolean;
}

export interface QueryDelta {
  id: string;
  query?: string;
  a: number;
  b: number;
  delta: number;
}

/** B against A, paired by query id. */
export interface Comparison {
  a: { id: string; label: string };
  b: { id: string; label: string };
  /** Queries present in both runs (the pairs). */
  queries: number;
  /** Queries present in only one of them, by id (a mismatch worth knowing about). */
  unpaired: { onlyA: string[]; onlyB: string[] };
  alpha: number;
  metrics: MetricComparison[];
  /** The metric the per-query lists are sorted by. */
  focus: MetricName;
  mostImproved: QueryDelta[];
  mostDegraded: QueryDelta[];
}

// ---- the eval job ------------------------------------------------------------------------------

/** One line of an answer-level dataset. */
export interface EvaluationAnswerItem {
  id: string;
  question: string;
  /** Acceptable answers (exact match and token F1 take the best). */
  answers: string[];
  /** Gold evidence as text (context recall, citation precision). */
  contexts?: string[];
  /** Gold evidence as document ids. */
  docIds?: string[];
}

/** The dataset of an evaluation, carried in the job (uploaded) or named (read by the worker). */
export type EvaluationDatasetSpec =
  | {
      kind: 'retrieval';
      name: string;
      split: string;
      queries: Array<{ id: string; text: string }>;
      /** query id → document id → grade */
      qrels: Record<string, Record<string, number>>;
    }
  | { kind: 'answers'; name: string; items: EvaluationAnswerItem[] }
  /** A BEIR directory on the server (under KEEL_DATASETS_DIR); `path` is resolved by the API. */
  | { kind: 'beir-dir'; name: string; split: string; path: string }
  /** An answer-level JSONL file on the server (under KEEL_DATASETS_DIR). */
  | { kind: 'answers-file'; name: string; path: string };

export interface EvaluationPayload {
  version: 1;
  label: string;
  collection: { id: number; name: string };
  dataset: EvaluationDatasetSpec;
  config: EvaluationConfig;
  keelVersion: string;
}

/** The job's own result is small; the whole report is stored and served by id. */
export interface EvaluationJobResult {
  id: string;
  queries: number;
  aggregate: Record<MetricName, number>;
}

/** Compares two stored evaluations (B against A); a randomization test is CPU work, so a job. */
export interface CompareEvaluationsPayload {
  version: 1;
  a: string;
  b: string;
  focus?: MetricName;
  alpha?: number;
}
