import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { loadRetrievalDataset } from '@keel/evaluation/datasets';
import {
  DEFAULT_GROUPS,
  LOADTEST_KIND,
  LOADTEST_VERSION,
  expandPhases,
  isLoadTestResult,
  keelRequests,
  parseGroup,
  parseMix,
  parsePhase,
  planCapacity,
  renderChart,
  renderMarkdown,
  renderPatch,
  renderPlan,
  renderSummary,
  runLoadTest,
  searchStep,
  snapshot,
  type ArrivalProcess,
  type CapacitySearch,
  type LoadTestResult,
  type Snapshot,
  type StepPlan,
  type WorkerScrape,
  type WorkerSetup,
} from '@keel/loadtest';
import { layout } from './boot.js';

export interface LoadtestOptions {
  url?: string;
  collection: string;
  beir?: string;
  split: string;
  mix: string;
  phase?: string[];
  arrivals: string;
  seed: string;
  maxRequests: string;
  maxSeconds: string;
  timeoutMs: string;
  maxInFlight: string;
  lateMs: string;
  topK?: string;
  sloP99?: string;
  errorBudget: string;
  findCapacity?: boolean;
  startRps: string;
  factor: string;
  increment?: string;
  stepSeconds: string;
  maxSteps: string;
  workerMetrics?: string[];
  out?: string;
  json?: boolean;
}

const DEFAULT_PHASE = 'steady:10:10';

function number(name: string, value: string, check: (n: number) => boolean, what: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || !check(n)) {
    throw new Error(`${name} must be ${what}, got ${JSON.stringify(value)}`);
  }
  return n;
}
const positiveInt = (name: string, v: string) =>
  number(name, v, (n) => Number.isSafeInteger(n) && n >= 1, 'a positive integer');
const positive = (name: string, v: string) => number(name, v, (n) => n > 0, 'above 0');

/** A base URL or a full /metrics URL. */
function metricsUrl(url: string): string {
  const u = new URL(url);
  if (u.pathname === '/' || u.pathname === '') u.pathname = '/metrics';
  return u.toString();
}

function defaultUrl(): string {
  return process.env.KEEL_URL ?? `http://127.0.0.1:${process.env.PORT ?? '3000'}`;
}

/** SciFact in BEIR layout beside the checkout, as the benchmarks find it. */
function defaultBeir(): string {
  return process.env.SCIFACT_DIR ?? resolve(layout().root, '../shared/data/scifact');
}

async function getText(url: string, timeoutMs = 5_000): Promise<{ status: number; text: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  return { status: res.status, text: await res.text() };
}

async function scrape(url: string): Promise<Snapshot> {
  const { status, text } = await getText(url);
  if (status !== 200) throw new Error(`${url}: HTTP ${status}`);
  return snapshot(text, Date.now());
}

async function scrapeWorkers(urls: readonly string[]): Promise<WorkerScrape[]> {
  return Promise.all(
    urls.map((url) =>
      scrape(url).then(
        (s): WorkerScrape => ({ url, snapshot: s, error: null }),
        (e: unknown): WorkerScrape => ({
          url,
          snapshot: null,
          error: e instanceof Error ? e.message : String(e),
        }),
      ),
    ),
  );
}

function stamp(date: Date): string {
  return date.toISOString().replace(/[:.]/gu, '-').replace(/Z$/u, '');
}

export async function loadtest(options: LoadtestOptions): Promise<void> {
  const phaseSpecs = options.phase ?? [];
  const url = options.url ?? defaultUrl();
  const arrivalsProcess = options.arrivals as ArrivalProcess;
  if (arrivalsProcess !== 'uniform' && arrivalsProcess !== 'poisson') {
    throw new Error('--arrivals must be uniform or poisson');
  }
  const seed = number('--seed', options.seed, Number.isSafeInteger, 'an integer');
  const mix = parseMix(options.mix);
  const errorBudget = number(
    '--error-budget',
    options.errorBudget,
    (n) => n >= 0 && n < 1,
    'in [0, 1)',
  );
  const sloP99Ms = options.sloP99 === undefined ? null : positive('--slo-p99', options.sloP99);
  const topK = options.topK === undefined ? undefined : positiveInt('--top-k', options.topK);
  if (options.findCapacity && sloP99Ms === null) {
    throw new Error('--find-capacity needs --slo-p99 <ms>: the latency a step must hold');
  }
  if (options.findCapacity && phaseSpecs.length > 0) {
    throw new Error('--find-capacity chooses its own steps: leave out --phase');
  }
  const search: CapacitySearch | null = options.findCapacity
    ? {
        startRps: positive('--start-rps', options.startRps),
        factor: number('--factor', options.factor, (n) => n > 1, 'above 1'),
        ...(options.increment !== undefined
          ? { increment: positive('--increment', options.increment) }
          : {}),
        stepSeconds: positive('--step-seconds', options.stepSeconds),
        maxSteps: positiveInt('--max-steps', options.maxSteps),
      }
    : null;
  const phases = search
    ? null
    : (phaseSpecs.length > 0 ? phaseSpecs : [DEFAULT_PHASE]).map(parsePhase);
  const plans: StepPlan[] = phases ? expandPhases(phases) : [];
  const config = {
    arrivals: arrivalsProcess,
    seed,
    maxInFlight: positiveInt('--max-in-flight', options.maxInFlight),
    timeoutMs: positiveInt('--timeout-ms', options.timeoutMs),
    lateMs: number('--late-ms', options.lateMs, (n) => n >= 0, '0 or more'),
    maxRequests: positiveInt('--max-requests', options.maxRequests),
    maxSeconds: positive('--max-seconds', options.maxSeconds),
    criteria: { sloP99Ms, errorBudget },
    stopWhenBroken: search !== null,
  };

  const beir = resolve(options.beir ?? defaultBeir());
  if (!existsSync(join(beir, 'queries.jsonl'))) {
    throw new Error(
      `no BEIR queries at ${beir}: give --beir DIR (queries.jsonl, qrels/<split>.tsv)`,
    );
  }
  const dataset = await loadRetrievalDataset(beir, options.split);
  const queries = dataset.queries.map((q) => q.text);

  // What the numbers are measured on: readiness (mode, pool, backends) and the runtime sizing.
  const health = await getText(new URL('/health/ready', url).toString()).catch((e: unknown) => {
    throw new Error(
      `no Keel API answers at ${url} (${e instanceof Error ? e.message : String(e)}): start one, or give --url`,
    );
  });
  let healthBody: unknown;
  try {
    healthBody = JSON.parse(health.text);
  } catch {
    healthBody = health.text;
  }
  const details = (healthBody as { details?: { jobs?: { mode?: string } } } | null)?.details;
  const mode =
    details?.jobs?.mode === 'embedded' || details?.jobs?.mode === 'distributed'
      ? details.jobs.mode
      : 'unknown';
  const collection = await getText(
    new URL(`/v1/collections/${encodeURIComponent(options.collection)}`, url).toString(),
  );
  if (collection.status === 404) {
    throw new Error(
      `collection '${options.collection}' does not exist on ${url}: ingest it first (keel ingest)`,
    );
  }
  const serverMetrics = metricsUrl(url);
  const first = await scrape(serverMetrics).catch(() => null);
  const workerUrls = (options.workerMetrics ?? []).map(metricsUrl);
  const workersAtStart = await scrapeWorkers(workerUrls);
  const workers: WorkerSetup[] = workersAtStart.map((w) => ({
    url: w.url,
    concurrency: w.snapshot?.workerConcurrency ?? {},
    runtime: w.snapshot?.runtime ?? null,
    error: w.error,
  }));

  const startedAt = new Date();
  const id = `loadtest-${stamp(startedAt)}`;
  const progress = process.stderr.isTTY || process.env.KEEL_PROGRESS === '1';
  const outcome = await runLoadTest(config, {
    nextStep: (done) => (search ? searchStep(search, done.length) : plans[done.length]),
    nextRequest: keelRequests({
      url,
      collection: options.collection,
      queries,
      mix,
      seed,
      ...(topK !== undefined ? { topK } : {}),
    }),
    scrape: () => scrape(serverMetrics),
    scrapeWorkers: () => scrapeWorkers(workerUrls),
    onStep: (s) => {
      if (progress) {
        process.stderr.write(
          `step ${s.index + 1} ${s.label}: ${s.counts.ok}/${s.counts.sent} ok, p99 ${s.latencyMs.p99} ms, ${s.verdict.status}\n`,
        );
      }
    },
  });
  const result: LoadTestResult = {
    kind: LOADTEST_KIND,
    version: LOADTEST_VERSION,
    id,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    target: { url, collection: options.collection, mode },
    setup: {
      health: { status: health.status, details: details ?? healthBody },
      runtime: first?.runtime ?? null,
      workers,
      generator: { node: process.version, platform: process.platform, hostCores: cpus().length },
    },
    options: {
      phases,
      findCapacity: search,
      arrivals: arrivalsProcess,
      seed,
      mix,
      topK: topK ?? null,
      timeoutMs: config.timeoutMs,
      maxInFlight: config.maxInFlight,
      lateMs: config.lateMs,
      maxRequests: config.maxRequests,
      maxSeconds: config.maxSeconds,
      queries: { source: beir, split: options.split, count: queries.length },
      criteria: config.criteria,
    },
    steps: outcome.steps,
    totals: outcome.totals,
    stopped: outcome.stopped,
    capacity: {
      highestRateHeld: outcome.highestRateHeld,
      heldStep: outcome.heldStep,
      brokenStep: outcome.brokenStep,
      lowerBound: outcome.highestRateHeld !== null && outcome.brokenStep === null,
      sloP99Ms,
      errorBudget,
    },
  };
  const dir = resolve(options.out ?? join('keel-reports', id));
  mkdirSync(dir, { recursive: true });
  const files: Array<[string, string]> = [
    ['loadtest.json', `${JSON.stringify(result, null, 2)}\n`],
    ['loadtest.md', renderMarkdown(result, 'latency.svg')],
    ['latency.svg', renderChart(result)],
  ];
  for (const [name, text] of files) writeFileSync(join(dir, name), text);
  process.stdout.write(
    options.json ? `${JSON.stringify(result, null, 2)}\n` : `${renderSummary(result)}\n`,
  );
  process.stdout.write(`reports: ${files.map(([name]) => join(dir, name)).join(', ')}\n`);
}

export interface CapacityOptions {
  from: string;
  peakRps: string;
  headroom: string;
  queues?: string[];
  workerMetrics?: string[];
  workerCpu: string;
  apiMinReplicas: string;
  minRps?: string;
  json?: boolean;
  writePatch?: string;
}

export async function capacity(options: CapacityOptions): Promise<void> {
  const file = resolve(options.from);
  if (!existsSync(file)) throw new Error(`${file}: no such file`);
  const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
  if (!isLoadTestResult(parsed)) {
    throw new Error(
      `${file}: not a keel loadtest result (kind ${LOADTEST_KIND}, version ${LOADTEST_VERSION})`,
    );
  }
  let workerConcurrency: Record<string, number> | undefined;
  const workerUrls = (options.workerMetrics ?? []).map(metricsUrl);
  if (workerUrls.length > 0) {
    workerConcurrency = {};
    for (const w of await scrapeWorkers(workerUrls)) {
      if (!w.snapshot) throw new Error(`worker metrics ${w.url}: ${w.error}`);
      Object.assign(workerConcurrency, w.snapshot.workerConcurrency);
    }
  }
  const plan = planCapacity({
    result: parsed,
    source: options.from,
    peakRps: positive('--peak-rps', options.peakRps),
    headroom: number('--headroom', options.headroom, (n) => n > 0 && n <= 1, 'in (0, 1]'),
    groups:
      options.queues && options.queues.length > 0 ? options.queues.map(parseGroup) : DEFAULT_GROUPS,
    ...(workerConcurrency ? { workerConcurrency } : {}),
    workerCpu: positive('--worker-cpu', options.workerCpu),
    apiMinReplicas: positiveInt('--api-min-replicas', options.apiMinReplicas),
    ...(options.minRps !== undefined ? { minRps: positive('--min-rps', options.minRps) } : {}),
  });
  const patch = renderPatch(plan);
  if (options.writePatch) writeFileSync(resolve(options.writePatch), patch);
  process.stdout.write(
    options.json
      ? `${JSON.stringify({ ...plan, patch }, null, 2)}\n`
      : `${renderPlan(plan)}\n\nkustomize patch${options.writePatch ? ` (written to ${options.writePatch})` : ''}:\n\n${patch}`,
  );
}
