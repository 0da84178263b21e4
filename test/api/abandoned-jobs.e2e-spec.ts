// A client that hangs up while its job runs costs the pool nothing more than the job: the thread
// finishes it and lives on (a new thread would cost hundreds of milliseconds of CPU and start cold).
// Watched from outside: the server's worker threads in /proc, and its /metrics.
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKeel, type KeelServer } from '../support/keel-server.js';
import { until } from '../support/until.js';

/** The pool threads of a process: thread id → CPU ticks used so far. */
function poolThreads(pid: number): Map<number, number> {
  const threads = new Map<number, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const dir = `/proc/${pid}/task/${tid}`;
    if (readFileSync(`${dir}/comm`, 'utf8').trim() !== 'WorkerThread') continue;
    // Fields after the parenthesised name: utime and stime are the 12th and 13th.
    const fields = readFileSync(`${dir}/stat`, 'utf8').split(') ')[1].split(' ');
    threads.set(Number(tid), Number(fields[11]) + Number(fields[12]));
  }
  return threads;
}

const cpuOf = (threads: Map<number, number>) => [...threads.values()].reduce((a, b) => a + b, 0);

/** A rerank that keeps a pool thread busy for a few hundred milliseconds (MMR over 1000 texts). */
function bigRerank(): string {
  const words =
    'cell protein gene expression cancer risk vitamin deficiency immune response tumor growth'.split(
      ' ',
    );
  let seed = 1;
  const next = () => (seed = (seed * 16807) % 2147483647);
  const candidates = Array.from({ length: 1000 }, (_, i) => ({
    id: `d${i}`,
    text: Array.from({ length: 300 }, () => words[next() % words.length]).join(' '),
  }));
  return JSON.stringify({ query: 'vitamin deficiency cancer risk', candidates, method: 'mmr' });
}

describe('a client that hangs up mid-job', () => {
  let keel: KeelServer;
  beforeAll(async () => {
    keel = await startKeel();
  });
  afterAll(async () => {
    await keel?.dispose();
  });

  it('leaves the pool thread running it alive, and the job finishes', async () => {
    const pid = keel.child.pid!;
    const body = bigRerank();
    // Once, to load what the first rerank loads; the measured one then runs on warm threads.
    expect(
      (await keel.request('POST', '/v1/rerank', body, { 'content-type': 'application/json' }))
        .status,
    ).toBe(200);
    const before = poolThreads(pid);
    expect(before.size).toBeGreaterThan(0);

    const controller = new AbortController();
    const request = fetch(`${keel.url}/v1/rerank`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      signal: controller.signal,
    }).catch((error: unknown) => error);
    // Hang up once a pool thread has spent 50 ms of CPU on it: the job is running, not queued.
    const start = cpuOf(before);
    await until(() => cpuOf(poolThreads(pid)) - start >= 5, 10_000);
    controller.abort();
    expect(await request).toMatchObject({ name: 'AbortError' });

    await until(async () => {
      const metrics = (await keel.request('GET', '/metrics')).text;
      return /keel_job_pool_abandoned_total\{outcome="finished"\} 1\b/.test(metrics);
    }, 10_000);
    expect([...poolThreads(pid).keys()].sort()).toEqual([...before.keys()].sort());
    expect((await keel.request('GET', '/metrics')).text).not.toMatch(
      /keel_job_pool_abandoned_total\{outcome="terminated"\}/,
    );
    const ready = await keel.request('GET', '/health/ready');
    expect(ready.body.details.jobs).toMatchObject({ status: 'up' });
  });
});
