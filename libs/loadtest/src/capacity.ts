import type { StepResult } from './engine.js';
import type { LoadTestResult } from './result.js';
import { describeRuntime } from './report.js';

/** A worker Deployment's queues, named as in k8s/ (`keel-worker-<name>`). */
export interface QueueGroup {
  name: string;
  queues: string[];
}

/** k8s/base: the query group (rerank, pack) and the batch group (ingest, eval). */
export const DEFAULT_GROUPS: QueueGroup[] = [
  { name: 'query', queues: ['rerank', 'pack'] },
  { name: 'batch', queues: ['ingest', 'eval'] },
];

/** `query=rerank,pack`, or `rerank,pack` (named after the k8s group with those queues). */
export function parseGroup(spec: string): QueueGroup {
  const [left, right] = spec.includes('=') ? spec.split('=', 2) : [undefined, spec];
  const queues = right
    .split(',')
    .map((q) => q.trim())
    .filter((q) => q !== '');
  if (queues.length === 0) throw new Error(`--queues ${JSON.stringify(spec)}: no queues`);
  const known = DEFAULT_GROUPS.find((g) => g.queues.join(',') === [...queues].join(','));
  const name = left?.trim() || known?.name || queues.join('-');
  if (!/^[a-z0-9][a-z0-9-]*$/u.test(name)) {
    throw new Error(`--queues ${JSON.stringify(spec)}: ${JSON.stringify(name)} is not a k8s name`);
  }
  return { name, queues };
}

export interface CapacityInput {
  result: LoadTestResult;
  /** Where the result was read from, for the output. */
  source: string;
  peakRps: number;
  /** Target utilisation, 0 < h ≤ 1. */
  headroom: number;
  groups: QueueGroup[];
  /** `keel_worker_concurrency` by queue, read now from `--worker-metrics`. */
  workerConcurrency?: Record<string, number>;
  /** Cores of a worker pod, when no worker's concurrency is known (KEEL_WORKER_CONCURRENCY's default). */
  workerCpu: number;
  /** The API's floor of replicas (availability: one pod may be drained). */
  apiMinReplicas: number;
  /** Off-peak rate, for the API ScaledObject's minReplicaCount. */
  minRps?: number;
}

/** One line of the arithmetic: a value, how it was computed, and where its inputs came from. */
export interface Derivation {
  symbol: string;
  name: string;
  value: number;
  unit: string;
  /** The expression with the numbers put in, e.g. `ceil(500 / 28) = ceil(17.857)`. */
  arithmetic: string;
  source: string;
}

export interface QueueFigures {
  queue: string;
  jobsPerRequest: number;
  meanJobMs: number | null;
  meanSource: string;
  jobsPerSecondAtPeak: number;
  busySlotsAtPeak: number;
}

export interface GroupPlan {
  name: string;
  queues: string[];
  /** False when the load test sent this group no job: keep the overlay's values. */
  measured: boolean;
  concurrency: number;
  concurrencySource: string;
  queueFigures: QueueFigures[];
  busySlotsAtPeak: number;
  replicasAtPeak: number;
  /** ScaledObject spec.advanced.scalingModifiers.target (= KEEL_WORKER_CONCURRENCY). */
  target: number;
  minReplicaCount: number;
  maxReplicaCount: number;
  derivations: Derivation[];
}

export interface CapacityPlan {
  source: string;
  loadTestId: string;
  mode: LoadTestResult['target']['mode'];
  measuredOn: string;
  step: { index: number; label: string; offeredRps: number };
  peakRps: number;
  headroom: number;
  api: {
    capacityRps: number;
    targetRps: number;
    replicasAtPeak: number;
    /** ScaledObject keel-api spec.minReplicaCount and spec.maxReplicaCount. */
    minReplicaCount: number;
    maxReplicaCount: number;
    cpuReplicasAtPeak: number | null;
    derivations: Derivation[];
  };
  groups: GroupPlan[];
  warnings: string[];
}

const r3 = (n: number) => Math.round(n * 1000) / 1000;
const show = (n: number) => String(r3(n));
/** ceil that ignores floating-point dust (28 × 0.7 × … landing at 17.0000000001). */
const ceil = (n: number) => Math.ceil(r3(n) - 1e-9);

function pct(rate: number): string {
  return `${Math.round(rate * 10_000) / 100}%`;
}

function heldBecause(step: StepResult, result: LoadTestResult): string {
  const c = result.capacity;
  const slo =
    c.sloP99Ms === null ? 'no p99 SLO' : `p99 ${step.latencyMs.p99} ms ≤ SLO ${c.sloP99Ms} ms`;
  return `highest offered rate that held: step ${step.index + 1} (${step.label}), ${slo}, errors ${pct(step.verdict.errorRate)} and late/dropped ${pct(step.verdict.lateOrDroppedRate)} ≤ budget ${pct(c.errorBudget)}`;
}

/** Mean job time of `queue` in `step`: the workers' own figure when there is one. */
function meanJob(step: StepResult, queue: string): { ms: number | null; source: string } {
  let count = 0;
  let total = 0;
  for (const w of step.workers) {
    const j = w.jobs[queue];
    if (j && j.meanMs !== null) {
      count += j.count;
      total += j.count * j.meanMs;
    }
  }
  if (count > 0) {
    return {
      ms: r3(total / count),
      source: `workers' keel_job_duration_seconds{queue="${queue}"} (pick-up to result)`,
    };
  }
  const pool = step.server?.jobs[queue];
  if (pool?.meanMs != null) {
    return {
      ms: pool.meanMs,
      source: `API pool's keel_job_duration_seconds{queue="${queue}"} (submission to result, includes waiting for a thread)`,
    };
  }
  const remote = step.server?.remoteJobs[queue];
  if (remote?.meanMs != null) {
    return {
      ms: remote.meanMs,
      source: `API's keel_remote_job_duration_seconds{queue="${queue}"} (enqueue to result: includes queue wait, an overestimate)`,
    };
  }
  return { ms: null, source: 'no job of this queue in the step' };
}

function groupConcurrency(
  group: QueueGroup,
  input: CapacityInput,
): { concurrency: number; source: string } {
  const pick = (map: Record<string, number> | undefined) => {
    const values = group.queues.map((q) => map?.[q]).filter((v): v is number => v !== undefined);
    return values.length > 0 ? Math.min(...values) : undefined;
  };
  const now = pick(input.workerConcurrency);
  if (now !== undefined)
    return { concurrency: now, source: 'keel_worker_concurrency, --worker-metrics' };
  for (const w of input.result.setup.workers) {
    const c = pick(w.concurrency);
    if (c !== undefined)
      return { concurrency: c, source: `keel_worker_concurrency of ${w.url} during the load test` };
  }
  return {
    concurrency: Math.max(1, Math.floor(input.workerCpu)),
    source: `the worker's CPU quota, --worker-cpu ${input.workerCpu} (KEEL_WORKER_CONCURRENCY's default: whole cores)`,
  };
}

/**
 * The utilization the cpu trigger of ScaledObject keel-api holds (k8s/base/api.yaml, `value: '70'`;
 * test/k8s checks the two agree). Its HPA scales on it, not on `--headroom`.
 */
export const API_CPU_UTILIZATION_TARGET = 0.7;

/**
 * Sizes the deployment for a peak rate from a load test: the highest rate that held is the
 * capacity of one API pod of the measured setup; at the target utilisation (headroom) a pod takes
 * capacity × headroom, so the API needs ceil(peak / (capacity × headroom)) pods. Each worker
 * group needs, by Little's law, peak × jobs per request × mean job time busy job slots per queue;
 * a pod gives `concurrency` slots (KEDA's target), used to the same headroom.
 */
export function planCapacity(input: CapacityInput): CapacityPlan {
  const { result, peakRps, headroom } = input;
  if (!(peakRps > 0)) throw new Error('--peak-rps must be above 0');
  if (!(headroom > 0 && headroom <= 1)) throw new Error('--headroom must be in (0, 1]');
  const held =
    result.capacity.heldStep === null ? undefined : result.steps[result.capacity.heldStep];
  if (!held || result.capacity.highestRateHeld === null) {
    throw new Error(
      `${input.source}: no step held${result.capacity.sloP99Ms === null ? '' : ` the p99 SLO of ${result.capacity.sloP99Ms} ms`} within the error budget: there is no capacity to size from`,
    );
  }
  const warnings: string[] = [];
  const C = result.capacity.highestRateHeld;
  const target = C * headroom;
  const replicas = ceil(peakRps / target);
  const apiDerivations: Derivation[] = [
    {
      symbol: 'C',
      name: 'per-pod capacity',
      value: C,
      unit: 'requests/s',
      arithmetic: show(C),
      source: heldBecause(held, result),
    },
    {
      symbol: 'h',
      name: 'headroom (target utilisation)',
      value: headroom,
      unit: '',
      arithmetic: show(headroom),
      source: '--headroom',
    },
    {
      symbol: 'C×h',
      name: 'per-pod rate at the target',
      value: r3(target),
      unit: 'requests/s',
      arithmetic: `${show(C)} × ${show(headroom)} = ${show(target)}`,
      source: 'C × h',
    },
    {
      symbol: 'P',
      name: 'peak rate',
      value: peakRps,
      unit: 'requests/s',
      arithmetic: show(peakRps),
      source: '--peak-rps',
    },
    {
      symbol: 'N',
      name: 'API replicas at peak',
      value: replicas,
      unit: 'pods',
      arithmetic: `ceil(P / (C×h)) = ceil(${show(peakRps)} / ${show(target)}) = ceil(${show(peakRps / target)}) = ${replicas}`,
      source: 'ScaledObject keel-api maxReplicaCount',
    },
  ];
  let minReplicas = input.apiMinReplicas;
  if (input.minRps !== undefined) {
    const atMin = ceil(input.minRps / target);
    minReplicas = Math.max(input.apiMinReplicas, atMin);
    apiDerivations.push({
      symbol: 'Nmin',
      name: 'API replicas off-peak',
      value: minReplicas,
      unit: 'pods',
      arithmetic: `max(${input.apiMinReplicas}, ceil(${show(input.minRps)} / ${show(target)})) = max(${input.apiMinReplicas}, ${atMin}) = ${minReplicas}`,
      source: 'ScaledObject keel-api minReplicaCount (--min-rps; floor --api-min-replicas)',
    });
  } else {
    apiDerivations.push({
      symbol: 'Nmin',
      name: 'API replicas floor',
      value: minReplicas,
      unit: 'pods',
      arithmetic: show(minReplicas),
      source:
        'ScaledObject keel-api minReplicaCount: --api-min-replicas (one pod can be drained, PDB maxUnavailable 1)',
    });
  }
  const maxReplicas = Math.max(minReplicas, replicas);
  let cpuReplicas: number | null = null;
  const cpuPerRequest = held.server?.cpuSecondsPerRequest ?? null;
  const runtime = result.setup.runtime;
  const cores =
    runtime?.cpuQuotaCores && runtime.cpuQuotaCores > 0
      ? runtime.cpuQuotaCores
      : (runtime?.effectiveCpus ?? null);
  if (cpuPerRequest !== null && cores !== null && cores > 0) {
    // What the HPA itself will ask for: it holds CPU at its trigger's utilization, whatever
    // --headroom says, so this is the trigger's number, not h.
    const u = API_CPU_UTILIZATION_TARGET;
    const coresAtPeak = cpuPerRequest * peakRps;
    cpuReplicas = ceil(coresAtPeak / (cores * u));
    apiDerivations.push({
      symbol: 'Ncpu',
      name: 'API replicas by CPU (cross-check)',
      value: cpuReplicas,
      unit: 'pods',
      arithmetic: `ceil(cpu/request × P / (cores × u)) = ceil(${show(cpuPerRequest * 1000)} ms × ${show(peakRps)}/s / (${show(cores)} × ${show(u)})) = ceil(${show(coresAtPeak / (cores * u))}) = ${cpuReplicas}`,
      source: `process_cpu_seconds_total delta / responses in step ${held.index + 1}; ${runtime?.cpuQuotaCores ? 'keel_runtime_cpu_quota_cores (the CPU request too: k8s/base sets request = limit)' : 'keel_runtime_effective_cpus (no quota)'}; u: the cpu trigger of ScaledObject keel-api, ${Math.round(u * 100)}% utilization`,
    });
    if (cpuReplicas > replicas) {
      warnings.push(
        `The API's ScaledObject scales it on CPU: at the peak it would ask for ${cpuReplicas} pods (CPU per request × peak), more than the ${replicas} the rate gives. The measured pod ran below full CPU at its capacity; consider maxReplicaCount ${cpuReplicas}.`,
      );
    }
  }
  // The generator sends retrieve and query requests only (keel-target.ts), never an agent run.
  warnings.push(
    `The load test sends no agent runs, so maxReplicaCount ${maxReplicas} is sized for requests alone. The API's ScaledObject also scales on the agent backlog (KEEL_AGENT_CONCURRENCY async runs per pod), and its HPA takes the larger count under the same maxReplicaCount: with A agent runs waiting or running at the peak, keel-api needs max(${maxReplicas}, ceil(A / KEEL_AGENT_CONCURRENCY)) pods.`,
  );
  if (result.capacity.lowerBound) {
    warnings.push(
      `No step broke, so ${C} requests/s is a lower bound of the capacity: the replica counts are an upper bound. Run --find-capacity for the real one.`,
    );
  }
  if (result.target.mode === 'embedded') {
    warnings.push(
      'Measured in embedded mode: the API pod ran rerank and pack in its own pool, so its capacity includes them; in distributed mode the API does less per request. Measure the distributed setup for the overlay’s API numbers; the worker figures below assume these jobs move to workers unchanged.',
    );
  }
  if (!runtime || !runtime.cpuQuotaCores) {
    warnings.push(
      `Measured without a CPU quota (${runtime?.hostCores ?? '?'} host cores); the pods in k8s/ have CPU limits. Measure under the pod's quota so the number carries over.`,
    );
  }

  const groups = input.groups.map((group): GroupPlan => {
    const { concurrency, source } = groupConcurrency(group, input);
    const queueFigures = group.queues.map((queue): QueueFigures => {
      const jobsPerRequest = held.server?.jobsPerRequest[queue] ?? 0;
      const mean = meanJob(held, queue);
      const jobsPerSecondAtPeak = peakRps * jobsPerRequest;
      return {
        queue,
        jobsPerRequest,
        meanJobMs: mean.ms,
        meanSource: mean.source,
        jobsPerSecondAtPeak: r3(jobsPerSecondAtPeak),
        busySlotsAtPeak: r3(jobsPerSecondAtPeak * ((mean.ms ?? 0) / 1000)),
      };
    });
    const measured = queueFigures.some((q) => q.jobsPerRequest > 0 && q.meanJobMs !== null);
    const busy = queueFigures.reduce((a, q) => a + q.busySlotsAtPeak, 0);
    const replicasAtPeak = measured ? Math.max(1, ceil(busy / (concurrency * headroom))) : 0;
    const minReplicaCount = measured ? 1 : 0;
    const derivations: Derivation[] = [
      {
        symbol: 'c',
        name: 'job slots per pod (KEDA target)',
        value: concurrency,
        unit: 'jobs',
        arithmetic: show(concurrency),
        source,
      },
    ];
    for (const q of queueFigures) {
      derivations.push(
        {
          symbol: `j(${q.queue})`,
          name: `${q.queue} jobs per request`,
          value: q.jobsPerRequest,
          unit: 'jobs',
          arithmetic: show(q.jobsPerRequest),
          source: held.server
            ? `job count delta / ${held.server.responses} responses in step ${held.index + 1}`
            : 'no /metrics in the step',
        },
        {
          symbol: `t(${q.queue})`,
          name: `${q.queue} mean job time`,
          value: q.meanJobMs ?? 0,
          unit: 'ms',
          arithmetic: q.meanJobMs === null ? '—' : show(q.meanJobMs),
          source: q.meanSource,
        },
        {
          symbol: `L(${q.queue})`,
          name: `${q.queue} busy slots at peak`,
          value: q.busySlotsAtPeak,
          unit: 'jobs',
          arithmetic: `P × j × t = ${show(peakRps)}/s × ${show(q.jobsPerRequest)} × ${show(q.meanJobMs ?? 0)} ms = ${show(q.busySlotsAtPeak)}`,
          source: "Little's law",
        },
      );
    }
    derivations.push({
      symbol: 'R',
      name: `keel-worker-${group.name} replicas at peak`,
      value: replicasAtPeak,
      unit: 'pods',
      arithmetic: measured
        ? `max(1, ceil(ΣL / (c × h))) = max(1, ceil(${show(busy)} / (${show(concurrency)} × ${show(headroom)}))) = ${replicasAtPeak}`
        : 'not exercised by this load test',
      source: measured ? 'ScaledObject maxReplicaCount' : 'keep the overlay’s values',
    });
    return {
      name: group.name,
      queues: group.queues,
      measured,
      concurrency,
      concurrencySource: source,
      queueFigures,
      busySlotsAtPeak: r3(busy),
      replicasAtPeak,
      target: concurrency,
      minReplicaCount,
      maxReplicaCount: Math.max(minReplicaCount, replicasAtPeak),
      derivations,
    };
  });

  return {
    source: input.source,
    loadTestId: result.id,
    mode: result.target.mode,
    measuredOn: describeRuntime(result.setup.runtime),
    step: { index: held.index, label: held.label, offeredRps: held.offeredRps },
    peakRps,
    headroom,
    api: {
      capacityRps: C,
      targetRps: r3(target),
      replicasAtPeak: replicas,
      minReplicaCount: minReplicas,
      maxReplicaCount: maxReplicas,
      cpuReplicasAtPeak: cpuReplicas,
      derivations: apiDerivations,
    },
    groups,
    warnings,
  };
}

function derivationLines(list: Derivation[]): string[] {
  const w1 = Math.max(...list.map((d) => d.symbol.length));
  const w2 = Math.max(...list.map((d) => d.name.length));
  const w3 = Math.max(...list.map((d) => `${d.arithmetic}${d.unit ? ` ${d.unit}` : ''}`.length));
  return list.map(
    (d) =>
      `  ${d.symbol.padEnd(w1)}  ${d.name.padEnd(w2)}  ${`${d.arithmetic}${d.unit ? ` ${d.unit}` : ''}`.padEnd(w3)}  ← ${d.source}`,
  );
}

export function renderPlan(plan: CapacityPlan): string {
  const lines = [
    `Capacity plan from ${plan.source} (load test ${plan.loadTestId}, ${plan.mode} mode)`,
    `Measured on: ${plan.measuredOn}`,
    '',
    'API (keel-api)',
    ...derivationLines(plan.api.derivations),
  ];
  for (const g of plan.groups) {
    lines.push(
      '',
      `worker group ${g.name} (keel-worker-${g.name}: ${g.queues.join(', ')})`,
      ...derivationLines(g.derivations),
    );
  }
  lines.push(
    '',
    'Values for the k8s overlay:',
    `  ScaledObject keel-api: minReplicaCount ${plan.api.minReplicaCount}, maxReplicaCount ${plan.api.maxReplicaCount}`,
  );
  for (const g of plan.groups) {
    lines.push(
      g.measured
        ? `  ScaledObject keel-worker-${g.name}: advanced.scalingModifiers.target ${g.target} (KEEL_WORKER_CONCURRENCY), minReplicaCount ${g.minReplicaCount}, maxReplicaCount ${g.maxReplicaCount}`
        : `  ScaledObject keel-worker-${g.name}: not exercised by this load test; keep the overlay's values`,
    );
  }
  if (plan.warnings.length > 0) lines.push('', 'Notes:', ...plan.warnings.map((w) => `  - ${w}`));
  return lines.join('\n');
}

/**
 * The values as a fragment of a kustomization.yaml, to append to an overlay's
 * `configMapGenerator` and `patches` lists (patches apply in order: the overlay's own patch of the
 * API's ScaledObject, prod's for one, would otherwise win). A group's target goes through its
 * ConfigMap's KEEL_WORKER_CONCURRENCY: the keda-config component copies it into the ScaledObject
 * (a patch of the target would run after the component and let the two drift apart).
 */
export function renderPatch(plan: CapacityPlan): string {
  const measured = plan.groups.filter((g) => g.measured);
  const lines = [
    `# keel capacity: peak ${plan.peakRps} requests/s at headroom ${plan.headroom}, from load test ${plan.loadTestId}`,
    `# (${plan.mode} mode; step ${plan.step.index + 1}: ${plan.step.label}). Append these entries to the`,
    '# configMapGenerator and patches lists of k8s/overlays/<env>/kustomization.yaml: after the',
    "# overlay's own patches, so that these win (an entry of the same name already in its",
    '# configMapGenerator takes the literal instead). The overlay lists the keda-config component,',
    '# which copies KEEL_WORKER_CONCURRENCY into the ScaledObject target.',
  ];
  if (measured.length > 0) {
    lines.push('configMapGenerator:');
    for (const g of measured) {
      lines.push(
        `  - name: keel-worker-${g.name}`,
        '    behavior: merge',
        '    literals:',
        `      # = spec.advanced.scalingModifiers.target of ScaledObject keel-worker-${g.name}; must equal`,
        '      # the group’s CPU limit in whole cores (scripts/validate-k8s.sh checks).',
        `      - KEEL_WORKER_CONCURRENCY=${g.target}`,
      );
    }
  }
  lines.push(
    'patches:',
    '  - patch: |-',
    '      apiVersion: keda.sh/v1alpha1',
    '      kind: ScaledObject',
    '      metadata:',
    '        name: keel-api',
    '      spec:',
    `        minReplicaCount: ${plan.api.minReplicaCount}`,
    `        maxReplicaCount: ${plan.api.maxReplicaCount}`,
  );
  for (const g of measured) {
    lines.push(
      '  - patch: |-',
      '      apiVersion: keda.sh/v1alpha1',
      '      kind: ScaledObject',
      '      metadata:',
      `        name: keel-worker-${g.name}`,
      '      spec:',
      `        minReplicaCount: ${g.minReplicaCount}`,
      `        maxReplicaCount: ${g.maxReplicaCount}`,
    );
  }
  return `${lines.join('\n')}\n`;
}
