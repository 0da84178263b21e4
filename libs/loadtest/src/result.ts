import type { Criteria, RunOutcome, StepResult } from './engine.js';
import type { Mix } from './keel-target.js';
import type { ArrivalProcess, CapacitySearch, Phase } from './schedule.js';
import type { RuntimeSizing } from './snapshot.js';

export const LOADTEST_KIND = 'keel-loadtest';
export const LOADTEST_VERSION = 1;

export interface WorkerSetup {
  url: string;
  /** `keel_worker_concurrency` by queue: the worker's job slots per queue. */
  concurrency: Record<string, number>;
  runtime: RuntimeSizing | null;
  error: string | null;
}

/**
 * The whole result of `keel loadtest` (loadtest.json). The shape is versioned: `keel capacity`
 * reads it, and a change that breaks a reader bumps `version`.
 */
export interface LoadTestResult {
  kind: typeof LOADTEST_KIND;
  version: typeof LOADTEST_VERSION;
  id: string;
  startedAt: string;
  finishedAt: string;
  target: {
    url: string;
    collection: string;
    /** From /health/ready's jobs check: where the CPU-heavy jobs ran. */
    mode: 'embedded' | 'distributed' | 'unknown';
  };
  /** What it was measured on: the capacity found holds for this setup only. */
  setup: {
    /** GET /health/ready before the run: HTTP status and body (its `details`). */
    health: { status: number | null; details: unknown };
    /** Runtime sizing from the API's /metrics (keel_runtime_*). */
    runtime: RuntimeSizing | null;
    workers: WorkerSetup[];
    generator: { node: string; platform: string; hostCores: number };
  };
  options: {
    phases: Phase[] | null;
    findCapacity: CapacitySearch | null;
    arrivals: ArrivalProcess;
    seed: number;
    mix: Mix;
    topK: number | null;
    timeoutMs: number;
    maxInFlight: number;
    lateMs: number;
    maxRequests: number;
    maxSeconds: number;
    queries: { source: string; split: string; count: number };
    criteria: Criteria;
  };
  steps: StepResult[];
  totals: RunOutcome['totals'];
  stopped: RunOutcome['stopped'];
  capacity: {
    /** The highest offered rate (requests/s) that held before the first step that broke. */
    highestRateHeld: number | null;
    heldStep: number | null;
    brokenStep: number | null;
    /** True when no step broke: the capacity is at least this, not at most. */
    lowerBound: boolean;
    sloP99Ms: number | null;
    errorBudget: number;
  };
}

export function isLoadTestResult(value: unknown): value is LoadTestResult {
  const v = value as Partial<LoadTestResult> | null;
  return (
    v !== null &&
    typeof v === 'object' &&
    v.kind === LOADTEST_KIND &&
    v.version === LOADTEST_VERSION &&
    Array.isArray(v.steps)
  );
}
