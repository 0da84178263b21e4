// `keel loadtest` is open loop: against a server that answers one request at a time and falls
// further behind with every arrival, it keeps sending at the offered rate, and the latency it
// reports includes each request's wait from its scheduled send time.
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keel } from '../support/keel-cli.js';
import { tempDir } from '../support/keel-server.js';
import { SlowKeelDouble } from './slow-keel-double.js';

const SERVICE_MS = 50; // the double serves 20 requests/s at most
const RPS = 40; // offered: twice that
const SECONDS = 1.5;
const N = RPS * SECONDS; // 60 requests
const INTERVAL_MS = 1000 / RPS;

describe('keel loadtest against a slow server (test double)', () => {
  let double: SlowKeelDouble;
  const out = tempDir('keel-loadtest-open-');
  let result: any;

  beforeAll(async () => {
    double = await SlowKeelDouble.start(SERVICE_MS);
    await keel([
      'loadtest',
      '--url',
      double.url,
      '--collection',
      'sample',
      '--beir',
      'samples/keel-sample-eval',
      '--mix',
      'retrieve=1',
      '--phase',
      `steady:${RPS}:${SECONDS}`,
      '--timeout-ms',
      '20000',
      '--max-seconds',
      '10',
      '--out',
      out,
    ]);
    result = JSON.parse(readFileSync(join(out, 'loadtest.json'), 'utf8'));
  }, 60_000);

  afterAll(async () => {
    await double?.close();
    rmSync(out, { recursive: true, force: true });
  });

  it('sends every scheduled request, on schedule, while the responses lag further and further behind', () => {
    const step = result.steps[0];
    expect(step.counts).toMatchObject({ scheduled: N, sent: N, dropped: 0, ok: N, errors: 0 });
    expect(double.arrivals).toHaveLength(N);
    // The double needs N × 50 ms = 3 s to answer them all...
    const answered = double.completions[N - 1] - double.arrivals[0];
    expect(answered).toBeGreaterThanOrEqual(N * SERVICE_MS - 5);
    // ...but all N arrived at the server in about the 1.5 s schedule. A closed-loop client
    // (next request after the last response) could not have sent them faster than one per 50 ms.
    const arrivedOver = double.arrivals[N - 1] - double.arrivals[0];
    expect(arrivedOver).toBeLessThan((N - 1) * SERVICE_MS);
    expect(step.timing.lastSendMs).toBeLessThan((N - 1) * SERVICE_MS);
    expect(step.timing.drainedMs).toBeGreaterThanOrEqual(N * SERVICE_MS - 5);
    expect(step.rates.sendRps).toBe(RPS);
  });

  it('measures latency from the scheduled send, so the time spent queued at the server counts', () => {
    const step = result.steps[0];
    // Request k cannot be answered before (k + 1) × 50 ms after the first arrived, and was
    // scheduled at k × 25 ms: the last one waited at least N × 50 − (N − 1) × 25 ms.
    const bound = N * SERVICE_MS - (N - 1) * INTERVAL_MS;
    expect(step.latencyMs.max).toBeGreaterThanOrEqual(bound - 5);
    expect(step.latencyMs.p99).toBeGreaterThanOrEqual(bound * 0.9);
    // The median request waited for about half the backlog: far more than one service time.
    expect(step.latencyMs.p50).toBeGreaterThan(5 * SERVICE_MS);
  });

  it('reads the queue the server reports at the end of the step', () => {
    const server = result.steps[0].server;
    expect(server.queueDepthSource).toBe('keel_job_pool_queue_depth');
    // At 1.5 s about 60 had arrived and at most 30 had been served.
    expect(server.queueDepth).toBeGreaterThan(0);
    expect(server.eventLoopDelayP99Ms).toBe(1);
    expect(result.target.mode).toBe('unknown');
  });
});
