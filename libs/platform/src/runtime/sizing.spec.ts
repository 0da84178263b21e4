import { availableParallelism, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  describeRuntime,
  detectRuntime,
  HEAP_SHARE_OF_MEMORY,
  RuntimeDetection,
  sizeRuntime,
  UV_THREADPOOL_MAX,
} from './index.js';

const fixture = (name: string): string =>
  fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
const GiB = 2 ** 30;

/** A 16-core, 64 GiB host, so that every quota in the fixtures is below what the host offers. */
const bigHost = { hostCores: 16, availableParallelism: 16, hostMemoryBytes: 64 * GiB };
const detect = (name: string): RuntimeDetection =>
  detectRuntime({ root: fixture(name), host: bigHost });

describe('sizeRuntime', () => {
  it('rounds a 1.5-CPU quota down to one thread and keeps two for libuv', () => {
    expect(sizeRuntime(detect('v2-limited'))).toEqual({
      effectiveCpus: 1,
      poolThreads: 1,
      uvThreadpoolSize: 2,
      memoryBudgetBytes: GiB,
      heapTargetBytes: Math.floor(GiB * HEAP_SHARE_OF_MEMORY),
    });
  });

  it('gives a sub-CPU quota one thread, never zero', () => {
    expect(sizeRuntime(detect('v1-memory-parent')).effectiveCpus).toBe(1);
  });

  it('follows whole-CPU quotas above one', () => {
    const sizing = sizeRuntime(detect('v1-container-root'));
    expect(sizing).toMatchObject({ effectiveCpus: 3, poolThreads: 3, uvThreadpoolSize: 3 });
  });

  it('uses the host cores without a quota and leaves the heap to V8 without a memory limit', () => {
    expect(sizeRuntime(detect('v2-unlimited'))).toEqual({
      effectiveCpus: 16,
      poolThreads: 16,
      uvThreadpoolSize: 16,
      memoryBudgetBytes: 64 * GiB,
      heapTargetBytes: null,
    });
  });

  it('never exceeds the affinity mask, even when the quota is larger', () => {
    const pinned = detectRuntime({
      root: fixture('v1-container-root'),
      host: { ...bigHost, availableParallelism: 2 },
    });
    expect(sizeRuntime(pinned).effectiveCpus).toBe(2);
  });

  it('caps the memory budget at the host when the limit is larger than the machine', () => {
    const small = detectRuntime({
      root: fixture('v2-nested'),
      host: { ...bigHost, hostMemoryBytes: GiB },
    });
    expect(small.memoryLimitBytes).toBe(1.5 * GiB);
    expect(sizeRuntime(small).memoryBudgetBytes).toBe(GiB);
  });

  it('lets configured overrides win and clamps the libuv pool to what libuv accepts', () => {
    expect(
      sizeRuntime(detect('v2-limited'), { poolThreads: 4, uvThreadpoolSize: 5000 }),
    ).toMatchObject({ effectiveCpus: 1, poolThreads: 4, uvThreadpoolSize: UV_THREADPOOL_MAX });
  });

  it('refuses overrides that are not positive integers', () => {
    expect(() => sizeRuntime(detect('v2-limited'), { poolThreads: 0 })).toThrow(RangeError);
    expect(() => sizeRuntime(detect('v2-limited'), { uvThreadpoolSize: 1.5 })).toThrow(RangeError);
  });
});

describe('detectRuntime', () => {
  it('reads the live host numbers when none are given', () => {
    const detected = detectRuntime({ root: fixture('no-proc') });
    expect(detected.availableParallelism).toBe(availableParallelism());
    expect(detected.hostMemoryBytes).toBe(totalmem());
    expect(detected.hostCores).toBeGreaterThanOrEqual(1);
    expect(sizeRuntime(detected).effectiveCpus).toBeLessThanOrEqual(availableParallelism());
  });
});

describe('describeRuntime', () => {
  it('puts detection, sources and sizing on one line', () => {
    const detected = detect('hybrid');
    const line = describeRuntime(detected, sizeRuntime(detected));
    expect(line).not.toContain('\n');
    expect(line).toBe(
      'runtime: cgroup v1, ' +
        'cpu quota 1 core (/sys/fs/cgroup/cpu/keel-test/cpu.cfs_quota_us), ' +
        'memory limit 512 MiB ' +
        '(/sys/fs/cgroup/memory/process_api/0123abcd/keel-test/memory.limit_in_bytes); ' +
        'host 16 cores, availableParallelism 16, 64 GiB; ' +
        'effective cpus 1, pool 1 threads, uv threadpool 2, heap target 435.2 MiB',
    );
  });

  it('says when nothing was found and appends warnings', () => {
    const detected = detect('garbage-v1');
    const line = describeRuntime(detected, sizeRuntime(detected));
    expect(line).toContain('cgroup v1, cpu quota none, memory limit none;');
    expect(line).toContain('heap target default; warnings: /sys/fs/cgroup/cpu,cpuacct/keel/');
    expect(line).not.toContain('\n');
  });

  it('formats a fractional quota', () => {
    const detected = detect('v2-limited');
    expect(describeRuntime(detected, sizeRuntime(detected))).toContain(
      `cpu quota 1.5 cores (/sys/fs/cgroup/app.slice/keel.service/cpu.max), memory limit 1 GiB`,
    );
  });
});
