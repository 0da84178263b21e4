import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import {
  judge,
  runLoadTest,
  type Planned,
  type RunConfig,
  type RunDeps,
  type SendResult,
} from './engine.js';
import type { StepPlan } from './schedule.js';
import { snapshot } from './snapshot.js';

const config = (over: Partial<RunConfig> = {}): RunConfig => ({
  arrivals: 'uniform',
  seed: 1,
  maxInFlight: 1000,
  timeoutMs: 5_000,
  lateMs: 20,
  maxRequests: 10_000,
  maxSeconds: 30,
  criteria: { sloP99Ms: null, errorBudget: 0.01 },
  stopWhenBroken: false,
  ...over,
});

const metrics = (cpu: number) => snapshot(`process_cpu_seconds_total ${cpu}\n`, Date.now());

function deps(
  steps: StepPlan[] | ((done: number) => StepPlan | undefined),
  send: (signal: AbortSignal) => Promise<SendResult>,
  scrapes: string[] = [],
): RunDeps {
  let cpu = 0;
  return {
    nextStep: (done) => (typeof steps === 'function' ? steps(done.length) : steps[done.length]),
    nextRequest: (): Planned => ({ endpoint: 'retrieve', send }),
    scrape: () => {
      scrapes.push('api');
      cpu += 0.5;
      return Promise.resolve(metrics(cpu));
    },
    scrapeWorkers: () => Promise.resolve([]),
  };
}

const steady = (rps: number, seconds: number): StepPlan => ({
  kind: 'steady',
  fromRps: rps,
  toRps: rps,
  seconds,
});

describe('the open-loop engine', () => {
  it('keeps sending on schedule while every response takes 300 ms', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    let sentBeforeFirstResponse: number | undefined;
    let sends = 0;
    const out = await runLoadTest(
      config(),
      deps([steady(50, 1)], async () => {
        sends += 1;
        inFlight += 1;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await sleep(300);
        sentBeforeFirstResponse ??= sends;
        inFlight -= 1;
        return { ok: true, status: 200 };
      }),
    );
    const s = out.steps[0];
    expect(s.counts).toMatchObject({ scheduled: 50, sent: 50, dropped: 0, ok: 50, errors: 0 });
    // A closed-loop client with one connection would have sent 1 by then; this one kept going.
    expect(sentBeforeFirstResponse).toBeGreaterThanOrEqual(10);
    expect(maxInFlight).toBeGreaterThanOrEqual(10);
    // The last request went out near the end of the 1 s schedule, not after 50 × 300 ms.
    expect(s.timing.lastSendMs).toBeLessThan(1000 + 500);
    expect(s.timing.drainedMs).toBeGreaterThanOrEqual(s.timing.lastSendMs! + 290);
    expect(s.latencyMs.min).toBeGreaterThanOrEqual(290);
    expect(s.rates.sendRps).toBe(50);
  });

  it('drops, and counts, requests that find the in-flight cap full; never delays them', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const out = await runLoadTest(
      config({ maxInFlight: 3 }),
      deps([steady(20, 1)], async () => {
        inFlight += 1;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await sleep(400);
        inFlight -= 1;
        return { ok: true, status: 200 };
      }),
    );
    const c = out.steps[0].counts;
    expect(c.scheduled).toBe(20);
    expect(c.sent + c.dropped).toBe(20);
    expect(c.dropped).toBeGreaterThan(0);
    expect(maxInFlight).toBe(3);
    expect(out.steps[0].verdict.status).toBe('broke');
    expect(out.steps[0].verdict.reasons.join()).toMatch(/late or dropped/);
  });

  it('measures from the scheduled time: a generator that falls behind shows it as latency and as late', async () => {
    let first = true;
    const out = await runLoadTest(
      config({ lateMs: 20 }),
      deps([steady(100, 0.5)], () => {
        if (first) {
          first = false;
          const until = performance.now() + 200;
          while (performance.now() < until) {
            // the generator's own loop is blocked: requests due meanwhile go out late
          }
        }
        return Promise.resolve({ ok: true, status: 200 });
      }),
    );
    const s = out.steps[0];
    expect(s.counts.sent).toBe(50);
    expect(s.counts.late).toBeGreaterThanOrEqual(10);
    expect(s.latencyMs.max).toBeGreaterThanOrEqual(150);
    // Timed from the actual send the same requests look fast: that is coordinated omission.
    expect(s.serviceTimeMs.max).toBeLessThan(s.latencyMs.max);
    expect(s.sendLagMs.max).toBeGreaterThanOrEqual(150);
  });

  it('scrapes before each step and at its end, and stops a capacity search at the first broken step', async () => {
    const scrapes: string[] = [];
    let rate = 0;
    const out = await runLoadTest(
      config({ stopWhenBroken: true, criteria: { sloP99Ms: 1000, errorBudget: 0.01 } }),
      deps(
        (i) => {
          if (i >= 5) return undefined;
          rate = 10 * 2 ** i;
          return { kind: 'step', fromRps: rate, toRps: rate, seconds: 0.3 };
        },
        () =>
          Promise.resolve(
            rate >= 40 ? { ok: false, status: 503, code: 'OVERLOADED' } : { ok: true, status: 200 },
          ),
        scrapes,
      ),
    );
    expect(out.steps.map((s) => s.offeredRps)).toEqual([10, 20, 40]);
    expect(out.steps.map((s) => s.verdict.status)).toEqual(['held', 'held', 'broke']);
    expect(out.stopped).toBe('broken');
    expect(out.highestRateHeld).toBe(20);
    expect(out.heldStep).toBe(1);
    expect(out.brokenStep).toBe(2);
    expect(scrapes.length).toBe(2 * 3);
    const broken = out.steps[2];
    expect(broken.errors).toEqual({ byStatus: { '503': 12 }, byCode: { OVERLOADED: 12 } });
    expect(broken.server?.cpuSeconds).toBe(0.5);
    expect(broken.server?.responses).toBe(12);
  });

  it('stops at --max-requests and --max-seconds, and does not judge a step it cut short', async () => {
    const ok = () => Promise.resolve<SendResult>({ ok: true, status: 200 });
    const byCount = await runLoadTest(
      config({ maxRequests: 7 }),
      deps([steady(50, 1), steady(50, 1)], ok),
    );
    expect(byCount.totals.scheduled).toBe(7);
    expect(byCount.stopped).toBe('max-requests');
    expect(byCount.steps).toHaveLength(1);
    expect(byCount.steps[0].truncated).toBe('max-requests');
    expect(byCount.steps[0].verdict.status).toBe('incomplete');
    expect(byCount.highestRateHeld).toBeNull();

    const started = performance.now();
    const byTime = await runLoadTest(config({ maxSeconds: 0.3 }), deps([steady(20, 5)], ok));
    expect(performance.now() - started).toBeLessThan(3000);
    expect(byTime.stopped).toBe('max-seconds');
    expect(byTime.totals.scheduled).toBeLessThanOrEqual(7);
  });

  it('times a request out after timeoutMs and counts it as an error', async () => {
    const out = await runLoadTest(
      config({ timeoutMs: 100 }),
      deps([steady(10, 0.2)], (signal) =>
        sleep(10_000, undefined, { signal }).then(
          (): SendResult => ({ ok: true, status: 200 }),
          (): SendResult => ({ ok: false, status: 'timeout', code: null }),
        ),
      ),
    );
    expect(out.steps[0].counts).toMatchObject({ sent: 2, ok: 0, errors: 2 });
    expect(out.steps[0].errors.byStatus).toEqual({ timeout: 2 });
  });
});

describe('judge', () => {
  const step = (over: object) => ({
    counts: { scheduled: 100, sent: 100, dropped: 0, late: 0, completed: 100, ok: 100, errors: 0 },
    latencyMs: { count: 100, min: 1, mean: 5, p50: 4, p90: 8, p99: 40, p999: 80, max: 90 },
    truncated: null,
    ...over,
  });

  it('holds within the SLO and the budget; says why when it breaks', () => {
    expect(judge(step({}), { sloP99Ms: 50, errorBudget: 0.01 }).status).toBe('held');
    const broke = judge(
      step({
        counts: { scheduled: 100, sent: 98, dropped: 2, late: 1, completed: 98, ok: 95, errors: 3 },
      }),
      { sloP99Ms: 30, errorBudget: 0.01 },
    );
    expect(broke.status).toBe('broke');
    expect(broke.reasons).toEqual([
      'p99 40 ms > SLO 30 ms',
      'errors 3.06% > budget 1%',
      'late or dropped 3% > budget 1% (the generator could not keep the schedule)',
    ]);
  });
});
