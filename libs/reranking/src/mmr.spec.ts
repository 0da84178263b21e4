import { describe, expect, it } from 'vitest';
import { mmrSelect } from './mmr.js';

describe('mmrSelect', () => {
  // 0 and 1 are near duplicates; 2 is different and a little less relevant.
  const relevance = [1, 0.95, 0.8];
  const similarity = (a: number, b: number): number =>
    (a === 0 && b === 1) || (a === 1 && b === 0) ? 0.95 : 0.1;

  it('demotes a near duplicate below a less relevant novel item', () => {
    expect(mmrSelect(relevance, similarity, 0.5, 3).map((p) => p.index)).toEqual([0, 2, 1]);
  });

  it('is plain relevance order at λ = 1, ties to the lower index', () => {
    expect(mmrSelect([0.5, 1, 0.5], similarity, 1, 3).map((p) => p.index)).toEqual([1, 0, 2]);
  });

  it('stops at k', () => {
    expect(mmrSelect(relevance, similarity, 0.7, 2)).toHaveLength(2);
  });
});
