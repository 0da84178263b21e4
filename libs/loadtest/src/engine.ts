import { setTimeout as sleep } from 'node:timers/promises';
import { LatencyHistogram, type LatencySummary } from './histogram.js';
import {
  arrivals,
  describeStep,
  expectedArrivals,
  offeredRps,
  type ArrivalProcess,
  type StepPlan,
} from './schedule.js';
import {
  stepServer,
  stepWorker,
  type Snapshot,
  type StepServer,
  type StepWorker,
} from './snapshot.js';

/** How one request ended. `status` is the HTTP status, or why there was none. */
export type SendResult =
  | { ok: true; status: number }
  | { ok: false; status: number | 'timeout' | 'network'; code: string | null };

/** A request ready to go: which endpoint it is for, and how to send it. */
export interface Planned {
  endpoint: string;
  send: (signal: AbortSignal) => Promise<SendResult>;
}

export interface EndpointResult {
  sent: number;
  ok: number;
  errors: number;
  latencyMs: LatencySummary;
}

export interface Verdict {
  status: 'held' | 'broke' | 'incomplete';
  reasons: string[];
  /** errors / sent */
  errorRate: number;
  /** (late + dropped) / scheduled */
  lateOrDroppedRate: number;
}

export interface Criteria {
  sloP99Ms: number | null;
  errorBudget: number;
}

/** One step of the result (JSON: `steps[]`). */
export interface StepResult {
  index: number;
  label: string;
  plan: StepPlan;
  offeredRps: number;
  counts: {
    /** Arrivals the schedule had due in this step (within the run's bounds). */
    scheduled: number;
    sent: number;
    /** Not sent: the in-flight cap was reached when they were due. */
    dropped: number;
    /** Sent more than `lateMs` after their scheduled time (the generator fell behind). */
    late: number;
    /** Responses (or timeouts, network errors) received. */
    completed: number;
    ok: number;
    errors: number;
  };
  rates: {
    /** sent / step seconds: what the generator achieved. */
    sendRps: number;
    /** ok responses / step seconds. */
    throughputRps: number;
  };
  /** Successful responses, from each request's scheduled send time to its last byte. */
  latencyMs: LatencySummary;
  /** The same, from the actual send time (what a closed-loop tool would report). */
  serviceTimeMs: LatencySummary;
  /** Actual send time − scheduled send time. */
  sendLagMs: LatencySummary;
  /** HdrHistogram V2 compressed encoding of latencyMs, in microseconds. */
  latencyHistogramUs: string;
  byEndpoint: Record<string, EndpointResult>;
  errors: { byStatus: Record<string, number>; byCode: Record<string, number> };
  timing: {
    /** ms from the run's start. */
    startMs: number;
    /** The last request's actual send, ms from the step's start. */
    lastSendMs: number | null;
    /** When the last response of the step came, ms from the step's start. */
    drainedMs: number;
  };
  server: StepServer | null;
  serverError: string | null;
  workers: StepWorker[];
  /** Why the step stopped before its end, if it did. */
  truncated: 'max-requests' | 'max-seconds' | null;
  verdict: Verdict;
}

export interface RunConfig {
  arrivals: ArrivalProcess;
  seed: number;
  maxInFlight: number;
  timeoutMs: number;
  lateMs: number;
  maxRequests: number;
  maxSeconds: number;
  criteria: Criteria;
  /** Stop at the first step that does not hold (capacity search). */
  stopWhenBroken: boolean;
}

export interface WorkerScrape {
  url: string;
  snapshot: Snapshot | null;
  error: string | null;
}

export interface RunDeps {
  /** The next step given those done, or undefined when the run is over. */
  nextStep(done: readonly StepResult[]): StepPlan | undefined;
  /** The next request of the mix. */
  nextRequest(): Planned;
  /** Reads the API's /metrics (a scrape also resets its event-loop gauge). */
  scrape(): Promise<Snapshot>;
  scrapeWorkers(): Promise<WorkerScrape[]>;
  onStep?(step: StepResult): void;
  clock?: () => number;
}

export interface RunOutcome {
  steps: StepResult[];
  /** All steps together. */
  totals: {
    scheduled: number;
    sent: number;
    dropped: number;
    late: number;
    ok: number;
    errors: number;
    seconds: number;
    latencyMs: LatencySummary;
  };
  stopped: 'max-requests' | 'max-seconds' | 'broken' | 'completed';
  /** The highest offered rate that held before the first step that did not; null if none held. */
  highestRateHeld: number | null;
  heldStep: number | null;
  brokenStep: number | null;
}

const round = (n: number, digits = 3) => Math.round(n * 10 ** digits) / 10 ** digits;

function pct(rate: number): string {
  return `${round(rate * 100, 2)}%`;
}

export function judge(
  step: Pick<StepResult, 'counts' | 'latencyMs' | 'truncated'>,
  criteria: Criteria,
): Verdict {
  const { scheduled, sent, dropped, late, errors, ok } = step.counts;
  const errorRate = sent === 0 ? 0 : errors / sent;
  const lateOrDroppedRate = scheduled === 0 ? 0 : (late + dropped) / scheduled;
  const reasons: string[] = [];
  if (step.truncated) {
    return {
      status: 'incomplete',
      reasons: [`cut short by --${step.truncated}: not judged`],
      errorRate: round(errorRate, 6),
      lateOrDroppedRate: round(lateOrDroppedRate, 6),
    };
  }
  if (ok === 0) reasons.push('no successful response');
  if (criteria.sloP99Ms !== null && step.latencyMs.p99 > criteria.sloP99Ms) {
    reasons.push(`p99 ${step.latencyMs.p99} ms > SLO ${criteria.sloP99Ms} ms`);
  }
  if (errorRate > criteria.errorBudget) {
    reasons.push(`errors ${pct(errorRate)} > budget ${pct(criteria.errorBudget)}`);
  }
  if (lateOrDroppedRate > criteria.errorBudget) {
    reasons.push(
      `late or dropped ${pct(lateOrDroppedRate)} > budget ${pct(criteria.errorBudget)} (the generator could not keep the schedule)`,
    );
  }
  return {
    status: reasons.length === 0 ? 'held' : 'broke',
    reasons,
    errorRate: round(errorRate, 6),
    lateOrDroppedRate: round(lateOrDroppedRate, 6),
  };
}

class EndpointRecorder {
  sent = 0;
  ok = 0;
  errors = 0;
  readonly latency = new LatencyHistogram();

  result(): EndpointResult {
    return { sent: this.sent, ok: this.ok, errors: this.errors, latencyMs: this.latency.summary() };
  }
}

/** Counters and histograms of one step while it runs. */
class StepRecorder {
  scheduled = 0;
  sent = 0;
  dropped = 0;
  late = 0;
  completed = 0;
  ok = 0;
  errors = 0;
  lastSendMs: number | null = null;
  readonly latency = new LatencyHistogram();
  readonly service = new LatencyHistogram();
  readonly lag = new LatencyHistogram();
  readonly byStatus: Record<string, number> = {};
  readonly byCode: Record<string, number> = {};
  readonly endpoints = new Map<string, EndpointRecorder>();

  endpoint(name: string): EndpointRecorder {
    let e = this.endpoints.get(name);
    if (!e) this.endpoints.set(name, (e = new EndpointRecorder()));
    return e;
  }

  complete(endpoint: string, result: SendResult, fromScheduled: number, fromSent: number): void {
    this.completed += 1;
    const e = this.endpoint(endpoint);
    if (result.ok) {
      this.ok += 1;
      e.ok += 1;
      this.latency.record(fromScheduled);
      this.service.record(fromSent);
      e.latency.record(fromScheduled);
    } else {
      this.errors += 1;
      e.errors += 1;
      const status = String(result.status);
      this.byStatus[status] = (this.byStatus[status] ?? 0) + 1;
      if (result.code) this.byCode[result.code] = (this.byCode[result.code] ?? 0) + 1;
    }
  }
}

interface StepRun {
  recorder: StepRecorder;
  truncated: StepResult['truncated'];
  drainedMs: number;
}

/**
 * Runs one step open-loop: each request goes out at its scheduled time whatever happened to the
 * ones before it, its latency is taken from that scheduled time (so time spent waiting on a
 * server that is behind counts, and a slow server cannot slow the generator down to hide it), and
 * a request that finds the in-flight cap full is dropped and counted, never delayed.
 */
async function runStep(
  plan: StepPlan,
  index: number,
  config: RunConfig,
  deps: RunDeps,
  bounds: { requests: number; until: number },
  atScheduleEnd: (recorder: StepRecorder) => Promise<void>,
): Promise<StepRun> {
  const clock = deps.clock ?? (() => performance.now());
  const r = new StepRecorder();
  const pending = new Set<Promise<void>>();
  let truncated: StepResult['truncated'] = null;
  const start = clock();
  const end = start + plan.seconds * 1000;
  for (const offset of arrivals(plan, config.arrivals, config.seed + index)) {
    const due = start + offset;
    if (bounds.requests <= 0) {
      truncated = 'max-requests';
      break;
    }
    if (due > bounds.until) {
      truncated = 'max-seconds';
      break;
    }
    const wait = due - clock();
    if (wait > 0) await sleep(wait);
    r.scheduled += 1;
    bounds.requests -= 1;
    const sentAt = clock();
    if (pending.size >= config.maxInFlight) {
      r.dropped += 1;
      continue;
    }
    const lag = Math.max(0, sentAt - due);
    if (lag > config.lateMs) r.late += 1;
    r.lag.record(lag);
    r.sent += 1;
    r.lastSendMs = round(sentAt - start);
    const planned = deps.nextRequest();
    r.endpoint(planned.endpoint).sent += 1;
    const p: Promise<void> = planned
      .send(AbortSignal.timeout(config.timeoutMs))
      .catch((): SendResult => ({ ok: false, status: 'network', code: null }))
      .then((result) => {
        const done = clock();
        r.complete(planned.endpoint, result, done - due, done - sentAt);
      })
      .finally(() => pending.delete(p));
    pending.add(p);
  }
  // The window the server's figures cover is the whole step, even when its last arrival is
  // earlier than its end.
  const until = Math.min(end, bounds.until);
  if (!truncated && until > clock()) await sleep(until - clock());
  await atScheduleEnd(r);
  // Each request has its own timeout, so this wait is bounded.
  await Promise.all(pending);
  return { recorder: r, truncated, drainedMs: round(clock() - start) };
}

async function scrapeBoth(
  deps: RunDeps,
): Promise<{ server: Snapshot | null; serverError: string | null; workers: WorkerScrape[] }> {
  const [server, workers] = await Promise.all([
    deps.scrape().then(
      (s) => ({ s, e: null }),
      (e: unknown) => ({ s: null, e: e instanceof Error ? e.message : String(e) }),
    ),
    deps.scrapeWorkers().catch((): WorkerScrape[] => []),
  ]);
  return { server: server.s, serverError: server.e, workers };
}

export async function runLoadTest(config: RunConfig, deps: RunDeps): Promise<RunOutcome> {
  const clock = deps.clock ?? (() => performance.now());
  const runStart = clock();
  const bounds = { requests: config.maxRequests, until: runStart + config.maxSeconds * 1000 };
  const steps: StepResult[] = [];
  const total = new LatencyHistogram();
  let stopped: RunOutcome['stopped'] = 'completed';
  for (;;) {
    const plan = deps.nextStep(steps);
    if (!plan) break;
    if (bounds.requests <= 0) {
      stopped = 'max-requests';
      break;
    }
    if (clock() >= bounds.until) {
      stopped = 'max-seconds';
      break;
    }
    const index = steps.length;
    // The scrape before the step resets the server's event-loop gauge, so the one at its end
    // reads this step's delay only.
    const before = await scrapeBoth(deps);
    const stepStartMs = round(clock() - runStart);
    let after: Awaited<ReturnType<typeof scrapeBoth>> | undefined;
    let responsesAtEnd = 0;
    const run = await runStep(plan, index, config, deps, bounds, async (r) => {
      after = await scrapeBoth(deps);
      responsesAtEnd = r.completed;
    });
    const r = run.recorder;
    total.add(r.latency);
    const seconds = plan.seconds;
    const server =
      before.server && after?.server
        ? stepServer(before.server, after.server, responsesAtEnd)
        : null;
    const workers: StepWorker[] = [];
    for (const w of after?.workers ?? []) {
      const b = before.workers.find((x) => x.url === w.url);
      if (b?.snapshot && w.snapshot) workers.push(stepWorker(w.url, b.snapshot, w.snapshot));
      else
        workers.push({
          url: w.url,
          windowSeconds: 0,
          cpuSeconds: null,
          cpuCores: null,
          jobs: {},
          concurrency: {},
          error: w.error ?? b?.error ?? 'no scrape',
        });
    }
    const partial = {
      counts: {
        scheduled: r.scheduled,
        sent: r.sent,
        dropped: r.dropped,
        late: r.late,
        completed: r.completed,
        ok: r.ok,
        errors: r.errors,
      },
      latencyMs: r.latency.summary(),
      truncated: run.truncated,
    };
    const step: StepResult = {
      index,
      label: describeStep(plan),
      plan,
      offeredRps: round(offeredRps(plan)),
      ...partial,
      rates: { sendRps: round(r.sent / seconds), throughputRps: round(r.ok / seconds) },
      serviceTimeMs: r.service.summary(),
      sendLagMs: r.lag.summary(),
      latencyHistogramUs: r.latency.encode(),
      byEndpoint: Object.fromEntries(
        [...r.endpoints].sort(([a], [b]) => a.localeCompare(b)).map(([k, e]) => [k, e.result()]),
      ),
      errors: { byStatus: r.byStatus, byCode: r.byCode },
      timing: { startMs: stepStartMs, lastSendMs: r.lastSendMs, drainedMs: run.drainedMs },
      server,
      serverError: before.serverError ?? after?.serverError ?? null,
      workers,
      verdict: judge(partial, config.criteria),
    };
    steps.push(step);
    deps.onStep?.(step);
    if (run.truncated) {
      stopped = run.truncated;
      break;
    }
    if (config.stopWhenBroken && step.verdict.status !== 'held') {
      stopped = 'broken';
      break;
    }
  }
  const sum = (k: keyof StepResult['counts']) => steps.reduce((a, s) => a + s.counts[k], 0);
  const firstBroken = steps.findIndex((s) => s.verdict.status === 'broke');
  const candidates = (firstBroken < 0 ? steps : steps.slice(0, firstBroken)).filter(
    (s) => s.verdict.status === 'held',
  );
  const best = candidates.reduce<StepResult | undefined>(
    (a, s) => (a === undefined || s.offeredRps > a.offeredRps ? s : a),
    undefined,
  );
  return {
    steps,
    totals: {
      scheduled: sum('scheduled'),
      sent: sum('sent'),
      dropped: sum('dropped'),
      late: sum('late'),
      ok: sum('ok'),
      errors: sum('errors'),
      seconds: round((clock() - runStart) / 1000),
      latencyMs: total.summary(),
    },
    stopped,
    highestRateHeld: best?.offeredRps ?? null,
    heldStep: best?.index ?? null,
    brokenStep: firstBroken < 0 ? null : firstBroken,
  };
}

/** Requests a step would send if nothing stopped it (for progress lines). */
export function plannedRequests(plan: StepPlan): number {
  return Math.ceil(expectedArrivals(plan));
}
