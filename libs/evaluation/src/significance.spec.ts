import { describe, expect, it } from 'vitest';
import { pairedRandomization, pairedTTest } from './significance.js';

const SMALL = {
  a: [0.1, 0.5, 0.3, 0.9, 0.2, 0.4],
  b: [0.2, 0.6, 0.2, 1.0, 0.5, 0.6],
};
const MIXED = {
  a: [1, 0, 0.5, 0.25, 0.75, 0.3, 0.8, 0.1],
  b: [0.9, 0.2, 0.4, 0.5, 0.7, 0.6, 0.85, 0.05],
};

/** The exact two-sided sign-flip p-value over all 2^n assignments (no Monte Carlo). */
function exactSignFlip(a: number[], b: number[]): number {
  const d = b.map((x, i) => x - a[i]);
  const observed = Math.abs(d.reduce((s, x) => s + x, 0));
  let count = 0;
  for (let mask = 0; mask < 2 ** d.length; mask++) {
    const sum = d.reduce((s, x, i) => s + (mask & (1 << i) ? -x : x), 0);
    if (Math.abs(sum) >= observed - 1e-12) count += 1;
  }
  return count / 2 ** d.length;
}

describe('pairedTTest', () => {
  // Reference values: scipy.stats.ttest_rel(b, a) (SciPy 1.x).
  it.each([
    ['small', SMALL.a, SMALL.b, 2.1500329089188295, 0.08424151962939279, 5],
    ['mixed', MIXED.a, MIXED.b, 1.0765409408615139, 0.31738244000183347, 7],
    ['two pairs', [0, 1], [0.5, 0.7], 0.25, 0.8440417392452613, 1],
  ])('matches scipy ttest_rel (%s)', (_name, a, b, t, p, df) => {
    const test = pairedTTest(a, b);
    expect(test.test).toBe('paired-t');
    expect(test.detail.t).toBeCloseTo(t, 10);
    expect(test.pValue).toBeCloseTo(p, 10);
    expect(test.detail.df).toBe(df);
  });

  it('has the sign of b − a and a p-value symmetric in a and b', () => {
    const ab = pairedTTest(SMALL.a, SMALL.b);
    const ba = pairedTTest(SMALL.b, SMALL.a);
    expect(ba.detail.t).toBeCloseTo(-ab.detail.t, 12);
    expect(ba.pValue).toBeCloseTo(ab.pValue, 12);
  });

  it('handles zero variance: identical runs p = 1, a constant shift p = 0', () => {
    expect(pairedTTest([0.1, 0.2, 0.3], [0.1, 0.2, 0.3])).toEqual({
      test: 'paired-t',
      pValue: 1,
      detail: { df: 2, t: 0 },
    });
    const shifted = pairedTTest([0, 0, 0, 0], [0.5, 0.5, 0.5, 0.5]);
    expect(shifted.pValue).toBe(0);
    expect(shifted.detail).toEqual({ df: 3 });
    expect(JSON.parse(JSON.stringify(shifted))).toEqual(shifted);
  });

  it('cannot test fewer than two pairs', () => {
    expect(pairedTTest([], []).pValue).toBe(1);
    expect(pairedTTest([0], [1]).pValue).toBe(1);
  });

  it('rejects unequal lengths and non-finite values', () => {
    expect(() => pairedTTest([1, 2], [1])).toThrow(/as many values/);
    expect(() => pairedTTest([1, NaN], [1, 2])).toThrow(/not a finite number/);
  });
});

describe('pairedRandomization', () => {
  it('gives p = 1 for identical runs', () => {
    const test = pairedRandomization(MIXED.a, MIXED.a, { iterations: 1000, seed: 1 });
    expect(test).toEqual({
      test: 'paired-randomization',
      pValue: 1,
      detail: { iterations: 1000, seed: 1 },
    });
  });

  it('gives p = 1/(iterations + 1) for a large consistent improvement', () => {
    const a = Array.from({ length: 50 }, () => 0.2);
    const b = Array.from({ length: 50 }, () => 0.7);
    expect(pairedRandomization(a, b, { iterations: 5000 }).pValue).toBe(1 / 5001);
  });

  it('is symmetric in a and b and reproducible with a seed', () => {
    const ab = pairedRandomization(MIXED.a, MIXED.b, { seed: 7 });
    expect(pairedRandomization(MIXED.b, MIXED.a, { seed: 7 }).pValue).toBe(ab.pValue);
    expect(pairedRandomization(MIXED.a, MIXED.b, { seed: 7 }).pValue).toBe(ab.pValue);
    expect(pairedRandomization(MIXED.a, MIXED.b).pValue).toBe(
      pairedRandomization(MIXED.a, MIXED.b).pValue,
    );
  });

  it.each([
    ['small', SMALL.a, SMALL.b],
    ['mixed', MIXED.a, MIXED.b],
  ])('approaches the exact sign-flip p-value (%s)', (_name, a, b) => {
    const exact = exactSignFlip(a, b);
    const test = pairedRandomization(a, b, { iterations: 100_000, seed: 3 });
    // Monte Carlo standard error at 100 000 iterations is ≤ 0.0016.
    expect(Math.abs(test.pValue - exact)).toBeLessThan(0.006);
  });

  it('counts permuted means equal to the observed one despite rounding', () => {
    // Differences 0.1, 0.2, −0.3, 0.5: flipping the first three leaves |Σ| = 0.5 in exact
    // arithmetic but not in floating point. 10 of the 16 sign patterns reach 0.5 (8 without the
    // tolerance), so p → 0.625.
    const test = pairedRandomization([0, 0, 0.3, 0], [0.1, 0.2, 0, 0.5], {
      iterations: 20_000,
      seed: 5,
    });
    expect(exactSignFlip([0, 0, 0.3, 0], [0.1, 0.2, 0, 0.5])).toBe(0.625);
    expect(Math.abs(test.pValue - 0.625)).toBeLessThan(0.015);
  });

  it('agrees with the t-test on a clear difference over many queries', () => {
    const a = Array.from({ length: 300 }, (_, i) => ((i * 37) % 100) / 100);
    const b = a.map((x, i) => Math.min(1, x + (i % 3 === 0 ? 0.05 : 0.01)));
    expect(pairedRandomization(a, b).pValue).toBeLessThan(0.001);
    expect(pairedTTest(a, b).pValue).toBeLessThan(0.001);
  });

  it('validates its options', () => {
    expect(() => pairedRandomization([1], [1], { iterations: 0 })).toThrow(/iterations/);
    expect(() => pairedRandomization([1], [1], { seed: 1.5 })).toThrow(/seed/);
  });
});
