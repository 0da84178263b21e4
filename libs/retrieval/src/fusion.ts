/**
 * Fusion of ranked lists from several retrieval legs (BM25, dense) into one. Pure functions over
 * at most a few hundred hits: they run on the API event loop in well under a millisecond.
 *
 * - Reciprocal rank fusion (Cormack, Clarke & Büttcher 2009): score(d) = Σ_legs w / (k + rank),
 *   k = 60 by default. Scale-free: it only reads ranks, so BM25 and cosine scores need no common
 *   scale.
 * - Convex combination: score(d) = Σ_legs w · minmax(score), each leg's scores min-max
 *   normalised over its own list; a document a leg did not return gets 0 from that leg.
 */

export const FUSION_METHODS = ['rrf', 'convex'] as const;
export type FusionMethod = (typeof FUSION_METHODS)[number];

export const DEFAULT_RRF_K = 60;

export interface LegHit {
  id: string;
  score: number;
}

export interface FusionLeg<H extends LegHit> {
  name: string;
  hits: readonly H[];
  /** Weight of this leg (default 1). */
  weight?: number;
}

export interface FusedHit<H extends LegHit> {
  id: string;
  score: number;
  /** The hit as the first leg (in leg order) that returned it gave it. */
  hit: H;
  /** Per leg that returned it: its 1-based rank and its own score. */
  legs: Record<string, { rank: number; score: number }>;
}

export interface FusionOptions {
  method: FusionMethod;
  /** RRF's k. */
  k?: number;
  topK: number;
}

function minMax(hits: readonly LegHit[]): (score: number) => number {
  let lo = Infinity;
  let hi = -Infinity;
  for (const h of hits) {
    lo = Math.min(lo, h.score);
    hi = Math.max(hi, h.score);
  }
  const range = hi - lo;
  // A single hit, or all equal: each counts fully.
  return (score) => (range > 0 ? (score - lo) / range : 1);
}

/**
 * Fuses the legs' lists (each best first) into one list of at most `topK`, best first. Ties keep
 * the order of first appearance (legs in order, then rank), so the result is deterministic.
 */
export function fuse<H extends LegHit>(
  legs: readonly FusionLeg<H>[],
  options: FusionOptions,
): FusedHit<H>[] {
  const k = options.k ?? DEFAULT_RRF_K;
  if (!(k >= 0 && Number.isFinite(k))) throw new RangeError(`RRF k must be ≥ 0, got ${k}`);
  const fused = new Map<string, FusedHit<H> & { order: number }>();
  let order = 0;
  for (const leg of legs) {
    const weight = leg.weight ?? 1;
    const normalise = options.method === 'convex' ? minMax(leg.hits) : undefined;
    const seen = new Set<string>();
    let rank = 0;
    for (const hit of leg.hits) {
      // A leg that returns an id twice counts it once, at its best rank.
      if (seen.has(hit.id)) continue;
      seen.add(hit.id);
      rank += 1;
      const contribution =
        options.method === 'rrf' ? weight / (k + rank) : weight * normalise!(hit.score);
      let entry = fused.get(hit.id);
      if (!entry) {
        entry = { id: hit.id, score: 0, hit, legs: {}, order: order++ };
        fused.set(hit.id, entry);
      }
      entry.score += contribution;
      entry.legs[leg.name] = { rank, score: hit.score };
    }
  }
  return [...fused.values()]
    .sort((a, b) => b.score - a.score || a.order - b.order)
    .slice(0, options.topK)
    .map(({ order: _order, ...hit }) => hit);
}
