// The KEDA ScaledObjects count the Redis keys Keel's BullMQ queues really use: the manifests are
// rendered as `kubectl apply -k` would apply them, and their listNames are checked against the
// keys a running Keel API and worker write, for the base prefix and for prod's Redis Cluster one.
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  REPO_ROOT,
  startKeel,
  startKeelWorker,
  tempDir,
  type KeelServer,
} from '../support/keel-server.js';
import { RedisServer } from '../support/redis.js';

interface K8sObject {
  kind: string;
  metadata: { name: string };
  data?: Record<string, string>;
  spec?: any;
}

const OVERLAYS = ['base', 'dev', 'prod'] as const;
/** The BullMQ keys a ScaledObject may count, and the Redis type each has. */
const STATE_TYPES: Record<string, string> = {
  wait: 'list',
  prioritized: 'zset',
  active: 'list',
  delayed: 'zset',
};

const rendered = tempDir('keel-k8s-');
const manifests: Record<string, K8sObject[]> = {};

function prefixOf(objects: K8sObject[]): string {
  const config = objects.find(
    (o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith('keel-config'),
  );
  const prefix = config?.data?.KEEL_QUEUE_PREFIX;
  if (!prefix) throw new Error('no KEEL_QUEUE_PREFIX in keel-config');
  return prefix;
}

/** Each ScaledObject with the queues its target Deployment consumes. */
function scaledObjects(objects: K8sObject[]) {
  return objects
    .filter((o) => o.kind === 'ScaledObject')
    .map((so) => {
      const target = objects.find(
        (o) => o.kind === 'Deployment' && o.metadata.name === so.spec.scaleTargetRef.name,
      );
      const args: string[] = target?.spec.template.spec.containers[0].args ?? [];
      const queues = args[args.indexOf('--queues') + 1]?.split(',') ?? [];
      const triggers = (
        so.spec.triggers as Array<{ name: string; type: string; metadata: { listName: string } }>
      ).map((t) => ({ name: t.name, type: t.type, listName: t.metadata.listName }));
      return { name: so.metadata.name, queues, triggers, spec: so.spec };
    });
}

let validation: { status: number | null; output: string };

beforeAll(() => {
  // kubeconform -strict against the Kubernetes and KEDA schemas, hadolint and the wiring checks;
  // it leaves the rendered overlays behind for the checks below.
  const run = spawnSync(
    'bash',
    [join(REPO_ROOT, 'scripts/validate-k8s.sh'), '--render-dir', rendered],
    {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      timeout: 600_000,
    },
  );
  validation = { status: run.status, output: `${run.stdout}${run.stderr}` };
  for (const overlay of OVERLAYS) {
    manifests[overlay] = JSON.parse(
      readFileSync(join(rendered, `${overlay}.json`), 'utf8'),
    ) as K8sObject[];
  }
}, 600_000);

afterAll(() => rmSync(rendered, { recursive: true, force: true }));

describe('rendered ScaledObjects', () => {
  it('validate-k8s.sh passes (kubeconform -strict, KEDA CRDs, hadolint, wiring)', () => {
    expect(validation.output).toMatch(/manifests valid/);
    expect(validation.status).toBe(0);
  });

  it.each(OVERLAYS)('%s: every worker queue is counted under the configured prefix', (overlay) => {
    const objects = manifests[overlay];
    const prefix = prefixOf(objects);
    const groups = scaledObjects(objects);
    expect(groups.map((g) => g.name).sort()).toEqual(['keel-worker-batch', 'keel-worker-query']);
    for (const group of groups) {
      expect(group.queues.length).toBeGreaterThan(0);
      for (const trigger of group.triggers) {
        expect(trigger.type).toBe('redis');
        const [p, queue, state, ...rest] = trigger.listName.split(':');
        expect(rest).toEqual([]);
        expect(p).toBe(prefix);
        expect(group.queues).toContain(queue);
        expect(Object.keys(STATE_TYPES)).toContain(state);
        // The formula must use every trigger it names.
        expect(group.spec.advanced.scalingModifiers.formula).toContain(trigger.name);
      }
      for (const queue of group.queues) {
        for (const state of ['wait', 'prioritized', 'active']) {
          expect(group.triggers.map((t) => t.listName)).toContain(`${prefix}:${queue}:${state}`);
        }
      }
      // Target: the jobs one pod runs at once, which is the worker's concurrency.
      const deployment = objects.find(
        (o) => o.kind === 'Deployment' && o.metadata.name === group.name,
      )!;
      const groupConfig = objects.find(
        (o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith(group.name),
      );
      const env = deployment.spec.template.spec.containers[0].env as Array<{
        name: string;
        value?: string;
      }>;
      const concurrency =
        groupConfig?.data?.KEEL_WORKER_CONCURRENCY ??
        env.find((e) => e.name === 'KEEL_WORKER_CONCURRENCY')?.value;
      expect(group.spec.advanced.scalingModifiers.target).toBe(concurrency);
    }
  });
});

describe('the keys Keel writes to Redis', () => {
  let redis: RedisServer;
  let client: Redis;

  beforeAll(async () => {
    redis = await RedisServer.start();
    client = redis.client();
  });

  afterAll(async () => {
    client?.disconnect();
    await redis?.dispose();
  });

  const prefixes = () => [...new Set(OVERLAYS.map((o) => prefixOf(manifests[o])))];

  it('are the keys, of the types, that the ScaledObjects count', async () => {
    for (const prefix of prefixes()) {
      const dataDir = tempDir('keel-k8s-keys-');
      const env = { REDIS_URL: redis.url, KEEL_QUEUE_PREFIX: prefix };
      let api: KeelServer | undefined;
      let worker: KeelServer | undefined;
      const seen = new Map<string, string>();
      const look = async () => {
        for (const key of await client.keys(`${prefix}:*`)) seen.set(key, await client.type(key));
      };
      try {
        api = await startKeel({ dataDir, env });
        await api.request('POST', '/v1/collections', { name: 'k' });
        // wait: an ingest job and a rerank job, with no worker to take them.
        const docs = Array.from({ length: 1_000 }, (_, i) => ({
          id: `d${i}`,
          text: `worker pool quota ${'cgroup latency queue '.repeat(300)} ${i}`,
        }));
        await api.request('POST', '/v1/collections/k/documents', { documents: docs });
        await api.request('POST', '/v1/collections/k/documents', { documents: docs.slice(0, 5) });
        const query = api.request(
          'POST',
          '/v1/rerank',
          { query: 'worker pool', candidates: [{ id: 'a', text: 'worker pool quota' }] },
          { 'x-keel-timeout-ms': '4000' },
        );
        await new Promise((r) => setTimeout(r, 500));
        await look();
        // prioritized and delayed: Keel does not set priorities or delays itself, but BullMQ
        // writes them (a retry's back-off is a delay): add such jobs the way BullMQ does.
        for (const name of ['ingest', 'eval', 'rerank', 'pack']) {
          const connection = redis.client();
          const q = new Queue(name, { connection, prefix });
          const probes = [
            await q.add('probe', {}, { priority: 1 }),
            await q.add('probe', {}, { delay: 60_000 }),
          ];
          await look();
          // Out again before a worker could take them (Keel's workers refuse unknown jobs).
          for (const probe of probes) await probe.remove();
          await q.close();
          connection.disconnect();
        }
        await query;
        // active: a worker running the big ingest job (watched from before it starts).
        const starting = startKeelWorker('ingest', { dataDir, env, args: ['--concurrency', '1'] });
        for (let i = 0; i < 1_500 && !seen.has(`${prefix}:ingest:active`); i++) {
          await look();
          await new Promise((r) => setTimeout(r, 10));
        }
        worker = await starting;
      } finally {
        await worker?.stop();
        await api?.dispose();
        rmSync(dataDir, { recursive: true, force: true });
      }
      for (const overlay of OVERLAYS) {
        if (prefixOf(manifests[overlay]) !== prefix) continue;
        for (const group of scaledObjects(manifests[overlay])) {
          for (const { listName } of group.triggers) {
            const [, queue, state] = listName.split(':');
            // Only the states this test put jobs in on this queue.
            const populated =
              state === 'prioritized' ||
              state === 'delayed' ||
              queue === 'ingest' ||
              (queue === 'rerank' && state === 'wait');
            if (!populated) continue;
            expect({ listName, type: seen.get(listName) }).toEqual({
              listName,
              type: STATE_TYPES[state],
            });
          }
        }
      }
      expect(seen.get(`${prefix}:ingest:active`)).toBe('list');
      expect(seen.get(`${prefix}:ingest:wait`)).toBe('list');
      expect(seen.get(`${prefix}:rerank:wait`)).toBe('list');
      await client.flushall();
    }
  }, 180_000);
});
