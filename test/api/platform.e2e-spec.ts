import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, startKeel, type KeelServer } from '../support/keel-server.js';

const TOKEN = 'test-admin-token-0123456789';

describe('health, metrics, docs, request ids and admin routes', () => {
  let keel: KeelServer;

  beforeAll(async () => {
    keel = await startKeel({ env: { KEEL_ADMIN_TOKEN: TOKEN } });
  });

  afterAll(async () => {
    await keel?.dispose();
  });

  it('reports liveness and readiness with the store and the pool', async () => {
    expect((await keel.request('GET', '/health/live')).body).toEqual({ status: 'ok' });
    const ready = await keel.request('GET', '/health/ready');
    expect(ready.status).toBe(200);
    expect(ready.body.status).toBe('ok');
    expect(ready.body.details.store).toMatchObject({ status: 'up', backend: 'sqlite' });
    expect(ready.body.details.store.vec).toMatch(/^v\d/);
    expect(ready.body.details.jobs).toMatchObject({ status: 'up', mode: 'embedded' });
    expect(ready.body.details.jobs.threads).toBe(ready.body.details.jobs.expectedThreads);
  });

  it('exposes Prometheus metrics: defaults, HTTP latency by route, event-loop delay, runtime sizing', async () => {
    await keel.request('GET', '/v1/collections');
    const res = await keel.request('GET', '/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = res.text;
    expect(text).toMatch(
      /keel_http_request_duration_seconds_bucket\{[^}]*route="\/v1\/collections"/,
    );
    expect(text).toContain('nodejs_eventloop_lag_p99_seconds');
    // Keel's own delay metric leaves out the 10 ms sampling interval that prom-client's keeps.
    const value = (series: string) =>
      Number(
        text
          .split('\n')
          .find((l) => l.startsWith(`${series} `))
          ?.split(' ')[1],
      );
    const lag = value('nodejs_eventloop_lag_p50_seconds');
    const delay = value('keel_event_loop_delay_seconds{quantile="0.5"}');
    expect(lag).toBeGreaterThanOrEqual(0.009);
    expect(delay).toBeGreaterThanOrEqual(0);
    expect(delay).toBeLessThan(lag - 0.005);
    expect(text).toContain('process_cpu_seconds_total');
    expect(text).toMatch(/^keel_runtime_pool_threads \d+$/m);
    expect(text).toMatch(/^keel_runtime_cpu_quota_cores /m);
    expect(text).toMatch(/^keel_runtime_memory_limit_bytes /m);
    expect(text).toMatch(/^keel_job_pool_threads \d+$/m);
    expect(text).toMatch(/^keel_runtime_info\{cgroup_version="/m);
  });

  it('logs JSON with the request id, taking a sane caller id and echoing it', async () => {
    const res = await keel.request('GET', '/v1/collections', undefined, {
      'x-request-id': 'trace-abc.123',
    });
    expect(res.headers.get('x-request-id')).toBe('trace-abc.123');
    const weird = await keel.request('GET', '/v1/collections', undefined, {
      'x-request-id': 'bad id with spaces',
    });
    expect(weird.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    // The log line reaches us through the child's stdout pipe: wait for it, not a fixed time.
    await expect
      .poll(() => keel.logs.some((l) => l.includes('trace-abc.123')), { timeout: 5_000 })
      .toBe(true);
    const line = keel.logs.find((l) => l.includes('trace-abc.123'));
    const parsed = JSON.parse(line!);
    expect(parsed.requestId).toBe('trace-abc.123');
    expect(typeof parsed.level).toBe('number');
  });

  it('logs what it detected about the container at boot', () => {
    const boot = keel.logs
      .map((l) => JSON.parse(l))
      .find((l) => String(l.msg).startsWith('runtime:'));
    expect(boot).toBeDefined();
    expect(boot.sizing.poolThreads).toBeGreaterThanOrEqual(1);
    expect(boot.runtime).toHaveProperty('cpuQuotaCores');
  });

  it('serves Swagger UI and an OpenAPI document equal to the committed one', async () => {
    const ui = await keel.request('GET', '/docs');
    expect(ui.status).toBe(200);
    expect(ui.text).toContain('swagger');
    const live = await keel.request('GET', '/docs-json');
    const committed = JSON.parse(readFileSync(join(REPO_ROOT, 'docs/openapi.json'), 'utf8'));
    // When this fails, the API changed: run `npm run openapi` and commit docs/openapi.json.
    expect(live.body).toEqual(committed);
    expect(Object.keys(live.body.paths)).toEqual(
      expect.arrayContaining([
        '/v1/collections',
        '/v1/collections/{name}/documents',
        '/v1/retrieve',
        '/v1/rerank',
        '/v1/pack',
        '/v1/query',
        '/v1/jobs/{id}',
      ]),
    );
  });

  it('guards deletes with the admin token once one is configured', async () => {
    await keel.request('POST', '/v1/collections', { name: 'guarded' });
    const denied = await keel.request('DELETE', '/v1/collections/guarded');
    expect(denied.status).toBe(401);
    expect(denied.body.code).toBe('UNAUTHORIZED');
    const wrong = await keel.request('DELETE', '/v1/collections/guarded', undefined, {
      authorization: 'Bearer nope',
    });
    expect(wrong.status).toBe(401);
    expect((await keel.request('GET', '/v1/collections/guarded')).status).toBe(200);
    const ok = await keel.request('DELETE', '/v1/collections/guarded', undefined, {
      authorization: `Bearer ${TOKEN}`,
    });
    expect(ok.status).toBe(204);
  });

  it('shuts down gracefully on SIGTERM', async () => {
    const code = await keel.stop('SIGTERM');
    // Nest re-raises the signal once its shutdown hooks have run.
    expect(code === 0 || keel.child.signalCode === 'SIGTERM').toBe(true);
    expect(keel.logs.some((l) => l.includes('job runner stopped'))).toBe(true);
  });
});
