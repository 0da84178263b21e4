/**
 * Retrieval metrics with the semantics of trec_eval (the version built into pytrec_eval 0.5.11;
 * test/evaluation/trec-eval.e2e-spec.ts checks every measure query by query against it):
 *
 * - A query's run is ordered by score, highest first; equal scores are ordered by document id in
 *   DEScending byte order (trec_eval's `comp_sim_docno` is `strcmp(b, a)`), whatever order the
 *   documents came in.
 * - A document is relevant when its grade is ≥ 1 (trec_eval's default `relevance_level`).
 *   Unjudged documents and negative grades are not relevant.
 * - nDCG: gain = the grade (grades ≤ 0 give none), discount log2(rank + 1), the ideal ranking
 *   is every judged document with a positive grade, by grade. No positive grade: 0.
 * - precision@k divides by k even when fewer than k documents were returned; recall@k by the
 *   number of relevant documents (0 when there are none); map@k is trec_eval's `map_cut_k` (sum of
 *   the precision at each relevant rank ≤ k, over all relevant documents); hit@k is `success_k`;
 *   mrr@k is `recip_rank` computed on the run cut to its first k documents.
 *
 * trec_eval reads integer grades only; Keel accepts any finite grade with the same rules, so a
 * fractional grade below 1 adds nDCG gain without being relevant. Pure functions: they run in
 * worker threads, and each query's run is sorted once for all its metrics.
 */
import {
  RETRIEVAL_MEASURES,
  type MetricName,
  type Qrels,
  type RetrievalMeasure,
  type Run,
  type ScoredDoc,
} from './types.js';

/** doc id → graded relevance for one query. */
export type Judgements = ReadonlyMap<string, number>;

/** The largest cutoff accepted in a metric name. */
export const MAX_CUTOFF = 10_000;

/** trec_eval's default `relevance_level`: grades at or above it are relevant. */
export const RELEVANCE_LEVEL = 1;

/** A parsed retrieval metric name, e.g. `ndcg@10` → { measure: 'ndcg', k: 10 }. */
export interface RetrievalMetric {
  name: MetricName;
  measure: RetrievalMeasure;
  k: number;
}

const METRIC_NAME = /^([a-z]+)@(\d+)$/;
const parsed = new Map<string, RetrievalMetric>();

/** Parses `ndcg@10`, `mrr@10`, `recall@100`, `precision@10`, `map@100`, `hit@10`, … */
export function parseMetric(name: string): RetrievalMetric {
  const cached = parsed.get(name);
  if (cached) return cached;
  const match = METRIC_NAME.exec(name);
  const measure = match?.[1];
  if (!match || !(RETRIEVAL_MEASURES as readonly string[]).includes(measure!)) {
    throw new Error(
      `unknown retrieval metric '${name}': expected <measure>@<k> with measure one of ${RETRIEVAL_MEASURES.join(', ')} (e.g. ndcg@10)`,
    );
  }
  const digits = match[2];
  const k = Number(digits);
  // A canonical k only: 'ndcg@010' would be a second key for the same metric in a report.
  if (digits.startsWith('0') || k < 1 || k > MAX_CUTOFF) {
    throw new Error(
      `bad cutoff in metric '${name}': k must be an integer from 1 to ${MAX_CUTOFF}, without leading zeros`,
    );
  }
  const metric: RetrievalMetric = { name, measure: measure as RetrievalMeasure, k };
  parsed.set(name, metric);
  return metric;
}

/**
 * Orders strings as C's strcmp orders their UTF-8 bytes, which is code point order. JavaScript's
 * `<` compares UTF-16 code units, which puts U+10000 and above (surrogate pairs) before
 * U+E000–U+FFFF; trec_eval puts them after.
 */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let ca = a.charCodeAt(i);
    let cb = b.charCodeAt(i);
    if (ca !== cb) {
      if (ca >= 0xd800 && cb >= 0xd800) {
        // Surrogates (D800–DFFF) move above E000–FFFF; the order within each range stays.
        ca = ca >= 0xe000 ? ca - 0x800 : ca + 0x2000;
        cb = cb >= 0xe000 ? cb - 0x800 : cb + 0x2000;
      }
      return ca - cb;
    }
  }
  return a.length - b.length;
}

/** trec_eval's order: score descending, then document id descending. */
export function compareTrecOrder(a: ScoredDoc, b: ScoredDoc): number {
  if (a.score > b.score) return -1;
  if (a.score < b.score) return 1;
  return compareCodePoints(b.id, a.id);
}

/**
 * A copy of one query's run in trec_eval's order. Duplicate document ids are rejected: trec_eval
 * refuses to evaluate such a run ("duplicate docs"), and pytrec_eval's dict cannot express one, so
 * there is no trec_eval answer to match. A NaN score is rejected too (it has no place in the order).
 */
export function rankRun(docs: readonly ScoredDoc[], queryId?: string): ScoredDoc[] {
  const where = queryId === undefined ? '' : ` of query '${queryId}'`;
  const seen = new Set<string>();
  for (const doc of docs) {
    if (seen.has(doc.id)) {
      throw new Error(`duplicate document id '${doc.id}' in the run${where}`);
    }
    seen.add(doc.id);
    if (typeof doc.score !== 'number' || Number.isNaN(doc.score)) {
      throw new Error(`document '${doc.id}' in the run${where} has no numeric score`);
    }
  }
  return [...docs].sort(compareTrecOrder);
}

const discounts: number[] = [];

/** 1 / log2(rank + 1) for a 1-based rank, cached. */
function discount(rank: number): number {
  for (let r = discounts.length + 1; r <= rank; r++) discounts.push(1 / Math.log2(r + 1));
  return discounts[rank - 1];
}

/** Parsed metrics plus the deepest cutoff each kind of work needs. */
interface Plan {
  metrics: RetrievalMetric[];
  depth: number;
  idealDepth: number;
}

function plan(names: readonly string[]): Plan {
  const metrics = names.map(parseMetric);
  let depth = 0;
  let idealDepth = 0;
  for (const m of metrics) {
    depth = Math.max(depth, m.k);
    if (m.measure === 'ndcg') idealDepth = Math.max(idealDepth, m.k);
  }
  return { metrics, depth, idealDepth };
}

function scoreRanked(
  ranked: readonly ScoredDoc[],
  judgements: Judgements,
  { metrics, depth, idealDepth }: Plan,
): Record<MetricName, number> {
  // One pass over the top `depth` documents fills prefix sums that every metric reads at its k.
  const n = Math.min(depth, ranked.length);
  const relevantAt = new Float64Array(n + 1); // relevant documents in the top i
  const precisionSumAt = new Float64Array(n + 1); // Σ precision at relevant ranks ≤ i (AP numerator)
  const dcgAt = new Float64Array(n + 1);
  let firstRelevant = 0; // 1-based rank of the first relevant document, 0 when none
  for (let i = 1; i <= n; i++) {
    const grade = judgements.get(ranked[i - 1].id);
    const relevant = grade !== undefined && grade >= RELEVANCE_LEVEL;
    relevantAt[i] = relevantAt[i - 1] + (relevant ? 1 : 0);
    precisionSumAt[i] = precisionSumAt[i - 1] + (relevant ? relevantAt[i] / i : 0);
    dcgAt[i] = dcgAt[i - 1] + (grade !== undefined && grade > 0 ? grade * discount(i) : 0);
    if (relevant && firstRelevant === 0) firstRelevant = i;
  }

  let numRelevant = 0;
  const gains: number[] = [];
  for (const grade of judgements.values()) {
    if (grade >= RELEVANCE_LEVEL) numRelevant += 1;
    if (idealDepth > 0 && grade > 0) gains.push(grade);
  }
  let idealAt: Float64Array | undefined;
  if (idealDepth > 0) {
    gains.sort((a, b) => b - a);
    const m = Math.min(idealDepth, gains.length);
    idealAt = new Float64Array(m + 1);
    for (let i = 1; i <= m; i++) idealAt[i] = idealAt[i - 1] + gains[i - 1] * discount(i);
  }

  const out: Record<MetricName, number> = {};
  for (const { name, measure, k } of metrics) {
    const at = Math.min(k, n);
    switch (measure) {
      case 'precision':
        out[name] = relevantAt[at] / k;
        break;
      case 'recall':
        out[name] = numRelevant === 0 ? 0 : relevantAt[at] / numRelevant;
        break;
      case 'hit':
        out[name] = relevantAt[at] > 0 ? 1 : 0;
        break;
      case 'mrr':
        out[name] = firstRelevant !== 0 && firstRelevant <= k ? 1 / firstRelevant : 0;
        break;
      case 'map':
        out[name] = numRelevant === 0 ? 0 : precisionSumAt[at] / numRelevant;
        break;
      case 'ndcg': {
        const ideal = idealAt![Math.min(k, idealAt!.length - 1)];
        out[name] = ideal > 0 ? dcgAt[at] / ideal : 0;
        break;
      }
    }
  }
  return out;
}

/**
 * The metrics of one query: `docs` in any order (they are ranked here as trec_eval ranks them),
 * `judgements` the query's qrels. An empty run scores 0 on every measure.
 */
export function scoreQuery(
  docs: readonly ScoredDoc[],
  judgements: Judgements,
  metrics: readonly MetricName[],
): Record<MetricName, number> {
  return scoreRanked(rankRun(docs), judgements, plan(metrics));
}

export interface Evaluation {
  /** Mean of each metric over every query of the qrels. */
  aggregate: Record<MetricName, number>;
  /** Every query of the qrels, in qrels order. */
  perQuery: Map<string, Record<MetricName, number>>;
}

/**
 * Evaluates a run against qrels. Means are taken over EVERY query in the qrels, as `trec_eval -c`
 * does: a query the run has no documents for (absent, or an empty list) scores 0 on every
 * measure, so a system cannot look better by skipping hard queries. A qrels query with no
 * relevant document (all grades 0) also scores 0, as trec_eval computes it. Queries in the run
 * but not in the qrels are ignored. No qrels: every mean is 0.
 */
export function evaluate(run: Run, qrels: Qrels, metrics: readonly MetricName[]): Evaluation {
  const p = plan(metrics);
  const sums = new Float64Array(p.metrics.length);
  const perQuery = new Map<string, Record<MetricName, number>>();
  for (const [qid, judgements] of qrels) {
    const scores = scoreRanked(rankRun(run.get(qid) ?? [], qid), judgements, p);
    perQuery.set(qid, scores);
    p.metrics.forEach((m, i) => (sums[i] += scores[m.name]));
  }
  const aggregate: Record<MetricName, number> = {};
  p.metrics.forEach((m, i) => (aggregate[m.name] = qrels.size === 0 ? 0 : sums[i] / qrels.size));
  return { aggregate, perQuery };
}

export interface RetrievalScores {
  queries: number;
  ndcgAt10: number;
  recallAt100: number;
  mrrAt10: number;
}

/**
 * The benchmark's summary of ranked lists (best first, as each engine returned them): nDCG@10,
 * Recall@100 and MRR@10 averaged over every judged query. The lists get strictly decreasing
 * scores, so their order is kept as is.
 */
export function evaluateRun(
  run: ReadonlyMap<string, readonly string[]>,
  qrels: Qrels,
): RetrievalScores {
  const scored = new Map<string, ScoredDoc[]>();
  for (const [qid, ids] of run) {
    scored.set(
      qid,
      ids.map((id, i) => ({ id, score: ids.length - i })),
    );
  }
  const { aggregate } = evaluate(scored, qrels, ['ndcg@10', 'recall@100', 'mrr@10']);
  return {
    queries: qrels.size,
    ndcgAt10: aggregate['ndcg@10'],
    recallAt100: aggregate['recall@100'],
    mrrAt10: aggregate['mrr@10'],
  };
}
