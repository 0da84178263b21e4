import type { Citation } from './pack.js';

/**
 * `[3]`, `[1][2]` and `[1, 2]` / `[1,2]`: the forms models use when told to cite "as [n]". Bounded
 * (at most 32 markers of 5 digits in one bracket), so a hostile answer cannot make it backtrack.
 */
const MARKERS = /\[(\d{1,5}(?:\s{0,3},\s{0,3}\d{1,5}){0,31})\]/gu;

export interface CheckedCitations {
  /** The packed passages the answer cites, in marker order, each once. */
  citations: Citation[];
  /** Markers the answer cites that no packed passage carries (the model made them up), ascending. */
  unsupported: number[];
}

/**
 * Checks a generated answer's citation markers against the passages that were packed into its
 * prompt. A model can cite a marker it never saw ([9] of 5 passages); such a citation points at
 * nothing, so it is dropped from `citations` and reported instead of being trusted.
 */
export function checkCitations(answer: string, packed: readonly Citation[]): CheckedCitations {
  const byMarker = new Map(packed.map((c) => [c.marker, c]));
  const cited = new Set<number>();
  for (const match of answer.matchAll(MARKERS)) {
    for (const part of match[1].split(',')) cited.add(Number(part.trim()));
  }
  const markers = [...cited].sort((a, b) => a - b);
  return {
    citations: markers.filter((m) => byMarker.has(m)).map((m) => byMarker.get(m)!),
    unsupported: markers.filter((m) => !byMarker.has(m)),
  };
}
