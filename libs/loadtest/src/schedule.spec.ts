import { describe, expect, it } from 'vitest';
import {
  arrivals,
  expandPhases,
  expectedArrivals,
  parsePhase,
  searchRate,
  searchStep,
  timeOfArrival,
  type StepPlan,
} from './schedule.js';

const steady = (rps: number, seconds: number): StepPlan => ({
  kind: 'steady',
  fromRps: rps,
  toRps: rps,
  seconds,
});

describe('phases', () => {
  it('parses the three shapes and expands steps into one step per rate', () => {
    const phases = ['steady:20:10', 'ramp:0:50:30', 'steps:5,10,20:4'].map(parsePhase);
    expect(phases).toEqual([
      { kind: 'steady', rps: 20, seconds: 10 },
      { kind: 'ramp', fromRps: 0, toRps: 50, seconds: 30 },
      { kind: 'steps', rps: [5, 10, 20], seconds: 4 },
    ]);
    expect(expandPhases(phases)).toEqual([
      { kind: 'steady', fromRps: 20, toRps: 20, seconds: 10 },
      { kind: 'ramp', fromRps: 0, toRps: 50, seconds: 30 },
      { kind: 'step', fromRps: 5, toRps: 5, seconds: 4 },
      { kind: 'step', fromRps: 10, toRps: 10, seconds: 4 },
      { kind: 'step', fromRps: 20, toRps: 20, seconds: 4 },
    ]);
  });

  it('refuses what it cannot schedule', () => {
    for (const bad of [
      'steady:0:10',
      'steady:10',
      'ramp:0:0:5',
      'steps:5,-1:3',
      'burst:5:5',
      'steady:5:0',
    ]) {
      expect(() => parsePhase(bad), bad).toThrow();
    }
  });
});

describe('arrival times (open loop: they depend on the step only)', () => {
  it('steady: one every 1000/rps ms from the step start', () => {
    const times = [...arrivals(steady(4, 2))];
    expect(times).toEqual([0, 250, 500, 750, 1000, 1250, 1500, 1750]);
  });

  it('ramp: the rate rises linearly, so the gaps shrink and the count is the integral', () => {
    const ramp: StepPlan = { kind: 'ramp', fromRps: 10, toRps: 30, seconds: 10 };
    const times = [...arrivals(ramp)];
    expect(times.length).toBe(expectedArrivals(ramp)); // (10 + 30) / 2 × 10 = 200
    expect(times.length).toBe(200);
    // The n-th arrival is where the cumulative rate 10t + t² reaches n.
    for (const [n, t] of [
      [0, 0],
      [11, 1],
      [24, 2],
      [119, 7],
    ] as const) {
      expect(times[n] / 1000).toBeCloseTo(t, 9);
    }
    const gaps = times.slice(1).map((t, i) => t - times[i]);
    for (let i = 1; i < gaps.length; i++) expect(gaps[i]).toBeLessThan(gaps[i - 1]);
    // Near the start the gap is about 1000/10 ms, near the end about 1000/30 ms.
    expect(gaps[0]).toBeCloseTo(1000 / 10, -1);
    expect(gaps[gaps.length - 1]).toBeCloseTo(1000 / 30, 0);
  });

  it('a falling ramp and a ramp from 0 invert too', () => {
    const down: StepPlan = { kind: 'ramp', fromRps: 30, toRps: 10, seconds: 10 };
    const times = [...arrivals(down)];
    expect(times.length).toBe(200);
    expect(times[times.length - 1]).toBeLessThan(10_000);
    const up: StepPlan = { kind: 'ramp', fromRps: 0, toRps: 20, seconds: 10 };
    // Λ(t) = t²: the n-th arrival at √n s.
    expect(timeOfArrival(up, 25)).toBeCloseTo(5, 9);
    expect([...arrivals(up)].length).toBe(100);
  });

  it('poisson: seeded, reproducible, about the offered count, exponential gaps', () => {
    const step = steady(100, 20);
    const a = [...arrivals(step, 'poisson', 7)];
    const b = [...arrivals(step, 'poisson', 7)];
    const c = [...arrivals(step, 'poisson', 8)];
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    // 2000 expected; a Poisson count has sd √2000 ≈ 45.
    expect(Math.abs(a.length - 2000)).toBeLessThan(250);
    const gaps = a.slice(1).map((t, i) => t - a[i]);
    const mean = gaps.reduce((x, y) => x + y, 0) / gaps.length;
    expect(mean).toBeGreaterThan(8);
    expect(mean).toBeLessThan(12);
    // Exponential: about 1 − 1/e ≈ 63% of the gaps are shorter than the mean.
    const short = gaps.filter((g) => g < 10).length / gaps.length;
    expect(short).toBeGreaterThan(0.55);
    expect(short).toBeLessThan(0.71);
    expect(a.every((t, i) => i === 0 || t >= a[i - 1])).toBe(true);
  });
});

describe('capacity search steps', () => {
  it('multiplies by the factor, or adds the increment, for at most maxSteps', () => {
    const search = { startRps: 5, factor: 1.5, stepSeconds: 2, maxSteps: 4 };
    expect([0, 1, 2, 3].map((i) => searchRate(search, i))).toEqual([5, 7.5, 11.25, 16.88]);
    expect(searchStep(search, 4)).toBeUndefined();
    expect(searchStep({ ...search, increment: 10 }, 2)).toEqual({
      kind: 'step',
      fromRps: 25,
      toRps: 25,
      seconds: 2,
    });
  });
});
