// The KEDA ScaledObjects count the Redis keys Keel's BullMQ queues really use: the manifests are
// rendered as `kubectl apply -k` would apply them, and their listNames are checked against the
// queues each scaled Deployment's process consumes when started with the Deployment's own args,
// and against the keys a running Keel API and worker write, for the base prefix and for prod's
// Redis Cluster one. The API's ScaledObject also counts agent runs per pod: its target is checked
// against the runs one API process really executes at once.
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { API_CPU_UTILIZATION_TARGET } from '@keel/loadtest';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  REPO_ROOT,
  startKeel,
  startKeelCommand,
  startKeelWorker,
  tempDir,
  type KeelServer,
} from '../support/keel-server.js';
import { startScriptedLlm, type ScriptedLlm } from '../support/llm-server.js';
import { RedisServer } from '../support/redis.js';
import { until } from '../support/until.js';

interface K8sObject {
  kind: string;
  metadata: { name: string };
  data?: Record<string, string>;
  spec?: any;
}

interface Trigger {
  name?: string;
  type: string;
  metricType?: string;
  metadata: Record<string, string>;
}

const OVERLAYS = ['base', 'dev', 'prod'] as const;
/** The ScaledObjects each overlay renders: dev runs one API pod over a shared volume, unscaled. */
const SCALED: Record<(typeof OVERLAYS)[number], string[]> = {
  base: ['keel-api', 'keel-worker-batch', 'keel-worker-query'],
  dev: ['keel-worker-batch', 'keel-worker-query'],
  prod: ['keel-api', 'keel-worker-batch', 'keel-worker-query'],
};
/** The BullMQ keys a ScaledObject may count, and the Redis type each has. */
const STATE_TYPES: Record<string, string> = {
  wait: 'list',
  prioritized: 'zset',
  active: 'list',
  delayed: 'zset',
};

const rendered = tempDir('keel-k8s-');
const manifests: Record<string, K8sObject[]> = {};

/** A generated ConfigMap by its name before kustomize's hash suffix. */
function configMap(objects: K8sObject[], name: string): Record<string, string> | undefined {
  return objects.find(
    (o) => o.kind === 'ConfigMap' && new RegExp(`^${name}-[a-z0-9]{10}$`).test(o.metadata.name),
  )?.data;
}

function prefixOf(objects: K8sObject[]): string {
  const prefix = configMap(objects, 'keel-config')?.KEEL_QUEUE_PREFIX;
  if (!prefix) throw new Error('no KEEL_QUEUE_PREFIX in keel-config');
  return prefix;
}

/** Each ScaledObject with its target Deployment's container and the queues its triggers count. */
function scaledObjects(objects: K8sObject[]) {
  return objects
    .filter((o) => o.kind === 'ScaledObject')
    .map((so) => {
      const deployment = objects.find(
        (o) => o.kind === 'Deployment' && o.metadata.name === so.spec.scaleTargetRef.name,
      );
      if (!deployment) throw new Error(`${so.metadata.name} scales no rendered Deployment`);
      const container = deployment.spec.template.spec.containers[0] as {
        args: string[];
        env?: Array<{ name: string; value?: string }>;
      };
      const triggers = so.spec.triggers as Trigger[];
      const redis = triggers
        .filter((t) => t.type === 'redis')
        .map((t) => ({ name: t.name ?? '', listName: t.metadata.listName }));
      const counted = [...new Set(redis.map((t) => t.listName.split(':')[1]))].sort();
      return {
        name: so.metadata.name,
        container,
        triggers,
        redis,
        counted,
        spec: so.spec,
      };
    });
}

/**
 * The queues that processes connected to Redis consume, as BullMQ itself finds a queue's workers
 * (Queue#getWorkers, over CLIENT LIST): a Worker names its blocking connection
 * `<prefix>:<base64(queue)>`, with `:w:<name>` after it for a named worker; QueueEvents (a
 * producer waiting for results) end in `:qe` and do not count.
 */
async function consumedQueues(client: Redis, prefix: string): Promise<string[]> {
  const list = (await client.call('CLIENT', 'LIST')) as string;
  const queues = new Set<string>();
  for (const line of list.split('\n')) {
    const name = /(?:^| )name=(\S*)/.exec(line)?.[1] ?? '';
    if (!name.startsWith(`${prefix}:`)) continue;
    const [encoded, suffix] = name.slice(prefix.length + 1).split(':');
    if (suffix === undefined || suffix === 'w') {
      queues.add(Buffer.from(encoded, 'base64').toString('utf8'));
    }
  }
  return [...queues].sort();
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

  it('no HorizontalPodAutoscaler is rendered beside the ScaledObjects (KEDA makes its own)', () => {
    for (const overlay of OVERLAYS) {
      expect(manifests[overlay].filter((o) => o.kind === 'HorizontalPodAutoscaler')).toEqual([]);
    }
  });

  it.each(OVERLAYS)(
    '%s: every trigger counts a queue key under the configured prefix',
    (overlay) => {
      const objects = manifests[overlay];
      const prefix = prefixOf(objects);
      const groups = scaledObjects(objects);
      expect(groups.map((g) => g.name).sort()).toEqual(SCALED[overlay]);
      for (const group of groups) {
        expect(group.counted.length).toBeGreaterThan(0);
        for (const trigger of group.redis) {
          const [p, queue, state, ...rest] = trigger.listName.split(':');
          expect(rest).toEqual([]);
          expect(p).toBe(prefix);
          expect(Object.keys(STATE_TYPES)).toContain(state);
          expect(trigger.name).toBe(`${queue}_${state}`);
          // The formula must use every trigger it names.
          expect(group.spec.advanced.scalingModifiers.formula).toContain(trigger.name);
        }
        for (const queue of group.counted) {
          for (const state of ['wait', 'prioritized', 'active']) {
            expect(group.redis.map((t) => t.listName)).toContain(`${prefix}:${queue}:${state}`);
          }
        }
      }
    },
  );

  it.each(OVERLAYS)(
    '%s: each target is the jobs one pod runs at once, by its setting',
    (overlay) => {
      const objects = manifests[overlay];
      for (const group of scaledObjects(objects)) {
        const target = group.spec.advanced.scalingModifiers.target;
        if (group.container.args[0] === 'serve') {
          // Agent runs per API pod: KEEL_AGENT_CONCURRENCY of the API's ConfigMap.
          expect(target).toBe(configMap(objects, 'keel-api')?.KEEL_AGENT_CONCURRENCY);
          continue;
        }
        const concurrency =
          configMap(objects, group.name)?.KEEL_WORKER_CONCURRENCY ??
          group.container.env?.find((e) => e.name === 'KEEL_WORKER_CONCURRENCY')?.value;
        expect(target).toBe(concurrency);
      }
    },
  );

  it.each(['base', 'prod'] as const)(
    '%s: the API keeps its CPU trigger beside the agent backlog, bounds and behaviour',
    (overlay) => {
      const api = scaledObjects(manifests[overlay]).find((g) => g.name === 'keel-api')!;
      // KEDA hands cpu triggers to its HPA as Resource metrics, outside the formula: no name, no
      // containerName (a ContainerResource metric is dropped when there is a formula).
      expect(api.triggers.filter((t) => t.type !== 'redis')).toEqual([
        { type: 'cpu', metricType: 'Utilization', metadata: { value: '70' } },
      ]);
      // keel capacity's CPU cross-check assumes the same target.
      const cpu = api.triggers.find((t) => t.type === 'cpu');
      expect(Number(cpu?.metadata.value) / 100).toBe(API_CPU_UTILIZATION_TARGET);
      expect(api.spec.advanced.scalingModifiers).toMatchObject({
        formula: 'agent_wait + agent_prioritized + agent_active',
        metricType: 'AverageValue',
      });
      expect([api.spec.minReplicaCount, api.spec.maxReplicaCount]).toEqual(
        overlay === 'prod' ? [3, 30] : [2, 10],
      );
      expect(api.spec.fallback).toMatchObject({
        failureThreshold: 3,
        behavior: 'currentReplicasIfHigher',
      });
      const behavior = api.spec.advanced.horizontalPodAutoscalerConfig.behavior;
      expect(behavior.scaleUp.policies).toEqual([
        { type: 'Percent', value: 100, periodSeconds: 30 },
        { type: 'Pods', value: 4, periodSeconds: 30 },
      ]);
      expect(behavior.scaleDown).toEqual({
        stabilizationWindowSeconds: 300,
        policies: [{ type: 'Percent', value: 25, periodSeconds: 60 }],
      });
      const pdb = manifests[overlay].find(
        (o) => o.kind === 'PodDisruptionBudget' && o.metadata.name === 'keel-api',
      );
      expect(pdb?.spec.maxUnavailable).toBe(1);
    },
  );
});

describe('against a real redis-server', () => {
  let redis: RedisServer;
  let client: Redis;
  let llm: ScriptedLlm;

  beforeAll(async () => {
    redis = await RedisServer.start();
    client = redis.client();
    llm = await startScriptedLlm();
  });

  afterAll(async () => {
    client?.disconnect();
    await llm?.close();
    await redis?.dispose();
  });

  const prefixes = () => [...new Set(OVERLAYS.map((o) => prefixOf(manifests[o])))];

  it('each ScaledObject counts the queues its Deployment consumes, run with its own args', async () => {
    // One process at a time, so what CLIENT LIST shows is that process's.
    const seen = new Map<string, string[]>();
    for (const overlay of OVERLAYS) {
      const prefix = prefixOf(manifests[overlay]);
      for (const group of scaledObjects(manifests[overlay])) {
        const key = `${prefix} ${group.container.args.join(' ')}`;
        if (!seen.has(key)) {
          const running = await startKeelCommand(group.container.args, {
            env: { REDIS_URL: redis.url, KEEL_QUEUE_PREFIX: prefix },
          });
          try {
            // Ready can come a moment before the last Worker has named its connection: read
            // until two reads 250 ms apart agree.
            let consumed: string[] = [];
            let previous = '';
            await until(async () => {
              consumed = await consumedQueues(client, prefix);
              const now = consumed.join(',');
              const stable = now !== '' && now === previous;
              previous = now;
              if (!stable) await new Promise((r) => setTimeout(r, 250));
              return stable;
            });
            seen.set(key, consumed);
          } finally {
            await running.dispose();
          }
        }
        const consumed = seen.get(key)!;
        expect(
          consumed.length,
          `${group.container.args.join(' ')} consumes nothing`,
        ).toBeGreaterThan(0);
        expect({ scaledObject: group.name, counts: group.counted }).toEqual({
          scaledObject: group.name,
          counts: consumed,
        });
      }
    }
    // The API's own queue, which its CPU does not follow.
    expect(seen.get('bull serve')).toEqual(['agent']);
  }, 120_000);

  it('are the keys, of the types, that the ScaledObjects count; the API runs its target at once', async () => {
    for (const prefix of prefixes()) {
      // The overlay whose API ScaledObject this prefix's run checks (base for bull, prod for {bull}).
      const overlay = OVERLAYS.find(
        (o) => prefixOf(manifests[o]) === prefix && SCALED[o].includes('keel-api'),
      )!;
      const apiTarget = Number(
        scaledObjects(manifests[overlay]).find((g) => g.name === 'keel-api')!.spec.advanced
          .scalingModifiers.target,
      );
      const agentConcurrency = configMap(manifests[overlay], 'keel-api')!.KEEL_AGENT_CONCURRENCY;
      const dataDir = tempDir('keel-k8s-keys-');
      const env = { REDIS_URL: redis.url, KEEL_QUEUE_PREFIX: prefix };
      let api: KeelServer | undefined;
      let worker: KeelServer | undefined;
      const seen = new Map<string, string>();
      const look = async () => {
        for (const key of await client.keys(`${prefix}:*`)) seen.set(key, await client.type(key));
      };
      let agentActive: number | undefined;
      let agentWaiting: number | undefined;
      try {
        api = await startKeel({
          dataDir,
          env: {
            ...env,
            LLM_URL: llm.url,
            LLM_MODEL: 'scripted',
            LLM_MAX_RETRIES: '0',
            KEEL_AGENT_CONCURRENCY: agentConcurrency,
          },
        });
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
        // agent active and wait: async runs whose model never answers, one more than the API
        // executes at once; the API itself takes them off the queue.
        const runs = Number(agentConcurrency) + 1;
        llm.push(...Array.from({ length: runs }, () => ({ hang: true })));
        for (let i = 0; i < runs; i++) {
          const created = await api.request('POST', '/v1/agent/runs', {
            input: `run ${i}`,
            tools: [],
            async: true,
          });
          expect(created.status, created.text).toBe(202);
        }
        // Until every run is in the queue and the API has taken all it will take: the running
        // count holds still for 250 ms (a job moves from wait to active in one step).
        let last = -1;
        await until(async () => {
          agentActive = await client.llen(`${prefix}:agent:active`);
          agentWaiting = await client.llen(`${prefix}:agent:wait`);
          const settled = agentActive + agentWaiting === runs && agentActive === last;
          last = agentActive;
          if (!settled) await new Promise((r) => setTimeout(r, 250));
          return settled;
        });
        await look();
        // prioritized and delayed: Keel does not set priorities or delays itself, but BullMQ
        // writes them (a retry's back-off is a delay): add such jobs the way BullMQ does.
        for (const name of ['ingest', 'eval', 'rerank', 'pack', 'agent']) {
          const connection = redis.client();
          const q = new Queue(name, { connection, prefix });
          const probes = [
            await q.add('probe', {}, { priority: 1 }),
            await q.add('probe', {}, { delay: 60_000 }),
          ];
          await look();
          // Out again before a worker could take them (Keel's workers refuse unknown jobs; the
          // API's agent slots are all taken by the runs above).
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
      // One API pod runs exactly `target` agent runs; the one over it waits in the queue, where
      // the ScaledObject counts it towards another pod.
      expect({ active: agentActive, waiting: agentWaiting }).toEqual({
        active: apiTarget,
        waiting: 1,
      });
      for (const overlay of OVERLAYS) {
        if (prefixOf(manifests[overlay]) !== prefix) continue;
        for (const group of scaledObjects(manifests[overlay])) {
          for (const { listName } of group.redis) {
            const [, queue, state] = listName.split(':');
            // Only the states this test put jobs in on this queue.
            const populated =
              state === 'prioritized' ||
              state === 'delayed' ||
              queue === 'ingest' ||
              (queue === 'rerank' && state === 'wait') ||
              (queue === 'agent' && (state === 'wait' || state === 'active'));
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
      expect(seen.get(`${prefix}:agent:active`)).toBe('list');
      expect(seen.get(`${prefix}:agent:wait`)).toBe('list');
      await client.flushall();
    }
  }, 180_000);
});
