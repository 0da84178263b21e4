// The diagnostic setting the event-loop benchmark compares against: with
// KEEL_DIAGNOSTIC_INLINE_QUEUES=rerank, rerank jobs run on the API's event loop, not in the pool.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKeel, type KeelServer } from '../support/keel-server.js';

const body = {
  query: 'worker pool quota',
  candidates: [
    { id: 'a', text: 'the worker pool follows the cpu quota' },
    { id: 'b', text: 'bread rises with a sourdough starter' },
  ],
  topK: 2,
};

const rerankJobs = (metrics: string) =>
  metrics.split('\n').filter((l) => l.startsWith('keel_job_duration_seconds_count{queue="rerank"'));

describe('KEEL_DIAGNOSTIC_INLINE_QUEUES', () => {
  let inline: KeelServer;
  let normal: KeelServer;
  beforeAll(async () => {
    [inline, normal] = await Promise.all([
      startKeel({ env: { KEEL_DIAGNOSTIC_INLINE_QUEUES: 'rerank' } }),
      startKeel(),
    ]);
  });
  afterAll(async () => {
    await Promise.all([inline?.dispose(), normal?.dispose()]);
  });

  it('runs rerank on the event loop, says so at boot and in readiness, and answers the same', async () => {
    const a = await inline.request('POST', '/v1/rerank', body);
    const b = await normal.request('POST', '/v1/rerank', body);
    expect(a.status).toBe(200);
    expect(a.body.results).toEqual(b.body.results);
    expect(rerankJobs((await inline.request('GET', '/metrics')).text)).toEqual([]);
    expect(rerankJobs((await normal.request('GET', '/metrics')).text)).not.toEqual([]);
    expect(
      inline.logs.some((l) => l.includes('DIAGNOSTIC: jobs of rerank run on the API event loop')),
    ).toBe(true);
    const ready = (await inline.request('GET', '/health/ready')).body;
    expect(ready.details.jobs.diagnosticInlineQueues).toEqual(['rerank']);
  });

  it('refuses an unknown queue at boot', async () => {
    await expect(
      startKeel({ env: { KEEL_DIAGNOSTIC_INLINE_QUEUES: 'rerank,nope' } }),
    ).rejects.toThrow(/KEEL_DIAGNOSTIC_INLINE_QUEUES/);
  });
});
