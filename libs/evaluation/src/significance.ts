/**
 * Paired significance tests over per-query values of two runs (the same queries, in the same
 * order). Pure functions: a seeded generator makes the randomization test's p-value reproducible.
 */
import { createRequire } from 'node:module';
import type tCdfFunction from '@stdlib/stats-base-dists-t-cdf';
import { mersenne } from 'pure-rand/generator/mersenne';
import type { SignificanceTest } from './types.js';

// stdlib's t distribution takes ~15 ms to load (dozens of small modules), and only a comparison of
// two runs needs it: it is required on first use, not when the API starts.
const require = createRequire(import.meta.url);
let tCdf: typeof tCdfFunction | undefined;

export const DEFAULT_ITERATIONS = 10_000;
/** The seed when none is given: the same inputs give the same p-value on every run. */
export const DEFAULT_SEED = 0x6b65656c;
/** Permuted means this close to the observed one count as reaching it (floating-point noise). */
const TOLERANCE = 1e-12;

export interface RandomizationOptions {
  iterations?: number;
  seed?: number;
}

function differences(a: readonly number[], b: readonly number[]): number[] {
  if (a.length !== b.length) {
    throw new Error(`paired test needs as many values in b as in a (${a.length} ≠ ${b.length})`);
  }
  return a.map((x, i) => {
    const d = b[i] - x;
    if (!Number.isFinite(d)) throw new Error(`paired test: value ${i} is not a finite number`);
    return d;
  });
}

/**
 * Two-sided paired randomization test of the mean difference (b − a): each iteration flips the
 * sign of each per-query difference at random (under the null hypothesis the two runs are
 * exchangeable query by query) and counts the permuted means at least as far from 0 as the
 * observed one. p = (count + 1) / (iterations + 1), so it is never 0; identical runs give 1.
 */
export function pairedRandomization(
  a: readonly number[],
  b: readonly number[],
  { iterations = DEFAULT_ITERATIONS, seed = DEFAULT_SEED }: RandomizationOptions = {},
): SignificanceTest {
  if (!Number.isInteger(iterations) || iterations < 1) {
    throw new Error(`iterations must be a positive integer, got ${iterations}`);
  }
  if (!Number.isInteger(seed)) throw new Error(`seed must be an integer, got ${seed}`);
  const d = differences(a, b);
  const n = d.length;
  let observed = 0;
  for (const x of d) observed += x;
  // Sums, not means: the same comparison without n divisions per iteration.
  const threshold = Math.abs(observed) - TOLERANCE * Math.max(n, 1);
  const rng = mersenne(seed);
  let count = 0;
  for (let it = 0; it < iterations; it++) {
    let sum = 0;
    let bits = 0;
    for (let i = 0; i < n; i++) {
      // 32 signs from each draw of the generator.
      if ((i & 31) === 0) bits = rng.next();
      sum += (bits >>> (i & 31)) & 1 ? -d[i] : d[i];
    }
    if (Math.abs(sum) >= threshold) count += 1;
  }
  return {
    test: 'paired-randomization',
    pValue: (count + 1) / (iterations + 1),
    detail: { iterations, seed },
  };
}

/**
 * Two-sided paired Student's t-test of the mean difference (b − a), n − 1 degrees of freedom.
 * When every difference is the same there is no variance: p = 1 if they are all 0 (identical
 * runs), p = 0 otherwise (a constant shift; t would be infinite, so `detail.t` is left out).
 * Fewer than two pairs cannot be tested: p = 1.
 */
export function pairedTTest(a: readonly number[], b: readonly number[]): SignificanceTest {
  const d = differences(a, b);
  const n = d.length;
  const df = Math.max(n - 1, 0);
  const result = (pValue: number, t?: number): SignificanceTest => ({
    test: 'paired-t',
    pValue,
    detail: t === undefined ? { df } : { df, t },
  });
  if (n < 2) return result(1, 0);
  if (d.every((x) => x === d[0])) return d[0] === 0 ? result(1, 0) : result(0);
  let mean = 0;
  for (const x of d) mean += x;
  mean /= n;
  let squares = 0;
  for (const x of d) squares += (x - mean) ** 2;
  const standardError = Math.sqrt(squares / (n - 1) / n);
  const t = mean / standardError;
  // 2·F(−|t|) rather than 2·(1 − F(|t|)): no cancellation for small p.
  tCdf ??= require('@stdlib/stats-base-dists-t-cdf') as typeof tCdfFunction;
  return result(Math.min(1, 2 * tCdf(-Math.abs(t), df)), t);
}
