/** One pick of {@link mmrSelect}: the index into the input and its marginal MMR value. */
export interface MmrPick {
  index: number;
  score: number;
}

/**
 * Maximal marginal relevance (Carbonell & Goldstein 1998): repeatedly picks the item that maximizes
 * `λ · relevance − (1 − λ) · max similarity to the items already picked`. Relevance should be on the
 * same [0, 1] scale as similarity. Ties go to the lower index. Computes at most `k · n`
 * similarities.
 */
export function mmrSelect(
  relevance: readonly number[],
  similarity: (a: number, b: number) => number,
  lambda: number,
  k: number,
): MmrPick[] {
  const n = relevance.length;
  const picked = new Uint8Array(n);
  const maxSimilarity = new Float64Array(n);
  const out: MmrPick[] = [];
  let last = -1;
  while (out.length < Math.min(k, n)) {
    let best = -1;
    let bestScore = -Infinity;
    for (let i = 0; i < n; i++) {
      if (picked[i]) continue;
      if (last >= 0) maxSimilarity[i] = Math.max(maxSimilarity[i], similarity(i, last));
      const score = lambda * relevance[i] - (1 - lambda) * maxSimilarity[i];
      if (score > bestScore) {
        best = i;
        bestScore = score;
      }
    }
    picked[best] = 1;
    out.push({ index: best, score: bestScore });
    last = best;
  }
  return out;
}
