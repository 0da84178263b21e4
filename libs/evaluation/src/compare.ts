/**
 * Run B against run A, query by query: the means over the queries both runs answered, the
 * difference, two paired tests, and the queries that moved most. `gate` turns one metric of such
 * a comparison into a pass/fail verdict for CI. Pure functions over two reports.
 */
import { pairedRandomization, pairedTTest, type RandomizationOptions } from './significance.js';
import type {
  Comparison,
  EvaluationReport,
  MetricComparison,
  MetricName,
  PerQueryResult,
  QueryDelta,
} from './types.js';

export const DEFAULT_ALPHA = 0.05;
export const DEFAULT_TOP = 10;
/** Below this share of common queries two reports are not of the same dataset and split. */
export const MIN_SHARED_QUERIES = 0.9;

export interface CompareOptions extends RandomizationOptions {
  /** Significance level of the randomization test (default 0.05). */
  alpha?: number;
  /** The metric that sorts the most improved and degraded queries (default: a's first metric). */
  focus?: MetricName;
  /** How many queries each of those lists holds (default 10). */
  top?: number;
}

interface Pairing {
  pairs: Array<[PerQueryResult, PerQueryResult]>;
  onlyA: string[];
  onlyB: string[];
}

function byId(report: EvaluationReport): Map<string, PerQueryResult> {
  const map = new Map<string, PerQueryResult>();
  for (const q of report.perQuery) {
    if (map.has(q.id)) {
      throw new Error(`report '${report.label}' lists query '${q.id}' twice`);
    }
    map.set(q.id, q);
  }
  return map;
}

/** Per-query results paired by query id, in a's order. */
function pair(a: EvaluationReport, b: EvaluationReport): Pairing {
  const inA = byId(a);
  const inB = byId(b);
  const pairs: Array<[PerQueryResult, PerQueryResult]> = [];
  const onlyA: string[] = [];
  for (const [id, qa] of inA) {
    const qb = inB.get(id);
    if (qb) pairs.push([qa, qb]);
    else onlyA.push(id);
  }
  const onlyB = [...inB.keys()].filter((id) => !inA.has(id));
  return { pairs, onlyA, onlyB };
}

function valueOf(report: EvaluationReport, q: PerQueryResult, metric: MetricName): number {
  const value = q.metrics[metric];
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new Error(`report '${report.label}' has no value of ${metric} for query '${q.id}'`);
  }
  return value;
}

function hasMetric(report: EvaluationReport, metric: MetricName): boolean {
  return report.metrics.includes(metric);
}

function mean(values: readonly number[]): number {
  let sum = 0;
  for (const v of values) sum += v;
  return values.length === 0 ? 0 : sum / values.length;
}

function compareMetric(
  a: EvaluationReport,
  b: EvaluationReport,
  pairs: Pairing['pairs'],
  metric: MetricName,
  alpha: number,
  randomization: RandomizationOptions,
): { comparison: MetricComparison; valuesA: number[]; valuesB: number[] } {
  const valuesA = pairs.map(([qa]) => valueOf(a, qa, metric));
  const valuesB = pairs.map(([, qb]) => valueOf(b, qb, metric));
  const meanA = mean(valuesA);
  const meanB = mean(valuesB);
  const test = pairedRandomization(valuesA, valuesB, randomization);
  return {
    comparison: {
      metric,
      a: meanA,
      b: meanB,
      delta: meanB - meanA,
      relativeDelta: meanA === 0 ? null : (meanB - meanA) / meanA,
      randomization: test,
      tTest: pairedTTest(valuesA, valuesB),
      significant: test.pValue < alpha,
    },
    valuesA,
    valuesB,
  };
}

function checkAlpha(alpha: number): void {
  if (!(alpha > 0 && alpha < 1)) throw new Error(`alpha must be between 0 and 1, got ${alpha}`);
}

/**
 * B against A, paired by query id, on every metric both reports have (in a's order). Means are
 * over the pairs only, so they can differ from the reports' aggregates when some queries are in
 * one report alone; those are listed in `unpaired`. `significant` is the randomization test's
 * p < alpha. The most improved and degraded queries are by the focus metric, zero deltas left out.
 */
export function compareRuns(
  a: EvaluationReport,
  b: EvaluationReport,
  options: CompareOptions = {},
): Comparison {
  const { alpha = DEFAULT_ALPHA, top = DEFAULT_TOP, iterations, seed } = options;
  checkAlpha(alpha);
  if (!Number.isInteger(top) || top < 0) {
    throw new Error(`top must be a non-negative integer, got ${top}`);
  }
  const metrics = a.metrics.filter((m) => hasMetric(b, m));
  const focus = options.focus ?? a.metrics[0];
  if (focus === undefined) throw new Error(`report '${a.label}' has no metrics`);
  if (!metrics.includes(focus)) {
    throw new Error(`the focus metric ${focus} is not in both reports`);
  }
  const { pairs, onlyA, onlyB } = pair(a, b);
  const randomization = {
    ...(iterations !== undefined ? { iterations } : {}),
    ...(seed !== undefined ? { seed } : {}),
  };

  let deltas: QueryDelta[] = [];
  const comparisons = metrics.map((metric) => {
    const { comparison, valuesA, valuesB } = compareMetric(
      a,
      b,
      pairs,
      metric,
      alpha,
      randomization,
    );
    if (metric === focus) {
      deltas = pairs.map(([qa, qb], i) => {
        const query = qa.query ?? qb.query;
        return {
          id: qa.id,
          ...(query !== undefined ? { query } : {}),
          a: valuesA[i],
          b: valuesB[i],
          delta: valuesB[i] - valuesA[i],
        };
      });
    }
    return comparison;
  });
  // Ties by id, so the lists do not depend on the reports' query order.
  const byIdAsc = (x: QueryDelta, y: QueryDelta) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0);
  const mostImproved = deltas
    .filter((d) => d.delta > 0)
    .sort((x, y) => y.delta - x.delta || byIdAsc(x, y))
    .slice(0, top);
  const mostDegraded = deltas
    .filter((d) => d.delta < 0)
    .sort((x, y) => x.delta - y.delta || byIdAsc(x, y))
    .slice(0, top);

  return {
    a: { id: a.id, label: a.label },
    b: { id: b.id, label: b.label },
    queries: pairs.length,
    unpaired: { onlyA, onlyB },
    alpha,
    metrics: comparisons,
    focus,
    mostImproved,
    mostDegraded,
  };
}

export interface GateOptions extends RandomizationOptions {
  /** The metric gated on (default ndcg@10). */
  metric?: MetricName;
  /** The largest drop of the metric's mean (baseline − current, in metric units) that passes. */
  maxDrop: number;
  /** Significance level of the randomization test (default 0.05). */
  alpha?: number;
}

export interface GateResult {
  pass: boolean;
  reason: string;
  /** Null when the metric is missing from a report or no query is in both. */
  comparison: MetricComparison | null;
}

const fmt = (x: number) => x.toFixed(4);

/**
 * A regression gate: fails when the current run's mean of `metric` is more than `maxDrop` below
 * the baseline's AND the drop is significant (randomization p < alpha), so noise alone does not
 * fail a build and a real but tolerated drop does not either. It also fails when the metric is
 * missing from either report, or when the runs share fewer than 90% of the queries of the larger
 * one (a different dataset or split: the numbers would not be comparable).
 */
export function gate(
  baseline: EvaluationReport,
  current: EvaluationReport,
  options: GateOptions,
): GateResult {
  const { metric = 'ndcg@10', maxDrop, alpha = DEFAULT_ALPHA, iterations, seed } = options;
  checkAlpha(alpha);
  if (!(Number.isFinite(maxDrop) && maxDrop >= 0)) {
    throw new Error(`maxDrop must be a non-negative number, got ${maxDrop}`);
  }
  const missing = [baseline, current].filter((r) => !hasMetric(r, metric));
  if (missing.length > 0) {
    return {
      pass: false,
      reason: `${metric} is missing from ${missing.map((r) => `'${r.label}'`).join(' and ')}`,
      comparison: null,
    };
  }
  const { pairs } = pair(baseline, current);
  const larger = Math.max(baseline.perQuery.length, current.perQuery.length);
  if (pairs.length === 0) {
    return {
      pass: false,
      reason: `'${baseline.label}' and '${current.label}' have no query in common`,
      comparison: null,
    };
  }
  const { comparison } = compareMetric(baseline, current, pairs, metric, alpha, {
    ...(iterations !== undefined ? { iterations } : {}),
    ...(seed !== undefined ? { seed } : {}),
  });
  if (pairs.length < MIN_SHARED_QUERIES * larger) {
    return {
      pass: false,
      reason: `'${baseline.label}' and '${current.label}' share ${pairs.length} of ${larger} queries (< ${MIN_SHARED_QUERIES * 100}%): not the same dataset or split`,
      comparison,
    };
  }
  const drop = comparison.a - comparison.b;
  const p = comparison.randomization.pValue;
  const change = `${metric} ${fmt(comparison.a)} → ${fmt(comparison.b)}`;
  if (drop <= maxDrop) {
    return {
      pass: true,
      reason: `${change}: ${drop > 0 ? `a drop of ${fmt(drop)}, ` : ''}within the allowed drop of ${fmt(maxDrop)}`,
      comparison,
    };
  }
  if (!comparison.significant) {
    return {
      pass: true,
      reason: `${change}: a drop of ${fmt(drop)}, more than ${fmt(maxDrop)} but not significant (p = ${fmt(p)} ≥ ${alpha})`,
      comparison,
    };
  }
  return {
    pass: false,
    reason: `${change}: a drop of ${fmt(drop)}, more than the allowed ${fmt(maxDrop)}, and significant (p = ${fmt(p)} < ${alpha})`,
    comparison,
  };
}
