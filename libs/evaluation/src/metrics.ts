/**
 * Retrieval metrics with trec_eval semantics: gain is the graded relevance, the discount is
 * log2(rank + 1), the ideal ranking is every judged-relevant document sorted by grade, and a
 * judgement ≤ 0 counts as not relevant. Inputs are ranked lists (best first), already in the order
 * the system returned them. Pure functions: they run anywhere, including worker threads.
 */

/** doc id → graded relevance for one query. */
export type Judgements = ReadonlyMap<string, number>;

export function ndcgAtK(ranked: readonly string[], judgements: Judgements, k: number): number {
  let dcg = 0;
  const top = ranked.slice(0, k);
  for (let i = 0; i < top.length; i++) {
    const gain = judgements.get(top[i]) ?? 0;
    if (gain > 0) dcg += gain / Math.log2(i + 2);
  }
  const ideal = [...judgements.values()]
    .filter((g) => g > 0)
    .sort((a, b) => b - a)
    .slice(0, k);
  let idcg = 0;
  for (let i = 0; i < ideal.length; i++) idcg += ideal[i] / Math.log2(i + 2);
  return idcg === 0 ? 0 : dcg / idcg;
}

export function recallAtK(ranked: readonly string[], judgements: Judgements, k: number): number {
  let relevant = 0;
  for (const g of judgements.values()) if (g > 0) relevant += 1;
  if (relevant === 0) return 0;
  let found = 0;
  for (const id of ranked.slice(0, k)) if ((judgements.get(id) ?? 0) > 0) found += 1;
  return found / relevant;
}

export function reciprocalRankAtK(
  ranked: readonly string[],
  judgements: Judgements,
  k: number,
): number {
  const top = ranked.slice(0, k);
  for (let i = 0; i < top.length; i++) if ((judgements.get(top[i]) ?? 0) > 0) return 1 / (i + 1);
  return 0;
}

export interface RetrievalScores {
  queries: number;
  ndcgAt10: number;
  recallAt100: number;
  mrrAt10: number;
}

/** Mean metrics over the judged queries; a query the run has no answer for scores 0. */
export function evaluateRun(
  run: ReadonlyMap<string, readonly string[]>,
  qrels: ReadonlyMap<string, Judgements>,
): RetrievalScores {
  let ndcg = 0;
  let recall = 0;
  let mrr = 0;
  for (const [qid, judgements] of qrels) {
    const ranked = run.get(qid) ?? [];
    ndcg += ndcgAtK(ranked, judgements, 10);
    recall += recallAtK(ranked, judgements, 100);
    mrr += reciprocalRankAtK(ranked, judgements, 10);
  }
  const n = qrels.size;
  return {
    queries: n,
    ndcgAt10: n ? ndcg / n : 0,
    recallAt100: n ? recall / n : 0,
    mrrAt10: n ? mrr / n : 0,
  };
}
