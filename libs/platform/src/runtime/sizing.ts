import { availableParallelism, cpus, totalmem } from 'node:os';
import { CgroupLimits, CgroupProbeOptions, readCgroupLimits } from './cgroup.js';

/** What the machine offers before any cgroup quota is applied. */
export interface HostResources {
  /** Online CPUs of the host. */
  hostCores: number;
  /**
   * `os.availableParallelism()`: the CPU affinity mask (cpuset, taskset) and, in libuv versions
   * that read it, the cgroup quota. Kept apart from {@link hostCores} because libuv's cgroup
   * support differs by version and by cgroup version, so it cannot stand in for either number.
   */
  availableParallelism: number;
  hostMemoryBytes: number;
}

export interface RuntimeDetection extends CgroupLimits, HostResources {}

export interface DetectRuntimeOptions extends CgroupProbeOptions {
  /** Replaces the live host numbers, so a fixture tree gives the same answer on every machine. */
  host?: Partial<HostResources>;
}

export function readHostResources(): HostResources {
  const parallelism = availableParallelism();
  return {
    // os.cpus() comes back empty where /proc/stat is hidden; the affinity count is then the best
    // remaining guess for the host.
    hostCores: cpus().length || parallelism,
    availableParallelism: parallelism,
    hostMemoryBytes: totalmem(),
  };
}

/** Cgroup limits plus host resources: everything sizing needs, read once at boot. */
export function detectRuntime(options: DetectRuntimeOptions = {}): RuntimeDetection {
  const live = readHostResources();
  return {
    ...readCgroupLimits(options),
    hostCores: options.host?.hostCores ?? live.hostCores,
    availableParallelism: options.host?.availableParallelism ?? live.availableParallelism,
    hostMemoryBytes: options.host?.hostMemoryBytes ?? live.hostMemoryBytes,
  };
}

/** Values from validated config that win over what detection derives. */
export interface SizingOverrides {
  poolThreads?: number;
  uvThreadpoolSize?: number;
}

export interface RuntimeSizing {
  /** Whole CPUs this process can keep busy. */
  effectiveCpus: number;
  /** Worker threads of the embedded pool; also the concurrency of CPU-bound BullMQ queues. */
  poolThreads: number;
  /** For `UV_THREADPOOL_SIZE`, which libuv reads once, at the first thread-pool request. */
  uvThreadpoolSize: number;
  /** The smaller of the cgroup memory limit and the host's memory. */
  memoryBudgetBytes: number;
  /** Suggested V8 heap ceiling (`--max-old-space-size`); `null` without a memory limit. */
  heapTargetBytes: number | null;
}

/**
 * Share of the memory budget given to the V8 heap (DESIGN.md §1.2): the rest covers buffers,
 * native allocations of SQLite and the thread stacks, which live outside the heap but count
 * against the same cgroup limit. An OOM kill by the kernel loses every in-flight request, whereas
 * a heap that knows its limit collects harder first.
 */
export const HEAP_SHARE_OF_MEMORY = 0.85;

/** libuv refuses more and silently clamps; clamping here keeps the boot log truthful. */
export const UV_THREADPOOL_MAX = 1024;

export function sizeRuntime(
  detected: RuntimeDetection,
  overrides: SizingOverrides = {},
): RuntimeSizing {
  // Rounding a fractional quota down, as automaxprocs does: with 1.5 CPUs, two busy threads
  // exhaust the quota two thirds of the way through each CFS period and then both stall until the
  // next one, which shows up as p99 latency; one thread never gets throttled. At least one, since
  // a 0.5-CPU container still has to run its jobs somewhere.
  const fromQuota =
    detected.cpuQuotaCores === null
      ? detected.hostCores
      : Math.max(1, Math.floor(detected.cpuQuotaCores));
  // A cpuset or taskset narrower than the quota caps the threads that can run at once.
  const effectiveCpus = Math.max(1, Math.min(fromQuota, detected.availableParallelism));

  const poolThreads = checkOverride('poolThreads', overrides.poolThreads) ?? effectiveCpus;

  // libuv's pool runs fs calls, dns.lookup, zlib and crypto. Most of that time is spent blocked,
  // not on a CPU, so it may exceed the quota a little; but with a single thread one slow
  // getaddrinfo or NFS read queues every file read behind it, hence never fewer than two.
  // libuv's own default of four would let zlib/crypto bursts on a 1-CPU quota take more CPU than
  // the request path, so the default follows the quota rather than staying at four.
  const uvThreadpoolSize = Math.min(
    UV_THREADPOOL_MAX,
    checkOverride('uvThreadpoolSize', overrides.uvThreadpoolSize) ?? Math.max(2, effectiveCpus),
  );

  // A limit above the host's memory can never be reached; the host is then the real bound.
  const memoryBudgetBytes = Math.min(
    detected.memoryLimitBytes ?? detected.hostMemoryBytes,
    detected.hostMemoryBytes,
  );
  // Without a limit V8's own default (a fraction of the host's memory) is already right.
  const heapTargetBytes =
    detected.memoryLimitBytes === null
      ? null
      : Math.floor(memoryBudgetBytes * HEAP_SHARE_OF_MEMORY);

  return { effectiveCpus, poolThreads, uvThreadpoolSize, memoryBudgetBytes, heapTargetBytes };
}

/**
 * Config validation should have refused these already; throwing here rather than falling back
 * keeps a typo from silently running a pool of the wrong size.
 */
function checkOverride(name: string, value: number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`${name} override must be a positive integer, got ${value}`);
  }
  return value;
}

/** One line for the boot log: what was detected, where it came from, and what was chosen. */
export function describeRuntime(detected: RuntimeDetection, sizing: RuntimeSizing): string {
  const version = detected.cgroupVersion === null ? 'none' : `v${detected.cgroupVersion}`;
  const cpu =
    detected.cpuQuotaCores === null
      ? 'cpu quota none'
      : `cpu quota ${formatCores(detected.cpuQuotaCores)} (${detected.cpuQuotaSource})`;
  const memory =
    detected.memoryLimitBytes === null
      ? 'memory limit none'
      : `memory limit ${formatBytes(detected.memoryLimitBytes)} (${detected.memorySource})`;
  const host =
    `host ${detected.hostCores} cores, availableParallelism ${detected.availableParallelism}, ` +
    formatBytes(detected.hostMemoryBytes);
  const chosen =
    `effective cpus ${sizing.effectiveCpus}, pool ${sizing.poolThreads} threads, ` +
    `uv threadpool ${sizing.uvThreadpoolSize}, heap target ` +
    (sizing.heapTargetBytes === null ? 'default' : formatBytes(sizing.heapTargetBytes));
  const warnings =
    detected.warnings.length === 0 ? '' : `; warnings: ${detected.warnings.join(' | ')}`;
  return `runtime: cgroup ${version}, ${cpu}, ${memory}; ${host}; ${chosen}${warnings}`;
}

function formatCores(cores: number): string {
  return `${Number(cores.toFixed(2))} ${cores === 1 ? 'core' : 'cores'}`;
}

function formatBytes(bytes: number): string {
  const gib = 2 ** 30;
  const mib = 2 ** 20;
  if (bytes >= gib) return `${Number((bytes / gib).toFixed(1))} GiB`;
  return `${Number((bytes / mib).toFixed(1))} MiB`;
}
