import { decodeFromCompressedBase64 } from 'hdr-histogram-js';
import { describe, expect, it } from 'vitest';
import { LatencyHistogram } from './histogram.js';

/** HdrHistogram with 3 significant digits: within 0.1% of the exact value. */
function near(actual: number, expected: number) {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(expected * 0.001 + 0.001);
}

describe('LatencyHistogram', () => {
  it('gives the percentiles of 1..1000 ms', () => {
    const h = new LatencyHistogram();
    for (let ms = 1; ms <= 1000; ms++) h.record(ms);
    const s = h.summary();
    expect(s.count).toBe(1000);
    near(s.p50, 500);
    near(s.p90, 900);
    near(s.p99, 990);
    near(s.p999, 999);
    near(s.max, 1000);
    near(s.min, 1);
    near(s.mean, 500.5);
  });

  it('shows a tail that a mean hides: 990 fast, 10 slow', () => {
    const h = new LatencyHistogram();
    for (let i = 0; i < 990; i++) h.record(2);
    for (let i = 0; i < 10; i++) h.record(3000);
    const s = h.summary();
    near(s.p50, 2);
    near(s.p90, 2);
    near(s.p99, 2); // the 990th value
    near(s.p999, 3000);
    near(s.max, 3000);
  });

  it('keeps sub-millisecond resolution and never reports a percentile above the max', () => {
    const h = new LatencyHistogram();
    h.record(0.25);
    h.record(16.772);
    expect(h.percentile(50)).toBeCloseTo(0.25, 2);
    expect(h.summary().p99).toBeLessThanOrEqual(h.summary().max);
  });

  it('adds histograms, and encodes in HdrHistogram’s format', () => {
    const a = new LatencyHistogram();
    const b = new LatencyHistogram();
    for (let i = 0; i < 100; i++) a.record(10);
    for (let i = 0; i < 100; i++) b.record(20);
    a.add(b);
    expect(a.count).toBe(200);
    near(a.percentile(50), 10);
    near(a.percentile(51), 20);
    const decoded = decodeFromCompressedBase64(a.encode());
    expect(decoded.totalCount).toBe(200);
    near(decoded.getValueAtPercentile(99) / 1000, 20);
  });

  it('is all zeros when empty', () => {
    expect(new LatencyHistogram().summary()).toEqual({
      count: 0,
      min: 0,
      mean: 0,
      p50: 0,
      p90: 0,
      p99: 0,
      p999: 0,
      max: 0,
    });
  });
});
