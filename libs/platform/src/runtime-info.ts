import { getHeapStatistics } from 'node:v8';
import { Gauge, type Registry } from 'prom-client';
import type { RuntimeDetection, RuntimeSizing } from './runtime/index.js';

/** What boot detected about the container and what it chose from it. */
export interface RuntimeInfo {
  detected: RuntimeDetection;
  sizing: RuntimeSizing;
}

export const KEEL_RUNTIME = Symbol('KEEL_RUNTIME');

/** The detected limits and the chosen sizes as gauges, so a dashboard shows what the pod saw. */
export function registerRuntimeMetrics(registry: Registry, runtime: RuntimeInfo): void {
  const { detected, sizing } = runtime;
  const gauge = (name: string, help: string, value: number) =>
    new Gauge({ name, help, registers: [registry] }).set(value);
  gauge(
    'keel_runtime_cpu_quota_cores',
    'CPU quota of the container in cores (cgroup); 0 when there is none.',
    detected.cpuQuotaCores ?? 0,
  );
  gauge(
    'keel_runtime_memory_limit_bytes',
    'Memory limit of the container (cgroup); 0 when there is none.',
    detected.memoryLimitBytes ?? 0,
  );
  gauge('keel_runtime_host_cores', 'CPU cores of the host.', detected.hostCores);
  gauge('keel_runtime_effective_cpus', 'Whole CPUs Keel sizes itself for.', sizing.effectiveCpus);
  gauge('keel_runtime_pool_threads', 'Worker threads chosen for the job pool.', sizing.poolThreads);
  gauge(
    'keel_runtime_uv_threadpool_size',
    'UV_THREADPOOL_SIZE chosen at boot.',
    sizing.uvThreadpoolSize,
  );
  gauge(
    'keel_runtime_heap_size_limit_bytes',
    "V8's heap size limit in effect (v8.getHeapStatistics().heap_size_limit).",
    getHeapStatistics().heap_size_limit,
  );
  new Gauge({
    name: 'keel_runtime_info',
    help: 'Constant 1, labelled with what was detected.',
    labelNames: ['cgroup_version', 'cpu_source', 'memory_source'],
    registers: [registry],
  }).set(
    {
      cgroup_version: detected.cgroupVersion === null ? 'none' : String(detected.cgroupVersion),
      cpu_source: detected.cpuQuotaSource ?? 'none',
      memory_source: detected.memorySource ?? 'none',
    },
    1,
  );
}
