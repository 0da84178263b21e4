// npm run bench:queue — what BullMQ on Redis costs and gives, measured in one run on loopback:
//  1. the round trip BullMQ adds to a small rerank job, against the embedded pool (same payload,
//     same process, calls alternating);
//  2. throughput of CPU-bound rerank jobs with 1 and with 2 worker processes (one thread each);
//  3. the API's event-loop delay while its workers are saturated, against the embedded API
//     under the same load.
// Writes docs/benchmarks/queue.{md,json}.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import type { RerankPayload } from '@keel/contracts/jobs';
import { BullmqJobRunner } from '@keel/jobs/distributed';
import { PoolJobRunner } from '@keel/jobs/embedded';
import { RedisServer, freePort } from '../support/redis.js';
import {
  machine,
  repoRoot,
  startKeelProcess as keel,
  writeMarkdown,
  type KeelProcess as Proc,
} from './common.js';

const THREAD = new URL(`file://${join(repoRoot(), 'dist/bundle/apps/worker/src/pool-thread.js')}`);
const ROUND_TRIPS = Number(process.env.BENCH_ROUND_TRIPS ?? 400);
const THROUGHPUT_JOBS = Number(process.env.BENCH_JOBS ?? 240);
const IN_FLIGHT = 8;
const LOOP_REQUESTS = Number(process.env.BENCH_LOOP_REQUESTS ?? 480);
const LOOP_ROUNDS = 3;

const WORDS = (
  'quota pool thread cgroup latency queue worker redis stream backlog deadline shard replica ' +
  'index chunk token budget rerank score proximity title corpus claim evidence abstract vitamin'
).split(' ');

/**
 * A rerank job. `heavy` asks with every word of the vocabulary, so each candidate position is a
 * proximity anchor for many terms: several times the CPU per byte of a typical query, so the
 * throughput phase measures the workers rather than moving bytes between processes.
 */
function payload(candidates: number, words: number, seed: number, heavy = false): RerankPayload {
  return {
    version: 1,
    query: heavy
      ? WORDS.join(' ')
      : 'how does the worker pool follow the container cpu quota and its deadline',
    candidates: Array.from({ length: candidates }, (_, i) => ({
      id: `c${i}`,
      title: `Candidate ${i}`,
      text: Array.from(
        { length: words },
        (_, j) => WORDS[(i * 13 + j * 7 + seed) % WORDS.length],
      ).join(' '),
      score: candidates - i,
    })),
    topK: 10,
    method: 'keel',
  };
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

const round = (n: number, d = 3) => Math.round(n * 10 ** d) / 10 ** d;

async function worker(redis: RedisServer, dataDir: string): Promise<Proc> {
  const port = await freePort();
  return keel(
    ['worker', '--queues', 'rerank', '--concurrency', '1', '--port', String(port)],
    { REDIS_URL: redis.url, KEEL_DATA_DIR: dataDir, KEEL_POOL_THREADS: '1' },
    port,
  );
}

/** `count` jobs, `inFlight` at a time; jobs per second. */
async function throughput(
  run: (p: RerankPayload) => Promise<unknown>,
  count: number,
  inFlight: number,
): Promise<number> {
  const jobs = Array.from({ length: count }, (_, i) => payload(100, 250, i, true));
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < jobs.length) await run(jobs[next++]);
    }),
  );
  return count / ((performance.now() - started) / 1000);
}

const FSYNC = ['always', 'everysec'] as const;
type Fsync = (typeof FSYNC)[number];
type QueuedRoundTrip = { p50Ms: number; p99Ms: number; addedP50Ms: number; addedP99Ms: number };

function poolOptions(dataDir: string) {
  return {
    threadFile: THREAD,
    maxQueue: 64,
    dataDir,
    trackedConcurrency: 1,
    trackedBacklog: 8,
    trackedTimeoutMs: 60_000,
    retentionHours: 1,
  };
}

/** CPU seconds (user + system, all threads) a process has used, from /proc (clock ticks of 10 ms). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are the 14th and 15th fields; the slice starts at the 3rd.
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

interface Measured {
  jobsPerSecond: number;
  /** CPU milliseconds per job, by process, over the measured jobs. */
  cpuMsPerJob: Record<string, number>;
}

/** THROUGHPUT_JOBS jobs, IN_FLIGHT at a time, with the CPU time each process spent on them. */
async function measured(
  run: (p: RerankPayload) => Promise<unknown>,
  pids: Record<string, number>,
): Promise<Measured> {
  const read = () =>
    Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuSeconds(pid)]));
  const before = read();
  const rate = await throughput(run, THROUGHPUT_JOBS, IN_FLIGHT);
  const after = read();
  return {
    jobsPerSecond: round(rate, 1),
    cpuMsPerJob: Object.fromEntries(
      Object.keys(pids).map((k) => [
        k,
        round(((after[k] - before[k]) * 1000) / THROUGHPUT_JOBS, 2),
      ]),
    ),
  };
}

const INGEST_BATCHES = Number(process.env.BENCH_INGEST_BATCHES ?? 8);

interface IngestRun {
  batches: number;
  batchMiB: number;
  statuses: Record<string, number>;
  states: Record<string, number>;
  polls: number;
  seconds: number;
  loopP99Ms: number;
  loopMaxMs: number;
  probe: { p50Ms: number; p99Ms: number; maxMs: number };
}

/** A batch of 1,000 documents of 1,000 words each: ~7 MB of JSON. */
function ingestBatch(seed: number): string {
  return JSON.stringify({
    documents: Array.from({ length: 1_000 }, (_, i) => ({
      id: `b${seed}-d${i}`,
      title: `Document ${i}`,
      text: Array.from(
        { length: 1_000 },
        (_, j) => WORDS[(i * 7 + j * 13 + seed) % WORDS.length],
      ).join(' '),
      metadata: { batch: seed },
    })),
  });
}

/**
 * Posts INGEST_BATCHES batches 300 ms apart, polls each job every 100 ms until it ends, and probes
 * /health/live every 5 ms meanwhile; the API's event-loop delay over the run from its /metrics.
 */
async function ingestUnderProbe(api: Proc): Promise<IngestRun> {
  const json = { 'content-type': 'application/json' };
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  await fetch(`${api.url}/v1/collections`, {
    method: 'POST',
    headers: json,
    body: JSON.stringify({ name: 'batches' }),
  });
  const batches = Array.from({ length: INGEST_BATCHES }, (_, b) => ingestBatch(b));
  await fetch(`${api.url}/metrics`).then((r) => r.text()); // empties the loop-delay histogram
  const started = performance.now();
  let probing = true;
  const probes: number[] = [];
  const prober = (async () => {
    while (probing) {
      const t = performance.now();
      await fetch(`${api.url}/health/live`).then((r) => r.text());
      probes.push(performance.now() - t);
      await sleep(5);
    }
  })();
  const statuses: Record<string, number> = {};
  const states: Record<string, number> = {};
  const jobs: string[] = [];
  let polls = 0;
  try {
    for (const body of batches) {
      const t = performance.now();
      const res = await fetch(`${api.url}/v1/collections/batches/documents`, {
        method: 'POST',
        headers: json,
        body,
      });
      const reply = (await res.json()) as { jobId?: string };
      statuses[res.status] = (statuses[res.status] ?? 0) + 1;
      if (reply.jobId) jobs.push(reply.jobId);
      await sleep(Math.max(0, 300 - (performance.now() - t)));
    }
    await Promise.all(
      jobs.map(async (id) => {
        for (const end = Date.now() + 300_000; Date.now() < end; await sleep(100)) {
          polls += 1;
          const job = (await fetch(`${api.url}/v1/jobs/${id}`).then((r) => r.json())) as {
            state: string;
          };
          if (['completed', 'failed', 'cancelled'].includes(job.state)) {
            states[job.state] = (states[job.state] ?? 0) + 1;
            return;
          }
        }
        states.unfinished = (states.unfinished ?? 0) + 1;
      }),
    );
  } finally {
    probing = false;
    await prober;
  }
  const text = await fetch(`${api.url}/metrics`).then((r) => r.text());
  probes.sort((a, b) => a - b);
  return {
    batches: INGEST_BATCHES,
    batchMiB: round(Buffer.byteLength(batches[0]) / 2 ** 20, 1),
    statuses,
    states,
    polls,
    seconds: round((performance.now() - started) / 1000, 1),
    loopP99Ms: round(metricValue(text, 'keel_event_loop_delay_seconds{quantile="0.99"}') * 1000),
    loopMaxMs: round(metricValue(text, 'keel_event_loop_delay_seconds{quantile="1"}') * 1000),
    probe: {
      p50Ms: round(percentile(probes, 0.5)),
      p99Ms: round(percentile(probes, 0.99)),
      maxMs: round(probes.at(-1) ?? NaN),
    },
  };
}

function metricValue(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.split(' ')[1]) : NaN;
}

/** Drives POST /v1/rerank closed-loop and reads the API's event-loop delay p99 over the run. */
async function loopDelayUnderLoad(
  api: Proc,
): Promise<{ p99Ms: number; rps: number; errors: number; apiCpuMsPerRequest: number }> {
  // prom-client's event-loop histogram restarts at each scrape: this one empties it.
  await fetch(`${api.url}/metrics`).then((r) => r.text());
  const cpuBefore = cpuSeconds(api.child.pid!);
  const bodies = Array.from({ length: 16 }, (_, i) =>
    JSON.stringify({ ...payload(100, 250, i), version: undefined }),
  );
  let errors = 0;
  const rps = await throughput(
    async (_p) => {
      const i = Math.floor(Math.random() * bodies.length);
      const res = await fetch(`${api.url}/v1/rerank`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: bodies[i],
      });
      await res.text();
      if (res.status !== 200) errors += 1;
    },
    LOOP_REQUESTS,
    IN_FLIGHT,
  );
  const text = await fetch(`${api.url}/metrics`).then((r) => r.text());
  const cpu = cpuSeconds(api.child.pid!) - cpuBefore;
  return {
    p99Ms: round(metricValue(text, 'keel_event_loop_delay_seconds{quantile="0.99"}') * 1000),
    rps: round(rps, 1),
    errors,
    apiCpuMsPerRequest: round((cpu * 1000) / LOOP_REQUESTS, 2),
  };
}

async function main(): Promise<void> {
  const redis = await RedisServer.start();
  const dataDir = mkdtempSync(join(tmpdir(), 'keel-queue-bench-'));
  const procs: Proc[] = [];
  const registry = new Registry();
  const local = new PoolJobRunner({ ...poolOptions(dataDir), threads: 1, registry });
  const distributed = new BullmqJobRunner({
    redisUrl: redis.url,
    prefix: 'bull',
    maxBacklog: 10_000,
    trackedBacklog: 100,
    trackedTimeoutMs: 60_000,
    attempts: 1,
    backoffMs: 100,
    retentionHours: 1,
    redisTimeoutMs: 2_000,
    registry,
    local,
  });
  try {
    procs.push(await worker(redis, dataDir));
    await distributed.start();
    const deadline = () => ({ deadline: Date.now() + 30_000 });

    // Redis's AOF policy, switched at run time on the same server: `always` (each write on disk
    // before it is acknowledged; the tests' setting) and `everysec` (BullMQ's production advice
    // and the dev overlay's).
    const admin = redis.client();
    const fsync = async (mode: Fsync) => {
      await admin.config('SET', 'appendfsync', mode);
    };

    // 1. Round trip of a small job: 10 short candidates (well under a millisecond of rerank).
    //    Blocks of calls take turns between the two policies; within a block, calls alternate
    //    between the embedded pool and BullMQ.
    const small = payload(10, 30, 0);
    for (let i = 0; i < 50; i++) {
      await local.run('rerank', 'rerank', small, deadline());
      await distributed.run('rerank', 'rerank', small, deadline());
    }
    const embeddedMs: number[] = [];
    const queuedMs: Record<Fsync, number[]> = { always: [], everysec: [] };
    const BLOCKS = 4;
    for (let block = 0; block < BLOCKS; block++) {
      const mode = FSYNC[block % FSYNC.length];
      await fsync(mode);
      for (let i = 0; i < ROUND_TRIPS / BLOCKS; i++) {
        let t = performance.now();
        await local.run('rerank', 'rerank', small, deadline());
        embeddedMs.push(performance.now() - t);
        t = performance.now();
        await distributed.run('rerank', 'rerank', small, deadline());
        queuedMs[mode].push(performance.now() - t);
      }
    }
    const summary = (ms: number[]) => ({
      p50Ms: round(percentile(ms, 0.5)),
      p99Ms: round(percentile(ms, 0.99)),
    });
    const embedded = summary(embeddedMs);
    const roundTrip = {
      calls: ROUND_TRIPS,
      embedded,
      bullmq: Object.fromEntries(
        FSYNC.map((mode) => {
          const q = summary(queuedMs[mode]);
          return [
            mode,
            {
              ...q,
              addedP50Ms: round(q.p50Ms - embedded.p50Ms),
              addedP99Ms: round(q.p99Ms - embedded.p99Ms),
            },
          ];
        }),
      ) as Record<Fsync, QueuedRoundTrip>,
    };
    console.log('round trip', roundTrip);

    // 2. CPU-bound jobs (100 candidates of 250 words), 1 worker then 2 (one thread each), under
    //    each policy; and the machine's own scaling for the same jobs, without Redis: the
    //    embedded pool with 1 thread then 2, in this process.
    const heavy = (p: RerankPayload) => distributed.run('rerank', 'rerank', p, deadline());
    const pids: Record<string, number> = {
      'bench process': process.pid,
      redis: redis.pid!,
      'worker 1': procs[0].child.pid!,
    };
    const one = {} as Record<Fsync, Measured>;
    const two = {} as Record<Fsync, Measured>;
    for (const mode of FSYNC) {
      await fsync(mode);
      await throughput(heavy, 16, IN_FLIGHT);
      one[mode] = await measured(heavy, pids);
    }
    procs.push(await worker(redis, dataDir));
    pids['worker 2'] = procs[1].child.pid!;
    for (const mode of FSYNC) {
      await fsync(mode);
      await throughput(heavy, 16, IN_FLIGHT);
      two[mode] = await measured(heavy, pids);
    }
    const onThreads = async (threads: number): Promise<Measured> => {
      const dir = mkdtempSync(join(tmpdir(), 'keel-queue-bench-pool-'));
      const pool = new PoolJobRunner({ ...poolOptions(dir), threads, registry: new Registry() });
      try {
        await pool.start();
        const run = (p: RerankPayload) => pool.run('rerank', 'rerank', p, deadline());
        await throughput(run, 16, IN_FLIGHT);
        return await measured(run, { 'bench process': process.pid });
      } finally {
        await pool.close(1_000);
        rmSync(dir, { recursive: true, force: true });
      }
    };
    const poolOne = await onThreads(1);
    const poolTwo = await onThreads(2);
    const single = performance.now();
    await local.run('rerank', 'rerank', payload(100, 250, 1, true), deadline());
    const oneJobMs = performance.now() - single;
    console.log('throughput', { one, two, poolOne, poolTwo, oneJobMs });
    await distributed.close(1_000);

    // 3. Event-loop delay of a real API while its two workers are saturated, against the
    //    embedded API (pool of 2 threads) under the same load; each with the request bodies
    //    decoded on the body thread (as shipped) and on the event loop (the diagnostic setting),
    //    the four taking turns. Redis at the production policy.
    await fsync('everysec');
    const setups: Array<{ setup: string; env: Record<string, string> }> = [
      {
        setup: 'API (REDIS_URL) + 2 workers of 1 thread',
        env: { REDIS_URL: redis.url, KEEL_DATA_DIR: dataDir, KEEL_POOL_THREADS: '1' },
      },
      { setup: 'embedded API, pool of 2 threads', env: { KEEL_POOL_THREADS: '2' } },
    ];
    const bodies: Array<{ bodies: string; env: Record<string, string> }> = [
      { bodies: 'body thread', env: {} },
      { bodies: 'event loop (diagnostic)', env: { KEEL_DIAGNOSTIC_BODY_ON_LOOP: 'true' } },
    ];
    const loops: LoopRun[] = [];
    for (let roundNo = 1; roundNo <= LOOP_ROUNDS; roundNo++) {
      for (const { setup, env } of setups) {
        for (const body of bodies) {
          const dir = env.KEEL_DATA_DIR ?? mkdtempSync(join(tmpdir(), 'keel-queue-bench-api-'));
          const port = await freePort();
          const api = await keel(
            ['serve'],
            { ...env, ...body.env, KEEL_DATA_DIR: dir, PORT: String(port) },
            port,
          );
          procs.push(api);
          const run = await loopDelayUnderLoad(api);
          await api.stop();
          if (dir !== dataDir) rmSync(dir, { recursive: true, force: true });
          loops.push({ setup, bodies: body.bodies, round: roundNo, ...run });
          console.log('event loop', loops.at(-1));
        }
      }
    }

    // 4. Ingest batches of ~7 MB through the queue: what the API's event loop and a liveness
    //    probe see while they arrive and their jobs are polled, one ingest worker busy with them.
    const ingestWorkerPort = await freePort();
    const ingestWorker = await keel(
      ['worker', '--queues', 'ingest', '--concurrency', '1', '--port', String(ingestWorkerPort)],
      { REDIS_URL: redis.url, KEEL_DATA_DIR: dataDir, KEEL_POOL_THREADS: '1' },
      ingestWorkerPort,
    );
    procs.push(ingestWorker);
    const ingestApiPort = await freePort();
    const ingestApi = await keel(
      ['serve'],
      {
        REDIS_URL: redis.url,
        KEEL_DATA_DIR: dataDir,
        KEEL_POOL_THREADS: '1',
        PORT: String(ingestApiPort),
      },
      ingestApiPort,
    );
    procs.push(ingestApi);
    const ingest = await ingestUnderProbe(ingestApi);
    console.log('ingest', ingest);
    await Promise.all([ingestApi.stop(), ingestWorker.stop()]);
    await admin.quit();

    const report: Report = {
      machine: machine(),
      command: 'npm run bench:queue',
      redis: 'redis-server (Debian), loopback, AOF on; appendfsync switched at run time',
      roundTrip,
      throughput: {
        jobs: THROUGHPUT_JOBS,
        inFlight: IN_FLIGHT,
        payload: 'rerank, 100 candidates of 250 words, a 26-term query, method keel',
        oneJobMs: round(oneJobMs, 1),
        workers: Object.fromEntries(
          FSYNC.map((mode) => [
            mode,
            {
              one: one[mode],
              two: two[mode],
              ratio: round(two[mode].jobsPerSecond / one[mode].jobsPerSecond, 2),
            },
          ]),
        ) as Record<Fsync, Scaling>,
        pool: {
          one: poolOne,
          two: poolTwo,
          ratio: round(poolTwo.jobsPerSecond / poolOne.jobsPerSecond, 2),
        },
      },
      eventLoop: { requests: LOOP_REQUESTS, inFlight: IN_FLIGHT, runs: loops },
      ingest,
    };
    const out = join(repoRoot(), 'docs/benchmarks');
    writeFileSync(join(out, 'queue.json'), `${JSON.stringify(report, null, 2)}\n`);
    // Formatted as the repository's Prettier check expects.
    await writeMarkdown(join(out, 'queue.md'), markdown(report));
    console.log('wrote docs/benchmarks/queue.{md,json}');
  } finally {
    await Promise.allSettled(procs.map((p) => p.stop()));
    await local.close(1_000).catch(() => undefined);
    await redis.dispose();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

interface Scaling {
  one: Measured;
  two: Measured;
  ratio: number;
}

interface LoopRun {
  setup: string;
  bodies: string;
  round: number;
  p99Ms: number;
  rps: number;
  errors: number;
  apiCpuMsPerRequest: number;
}

interface Report {
  machine: ReturnType<typeof machine>;
  command: string;
  redis: string;
  roundTrip: {
    calls: number;
    embedded: { p50Ms: number; p99Ms: number };
    bullmq: Record<Fsync, QueuedRoundTrip>;
  };
  throughput: {
    jobs: number;
    inFlight: number;
    payload: string;
    oneJobMs: number;
    workers: Record<Fsync, Scaling>;
    pool: Scaling;
  };
  eventLoop: { requests: number; inFlight: number; runs: LoopRun[] };
  ingest: IngestRun;
}

const cpuCells = (m: Measured) =>
  Object.entries(m.cpuMsPerJob)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');

function markdown(r: Report): string {
  const m = r.machine;
  const t = r.throughput;
  const trips = FSYNC.map((mode) => {
    const q = r.roundTrip.bullmq[mode];
    return `| BullMQ + worker, \`appendfsync ${mode}\` | ${q.p50Ms} | ${q.p99Ms} | **${q.addedP50Ms}** | ${q.addedP99Ms} |`;
  }).join('\n');
  const scaling = FSYNC.map((mode) => {
    const w = t.workers[mode];
    return `| BullMQ, \`appendfsync ${mode}\` | ${w.one.jobsPerSecond} | ${w.two.jobsPerSecond} | **${w.ratio}×** | ${round(w.ratio / t.pool.ratio, 2)} |`;
  }).join('\n');
  const cpu = [
    ...FSYNC.flatMap((mode) => [
      `| BullMQ, \`${mode}\`, 1 worker | ${cpuCells(t.workers[mode].one)} |`,
      `| BullMQ, \`${mode}\`, 2 workers | ${cpuCells(t.workers[mode].two)} |`,
    ]),
    `| pool, 1 thread | ${cpuCells(t.pool.one)} |`,
    `| pool, 2 threads | ${cpuCells(t.pool.two)} |`,
  ].join('\n');
  const loops = r.eventLoop.runs
    .map(
      (l) =>
        `| ${l.setup} | ${l.bodies} | ${l.round} | ${l.p99Ms} | ${l.apiCpuMsPerRequest} | ${l.rps} | ${l.errors} |`,
    )
    .join('\n');
  return `# Queue benchmark — BullMQ on Redis against the embedded pool

Generated by \`npm run bench:queue\` (test/bench/queue.bench.ts); raw numbers in
[queue.json](queue.json). Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node},
commit ${m.commit}, ${m.date}. Redis: Debian's redis-server on loopback with AOF on, its fsync
policy switched at run time (\`CONFIG SET appendfsync\`): \`always\` (an acknowledged write is on
disk; the tests' setting) and \`everysec\` (BullMQ's advice for production and the dev overlay's
setting; a crash may lose the last second). Shared, noisy machine: read the ratios.

## 1. Round trip added by BullMQ (target: ≤ 2 ms p50)

${r.roundTrip.calls} calls of a small rerank job (10 short candidates), alternating between the
embedded pool (one thread, in process) and BullMQ (a \`keel worker\` process with one thread), from
the same process through the same \`JobRunner.run\`; blocks of calls take turns between the two
policies.

| path | p50 ms | p99 ms | added p50 ms | added p99 ms |
| --- | --- | --- | --- | --- |
| embedded pool | ${r.roundTrip.embedded.p50Ms} | ${r.roundTrip.embedded.p99Ms} | | |
${trips}

## 2. CPU-bound throughput, 1 and 2 workers (target: ≥ 1.8×)

${t.jobs} jobs (${t.payload}; one takes ${t.oneJobMs} ms on a pool thread), ${t.inFlight} in
flight, each worker one process with one thread. The bench process (producer) and Redis share the
same 2 cores. The peer is the machine's own scaling for the same jobs without a queue: the embedded
pool in the bench process with 1 thread, then 2.

| setup | 1 worker jobs/s | 2 workers jobs/s | ratio | share of the pool's ratio |
| --- | --- | --- | --- | --- |
${scaling}
| embedded pool, 1 then 2 threads (peer) | ${t.pool.one.jobsPerSecond} | ${t.pool.two.jobsPerSecond} | **${t.pool.ratio}×** | 1 |

With one worker, the producer's and Redis's work runs on the core the worker leaves free; with two,
it takes CPU from them. So the ratio's ceiling is 2 × (the job's CPU) / (all the CPU a job costs,
every process counted), which the rows below give, and the pool's own ratio shows what the two
cores give this job with a small overhead. CPU milliseconds per job, by process (from /proc; the
bench process's include its pool threads in the peer's rows):

| run | CPU ms per job |
| --- | --- |
${cpu}

## 3. API event-loop delay while workers are saturated (target: ≤ 20 ms p99)

${r.eventLoop.requests} \`POST /v1/rerank\` requests (the same 100-candidate payloads, 181 kB each), ${r.eventLoop.inFlight} in
flight; \`keel_event_loop_delay_seconds{quantile="0.99"}\` from the API's /metrics over the run (the
delay beyond the 10 ms sampling interval, which prom-client's \`nodejs_eventloop_lag_*\` include)
and the API process's CPU per request (/proc). Request bodies decoded on the API's body thread (as
shipped) and on the event loop (\`KEEL_DIAGNOSTIC_BODY_ON_LOOP=true\`); the runs take turns. Pool
threads run at nice 10, below the event loop; Redis at \`appendfsync everysec\`.

| setup | bodies decoded on | run | event-loop delay p99 ms | API CPU ms per request | requests/s | errors |
| --- | --- | --- | --- | --- | --- | --- |
${loops}

## 4. API event-loop delay while ingest batches go through the queue (target: ≤ 20 ms p99)

${r.ingest.batches} ingest batches of ${r.ingest.batchMiB} MiB (1,000 documents of 1,000 words) posted to an API
(\`REDIS_URL\`, pool of 1 thread) 300 ms apart, each job polled (\`GET /v1/jobs/:id\`) every 100 ms
until it ends, one ingest worker (1 thread) running them; \`GET /health/live\` every 5 ms
meanwhile. The API decodes each body on its body thread and serializes the batch on its pool
thread into a payload key in Redis; the job's own hash holds only that key, so neither adding the
job nor polling it handles the documents on the event loop.

| batches | answers | jobs | polls | seconds | event-loop delay p99 ms | max ms | probe p50 / p99 / max ms |
| --- | --- | --- | --- | --- | --- | --- | --- |
| ${r.ingest.batches} | ${Object.entries(r.ingest.statuses)
    .map(([s, n]) => `${n}× ${s}`)
    .join(', ')} | ${Object.entries(r.ingest.states)
    .map(([s, n]) => `${n} ${s}`)
    .join(
      ', ',
    )} | ${r.ingest.polls} | ${r.ingest.seconds} | ${r.ingest.loopP99Ms} | ${r.ingest.loopMaxMs} | ${r.ingest.probe.p50Ms} / ${r.ingest.probe.p99Ms} / ${r.ingest.probe.maxMs} |
`;
}

void main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
