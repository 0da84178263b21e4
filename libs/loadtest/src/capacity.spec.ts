import { describe, expect, it } from 'vitest';
import {
  DEFAULT_GROUPS,
  parseGroup,
  planCapacity,
  renderPatch,
  renderPlan,
  type CapacityInput,
} from './capacity.js';
import type { StepResult } from './engine.js';
import { LOADTEST_KIND, LOADTEST_VERSION, type LoadTestResult } from './result.js';

const latency = { count: 400, min: 2, mean: 20, p50: 15, p90: 40, p99: 90, p999: 150, max: 160 };

/** A step of a distributed run at 40 requests/s with the figures the worked example uses. */
function step(index: number, rps: number, status: 'held' | 'broke'): StepResult {
  return {
    index,
    label: `step ${rps} rps for 10 s`,
    plan: { kind: 'step', fromRps: rps, toRps: rps, seconds: 10 },
    offeredRps: rps,
    counts: {
      scheduled: rps * 10,
      sent: rps * 10,
      dropped: 0,
      late: 0,
      completed: rps * 10,
      ok: rps * 10,
      errors: 0,
    },
    rates: { sendRps: rps, throughputRps: rps },
    latencyMs: latency,
    serviceTimeMs: latency,
    sendLagMs: latency,
    latencyHistogramUs: '',
    byEndpoint: {},
    errors: { byStatus: {}, byCode: {} },
    timing: { startMs: 0, lastSendMs: 9_990, drainedMs: 10_050 },
    server: {
      windowSeconds: 10,
      responses: 400,
      cpuSeconds: 8,
      cpuCores: 0.8,
      cpuSecondsPerRequest: 0.02,
      rssBytes: 200 * 2 ** 20,
      eventLoopDelayP99Ms: 3,
      queueDepth: 0,
      queueDepthSource: 'keel_queue_jobs{state="wait"}',
      queueWaiting: { rerank: 0, pack: 0 },
      poolQueueDepth: 0,
      jobs: { search: { count: 400, meanMs: 2 } },
      remoteJobs: { rerank: { count: 120, meanMs: 15 }, pack: { count: 120, meanMs: 7 } },
      jobsPerRequest: { search: 1, rerank: 0.3, pack: 0.3 },
    },
    serverError: null,
    workers: [
      {
        url: 'http://127.0.0.1:3001/metrics',
        windowSeconds: 10,
        cpuSeconds: 2,
        cpuCores: 0.2,
        jobs: { rerank: { count: 120, meanMs: 12 }, pack: { count: 120, meanMs: 5 } },
        concurrency: { rerank: 1, pack: 1 },
        error: null,
      },
    ],
    truncated: null,
    verdict: {
      status,
      reasons: status === 'held' ? [] : ['p99 300 ms > SLO 250 ms'],
      errorRate: 0,
      lateOrDroppedRate: 0,
    },
  };
}

function result(over: Partial<LoadTestResult> = {}): LoadTestResult {
  return {
    kind: LOADTEST_KIND,
    version: LOADTEST_VERSION,
    id: 'loadtest-test',
    startedAt: '2026-01-01T00:00:00.000Z',
    finishedAt: '2026-01-01T00:01:00.000Z',
    target: { url: 'http://127.0.0.1:3000', collection: 'scifact', mode: 'distributed' },
    setup: {
      health: { status: 200, details: {} },
      runtime: {
        cpuQuotaCores: 1,
        memoryLimitBytes: 2 ** 30,
        hostCores: 2,
        effectiveCpus: 1,
        poolThreads: 1,
        uvThreadpoolSize: 4,
        heapSizeLimitBytes: 9e8,
        cgroupVersion: '2',
        cpuSource: 'cpu.max',
        memorySource: 'memory.max',
      },
      workers: [
        {
          url: 'http://127.0.0.1:3001/metrics',
          concurrency: { rerank: 1, pack: 1 },
          runtime: null,
          error: null,
        },
      ],
      generator: { node: 'v24', platform: 'linux', hostCores: 2 },
    },
    options: {} as LoadTestResult['options'],
    steps: [step(0, 20, 'held'), step(1, 40, 'held'), step(2, 60, 'broke')],
    totals: {} as LoadTestResult['totals'],
    stopped: 'broken',
    capacity: {
      highestRateHeld: 40,
      heldStep: 1,
      brokenStep: 2,
      lowerBound: false,
      sloP99Ms: 250,
      errorBudget: 0.01,
    },
    ...over,
  };
}

const input = (over: Partial<CapacityInput> = {}): CapacityInput => ({
  result: result(),
  source: 'loadtest.json',
  peakRps: 500,
  headroom: 0.7,
  groups: DEFAULT_GROUPS,
  workerCpu: 1,
  apiMinReplicas: 2,
  ...over,
});

describe('planCapacity (worked example: 40 rps held per pod, peak 500, headroom 0.7)', () => {
  it('API: ceil(500 / (40 × 0.7)) = ceil(17.857) = 18 pods; CPU cross-check ceil(0.02 × 500 / 0.7) = 15', () => {
    const plan = planCapacity(input());
    expect(plan.api).toMatchObject({
      capacityRps: 40,
      targetRps: 28,
      replicasAtPeak: 18,
      minReplicaCount: 2,
      maxReplicaCount: 18,
      cpuReplicasAtPeak: 15,
    });
    const n = plan.api.derivations.find((d) => d.symbol === 'N')!;
    expect(n.arithmetic).toBe('ceil(P / (C×h)) = ceil(500 / 28) = ceil(17.857) = 18');
    expect(n.source).toBe('ScaledObject keel-api maxReplicaCount');
    expect(plan.api.derivations[0].source).toMatch(/step 2 .*p99 90 ms ≤ SLO 250 ms/);
  });

  it("query workers by Little's law: 500 × 0.3 × 12 ms + 500 × 0.3 × 5 ms = 2.55 busy slots → ceil(2.55 / 0.7) = 4 pods", () => {
    const plan = planCapacity(input());
    const query = plan.groups.find((g) => g.name === 'query')!;
    expect(query.measured).toBe(true);
    expect(query.concurrency).toBe(1);
    expect(query.concurrencySource).toMatch(/keel_worker_concurrency of http:\/\/127.0.0.1:3001/);
    expect(query.queueFigures).toEqual([
      expect.objectContaining({
        queue: 'rerank',
        jobsPerRequest: 0.3,
        meanJobMs: 12,
        jobsPerSecondAtPeak: 150,
        busySlotsAtPeak: 1.8,
      }),
      expect.objectContaining({
        queue: 'pack',
        jobsPerRequest: 0.3,
        meanJobMs: 5,
        jobsPerSecondAtPeak: 150,
        busySlotsAtPeak: 0.75,
      }),
    ]);
    expect(query.busySlotsAtPeak).toBe(2.55);
    expect(query).toMatchObject({
      replicasAtPeak: 4,
      target: 1,
      minReplicaCount: 1,
      maxReplicaCount: 4,
    });
    const batch = plan.groups.find((g) => g.name === 'batch')!;
    expect(batch.measured).toBe(false);
  });

  it('without worker metrics: the worker CPU gives the slots, the API round trip the job time', () => {
    const r = result();
    for (const s of r.steps) s.workers = [];
    r.setup.workers = [];
    const plan = planCapacity(input({ result: r, workerCpu: 2 }));
    const query = plan.groups.find((g) => g.name === 'query')!;
    expect(query.concurrency).toBe(2);
    expect(query.queueFigures.map((q) => q.meanJobMs)).toEqual([15, 7]);
    expect(query.queueFigures[0].meanSource).toMatch(
      /keel_remote_job_duration_seconds.*overestimate/,
    );
    // 500 × 0.3 × (0.015 + 0.007) = 3.3 busy slots; ceil(3.3 / (2 × 0.7)) = ceil(2.357) = 3
    expect(query.busySlotsAtPeak).toBe(3.3);
    expect(query.replicasAtPeak).toBe(3);
  });

  it('an off-peak rate sets minReplicaCount, never below the floor', () => {
    expect(planCapacity(input({ minRps: 100 })).api.minReplicaCount).toBe(4); // ceil(100 / 28)
    expect(planCapacity(input({ minRps: 10 })).api.minReplicaCount).toBe(2);
  });

  it('says the API count is for requests only: agent runs scale keel-api under the same cap', () => {
    const plan = planCapacity(input());
    expect(plan.warnings).toContain(
      "The load test sends no agent runs, so maxReplicaCount 18 is sized for requests alone. The API's ScaledObject also scales on the agent backlog (KEEL_AGENT_CONCURRENCY async runs per pod), and its HPA takes the larger count under the same maxReplicaCount: with A agent runs waiting or running at the peak, keel-api needs max(18, ceil(A / KEEL_AGENT_CONCURRENCY)) pods.",
    );
  });

  it('suggests a higher maxReplicaCount when CPU would ask for more pods than the rate', () => {
    const r = result();
    // 0.06 CPU-s per request: ceil(0.06 × 500 / (1 × 0.7)) = ceil(42.857) = 43 > 18.
    r.steps[1].server!.cpuSecondsPerRequest = 0.06;
    const plan = planCapacity(input({ result: r }));
    expect(plan.api.cpuReplicasAtPeak).toBe(43);
    expect(plan.warnings.join('\n')).toMatch(
      /The API's ScaledObject scales it on CPU: at the peak it would ask for 43 pods .* more than the 18 the rate gives\. .*consider maxReplicaCount 43\./,
    );
  });

  it("cross-checks CPU at the HPA's own 70%, not at --headroom", () => {
    // ceil(500 / (40 × 0.5)) = 25 by rate; the HPA holds 70% CPU: ceil(0.02 × 500 / 0.7) = 15.
    const plan = planCapacity(input({ headroom: 0.5 }));
    expect(plan.api.replicasAtPeak).toBe(25);
    expect(plan.api.cpuReplicasAtPeak).toBe(15);
    const ncpu = plan.api.derivations.find((d) => d.symbol === 'Ncpu')!;
    expect(ncpu.arithmetic).toMatch(/× 0\.7\)\) = ceil\(14\.286\) = 15$/);
    expect(ncpu.source).toMatch(/cpu trigger of ScaledObject keel-api, 70% utilization/);
  });

  it('warns when the numbers do not carry over, and refuses a run where nothing held', () => {
    const embedded = planCapacity(
      input({ result: result({ target: { url: 'u', collection: 'c', mode: 'embedded' } }) }),
    );
    expect(embedded.warnings.join('\n')).toMatch(/embedded mode/);
    const bound = planCapacity(
      input({
        result: result({
          capacity: {
            highestRateHeld: 40,
            heldStep: 1,
            brokenStep: null,
            lowerBound: true,
            sloP99Ms: null,
            errorBudget: 0.01,
          },
        }),
      }),
    );
    expect(bound.warnings.join('\n')).toMatch(/lower bound/);
    expect(() =>
      planCapacity(
        input({
          result: result({
            capacity: {
              highestRateHeld: null,
              heldStep: null,
              brokenStep: 0,
              lowerBound: false,
              sloP99Ms: 250,
              errorBudget: 0.01,
            },
          }),
        }),
      ),
    ).toThrow(/no step held/);
    expect(() => planCapacity(input({ headroom: 1.5 }))).toThrow(/headroom/);
  });

  it('prints every number with its derivation, and a kustomize patch with the overlay values', () => {
    const plan = planCapacity(input());
    const text = renderPlan(plan);
    expect(text).toMatch(/ceil\(500 \/ 28\) = ceil\(17\.857\) = 18/);
    expect(text).toMatch(/P × j × t = 500\/s × 0\.3 × 12 ms = 1\.8/);
    expect(text).toMatch(/ScaledObject keel-api: minReplicaCount 2, maxReplicaCount 18/);
    expect(text).not.toMatch(/HorizontalPodAutoscaler|HPA minReplicas|HPA maxReplicas/);
    expect(text).toMatch(
      /ScaledObject keel-worker-query: advanced.scalingModifiers.target 1 \(KEEL_WORKER_CONCURRENCY\), minReplicaCount 1, maxReplicaCount 4/,
    );
    expect(text).toMatch(/keel-worker-batch: not exercised/);
    const patch = renderPatch(plan);
    expect(patch).toContain('  - name: keel-worker-query\n    behavior: merge\n    literals:\n');
    expect(patch).toContain('      - KEEL_WORKER_CONCURRENCY=1\n');
    expect(patch).toContain(
      '      apiVersion: keda.sh/v1alpha1\n      kind: ScaledObject\n      metadata:\n        name: keel-api\n      spec:\n        minReplicaCount: 2\n        maxReplicaCount: 18\n',
    );
    expect(patch).not.toContain('HorizontalPodAutoscaler');
    expect(patch).toContain(
      '        name: keel-worker-query\n      spec:\n        minReplicaCount: 1\n        maxReplicaCount: 4\n',
    );
    expect(patch).not.toContain('keel-worker-batch');
  });
});

describe('parseGroup', () => {
  it('names a group, or takes the k8s name of a known queue list', () => {
    expect(parseGroup('query=rerank,pack')).toEqual({ name: 'query', queues: ['rerank', 'pack'] });
    expect(parseGroup('rerank,pack')).toEqual({ name: 'query', queues: ['rerank', 'pack'] });
    expect(parseGroup('rerank')).toEqual({ name: 'rerank', queues: ['rerank'] });
    expect(() => parseGroup('Bad Name=rerank')).toThrow();
  });
});
