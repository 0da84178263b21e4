// The harness's node control, which fault tests of the OpenSearch backend rely on: a clean stop
// and a crash both come back on the same URL with the data acknowledged before them, and a paused
// node hangs requests until it is resumed.
import { afterAll, describe, expect, it } from 'vitest';
import {
  canControlOpenSearch,
  openSearchState,
  openSearchUrl,
  pauseOpenSearch,
  resumeOpenSearch,
  startOpenSearch,
  stopOpenSearch,
} from '../support/opensearch.js';

const INDEX = `keel-control-${process.pid}`;
// Each case restarts the JVM once: 10-20 s on this machine.
const RESTART_TIMEOUT_MS = 240_000;

async function os(method: string, path: string, body?: unknown, timeoutMs = 30_000) {
  const res = await fetch(`${openSearchUrl()}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  return { status: res.status, body: (await res.json()) as any };
}

/** After a restart the index's shard is recovering (from the translog after a crash). */
async function waitGreen() {
  const health = await os('GET', `/_cluster/health/${INDEX}?wait_for_status=green&timeout=60s`);
  expect(health.body.status).toBe('green');
}

describe.skipIf(!canControlOpenSearch())('OpenSearch node control (harness)', () => {
  afterAll(async () => {
    // Whatever failed above, leave a running node to the files after this one.
    await startOpenSearch();
    await os('DELETE', `/${INDEX}`).catch(() => undefined);
  });

  it(
    'stops cleanly and starts again on the same URL with its data',
    async () => {
      const created = await os('PUT', `/${INDEX}`, {
        settings: { number_of_shards: 1, number_of_replicas: 0 },
      });
      expect(created.status).toBe(200);
      expect(
        (await os('PUT', `/${INDEX}/_doc/before-stop?refresh=wait_for`, { n: 1 })).status,
      ).toBe(201);

      const before = await openSearchState();
      expect(before.running).toBe(true);
      const stopped = await stopOpenSearch();
      expect(stopped).toMatchObject({ running: false, pid: null });
      await expect(
        fetch(openSearchUrl(), { signal: AbortSignal.timeout(2_000) }),
      ).rejects.toThrow();

      const started = await startOpenSearch();
      expect(started).toMatchObject({ running: true, url: before.url, port: before.port });
      expect(started.pid).not.toBe(before.pid);
      await waitGreen();
      const doc = await os('GET', `/${INDEX}/_doc/before-stop`);
      expect(doc.body).toMatchObject({ found: true, _source: { n: 1 } });
    },
    RESTART_TIMEOUT_MS,
  );

  it(
    'survives a crash (SIGKILL): an acknowledged write comes back from the translog',
    async () => {
      // No refresh, no flush: only the translog (fsynced before the ack) has it.
      expect((await os('PUT', `/${INDEX}/_doc/before-crash`, { n: 2 })).status).toBe(201);
      const stopped = await stopOpenSearch('SIGKILL');
      expect(stopped.lastExit).toBe('SIGKILL');

      await startOpenSearch();
      await waitGreen();
      const doc = await os('GET', `/${INDEX}/_doc/before-crash`);
      expect(doc.body).toMatchObject({ found: true, _source: { n: 2 } });
    },
    RESTART_TIMEOUT_MS,
  );

  it('pauses (SIGSTOP): requests hang until it resumes', async () => {
    const paused = await pauseOpenSearch();
    expect(paused.paused).toBe(true);
    const started = Date.now();
    await expect(os('GET', '/', undefined, 1_500)).rejects.toThrow(/timeout|aborted/i);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_400);

    // A request sent while paused is answered once the node runs again.
    const pending = os('GET', `/${INDEX}/_doc/before-stop`, undefined, 30_000);
    await new Promise((r) => setTimeout(r, 300));
    expect((await resumeOpenSearch()).paused).toBe(false);
    expect((await pending).body.found).toBe(true);
  });
});
