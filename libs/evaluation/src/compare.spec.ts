import { describe, expect, it } from 'vitest';
import { compareRuns, gate } from './compare.js';
import type { EvaluationReport, MetricName } from './types.js';

/** A report whose per-query values are given metric by metric, queries q0, q1, … */
function report(
  label: string,
  values: Record<MetricName, number[]>,
  ids?: string[],
): EvaluationReport {
  const metrics = Object.keys(values);
  const n = Object.values(values)[0]?.length ?? 0;
  const qids = ids ?? Array.from({ length: n }, (_, i) => `q${i}`);
  const perQuery = qids.map((id, i) => ({
    id,
    query: `query ${id}`,
    metrics: Object.fromEntries(metrics.map((m) => [m, values[m][i]])),
  }));
  const aggregate = Object.fromEntries(
    metrics.map((m) => [m, values[m].reduce((s, x) => s + x, 0) / Math.max(n, 1)]),
  );
  return {
    id: `id-${label}`,
    label,
    collection: 'scifact',
    dataset: { kind: 'retrieval', name: 'scifact', split: 'test', queries: n },
    config: {
      mode: 'bm25',
      topK: 100,
      rerank: 'none',
      budgetTokens: 0,
      contextTopK: 0,
      encoding: 'o200k_base',
      metrics,
    },
    metrics,
    aggregate,
    perQuery,
    timings: { totalMs: 1, queryP50Ms: 1, queryP95Ms: 1 },
    createdAt: '2026-01-01T00:00:00.000Z',
    finishedAt: '2026-01-01T00:00:01.000Z',
    keelVersion: '0.1.0',
  };
}

/** Deterministic values in [0, 1] for n queries. */
const values = (n: number, salt: number) =>
  Array.from({ length: n }, (_, i) => ((i * 37 + salt * 11) % 100) / 100);

describe('compareRuns', () => {
  const a = report('bm25', {
    'ndcg@10': [0.5, 0.2, 0.9, 0.4, 0.0],
    'recall@100': [1, 0.5, 1, 1, 0],
    'mrr@10': [1, 0.5, 1, 0.25, 0],
  });
  const b = report('rerank', {
    'ndcg@10': [0.7, 0.1, 0.9, 0.6, 0.3],
    'mrr@10': [1, 0.25, 1, 0.5, 0.5],
    'hit@10': [1, 1, 1, 1, 1],
  });

  it('compares every metric both runs have, in a’s order, with means over the pairs', () => {
    const c = compareRuns(a, b, { iterations: 2000, seed: 1 });
    expect(c.a).toEqual({ id: 'id-bm25', label: 'bm25' });
    expect(c.b).toEqual({ id: 'id-rerank', label: 'rerank' });
    expect(c.queries).toBe(5);
    expect(c.unpaired).toEqual({ onlyA: [], onlyB: [] });
    expect(c.alpha).toBe(0.05);
    expect(c.metrics.map((m) => m.metric)).toEqual(['ndcg@10', 'mrr@10']);
    const ndcg = c.metrics[0];
    expect(ndcg.a).toBeCloseTo(0.4, 12);
    expect(ndcg.b).toBeCloseTo(0.52, 12);
    expect(ndcg.delta).toBeCloseTo(0.12, 12);
    expect(ndcg.relativeDelta).toBeCloseTo(0.3, 12);
    expect(ndcg.randomization.test).toBe('paired-randomization');
    expect(ndcg.tTest.test).toBe('paired-t');
    expect(ndcg.significant).toBe(ndcg.randomization.pValue < 0.05);
  });

  it('lists the most improved and degraded queries by the focus metric, without zero deltas', () => {
    const c = compareRuns(a, b, { iterations: 100 });
    expect(c.focus).toBe('ndcg@10');
    expect(c.mostImproved.map((q) => q.id)).toEqual(['q4', 'q0', 'q3']);
    expect(c.mostImproved[0]).toEqual({ id: 'q4', query: 'query q4', a: 0, b: 0.3, delta: 0.3 });
    expect(c.mostDegraded.map((q) => q.id)).toEqual(['q1']);
    const byMrr = compareRuns(a, b, { focus: 'mrr@10', top: 1, iterations: 100 });
    expect(byMrr.focus).toBe('mrr@10');
    expect(byMrr.mostImproved.map((q) => q.id)).toEqual(['q4']);
    expect(byMrr.mostDegraded.map((q) => q.id)).toEqual(['q1']);
  });

  it('pairs by query id and lists unpaired queries', () => {
    const x = report('x', { 'ndcg@10': [0.1, 0.2, 0.3] }, ['q1', 'q2', 'q3']);
    const y = report('y', { 'ndcg@10': [0.9, 0.4, 0.5] }, ['q4', 'q3', 'q2']);
    const c = compareRuns(x, y, { iterations: 100 });
    expect(c.queries).toBe(2);
    expect(c.unpaired).toEqual({ onlyA: ['q1'], onlyB: ['q4'] });
    // q2: 0.2 → 0.5, q3: 0.3 → 0.4
    expect(c.metrics[0].a).toBeCloseTo(0.25, 12);
    expect(c.metrics[0].b).toBeCloseTo(0.45, 12);
  });

  it('reports relativeDelta null when a’s mean is 0', () => {
    const zero = report('zero', { 'ndcg@10': [0, 0] });
    const some = report('some', { 'ndcg@10': [0.5, 0.5] });
    expect(compareRuns(zero, some, { iterations: 10 }).metrics[0].relativeDelta).toBeNull();
  });

  it('identical runs: no difference, p = 1, nothing moved', () => {
    const c = compareRuns(a, a, { iterations: 500 });
    for (const m of c.metrics) {
      expect(m.delta).toBe(0);
      expect(m.randomization.pValue).toBe(1);
      expect(m.tTest.pValue).toBe(1);
      expect(m.significant).toBe(false);
    }
    expect(c.mostImproved).toEqual([]);
    expect(c.mostDegraded).toEqual([]);
  });

  it('is reproducible with a seed', () => {
    const one = compareRuns(a, b, { seed: 42, iterations: 3000 });
    const two = compareRuns(a, b, { seed: 42, iterations: 3000 });
    expect(two).toEqual(one);
    expect(one.metrics[0].randomization.detail).toEqual({ iterations: 3000, seed: 42 });
  });

  it('rejects a focus metric not in both runs, bad options and malformed reports', () => {
    expect(() => compareRuns(a, b, { focus: 'recall@100' })).toThrow(/not in both reports/);
    expect(() => compareRuns(a, b, { alpha: 0 })).toThrow(/alpha/);
    expect(() => compareRuns(a, b, { top: -1 })).toThrow(/top/);
    const broken = report('broken', { 'ndcg@10': [0.1, 0.2] });
    delete broken.perQuery[1].metrics['ndcg@10'];
    expect(() => compareRuns(broken, broken)).toThrow(/no value of ndcg@10 for query 'q1'/);
    const twice = report('twice', { 'ndcg@10': [0.1, 0.2] }, ['q', 'q']);
    expect(() => compareRuns(twice, twice)).toThrow(/lists query 'q' twice/);
  });
});

describe('gate', () => {
  const n = 200;
  const base = values(n, 1);
  const baseline = report('baseline', { 'ndcg@10': base, 'mrr@10': base });

  it('passes an unchanged run', () => {
    const result = gate(baseline, baseline, { maxDrop: 0.01 });
    expect(result.pass).toBe(true);
    expect(result.reason).toMatch(/within the allowed drop/);
    expect(result.comparison?.delta).toBe(0);
  });

  it('fails a large, consistent drop', () => {
    const worse = report('worse', { 'ndcg@10': base.map((x) => Math.max(0, x - 0.05)) });
    const result = gate(baseline, worse, { maxDrop: 0.01, seed: 1 });
    expect(result.pass).toBe(false);
    expect(result.reason).toMatch(/more than the allowed 0\.0100, and significant \(p = /);
    expect(result.comparison!.delta).toBeLessThan(-0.04);
    expect(result.comparison!.randomization.pValue).toBeLessThan(0.001);
  });

  it('passes a drop within maxDrop, even a significant one', () => {
    const slightly = report('slightly', { 'ndcg@10': base.map((x) => Math.max(0, x - 0.005)) });
    const result = gate(baseline, slightly, { maxDrop: 0.01 });
    expect(result.pass).toBe(true);
    expect(result.comparison!.significant).toBe(true);
    expect(result.reason).toMatch(/a drop of 0\.00\d+, within the allowed drop of 0\.0100/);
  });

  it('passes a drop beyond maxDrop that is not significant (noise)', () => {
    // Half the queries lose 0.3, half gain 0.26: a mean drop of 0.02 with a huge spread.
    const noisy = base.map((x, i) => (i % 2 === 0 ? x - 0.3 : x + 0.26));
    const result = gate(baseline, report('noisy', { 'ndcg@10': noisy }), { maxDrop: 0.01 });
    expect(result.comparison!.delta).toBeCloseTo(-0.02, 10);
    expect(result.pass).toBe(true);
    expect(result.reason).toMatch(/but not significant/);
  });

  it('gates on the metric asked for', () => {
    const mrrWorse = report('mrr-worse', {
      'ndcg@10': base,
      'mrr@10': base.map((x) => x - 0.1),
    });
    expect(gate(baseline, mrrWorse, { maxDrop: 0.01 }).pass).toBe(true);
    expect(gate(baseline, mrrWorse, { metric: 'mrr@10', maxDrop: 0.01 }).pass).toBe(false);
  });

  it('fails when the metric is missing from either report', () => {
    const other = report('other', { 'recall@100': base });
    const result = gate(baseline, other, { maxDrop: 0.01 });
    expect(result).toEqual({
      pass: false,
      reason: "ndcg@10 is missing from 'other'",
      comparison: null,
    });
    expect(gate(other, other, { maxDrop: 0.1 }).reason).toBe(
      "ndcg@10 is missing from 'other' and 'other'",
    );
  });

  it('fails when the runs share fewer than 90% of their queries', () => {
    const ids = base.map((_, i) => (i < 170 ? `q${i}` : `other${i}`));
    const elsewhere = report('elsewhere', { 'ndcg@10': base }, ids);
    const result = gate(baseline, elsewhere, { maxDrop: 0.01 });
    expect(result.pass).toBe(false);
    expect(result.reason).toMatch(/share 170 of 200 queries \(< 90%\)/);
    // 90% exactly is enough.
    const ids90 = base.map((_, i) => (i < 180 ? `q${i}` : `other${i}`));
    expect(gate(baseline, report('ok', { 'ndcg@10': base }, ids90), { maxDrop: 0.01 }).pass).toBe(
      true,
    );
    const disjoint = report('disjoint', { 'ndcg@10': [0.5] }, ['x']);
    expect(gate(baseline, disjoint, { maxDrop: 0.01 })).toMatchObject({
      pass: false,
      comparison: null,
    });
  });

  it('validates maxDrop and alpha', () => {
    expect(() => gate(baseline, baseline, { maxDrop: -0.1 })).toThrow(/maxDrop/);
    expect(() => gate(baseline, baseline, { maxDrop: NaN })).toThrow(/maxDrop/);
    expect(() => gate(baseline, baseline, { maxDrop: 0.1, alpha: 1 })).toThrow(/alpha/);
  });
});
