// npm run bench:queue — what BullMQ on Redis costs and gives, measured in one run on loopback:
//  1. the round trip BullMQ adds to a small rerank job, against the embedded pool (same payload,
//     same process, calls alternating);
//  2. throughput of CPU-bound rerank jobs with 1 and with 2 worker processes (one thread each);
//  3. the API's event-loop delay while its workers are saturated, against the embedded API
//     under the same load.
// Writes docs/benchmarks/queue.{md,json}.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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
const LOOP_REQUESTS = Number(process.env.BENCH_LOOP_REQUESTS ?? 240);

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

function metricValue(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.split(' ')[1]) : NaN;
}

/** Drives POST /v1/rerank closed-loop and reads the API's event-loop delay p99 over the run. */
async function loopDelayUnderLoad(
  api: Proc,
): Promise<{ p99Ms: number; rps: number; errors: number }> {
  // prom-client's event-loop histogram restarts at each scrape: this one empties it.
  await fetch(`${api.url}/metrics`).then((r) => r.text());
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
  return {
    p99Ms: round(metricValue(text, 'keel_event_loop_delay_seconds{quantile="0.99"}') * 1000),
    rps: round(rps, 1),
    errors,
  };
}

async function main(): Promise<void> {
  const redis = await RedisServer.start();
  const dataDir = mkdtempSync(join(tmpdir(), 'keel-queue-bench-'));
  const procs: Proc[] = [];
  const registry = new Registry();
  const local = new PoolJobRunner({
    threadFile: THREAD,
    threads: 1,
    maxQueue: 64,
    dataDir,
    trackedConcurrency: 1,
    trackedBacklog: 8,
    trackedTimeoutMs: 60_000,
    retentionHours: 1,
    registry,
  });
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

    // 1. Round trip of a small job: 10 short candidates (well under a millisecond of rerank).
    const small = payload(10, 30, 0);
    for (let i = 0; i < 50; i++) {
      await local.run('rerank', 'rerank', small, deadline());
      await distributed.run('rerank', 'rerank', small, deadline());
    }
    const embeddedMs: number[] = [];
    const queuedMs: number[] = [];
    for (let i = 0; i < ROUND_TRIPS; i++) {
      let t = performance.now();
      await local.run('rerank', 'rerank', small, deadline());
      embeddedMs.push(performance.now() - t);
      t = performance.now();
      await distributed.run('rerank', 'rerank', small, deadline());
      queuedMs.push(performance.now() - t);
    }
    const roundTrip = {
      calls: ROUND_TRIPS,
      embedded: {
        p50Ms: round(percentile(embeddedMs, 0.5)),
        p99Ms: round(percentile(embeddedMs, 0.99)),
      },
      bullmq: { p50Ms: round(percentile(queuedMs, 0.5)), p99Ms: round(percentile(queuedMs, 0.99)) },
    };
    const addedP50 = round(roundTrip.bullmq.p50Ms - roundTrip.embedded.p50Ms);
    const addedP99 = round(roundTrip.bullmq.p99Ms - roundTrip.embedded.p99Ms);
    console.log('round trip', roundTrip, { addedP50, addedP99 });

    // 2. CPU-bound jobs (100 candidates of 250 words), 1 worker then 2 (one thread each).
    const heavy = (p: RerankPayload) => distributed.run('rerank', 'rerank', p, deadline());
    await throughput(heavy, 16, IN_FLIGHT);
    const one = await throughput(heavy, THROUGHPUT_JOBS, IN_FLIGHT);
    procs.push(await worker(redis, dataDir));
    await throughput(heavy, 16, IN_FLIGHT);
    const two = await throughput(heavy, THROUGHPUT_JOBS, IN_FLIGHT);
    const single = performance.now();
    await local.run('rerank', 'rerank', payload(100, 250, 1, true), deadline());
    const oneJobMs = performance.now() - single;
    console.log('throughput', { one, two, ratio: two / one, oneJobMs });
    await distributed.close(1_000);

    // 3. Event-loop delay of a real API while its two workers are saturated, against the
    //    embedded API (pool of 2 threads) under the same load.
    const apiPort = await freePort();
    const api = await keel(
      ['serve'],
      {
        REDIS_URL: redis.url,
        KEEL_DATA_DIR: dataDir,
        PORT: String(apiPort),
        KEEL_POOL_THREADS: '1',
      },
      apiPort,
    );
    procs.push(api);
    const distributedLoop = await loopDelayUnderLoad(api);
    await api.stop();
    const embeddedDir = mkdtempSync(join(tmpdir(), 'keel-queue-bench-embedded-'));
    const embeddedPort = await freePort();
    const embeddedApi = await keel(
      ['serve'],
      { KEEL_DATA_DIR: embeddedDir, PORT: String(embeddedPort), KEEL_POOL_THREADS: '2' },
      embeddedPort,
    );
    procs.push(embeddedApi);
    const embeddedLoop = await loopDelayUnderLoad(embeddedApi);
    await embeddedApi.stop();
    rmSync(embeddedDir, { recursive: true, force: true });
    console.log('event loop', { distributedLoop, embeddedLoop });

    const report = {
      machine: machine(),
      command: 'npm run bench:queue',
      redis: 'redis-server (Debian), loopback, AOF appendfsync always',
      roundTrip: { ...roundTrip, addedP50Ms: addedP50, addedP99Ms: addedP99 },
      throughput: {
        jobs: THROUGHPUT_JOBS,
        inFlight: IN_FLIGHT,
        payload: 'rerank, 100 candidates of 250 words, a 26-term query, method keel',
        oneJobMs: round(oneJobMs, 1),
        oneWorkerJobsPerSecond: round(one, 1),
        twoWorkersJobsPerSecond: round(two, 1),
        ratio: round(two / one, 2),
      },
      eventLoop: {
        requests: LOOP_REQUESTS,
        inFlight: IN_FLIGHT,
        distributed: { ...distributedLoop, setup: 'API (REDIS_URL) + 2 workers of 1 thread' },
        embedded: { ...embeddedLoop, setup: 'embedded API, pool of 2 threads' },
      },
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

type Report = {
  machine: ReturnType<typeof machine>;
  roundTrip: {
    calls: number;
    embedded: { p50Ms: number; p99Ms: number };
    bullmq: { p50Ms: number; p99Ms: number };
    addedP50Ms: number;
    addedP99Ms: number;
  };
  throughput: {
    jobs: number;
    inFlight: number;
    payload: string;
    oneJobMs: number;
    oneWorkerJobsPerSecond: number;
    twoWorkersJobsPerSecond: number;
    ratio: number;
  };
  eventLoop: {
    requests: number;
    inFlight: number;
    distributed: { p99Ms: number; rps: number; errors: number; setup: string };
    embedded: { p99Ms: number; rps: number; errors: number; setup: string };
  };
};

function markdown(r: Report): string {
  const m = r.machine;
  return `# Queue benchmark — BullMQ on Redis against the embedded pool

Generated by \`npm run bench:queue\` (test/bench/queue.bench.ts); raw numbers in
[queue.json](queue.json). Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node},
commit ${m.commit}, ${m.date}. Redis: Debian's redis-server on loopback, AOF with
\`appendfsync always\`. Shared, noisy machine: read the ratios.

## 1. Round trip added by BullMQ (target: ≤ 2 ms p50)

${r.roundTrip.calls} calls of a small rerank job (10 short candidates), alternating between the
embedded pool (one thread, in process) and BullMQ (a \`keel worker\` process with one thread), from
the same process through the same \`JobRunner.run\`.

| path | p50 ms | p99 ms |
| --- | --- | --- |
| embedded pool | ${r.roundTrip.embedded.p50Ms} | ${r.roundTrip.embedded.p99Ms} |
| BullMQ + worker | ${r.roundTrip.bullmq.p50Ms} | ${r.roundTrip.bullmq.p99Ms} |
| **added by the queue** | **${r.roundTrip.addedP50Ms}** | **${r.roundTrip.addedP99Ms}** |

## 2. CPU-bound throughput, 1 and 2 workers (target: ≥ 1.8×)

${r.throughput.jobs} jobs (${r.throughput.payload}; one takes ${r.throughput.oneJobMs} ms on a pool
thread), ${r.throughput.inFlight} in flight, each worker one process with one thread. The bench
process (producer) and Redis share the same 2 cores.

| workers | jobs/s |
| --- | --- |
| 1 | ${r.throughput.oneWorkerJobsPerSecond} |
| 2 | ${r.throughput.twoWorkersJobsPerSecond} |
| **ratio** | **${r.throughput.ratio}×** |

## 3. API event-loop delay while workers are saturated (target: ≤ 20 ms p99)

${r.eventLoop.requests} \`POST /v1/rerank\` requests (the same 100-candidate payloads), ${r.eventLoop.inFlight} in
flight; \`keel_event_loop_delay_seconds{quantile="0.99"}\` from the API's /metrics over the run (the
delay beyond the 10 ms sampling interval, which prom-client's \`nodejs_eventloop_lag_*\` include).
Pool threads run at nice 10, below the event loop.

| setup | event-loop delay p99 ms | requests/s | errors |
| --- | --- | --- | --- |
| ${r.eventLoop.distributed.setup} | ${r.eventLoop.distributed.p99Ms} | ${r.eventLoop.distributed.rps} | ${r.eventLoop.distributed.errors} |
| ${r.eventLoop.embedded.setup} | ${r.eventLoop.embedded.p99Ms} | ${r.eventLoop.embedded.rps} | ${r.eventLoop.embedded.errors} |
`;
}

void main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
