import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { mersenne } from 'pure-rand/generator/mersenne';

/**
 * A phase of a load test as the user writes it. Rates are requests per second; a phase of kind
 * `steps` becomes one step per rate, the others one step each.
 */
export type Phase =
  | { kind: 'ramp'; fromRps: number; toRps: number; seconds: number }
  | { kind: 'steady'; rps: number; seconds: number }
  | { kind: 'steps'; rps: number[]; seconds: number };

/**
 * One measured step: the unit the report has a row for, that /metrics is read around, and that
 * a verdict is given on. The rate rises linearly from `fromRps` to `toRps` over the step
 * (constant when they are equal).
 */
export interface StepPlan {
  kind: 'ramp' | 'steady' | 'step';
  fromRps: number;
  toRps: number;
  seconds: number;
}

/**
 * `uniform`: arrivals evenly spaced in the cumulative rate (every 1000/rps ms at a constant
 * rate): reproducible, and exactly the offered count. `poisson`: a Poisson process of the same
 * rate (exponential gaps, by time rescaling on a ramp), from a seeded generator.
 */
export type ArrivalProcess = 'uniform' | 'poisson';

const MAX_RPS = 100_000;
const MAX_SECONDS = 86_400;

function rate(value: string, what: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > MAX_RPS) {
    throw new Error(`${what}: ${JSON.stringify(value)} is not a rate in 0..${MAX_RPS} requests/s`);
  }
  return n;
}

function seconds(value: string, what: string): number {
  const n = Number(value.replace(/s$/u, ''));
  if (!Number.isFinite(n) || n <= 0 || n > MAX_SECONDS) {
    throw new Error(`${what}: ${JSON.stringify(value)} is not a duration in seconds`);
  }
  return n;
}

/**
 * Parses a phase: `steady:RPS:SECONDS`, `ramp:FROM:TO:SECONDS` or `steps:R1,R2,…:SECONDS`
 * (each rate for SECONDS).
 */
export function parsePhase(spec: string): Phase {
  const parts = spec.split(':');
  const what = `phase ${JSON.stringify(spec)}`;
  const positive = (n: number, label: string) => {
    if (n <= 0) throw new Error(`${what}: ${label} must be above 0`);
    return n;
  };
  switch (parts[0]) {
    case 'steady':
      if (parts.length !== 3) throw new Error(`${what}: expected steady:RPS:SECONDS`);
      return {
        kind: 'steady',
        rps: positive(rate(parts[1], what), 'the rate'),
        seconds: seconds(parts[2], what),
      };
    case 'ramp': {
      if (parts.length !== 4) throw new Error(`${what}: expected ramp:FROM:TO:SECONDS`);
      const fromRps = rate(parts[1], what);
      const toRps = rate(parts[2], what);
      if (fromRps + toRps <= 0) throw new Error(`${what}: a ramp from 0 to 0 sends nothing`);
      return { kind: 'ramp', fromRps, toRps, seconds: seconds(parts[3], what) };
    }
    case 'steps': {
      if (parts.length !== 3) throw new Error(`${what}: expected steps:R1,R2,…:SECONDS`);
      const rps = parts[1].split(',').map((r) => positive(rate(r, what), 'every rate'));
      return { kind: 'steps', rps, seconds: seconds(parts[2], what) };
    }
    default:
      throw new Error(`${what}: the kind must be steady, ramp or steps`);
  }
}

export function expandPhases(phases: readonly Phase[]): StepPlan[] {
  return phases.flatMap((p): StepPlan[] => {
    switch (p.kind) {
      case 'steady':
        return [{ kind: 'steady', fromRps: p.rps, toRps: p.rps, seconds: p.seconds }];
      case 'ramp':
        return [{ kind: 'ramp', fromRps: p.fromRps, toRps: p.toRps, seconds: p.seconds }];
      case 'steps':
        return p.rps.map((r) => ({ kind: 'step', fromRps: r, toRps: r, seconds: p.seconds }));
    }
  });
}

/** The mean rate of a step: what it offers on average, and its x in the chart. */
export function offeredRps(step: StepPlan): number {
  return (step.fromRps + step.toRps) / 2;
}

/** Requests a step offers: the integral of its rate. */
export function expectedArrivals(step: StepPlan): number {
  return offeredRps(step) * step.seconds;
}

export function describeStep(step: StepPlan): string {
  const r = (n: number) => String(Math.round(n * 100) / 100);
  return step.kind === 'ramp'
    ? `ramp ${r(step.fromRps)}→${r(step.toRps)} rps over ${r(step.seconds)} s`
    : `${step.kind} ${r(step.fromRps)} rps for ${r(step.seconds)} s`;
}

/**
 * The time (seconds into the step) by which `s` arrivals are due: the inverse of the cumulative
 * rate Λ(t) = from·t + (to − from)·t²/(2T). Written as 2s / (b + √(b² + 4as)), which stays exact
 * as the ramp's slope a goes to 0 and holds for falling ramps too.
 */
export function timeOfArrival(step: StepPlan, s: number): number {
  const a = (step.toRps - step.fromRps) / (2 * step.seconds);
  const b = step.fromRps;
  if (s <= 0) return 0;
  const root = Math.sqrt(Math.max(0, b * b + 4 * a * s));
  return (2 * s) / (b + root);
}

/**
 * The arrival times of a step in milliseconds from its start, in order, generated lazily (a long
 * step at a high rate is never held in memory). The schedule depends on nothing but the step,
 * the process and the seed: how fast the server answers cannot move it (open loop).
 */
export function* arrivals(
  step: StepPlan,
  process: ArrivalProcess = 'uniform',
  seed = 1,
): Generator<number> {
  const total = expectedArrivals(step);
  const rng = process === 'poisson' ? mersenne(seed) : undefined;
  let s = rng ? -Math.log(1 - uniformFloat64(rng)) : 0;
  while (s < total) {
    yield timeOfArrival(step, s) * 1000;
    s += rng ? -Math.log(1 - uniformFloat64(rng)) : 1;
  }
}

/** How `--find-capacity` steps the rate up. */
export interface CapacitySearch {
  startRps: number;
  /** Each step's rate is the previous one's times `factor`, or plus `increment` when set. */
  factor: number;
  increment?: number;
  stepSeconds: number;
  maxSteps: number;
}

/** The rate of step `index` (0-based) of a capacity search, rounded to 0.01 requests/s. */
export function searchRate(search: CapacitySearch, index: number): number {
  const r =
    search.increment !== undefined
      ? search.startRps + search.increment * index
      : search.startRps * search.factor ** index;
  return Math.round(r * 100) / 100;
}

export function searchStep(search: CapacitySearch, index: number): StepPlan | undefined {
  if (index >= search.maxSteps) return undefined;
  const r = searchRate(search, index);
  return { kind: 'step', fromRps: r, toRps: r, seconds: search.stepSeconds };
}
