import { Metrics } from './prometheus.js';

export interface JobCounter {
  count: number;
  sumSeconds: number;
}

/** What Keel says about the container it measured in (libs/platform runtime-info). */
export interface RuntimeSizing {
  cpuQuotaCores: number | null;
  memoryLimitBytes: number | null;
  hostCores: number | null;
  effectiveCpus: number | null;
  poolThreads: number | null;
  uvThreadpoolSize: number | null;
  heapSizeLimitBytes: number | null;
  cgroupVersion: string | null;
  cpuSource: string | null;
  memorySource: string | null;
}

/** The figures of one /metrics scrape that the load test uses. */
export interface Snapshot {
  /** Client clock (ms since the epoch) when the scrape answered. */
  at: number;
  cpuSeconds: number | null;
  rssBytes: number | null;
  /** Keel's own gauge: the delay beyond the sampling interval since the previous scrape. */
  eventLoopDelayP99Seconds: number | null;
  /** Embedded pool: tasks waiting for a thread. */
  poolQueueDepth: number | null;
  /** Distributed: waiting jobs per BullMQ queue (`keel_queue_jobs{state="wait"}`). */
  queueWaiting: Record<string, number> | null;
  /** `keel_job_duration_seconds` by queue: the embedded pool's jobs, or a worker's. */
  jobs: Record<string, JobCounter>;
  /** `keel_remote_job_duration_seconds` by queue: jobs the API sent to workers (BullMQ). */
  remoteJobs: Record<string, JobCounter>;
  /** `keel_worker_concurrency` by queue: job slots per queue (workers only). */
  workerConcurrency: Record<string, number>;
  runtime: RuntimeSizing;
}

const orNull = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? null : v);

function jobCounters(m: Metrics, histogram: string): Record<string, JobCounter> {
  const counts = m.sumBy(`${histogram}_count`, 'queue');
  const sums = m.sumBy(`${histogram}_sum`, 'queue');
  const out: Record<string, JobCounter> = {};
  for (const queue of Object.keys(counts).sort()) {
    out[queue] = { count: counts[queue], sumSeconds: sums[queue] ?? 0 };
  }
  return out;
}

export function snapshot(text: string, at = Date.now()): Snapshot {
  const m = Metrics.parse(text);
  const info = m.select('keel_runtime_info')[0]?.labels;
  const waiting = m.sumBy('keel_queue_jobs', 'queue', { state: 'wait' });
  return {
    at,
    cpuSeconds: orNull(m.value('process_cpu_seconds_total')),
    rssBytes: orNull(m.value('process_resident_memory_bytes')),
    eventLoopDelayP99Seconds: orNull(
      m.value('keel_event_loop_delay_seconds', { quantile: '0.99' }),
    ),
    poolQueueDepth: orNull(m.value('keel_job_pool_queue_depth')),
    queueWaiting: m.has('keel_queue_jobs') ? waiting : null,
    jobs: jobCounters(m, 'keel_job_duration_seconds'),
    remoteJobs: jobCounters(m, 'keel_remote_job_duration_seconds'),
    workerConcurrency: m.sumBy('keel_worker_concurrency', 'queue'),
    runtime: {
      cpuQuotaCores: orNull(m.value('keel_runtime_cpu_quota_cores')),
      memoryLimitBytes: orNull(m.value('keel_runtime_memory_limit_bytes')),
      hostCores: orNull(m.value('keel_runtime_host_cores')),
      effectiveCpus: orNull(m.value('keel_runtime_effective_cpus')),
      poolThreads: orNull(m.value('keel_runtime_pool_threads')),
      uvThreadpoolSize: orNull(m.value('keel_runtime_uv_threadpool_size')),
      heapSizeLimitBytes: orNull(m.value('keel_runtime_heap_size_limit_bytes')),
      cgroupVersion: info?.cgroup_version ?? null,
      cpuSource: info?.cpu_source ?? null,
      memorySource: info?.memory_source ?? null,
    },
  };
}

/** Jobs of one queue over a step. */
export interface JobDelta {
  count: number;
  /** Mean duration in ms (sum delta / count delta); null when no job ran. */
  meanMs: number | null;
}

export function jobDeltas(
  before: Record<string, JobCounter>,
  after: Record<string, JobCounter>,
): Record<string, JobDelta> {
  const out: Record<string, JobDelta> = {};
  for (const queue of Object.keys(after).sort()) {
    const count = after[queue].count - (before[queue]?.count ?? 0);
    const sum = after[queue].sumSeconds - (before[queue]?.sumSeconds ?? 0);
    if (count <= 0) continue;
    out[queue] = { count, meanMs: Math.round((sum / count) * 1e6) / 1e3 };
  }
  return out;
}

/** The API's figures over one step: from the scrape before it to the one at its end. */
export interface StepServer {
  windowSeconds: number;
  /** Responses the generator received between the two scrapes. */
  responses: number;
  cpuSeconds: number | null;
  /** CPU seconds per second of the window: cores in use. */
  cpuCores: number | null;
  cpuSecondsPerRequest: number | null;
  rssBytes: number | null;
  eventLoopDelayP99Ms: number | null;
  /** Distributed: waiting jobs summed over queues; embedded: the pool's queue. At the step's end. */
  queueDepth: number | null;
  queueDepthSource: 'keel_queue_jobs{state="wait"}' | 'keel_job_pool_queue_depth' | null;
  queueWaiting: Record<string, number> | null;
  poolQueueDepth: number | null;
  /** Jobs by queue: run in the API's own pool, and sent to workers. */
  jobs: Record<string, JobDelta>;
  remoteJobs: Record<string, JobDelta>;
  /** (pool + remote jobs) per response, by queue. */
  jobsPerRequest: Record<string, number>;
}

const round = (n: number, digits = 6) => Math.round(n * 10 ** digits) / 10 ** digits;

export function stepServer(before: Snapshot, after: Snapshot, responses: number): StepServer {
  const windowSeconds = Math.max(0.001, (after.at - before.at) / 1000);
  const cpu =
    after.cpuSeconds !== null && before.cpuSeconds !== null
      ? after.cpuSeconds - before.cpuSeconds
      : null;
  const jobs = jobDeltas(before.jobs, after.jobs);
  const remoteJobs = jobDeltas(before.remoteJobs, after.remoteJobs);
  const jobsPerRequest: Record<string, number> = {};
  if (responses > 0) {
    for (const queue of new Set([...Object.keys(jobs), ...Object.keys(remoteJobs)])) {
      const n = (jobs[queue]?.count ?? 0) + (remoteJobs[queue]?.count ?? 0);
      jobsPerRequest[queue] = round(n / responses, 4);
    }
  }
  const distributed = after.queueWaiting !== null;
  return {
    windowSeconds: round(windowSeconds, 3),
    responses,
    cpuSeconds: cpu === null ? null : round(cpu),
    cpuCores: cpu === null ? null : round(cpu / windowSeconds, 4),
    cpuSecondsPerRequest: cpu === null || responses === 0 ? null : round(cpu / responses),
    rssBytes: after.rssBytes,
    eventLoopDelayP99Ms:
      after.eventLoopDelayP99Seconds === null
        ? null
        : round(after.eventLoopDelayP99Seconds * 1000, 3),
    queueDepth: distributed
      ? Object.values(after.queueWaiting ?? {}).reduce((a, b) => a + b, 0)
      : after.poolQueueDepth,
    queueDepthSource: distributed
      ? 'keel_queue_jobs{state="wait"}'
      : after.poolQueueDepth !== null
        ? 'keel_job_pool_queue_depth'
        : null,
    queueWaiting: after.queueWaiting,
    poolQueueDepth: after.poolQueueDepth,
    jobs,
    remoteJobs,
    jobsPerRequest,
  };
}

/** A worker's figures over one step. */
export interface StepWorker {
  url: string;
  windowSeconds: number;
  cpuSeconds: number | null;
  cpuCores: number | null;
  /** Jobs run on this worker, pick-up to result. */
  jobs: Record<string, JobDelta>;
  concurrency: Record<string, number>;
  error: string | null;
}

export function stepWorker(url: string, before: Snapshot, after: Snapshot): StepWorker {
  const windowSeconds = Math.max(0.001, (after.at - before.at) / 1000);
  const cpu =
    after.cpuSeconds !== null && before.cpuSeconds !== null
      ? after.cpuSeconds - before.cpuSeconds
      : null;
  return {
    url,
    windowSeconds: round(windowSeconds, 3),
    cpuSeconds: cpu === null ? null : round(cpu),
    cpuCores: cpu === null ? null : round(cpu / windowSeconds, 4),
    jobs: jobDeltas(before.jobs, after.jobs),
    concurrency: after.workerConcurrency,
    error: null,
  };
}
