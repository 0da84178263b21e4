import { analyze } from '@keel/text';

/** Words per shingle: three catches reordered or lightly edited copies without matching topics. */
export const SHINGLE_WORDS = 3;

/** The word shingles of a text over @keel/text terms; a text shorter than a shingle is one. */
export function shingles(text: string): Set<string> {
  const terms = analyze(text);
  const out = new Set<string>();
  if (terms.length === 0) return out;
  if (terms.length < SHINGLE_WORDS) {
    out.add(terms.join(' '));
    return out;
  }
  for (let i = 0; i + SHINGLE_WORDS <= terms.length; i++) {
    out.add(terms.slice(i, i + SHINGLE_WORDS).join(' '));
  }
  return out;
}

/** |A ∩ B| / |A ∪ B|; two empty sets are not similar (0). */
export function jaccard(a: ReadonlySet<string>, b: ReadonlySet<string>): number {
  if (a.size === 0 || b.size === 0) return 0;
  const [small, large] = a.size <= b.size ? [a, b] : [b, a];
  let shared = 0;
  for (const shingle of small) if (large.has(shingle)) shared++;
  return shared / (a.size + b.size - shared);
}

/** Whether `candidate` is at least `threshold` similar to any of `kept`. */
export function isNearDuplicate(
  candidate: ReadonlySet<string>,
  kept: ReadonlyArray<ReadonlySet<string>>,
  threshold: number,
): boolean {
  for (const other of kept) {
    // Jaccard is at most min/max of the sizes: most pairs are ruled out without a set walk.
    const ratio = Math.min(candidate.size, other.size) / Math.max(candidate.size, other.size);
    if (ratio >= threshold && jaccard(candidate, other) >= threshold) return true;
  }
  return false;
}
