// npm run bench:evidence [-- linearity|eventloop|container|soak|peer …] — the evidence that Keel's
// promise holds, measured with `keel loadtest` (open loop) against a running Keel over SciFact:
//
//   linearity  CPU seconds per request, RSS and p99/p50 from 10% to 90% of capacity
//   eventloop  event-loop delay and request p99 with rerank in the pool and forced onto the loop
//   ingestbody the same with 7 MB ingest bodies arriving, decoded on the body thread or the loop
//   container  a 1-CPU, 512 MiB control group: pool from the quota against one from the host
//              cores; the heap limit; a memory-heavy ingest under the limit
//   soak       10 minutes at 70% of capacity: RSS drift, handles, p99 per minute
//   peer       a Haystack BM25 pipeline served by hayhooks (bench/peers/haystack) against Keel's
//              BM25 retrieval, same load, same run
//
// Each writes docs/benchmarks/<name>.{md,json} and copies the load test's latency chart.
// Machine: 2 shared cores for Keel, the load generator and the peer alike; read the ratios.
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { loadBeir } from '@keel/evaluation';
import {
  parsePrometheus,
  runLoadTest,
  snapshot,
  type LoadTestResult,
  type Planned,
  type RunOutcome,
} from '@keel/loadtest';
import { insideCgroup, withTestCgroup } from '../support/cgroup.js';
import { freePort } from '../support/redis.js';
import {
  fixed,
  machine,
  repoRoot,
  scifactDir,
  startKeelProcess,
  writeMarkdown,
  type KeelProcess,
} from './common.js';
import { measureWakeCost } from './wake-cost.js';

const execFileAsync = promisify(execFile);
const MAIN = join(repoRoot(), 'dist/bundle/apps/cli/src/main.js');
const OUT = join(repoRoot(), 'docs/benchmarks');
const SLO_P99_MS = Number(process.env.BENCH_SLO_P99_MS ?? 250);
const MIX = process.env.BENCH_MIX ?? 'retrieve=0.7,query=0.3';
const SOAK_MINUTES = Number(process.env.BENCH_SOAK_MINUTES ?? 10);
const CONTAINER_ROUNDS = Number(process.env.BENCH_CONTAINER_ROUNDS ?? 3);
const round = (n: number, d = 2) => Math.round(n * 10 ** d) / 10 ** d;

// ---- servers ------------------------------------------------------------------------------------

async function keel(
  env: Record<string, string> = {},
  wrap?: (command: string[]) => string[],
): Promise<KeelProcess & { dataDir: string }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'keel-evidence-'));
  const port = await freePort();
  const server = await startKeelProcess(
    ['serve'],
    { KEEL_DATA_DIR: dataDir, PORT: String(port), ...env },
    port,
    wrap,
  );
  return {
    ...server,
    dataDir,
    stop: async () => {
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function post(
  url: string,
  path: string,
  body: unknown,
): Promise<{ status: number; body: any }> {
  const res = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(600_000),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

async function ingestScifact(url: string, collection = 'scifact'): Promise<void> {
  const data = loadBeir(scifactDir(), 'test');
  await post(url, '/v1/collections', { name: collection });
  for (let i = 0; i < data.corpus.length; i += 500) {
    const documents = data.corpus.slice(i, i + 500).map((d) => ({
      id: d.id,
      text: d.text.trim() === '' ? d.title : d.text,
      ...(d.title ? { title: d.title } : {}),
    }));
    const res = await post(url, `/v1/collections/${collection}/documents?wait=true`, { documents });
    if (res.status !== 200) throw new Error(`ingest: ${JSON.stringify(res.body)}`);
  }
}

async function metricsOf(url: string): Promise<ReturnType<typeof parsePrometheus>> {
  return parsePrometheus(await (await fetch(`${url}/metrics`)).text());
}

function value(samples: ReturnType<typeof parsePrometheus>, name: string): number {
  return samples.find((s) => s.name === name)?.value ?? NaN;
}

// ---- the load generator, as a user runs it --------------------------------------------------------

interface Load {
  result: LoadTestResult;
  dir: string;
}

/**
 * Runs `keel loadtest` as a child process. Asynchronously: the bench's own timers (the soak's
 * per-minute samples of the server) must keep running while it does.
 */
async function loadtest(url: string, args: string[]): Promise<Load> {
  const dir = mkdtempSync(join(tmpdir(), 'keel-loadtest-'));
  await execFileAsync(
    process.execPath,
    [
      MAIN,
      'loadtest',
      '--url',
      url,
      '--collection',
      'scifact',
      '--beir',
      scifactDir(),
      '--out',
      dir,
      ...args,
    ],
    { cwd: repoRoot(), timeout: 30 * 60_000, maxBuffer: 64 * 2 ** 20 },
  );
  return {
    result: JSON.parse(readFileSync(join(dir, 'loadtest.json'), 'utf8')) as LoadTestResult,
    dir,
  };
}

function findCapacity(url: string, mix = MIX, extra: string[] = []): Promise<Load> {
  return loadtest(url, [
    '--mix',
    mix,
    '--find-capacity',
    '--slo-p99',
    String(SLO_P99_MS),
    '--start-rps',
    process.env.BENCH_START_RPS ?? '10',
    '--factor',
    '1.3',
    '--step-seconds',
    '8',
    '--max-steps',
    '14',
    '--max-seconds',
    '300',
    ...extra,
  ]);
}

function capacityOf(load: Load): number {
  const c = load.result.capacity.highestRateHeld;
  if (c === null) throw new Error('no step held: lower BENCH_START_RPS');
  return c;
}

function steady(url: string, rates: number[], seconds: number, mix = MIX): Promise<Load> {
  return loadtest(url, [
    '--mix',
    mix,
    '--phase',
    `steps:${rates.map((r) => round(r, 1)).join(',')}:${seconds}`,
    '--slo-p99',
    String(SLO_P99_MS),
    '--max-seconds',
    String(rates.length * seconds + 60),
    '--max-requests',
    '1000000',
  ]);
}

function saveChart(load: Load, name: string): string {
  const file = `${name}.svg`;
  copyFileSync(join(load.dir, 'latency.svg'), join(OUT, file));
  return file;
}

async function report(name: string, data: object, markdown: string): Promise<void> {
  writeFileSync(
    join(OUT, `${name}.json`),
    `${JSON.stringify({ machine: machine(), ...data }, null, 2)}\n`,
  );
  await writeMarkdown(join(OUT, `${name}.md`), markdown);
  console.log(`wrote docs/benchmarks/${name}.{md,json}`);
}

function header(title: string, command: string): string {
  const m = machine();
  return `# ${title}

Generated by \`${command}\` (test/bench/evidence.bench.ts) with \`keel loadtest\` (open loop:
latency from each request's scheduled send). Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB,
Node ${m.node}, commit ${m.commit}, ${m.date}. Keel, the load generator (and the peer) share these
cores; SciFact (5,183 abstracts) in the embedded store; request mix ${MIX} of the 300 test claims;
SLO p99 ≤ ${SLO_P99_MS} ms.
`;
}

// ---- linearity ----------------------------------------------------------------------------------

async function linearity(): Promise<void> {
  // Before the server starts, on a quiet machine: the peer that explains low-load CPU per request.
  const wake = await measureWakeCost();
  const server = await keel();
  try {
    await ingestScifact(server.url);
    const search = await findCapacity(server.url);
    const capacity = capacityOf(search);
    const shares = [0.1, 0.3, 0.5, 0.7, 0.9];
    const load = await steady(
      server.url,
      shares.map((s) => s * capacity),
      20,
    );
    const rows = load.result.steps.map((s, i) => ({
      share: shares[i],
      offeredRps: s.offeredRps,
      throughputRps: s.rates.throughputRps,
      cpuSecondsPerRequest: s.server?.cpuSecondsPerRequest ?? null,
      rssMiB: s.server?.rssBytes ? round(s.server.rssBytes / 2 ** 20, 1) : null,
      p50Ms: s.latencyMs.p50,
      p99Ms: s.latencyMs.p99,
      p99OverP50: round(s.latencyMs.p99 / s.latencyMs.p50, 2),
      eventLoopDelayP99Ms: s.server?.eventLoopDelayP99Ms ?? null,
      byEndpoint: Object.fromEntries(
        Object.entries(s.byEndpoint).map(([endpoint, e]) => [
          endpoint,
          {
            p50Ms: e.latencyMs.p50,
            p99Ms: e.latencyMs.p99,
            p99OverP50: round(e.latencyMs.p99 / e.latencyMs.p50, 2),
          },
        ]),
      ),
    }));
    const cpu = rows.map((r) => r.cpuSecondsPerRequest).filter((c): c is number => c !== null);
    const meanCpu = cpu.reduce((a, b) => a + b, 0) / cpu.length;
    const spread = Math.max(...cpu.map((c) => Math.abs(c / meanCpu - 1)));
    const rss = rows.map((r) => r.rssMiB ?? 0);
    const at70 = rows.find((r) => r.share === 0.7)!;
    const chart = saveChart(load, 'linearity');
    await report(
      'linearity',
      {
        capacityRps: capacity,
        search: search.result.steps.map((s) => ({
          rps: s.offeredRps,
          p99: s.latencyMs.p99,
          verdict: s.verdict.status,
        })),
        rows,
        cpuSpread: spread,
        wakeCost: wake,
      },
      `${header('Linearity — CPU per request, memory and tail latency across load', 'npm run bench:evidence -- linearity')}
Capacity (highest rate whose step held the SLO, \`--find-capacity\`): **${capacity} requests/s**.
Then 20 s at 10%, 30%, 50%, 70% and 90% of it.

| share | offered rps | throughput | CPU s / request | RSS MiB | p50 ms | p99 ms | p99/p50 | loop delay p99 ms |
| --- | --- | --- | --- | --- | --- | --- | --- | --- |
${rows.map((r) => `| ${r.share * 100}% | ${r.offeredRps} | ${r.throughputRps} | ${r.cpuSecondsPerRequest === null ? '–' : fixed(r.cpuSecondsPerRequest, 5)} | ${r.rssMiB} | ${r.p50Ms} | ${r.p99Ms} | ${r.p99OverP50} | ${r.eventLoopDelayP99Ms} |`).join('\n')}

- CPU seconds per request: at most **${round(spread * 100, 1)}%** from their mean across the steps
  (target ±10%).
- What CPU per request pays for at low load, measured in this run: handing work to a thread that
  waits for a message on its event loop (as idle pool threads do) costs the waking thread
  **${wake.idleMicros} µs** of CPU when that thread has been idle ${wake.gapMs} ms, and
  ${wake.busyMicros} µs when it has just run (median of ${wake.handOffs} each,
  test/bench/wake-cost.ts). On this virtual machine waking an idle vCPU traps to the host, and the
  waker pays. A request hands off to pool threads, and its response wakes the load generator,
  several times; at low load the other core is idle at nearly every one, at high load it is busy.
  A CPU profile of the API thread at 18 against 150 requests/s (by hand, 71a9b36) put piscina's
  \`postTask\` at 485 against 100 µs per request, and the socket \`writev\` at 148 against 89.
- RSS from ${Math.min(...rss)} to ${Math.max(...rss)} MiB (${round((Math.max(...rss) / Math.min(...rss) - 1) * 100, 1)}% apart).
- p99/p50 at 70%: **${at70.p99OverP50}** over the whole mix (target ≤ 3); by endpoint, which the
  mix's two very different request kinds (a BM25 retrieval; a query that also reranks and packs)
  otherwise blur: ${Object.entries(at70.byEndpoint)
    .map(([e, v]) => `${e} ${v.p99OverP50} (p50 ${v.p50Ms} ms, p99 ${v.p99Ms} ms)`)
    .join('; ')}.

![latency against offered load](${chart})
`,
    );
  } finally {
    await server.stop();
  }
}

// ---- event loop ---------------------------------------------------------------------------------

/** What the event-loop report shows of one steady step. */
function figures(step: LoadTestResult['steps'][number]) {
  return {
    rps: step.rates.throughputRps,
    p50: step.latencyMs.p50,
    p99: step.latencyMs.p99,
    loopP99: step.server?.eventLoopDelayP99Ms ?? null,
    errors: step.counts.errors,
  };
}

async function eventloop(): Promise<void> {
  const normal = await keel();
  let rate: number;
  const runs: Record<string, ReturnType<typeof figures>> = {};
  try {
    await ingestScifact(normal.url);
    const search = await findCapacity(normal.url);
    rate = round(0.7 * capacityOf(search), 1);
    saveChart(search, 'eventloop');
    const a = (await steady(normal.url, [rate], 30)).result.steps[0];
    runs.pool = figures(a);
  } finally {
    await normal.stop();
  }
  const inline = await keel({ KEEL_DIAGNOSTIC_INLINE_QUEUES: 'rerank' });
  try {
    await ingestScifact(inline.url);
    const b = (await steady(inline.url, [rate], 30)).result.steps[0];
    runs.inline = figures(b);
  } finally {
    await inline.stop();
  }
  await report(
    'eventloop',
    { rateRps: rate, runs },
    `${header('Event loop — rerank in the pool against rerank on the event loop', 'npm run bench:evidence -- eventloop')}
The same load, 30 s at ${rate} requests/s (70% of the pooled server's capacity), against Keel as
it ships (rerank as pool jobs) and against Keel with \`KEEL_DIAGNOSTIC_INLINE_QUEUES=rerank\` (the
reranker runs on the API's event loop, as a service without a pool would). Loop delay: Keel's
\`keel_event_loop_delay_seconds{quantile="0.99"}\` (beyond the 10 ms sampling interval).

| setting | throughput rps | p50 ms | p99 ms | event-loop delay p99 ms | errors |
| --- | --- | --- | --- | --- | --- |
| rerank in the pool (as shipped) | ${runs.pool.rps} | ${runs.pool.p50} | ${runs.pool.p99} | ${runs.pool.loopP99} | ${runs.pool.errors} |
| rerank on the event loop (diagnostic) | ${runs.inline.rps} | ${runs.inline.p50} | ${runs.inline.p99} | ${runs.inline.loopP99} | ${runs.inline.errors} |

The capacity search of the server as shipped (the rate above is 70% of it):

![latency against offered load, rerank in the pool](eventloop.svg)

Target: event-loop delay p99 ≤ 20 ms as shipped.
`,
  );
}

// ---- ingest bodies --------------------------------------------------------------------------------

/** A batch of SciFact documents, each text five times over: ~7 MB of JSON, near the 10 MiB limit. */
function bigBatch(): string {
  const data = loadBeir(scifactDir(), 'test');
  const documents = data.corpus.slice(0, 1000).map((d) => ({
    id: d.id,
    title: d.title,
    text: `${d.text} `.repeat(5),
    metadata: { source: 'scifact' },
  }));
  return JSON.stringify({ documents });
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;
}

async function ingestbody(): Promise<void> {
  const rate = Number(process.env.BENCH_INGEST_BODY_RPS ?? 40);
  const rounds = Number(process.env.BENCH_INGEST_BODY_ROUNDS ?? 2);
  const body = bigBatch();
  const settings = [
    ['body thread (as shipped)', {}],
    ['body on the event loop (diagnostic)', { KEEL_DIAGNOSTIC_BODY_ON_LOOP: 'true' }],
  ] as const;
  const runs: Array<Record<string, unknown>> = [];
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  for (let round_ = 0; round_ < rounds; round_++) {
    for (const [label, env] of settings) {
      const server = await keel(env);
      try {
        await ingestScifact(server.url);
        // Stored once first: the batches posted under load are then unchanged documents, and the
        // jobs they make skip chunking; what is left is reading and decoding the body.
        await post(server.url, '/v1/collections', { name: 'big' });
        const first = await fetch(`${server.url}/v1/collections/big/documents?wait=true`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
        });
        if (first.status !== 200) throw new Error(`big batch: ${await first.text()}`);
        let stopped = false;
        const probes: number[] = [];
        const statuses: Record<string, number> = {};
        // What a liveness probe (or any cheap request) sees while the bodies arrive.
        const prober = (async () => {
          while (!stopped) {
            const started = performance.now();
            await fetch(`${server.url}/health/live`).then((r) => r.text());
            probes.push(performance.now() - started);
            await sleep(20);
          }
        })();
        const poster = (async () => {
          while (!stopped) {
            const res = await fetch(`${server.url}/v1/collections/big/documents`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body,
            });
            await res.text();
            statuses[res.status] = (statuses[res.status] ?? 0) + 1;
            await sleep(1000);
          }
        })();
        let step: LoadTestResult['steps'][number];
        try {
          step = (await steady(server.url, [rate], 30)).result.steps[0]!;
        } finally {
          stopped = true;
          await Promise.all([prober, poster]);
        }
        const m = await metricsOf(server.url);
        const decode = (stat: 'sum' | 'count') =>
          m
            .filter((x) => x.name === `keel_body_decode_seconds_${stat}`)
            .reduce((a, x) => a + x.value, 0);
        probes.sort((a, b) => a - b);
        runs.push({
          setting: label,
          round: round_ + 1,
          ...figures(step),
          probeP50: round(percentile(probes, 0.5)),
          probeP99: round(percentile(probes, 0.99)),
          probeMax: round(probes.at(-1) ?? NaN),
          bodies: statuses,
          decodeMsPerBody: round((1000 * decode('sum')) / decode('count'), 1),
        });
        console.log(JSON.stringify(runs.at(-1)));
      } finally {
        await server.stop();
      }
    }
  }
  const row = (r: Record<string, any>) =>
    `| ${r.setting} | ${r.round} | ${r.rps} | ${r.p50} | ${r.p99} | ${r.loopP99} | ${r.probeP50} / ${r.probeP99} / ${r.probeMax} | ${Object.entries(
      r.bodies as Record<string, number>,
    )
      .map(([status, n]) => `${n}× ${status}`)
      .join(', ')} | ${r.decodeMsPerBody} |`;
  await report(
    'ingest-body',
    { rateRps: rate, bodyBytes: Buffer.byteLength(body), runs },
    `${header('Ingest bodies — decoded on the body thread against on the event loop', 'npm run bench:evidence -- ingestbody')}
The same query load, 30 s at ${rate} requests/s, while a batch of 1,000 documents
(${round(Buffer.byteLength(body) / 2 ** 20, 1)} MiB of JSON) is posted to the ingest endpoint once a second (each 202, as
clients send them; the batch was stored before, so the jobs find the documents unchanged and skip
chunking: what differs is where the body is parsed and validated). Against Keel as it ships (the
API's body thread) and with \`KEEL_DIAGNOSTIC_BODY_ON_LOOP=true\` (parsed and validated on the event
loop, as Keel did before), taking turns, ${rounds} runs each. Probe: \`GET /health/live\` every 20 ms from the
bench process, p50 / p99 / max. Decode: \`keel_body_decode_seconds\`, mean per body.

| setting | run | query rps | p50 ms | p99 ms | event-loop delay p99 ms | probe ms p50 / p99 / max | bodies | decode ms per body |
| --- | --- | --- | --- | --- | --- | --- | --- | --- |
${runs.map(row).join('\n')}

What is left on the event loop with the body thread: reading the body, copying the decoded
batch from the body thread and on to a pool thread (two structured clones; for this batch about 3
and 5 ms on a 2-core Xeon, measured apart from this script), and the job's bookkeeping.
`,
  );
}

// ---- container truth ------------------------------------------------------------------------------

async function container(): Promise<void> {
  const limit = 512 * 2 ** 20;
  const results: Record<string, any> = {};
  const pools = [
    ['pool from the quota (1 thread)', {}],
    [
      `pool from the host cores (${cpus().length} threads)`,
      { KEEL_POOL_THREADS: String(cpus().length) },
    ],
  ] as const;
  await withTestCgroup({ cpuQuotaCores: 1, memoryLimitBytes: limit }, async (group) => {
    for (const [label, env] of pools) {
      const server = await keel(env, insideCgroup(group));
      try {
        await ingestScifact(server.url);
        const m = await metricsOf(server.url);
        const search = await findCapacity(server.url, MIX, [
          '--start-rps',
          process.env.BENCH_START_RPS_CGROUP ?? '5',
        ]);
        saveChart(
          search,
          label.startsWith('pool from the quota') ? 'container-quota' : 'container-host',
        );
        results[label] = {
          poolThreads: value(m, 'keel_runtime_pool_threads'),
          heapLimitMiB: round(value(m, 'keel_runtime_heap_size_limit_bytes') / 2 ** 20, 1),
          capacityRps: search.result.capacity.highestRateHeld,
          steps: search.result.steps.map((s) => ({
            rps: s.offeredRps,
            p99: s.latencyMs.p99,
            verdict: s.verdict.status,
          })),
        };
      } finally {
        await server.stop();
      }
    }
    // p99 at one rate both can serve: 70% of the smaller capacity. A p99 is a noisy figure on a
    // shared machine, so the two pools take turns, CONTAINER_ROUNDS times each; the group's
    // cpu.stat says how often the kernel stopped it for the quota, the mechanism behind the tail.
    const rate = round(0.7 * Math.min(...Object.values(results).map((r) => r.capacityRps ?? 0)), 1);
    for (let round_ = 0; round_ < CONTAINER_ROUNDS; round_++) {
      for (const [label, env] of pools) {
        const server = await keel(env, insideCgroup(group));
        try {
          await ingestScifact(server.url);
          const before = await group.cpuStat();
          const s = (await steady(server.url, [rate], 30)).result.steps[0];
          const after = await group.cpuStat();
          const delta = (key: string) => Number((after[key] ?? 0n) - (before[key] ?? 0n));
          const throttledMs =
            group.version === 1 ? delta('throttled_time') / 1e6 : delta('throttled_usec') / 1e3;
          (results[label].runs ??= []).push({
            p50: s.latencyMs.p50,
            p99: s.latencyMs.p99,
            errors: s.counts.errors,
            throttledPeriodsShare: round(
              delta('nr_throttled') / Math.max(1, delta('nr_periods')),
              3,
            ),
            throttledMsPerSecond: round(throttledMs / 30, 1),
          });
        } finally {
          await server.stop();
        }
      }
    }
    for (const r of Object.values(results)) {
      const runs = r.runs as Array<Record<string, number>>;
      r.atRate = {
        rps: rate,
        p50: median(runs.map((x) => x.p50)),
        p99: median(runs.map((x) => x.p99)),
        errors: runs.reduce((n, x) => n + x.errors, 0),
        throttledPeriodsShare: median(runs.map((x) => x.throttledPeriodsShare)),
        throttledMsPerSecond: median(runs.map((x) => x.throttledMsPerSecond)),
      };
    }
    // A memory-heavy ingest under 512 MiB: large documents, several batches at once.
    const server = await keel({}, insideCgroup(group));
    try {
      const pid = server.child.pid;
      await post(server.url, '/v1/collections', { name: 'heavy' });
      const before = await metricsOf(server.url);
      const word = 'container memory limit garbage collection heap pressure under load ';
      const batches = Array.from({ length: 8 }, (_, b) =>
        Array.from({ length: 400 }, (_, i) => ({
          id: `b${b}-d${i}`,
          text: `${word.repeat(280)} ${b} ${i}`,
        })),
      );
      const started = performance.now();
      // As a bulk load runs: each batch queued (202 and a job id), then its job followed to the
      // end; a batch's request need not outlast the request deadline that way.
      const answers = await Promise.all(
        batches.map(async (documents) => {
          const queued = await post(server.url, '/v1/collections/heavy/documents', { documents });
          if (queued.status !== 202) return queued;
          for (;;) {
            const res = await fetch(`${server.url}/v1/jobs/${queued.body.jobId}`);
            const job = (await res.json()) as {
              state: string;
              error?: { code: string; message: string };
            };
            if (job.state === 'completed') return { status: 200, body: job };
            if (job.state === 'failed' || job.state === 'cancelled') {
              return { status: 500, body: job.error };
            }
            await new Promise((r) => setTimeout(r, 250));
          }
        }),
      );
      const seconds = round((performance.now() - started) / 1000, 1);
      const after = await metricsOf(server.url);
      const alive =
        (await fetch(`${server.url}/health/live`)).status === 200 && server.child.exitCode === null;
      results.heavyIngest = {
        documents: 8 * 400,
        bytes: batches.reduce((n, b) => n + JSON.stringify(b).length, 0),
        statuses: answers.map((a) => a.status),
        // Why a batch was not stored, when one was not (its status here is 200 once its job completed).
        refusals: answers
          .filter((a) => a.status !== 200)
          .map((a) => `${a.status} ${a.body?.code}: ${a.body?.message}`),
        poolHeapUsedMiB: round(
          (after.find((x) => x.name === 'keel_job_pool_heap_bytes' && x.labels.kind === 'used')
            ?.value ?? NaN) /
            2 ** 20,
          1,
        ),
        seconds,
        gcSeconds: round(
          value(after, 'nodejs_gc_duration_seconds_sum') -
            value(before, 'nodejs_gc_duration_seconds_sum'),
          3,
        ),
        peakRssMiB: round(value(after, 'process_resident_memory_bytes') / 2 ** 20, 1),
        heapLimitMiB: round(value(after, 'keel_runtime_heap_size_limit_bytes') / 2 ** 20, 1),
        alive,
        samePid: server.child.pid === pid,
      };
    } finally {
      await server.stop();
    }
    results.rateRps = rate;
  });
  const [quota, host] = Object.keys(results).filter((k) => k.startsWith('pool'));
  const q = results[quota];
  const h = results[host];
  const heavy = results.heavyIngest;
  await report(
    'container',
    results,
    `${header('Container truth — a 1-CPU, 512 MiB control group', 'npm run bench:evidence -- container')}
Keel runs inside a cgroup with a 1-CPU quota (\`cpu.cfs_quota_us\`) and a 512 MiB memory limit,
created for the run (the load generator stays outside it). Capacity by \`--find-capacity\` (one
search each: the rate steps by 1.3× and a step holds or breaks on one p99, so it moves a step
between runs here), then ${CONTAINER_ROUNDS} runs of 30 s each at ${results.rateRps} requests/s (70% of the smaller
capacity), the two pools taking turns; medians of the runs, and the group's \`cpu.stat\`: the
share of the quota's 100 ms periods in which the kernel stopped the group, and the time stopped.

| pool | threads | heap limit MiB | capacity rps | p50 ms | p99 ms (each run) | periods throttled | throttled ms per s |
| --- | --- | --- | --- | --- | --- | --- | --- |
${[quota, host]
  .map((label) => {
    const r = results[label];
    const each = (r.runs as Array<{ p99: number }>).map((x) => x.p99).join(', ');
    return `| ${label} | ${r.poolThreads} | ${r.heapLimitMiB} | ${r.capacityRps} | ${r.atRate.p50} | ${r.atRate.p99} (${each}) | ${round(r.atRate.throttledPeriodsShare * 100, 1)}% | ${r.atRate.throttledMsPerSecond} |`;
  })
  .join('\n')}

Ratios (quota-sized against host-sized): capacity ${round(q.capacityRps / h.capacityRps, 2)}×,
median p99 at the same rate ${round(q.atRate.p99 / h.atRate.p99, 2)}×.

The heap limit follows the memory limit: ${q.heapLimitMiB} MiB of 512 (85% plus V8's young
generation; without the limit V8 plans for gigabytes on this host).

A memory-heavy ingest inside the limit: ${heavy.documents} documents (${round(heavy.bytes / 2 ** 20, 1)} MB of JSON) in
8 batches sent at once (each queued, 202, then its job followed until it finished) took ${heavy.seconds} s with ${heavy.gcSeconds} s in garbage collection; RSS
after it ${heavy.peakRssMiB} MiB (the pool thread's heap: ${heavy.poolHeapUsedMiB} MiB used); batches
stored (200) or not: ${heavy.statuses.join(', ')}${heavy.refusals.length ? ` (${heavy.refusals.join('; ')})` : ''}; the process
${heavy.alive && heavy.samePid ? 'was still the same, alive process (not killed by the kernel)' : 'DID NOT SURVIVE'}.
GC time is the API thread's (\`nodejs_gc_duration_seconds\`); the batches are chunked and written
on the pool thread, whose collections that metric does not count.

Capacity searches, pool from the quota and pool from the host cores:

![pool from the quota](container-quota.svg)
![pool from the host cores](container-host.svg)
`,
  );
}

// ---- soak ---------------------------------------------------------------------------------------

async function soak(): Promise<void> {
  // V8's --trace-gc gives the live heap of each isolate (the main thread, each pool thread) right
  // after every full collection: the one number that tells a leak from a heap that is merely big.
  const gcLog = join(mkdtempSync(join(tmpdir(), 'keel-soak-')), 'gc.log');
  const server = await keel({}, ([node, ...rest]) => [
    'bash',
    '-c',
    `exec "$@" > ${gcLog}`,
    'bash',
    node,
    '--trace-gc',
    ...rest,
  ]);
  try {
    await ingestScifact(server.url);
    const capacity = capacityOf(await findCapacity(server.url));
    const rate = round(0.7 * capacity, 1);
    // Every 10 s, what the API process holds: RSS swings with each isolate's collections, so one
    // reading a minute says more about where a heap's sawtooth was than about a trend.
    const started = Date.now();
    const samples: SoakSample[] = [];
    const sampler = setInterval(() => {
      const at = Date.now() - started;
      void metricsOf(server.url)
        .then((m) => {
          const pool = (kind: string) =>
            m.find((x) => x.name === 'keel_job_pool_heap_bytes' && x.labels.kind === kind)?.value ??
            NaN;
          samples.push({
            minute: Math.floor(at / 60_000) + 1,
            handles: value(m, 'nodejs_active_handles_total'),
            rssMiB: mib(value(m, 'process_resident_memory_bytes')),
            mainHeapUsedMiB: mib(value(m, 'nodejs_heap_size_used_bytes')),
            mainHeapTotalMiB: mib(value(m, 'nodejs_heap_size_total_bytes')),
            poolHeapUsedMiB: mib(pool('used')),
            poolHeapTotalMiB: mib(pool('total')),
          });
        })
        .catch(() => undefined);
    }, 10_000);
    const gcFrom = liveHeaps(gcLog).length;
    let load: Load;
    try {
      load = await steady(server.url, Array(SOAK_MINUTES).fill(rate), 60);
    } finally {
      clearInterval(sampler);
    }
    const soakEnded = Date.now() - started;
    const gcs = liveHeaps(gcLog).slice(gcFrom);
    const minutes = load.result.steps.map((s, i) => {
      const here = samples.filter((x) => x.minute === i + 1);
      return {
        minute: i + 1,
        throughputRps: s.rates.throughputRps,
        p50Ms: s.latencyMs.p50,
        p99Ms: s.latencyMs.p99,
        errors: s.counts.errors,
        rssMedianMiB: median(here.map((x) => x.rssMiB)),
        rssMaxMiB: Math.max(...here.map((x) => x.rssMiB)),
        heapTotalMedianMiB: median(here.map((x) => x.mainHeapTotalMiB + x.poolHeapTotalMiB)),
        handlesMax: Math.max(...here.map((x) => x.handles)),
      };
    });
    const first = minutes[0].rssMedianMiB;
    const last = minutes.at(-1)!.rssMedianMiB;
    const drift = round((last / first - 1) * 100, 2);
    const rss = samples.map((x) => x.rssMiB);
    // Each isolate's live heap after each of its full collections during the soak, in order.
    const isolates = [...new Set(gcs.map((g) => g.isolate))].map((isolate) => {
      const mine = gcs.filter((g) => g.isolate === isolate).map((g) => g.liveMiB);
      return { isolate, fullGcs: mine.length, liveMiB: mine };
    });
    const chart = saveChart(load, 'soak');
    await report(
      'soak',
      {
        capacityRps: capacity,
        rateRps: rate,
        minutes,
        samples,
        liveHeapAfterFullGc: isolates,
        rssDriftPercent: drift,
        soakSeconds: Math.round(soakEnded / 1000),
      },
      `${header(`Soak — ${SOAK_MINUTES} minutes at 70% of capacity`, 'npm run bench:evidence -- soak')}
${SOAK_MINUTES} one-minute steps at ${rate} requests/s (70% of a measured capacity of ${capacity}).
The API's /metrics read every 10 s; RSS per minute is the median of that minute's readings.

| minute | throughput rps | p50 ms | p99 ms | errors | RSS MiB (median) | RSS MiB (max) | V8 heaps reserved MiB | active handles (max) |
| --- | --- | --- | --- | --- | --- | --- | --- | --- |
${minutes.map((m) => `| ${m.minute} | ${m.throughputRps} | ${m.p50Ms} | ${m.p99Ms} | ${m.errors} | ${m.rssMedianMiB} | ${m.rssMaxMiB} | ${m.heapTotalMedianMiB} | ${m.handlesMax} |`).join('\n')}

- RSS drift, first minute to last (medians): **${drift}%** (target ≤ 5%). Every reading lay
  between ${Math.min(...rss)} and ${Math.max(...rss)} MiB.
- "V8 heaps reserved" is what the main thread's and the pool threads' heaps had taken from the
  system (\`nodejs_heap_size_total_bytes\` + \`keel_job_pool_heap_bytes{kind="total"}\`); V8 lets a
  heap grow to a few times its live data before a full collection, so this, not a leak, is what
  moves RSS within a minute.
- Live heap right after each full collection during the soak (\`--trace-gc\`), in order, by
  isolate (the main thread and each pool thread), MiB:
${isolates.map((i) => `  - ${i.isolate} (${i.fullGcs} full collections): ${i.liveMiB.join(', ')}`).join('\n')}
- p99 per minute from ${Math.min(...minutes.map((m) => m.p99Ms))} to ${Math.max(...minutes.map((m) => m.p99Ms))} ms.

![latency per minute](${chart})
`,
    );
  } finally {
    await server.stop();
    rmSync(join(gcLog, '..'), { recursive: true, force: true });
  }
}

interface SoakSample {
  minute: number;
  handles: number;
  rssMiB: number;
  mainHeapUsedMiB: number;
  mainHeapTotalMiB: number;
  poolHeapUsedMiB: number;
  poolHeapTotalMiB: number;
}

const mib = (bytes: number) => round(bytes / 2 ** 20, 1);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : round((sorted[mid - 1] + sorted[mid]) / 2, 1);
}

/**
 * The full collections in a `--trace-gc` log: `[pid:isolate]  1234 ms: Mark-Compact 80.1 (96.0)
 * -> 40.2 (90.3) MB, …`, as the isolate, its clock and the live size after it.
 */
function liveHeaps(file: string): Array<{ isolate: string; atMs: number; liveMiB: number }> {
  const out: Array<{ isolate: string; atMs: number; liveMiB: number }> = [];
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return out;
  }
  for (const m of text.matchAll(
    /^\[\d+:(0x[0-9a-f]+)\]\s+(\d+) ms: Mark-Compact [\d.]+ \([\d.]+\) -> ([\d.]+) \(/gm,
  )) {
    out.push({ isolate: m[1], atMs: Number(m[2]), liveMiB: Number(m[3]) });
  }
  return out;
}

// ---- peer: Haystack + hayhooks ---------------------------------------------------------------------

interface Peer {
  url: string;
  stop(): Promise<void>;
}

async function startHaystack(port: number): Promise<Peer> {
  const dir = join(repoRoot(), 'bench/peers/haystack');
  const setup = spawnSync('bash', [join(dir, 'setup.sh')], { cwd: repoRoot(), stdio: 'inherit' });
  if (setup.status !== 0) throw new Error('bench/peers/haystack/setup.sh failed');
  const child: ChildProcess = spawn('bash', [join(dir, 'serve.sh'), String(port)], {
    cwd: repoRoot(),
    env: { ...process.env, PEER_WORKERS: String(cpus().length), SCIFACT_DIR: scifactDir() },
    stdio: ['ignore', 'pipe', 'inherit'],
    detached: true,
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`serve.sh exited ${code}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const m = /^PEER_URL=(\S+)/.exec(line);
      if (m) resolve(m[1]);
    });
  });
  return {
    url,
    stop: async () => {
      const gone = new Promise((r) => child.once('exit', r));
      process.kill(-child.pid!, 'SIGTERM');
      await gone;
    },
  };
}

/** The same open-loop engine as `keel loadtest`, aimed at the peer's endpoint. */
async function loadPeer(
  url: string,
  queries: string[],
  rates: number[],
  seconds: number,
  stopWhenBroken: boolean,
): Promise<RunOutcome> {
  let i = 0;
  const nextRequest = (): Planned => {
    const query = queries[i++ % queries.length];
    return {
      endpoint: 'haystack',
      send: async (signal) => {
        try {
          const res = await fetch(`${url}/scifact_bm25/run`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ query, top_k: 100 }),
            signal,
          });
          await res.text();
          return res.ok
            ? { ok: true, status: res.status }
            : { ok: false, status: res.status, code: null };
        } catch {
          return { ok: false, status: signal.aborted ? 'timeout' : 'network', code: null };
        }
      },
    };
  };
  return runLoadTest(
    {
      arrivals: 'uniform',
      seed: 1,
      maxInFlight: 1_000,
      timeoutMs: 10_000,
      lateMs: 20,
      maxRequests: 1_000_000,
      maxSeconds: rates.length * seconds + 60,
      criteria: { sloP99Ms: SLO_P99_MS, errorBudget: 0.01 },
      stopWhenBroken,
    },
    {
      nextStep: (done) =>
        done.length < rates.length
          ? { kind: 'steady', fromRps: rates[done.length], toRps: rates[done.length], seconds }
          : undefined,
      nextRequest,
      // The peer has no /metrics in Keel's format: its server figures stay empty.
      scrape: () => Promise.resolve(snapshot('')),
      scrapeWorkers: () => Promise.resolve([]),
    },
  );
}

async function peer(): Promise<void> {
  const data = loadBeir(scifactDir(), 'test');
  const queries = [...data.qrels.keys()].map((id) => data.queries.get(id)!);
  const mix = 'retrieve=1';
  const server = await keel();
  let keelCapacity: number;
  let keelSearch: Load;
  try {
    await ingestScifact(server.url);
    keelSearch = await findCapacity(server.url, mix, ['--top-k', '100']);
    keelCapacity = capacityOf(keelSearch);
    saveChart(keelSearch, 'peer');
  } finally {
    await server.stop();
  }
  const port = await freePort();
  const haystack = await startHaystack(port);
  let peerCapacity: number | null;
  let peerSteps: RunOutcome;
  let peerAtRate: RunOutcome;
  let rate: number;
  try {
    // The same search as `--find-capacity`: from 2 rps, ×1.3 per 8 s step.
    const rates = Array.from({ length: 14 }, (_, k) => round(2 * 1.3 ** k, 1));
    peerSteps = await loadPeer(haystack.url, queries, rates, 8, true);
    peerCapacity = peerSteps.highestRateHeld;
    rate = round(0.8 * (peerCapacity ?? rates[0]), 1);
    peerAtRate = await loadPeer(haystack.url, queries, [rate], 30, false);
  } finally {
    await haystack.stop();
  }
  const again = await keel();
  let keelAtRate: Load;
  try {
    await ingestScifact(again.url);
    keelAtRate = await loadtest(again.url, [
      '--mix',
      mix,
      '--top-k',
      '100',
      '--phase',
      `steady:${rate}:30`,
      '--max-seconds',
      '120',
    ]);
  } finally {
    await again.stop();
  }
  const k = keelAtRate.result.steps[0];
  const p = peerAtRate.steps[0];
  await report(
    'peer',
    {
      sloP99Ms: SLO_P99_MS,
      keel: {
        capacityRps: keelCapacity,
        atRate: { rps: rate, p50: k.latencyMs.p50, p99: k.latencyMs.p99, errors: k.counts.errors },
      },
      haystack: {
        capacityRps: peerCapacity,
        steps: peerSteps.steps.map((s) => ({
          rps: s.offeredRps,
          p99: s.latencyMs.p99,
          verdict: s.verdict.status,
        })),
        atRate: { rps: rate, p50: p.latencyMs.p50, p99: p.latencyMs.p99, errors: p.counts.errors },
      },
      keelSearch: keelSearch.result.steps.map((s) => ({
        rps: s.offeredRps,
        p99: s.latencyMs.p99,
        verdict: s.verdict.status,
      })),
    },
    `${header('A peer a user would pick instead — Haystack BM25 served by hayhooks', 'npm run bench:evidence -- peer')}
The peer: bench/peers/haystack (haystack-ai 2.31.0, \`InMemoryBM25Retriever\` over the same
SciFact corpus, hayhooks 2.1.0 with ${cpus().length} worker processes). Keel: \`POST /v1/retrieve\` (BM25, top 100, the
embedded store). Both take the 300 test claims, top 100, the same open-loop schedule from the same
engine (\`keel loadtest\`'s), one after the other on the same machine.

| | capacity at p99 ≤ ${SLO_P99_MS} ms (rps) | p50 ms at ${rate} rps | p99 ms at ${rate} rps | errors |
| --- | --- | --- | --- | --- |
| Keel | ${keelCapacity} | ${k.latencyMs.p50} | ${k.latencyMs.p99} | ${k.counts.errors} |
| Haystack + hayhooks | ${peerCapacity ?? 'none held'} | ${p.latencyMs.p50} | ${p.latencyMs.p99} | ${p.counts.errors} |

Ratios: throughput at the same SLO **${peerCapacity ? round(keelCapacity / peerCapacity, 1) : '–'}×**; p99 at the same rate
(${rate} rps, 80% of the peer's capacity) **${round(p.latencyMs.p99 / k.latencyMs.p99, 1)}×** lower for Keel.
Quality for reference: the peer's nDCG@10 on SciFact test is 0.6624 (bench/peers/haystack/README.md),
Keel's BM25 0.6932 (docs/benchmarks/retrieval.md).

The peer's capacity search (8 s steps from 2 rps, ×1.3):

| offered rps | p50 ms | p99 ms | verdict |
| --- | --- | --- | --- |
${peerSteps.steps.map((s) => `| ${s.offeredRps} | ${s.latencyMs.p50} | ${s.latencyMs.p99} | ${s.verdict.status} |`).join('\n')}

Keel's capacity search, the same schedule from 10 rps:

![Keel, latency against offered load](peer.svg)
`,
  );
}

// ---- main -----------------------------------------------------------------------------------------

const ALL = { linearity, eventloop, ingestbody, container, soak, peer } as const;

async function main(): Promise<void> {
  const which = process.argv.slice(2);
  const names = which.length === 0 ? (Object.keys(ALL) as Array<keyof typeof ALL>) : which;
  for (const name of names) {
    const run = ALL[name as keyof typeof ALL];
    if (!run) throw new Error(`unknown benchmark '${name}': ${Object.keys(ALL).join(', ')}`);
    console.log(`== ${name}`);
    await run();
  }
}

void main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
