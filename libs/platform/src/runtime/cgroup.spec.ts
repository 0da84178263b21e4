import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readCgroupLimits } from './cgroup.js';
import { parseMountInfo, parseProcCgroup, translateCgroupPath } from './proc.js';

const fixture = (name: string): string =>
  fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
const probe = (name: string) => readCgroupLimits({ root: fixture(name) });

const GiB = 2 ** 30;
const MiB = 2 ** 20;

describe('readCgroupLimits, cgroup v2', () => {
  it('reads a fractional cpu.max quota and memory.max', () => {
    expect(probe('v2-limited')).toEqual({
      cgroupVersion: 2,
      cpuQuotaCores: 1.5,
      cpuQuotaSource: '/sys/fs/cgroup/app.slice/keel.service/cpu.max',
      memoryLimitBytes: GiB,
      memorySource: '/sys/fs/cgroup/app.slice/keel.service/memory.max',
      warnings: [],
    });
  });

  it('reports no limits for "max"', () => {
    expect(probe('v2-unlimited')).toEqual({
      cgroupVersion: 2,
      cpuQuotaCores: null,
      cpuQuotaSource: null,
      memoryLimitBytes: null,
      memorySource: null,
      warnings: [],
    });
  });

  it('takes the tightest limit along the path when a parent (the pod) is stricter', () => {
    const pod = '/sys/fs/cgroup/kubepods.slice/kubepods-burstable.slice/pod42.slice';
    expect(probe('v2-nested')).toMatchObject({
      cgroupVersion: 2,
      cpuQuotaCores: 2.5,
      cpuQuotaSource: `${pod}/cpu.max`,
      memoryLimitBytes: 1.5 * GiB,
      memorySource: `${pod}/memory.max`,
      warnings: [],
    });
  });

  it('maps a container cgroup mounted as the root of /sys/fs/cgroup', () => {
    expect(probe('v2-container-root')).toMatchObject({
      cgroupVersion: 2,
      cpuQuotaCores: 2,
      cpuQuotaSource: '/sys/fs/cgroup/cpu.max',
      memoryLimitBytes: 256 * MiB,
      memorySource: '/sys/fs/cgroup/memory.max',
    });
  });
});

describe('readCgroupLimits, cgroup v1', () => {
  it('finds cpu in the combined cpu,cpuacct hierarchy', () => {
    const cpu = '/sys/fs/cgroup/cpu,cpuacct/system.slice/keel.service';
    expect(probe('v1-cpu-cpuacct')).toEqual({
      cgroupVersion: 1,
      cpuQuotaCores: 2,
      cpuQuotaSource: `${cpu}/cpu.cfs_quota_us`,
      memoryLimitBytes: 768 * MiB,
      memorySource: '/sys/fs/cgroup/memory/system.slice/keel.service/memory.limit_in_bytes',
      warnings: [],
    });
  });

  it('reads quota -1 and the page-aligned maximum as unlimited', () => {
    expect(probe('v1-unlimited')).toEqual({
      cgroupVersion: 1,
      cpuQuotaCores: null,
      cpuQuotaSource: null,
      memoryLimitBytes: null,
      memorySource: null,
      warnings: [],
    });
  });

  it("applies a parent's quota and memory limit to an unlimited child", () => {
    expect(probe('v1-memory-parent')).toMatchObject({
      cpuQuotaCores: 0.5,
      cpuQuotaSource: '/sys/fs/cgroup/cpu,cpuacct/batch/cpu.cfs_quota_us',
      memoryLimitBytes: 2 * GiB,
      memorySource: '/sys/fs/cgroup/memory/batch/memory.limit_in_bytes',
      warnings: [],
    });
  });

  it('maps /docker/abc mounted as the mount root to the mount point itself', () => {
    expect(probe('v1-container-root')).toEqual({
      cgroupVersion: 1,
      cpuQuotaCores: 3,
      cpuQuotaSource: '/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us',
      memoryLimitBytes: 512 * MiB,
      memorySource: '/sys/fs/cgroup/memory/memory.limit_in_bytes',
      warnings: [],
    });
  });
});

describe('readCgroupLimits, hybrid and degraded hosts', () => {
  it('prefers the v1 controllers over an empty unified hierarchy', () => {
    // The fixture's unified root holds a decoy cpu.max of 0.5 CPU and memory.max of 1 MiB.
    expect(probe('hybrid')).toEqual({
      cgroupVersion: 1,
      cpuQuotaCores: 1,
      cpuQuotaSource: '/sys/fs/cgroup/cpu/keel-test/cpu.cfs_quota_us',
      memoryLimitBytes: 512 * MiB,
      memorySource: '/sys/fs/cgroup/memory/process_api/0123abcd/keel-test/memory.limit_in_bytes',
      warnings: [],
    });
  });

  it('treats missing and unreadable limit files as no limit', () => {
    // app.slice/cpu.max is a directory in this fixture, so reading it fails with EISDIR.
    expect(probe('missing-files')).toEqual({
      cgroupVersion: 2,
      cpuQuotaCores: null,
      cpuQuotaSource: null,
      memoryLimitBytes: null,
      memorySource: null,
      warnings: [],
    });
  });

  it('reports nothing, and does not throw, without /proc at all', () => {
    expect(probe('no-proc')).toEqual({
      cgroupVersion: null,
      cpuQuotaCores: null,
      cpuQuotaSource: null,
      memoryLimitBytes: null,
      memorySource: null,
      warnings: [],
    });
  });

  it('does not throw for a root that does not exist', () => {
    expect(probe('no-such-fixture').cgroupVersion).toBeNull();
  });

  it('warns about garbage in v2 files and keeps the valid parent limit', () => {
    const result = probe('garbage-v2');
    expect(result).toMatchObject({
      cgroupVersion: 2,
      cpuQuotaCores: 2,
      cpuQuotaSource: '/sys/fs/cgroup/app.slice/cpu.max',
      memoryLimitBytes: null,
    });
    expect(result.warnings).toEqual([
      '/proc/self/cgroup line 1: cannot parse "this is not a cgroup line"',
      '/proc/self/mountinfo line 2: cannot parse "truncated mount line"',
      '/sys/fs/cgroup/app.slice/keel.service/cpu.max: ignoring malformed value "lots of cpu"',
      '/sys/fs/cgroup/app.slice/keel.service/memory.max: ignoring malformed value "12GB"',
    ]);
  });

  it('warns about garbage in v1 files and a quota without its period', () => {
    const result = probe('garbage-v1');
    expect(result).toMatchObject({
      cgroupVersion: 1,
      cpuQuotaCores: null,
      memoryLimitBytes: null,
    });
    expect(result.warnings).toEqual([
      '/sys/fs/cgroup/cpu,cpuacct/keel/cpu.cfs_period_us: missing next to a quota of 150000',
      '/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us: ignoring malformed value "one hundred"',
      '/sys/fs/cgroup/memory/keel/memory.limit_in_bytes: ignoring malformed value "-1"',
    ]);
  });

  it('warns instead of guessing when the cgroup lies outside the mounted subtree', () => {
    const result = probe('outside-mount-root');
    expect(result).toMatchObject({ cpuQuotaCores: null, memoryLimitBytes: null });
    expect(result.warnings).toEqual([
      'cgroup v2 cpu: path /system.slice/other.scope is outside the mount root ' +
        '/system.slice/docker-abc.scope at /sys/fs/cgroup',
      'cgroup v2 memory: path /system.slice/other.scope is outside the mount root ' +
        '/system.slice/docker-abc.scope at /sys/fs/cgroup',
    ]);
  });
});

describe('parseProcCgroup', () => {
  it('keeps colons inside the path and splits controller lists', () => {
    expect(parseProcCgroup('3:cpu,cpuacct:/a:b\n0::/\n').entries).toEqual([
      { hierarchyId: 3, controllers: ['cpu', 'cpuacct'], path: '/a:b' },
      { hierarchyId: 0, controllers: [], path: '/' },
    ]);
  });
});

describe('parseMountInfo', () => {
  it('decodes octal escapes, skips optional fields and non-cgroup mounts', () => {
    const text =
      '23 1 8:1 / / rw - ext4 /dev/sda1 rw\n' +
      '40 31 0:37 /my\\040group /sys/fs/cgroup/cpu\\040x rw shared:3 master:1 - cgroup cgroup rw,cpu\n';
    expect(parseMountInfo(text)).toEqual({
      entries: [
        {
          root: '/my group',
          mountPoint: '/sys/fs/cgroup/cpu x',
          fsType: 'cgroup',
          superOptions: ['rw', 'cpu'],
        },
      ],
      warnings: [],
    });
  });
});

describe('translateCgroupPath', () => {
  const mount = {
    root: '/docker/abc',
    mountPoint: '/sys/fs/cgroup/memory',
    fsType: 'cgroup',
    superOptions: [],
  };

  it('maps paths at and below the mount root', () => {
    expect(translateCgroupPath(mount, '/docker/abc')).toBe('/sys/fs/cgroup/memory');
    expect(translateCgroupPath(mount, '/docker/abc/x')).toBe('/sys/fs/cgroup/memory/x');
  });

  it('refuses paths outside it, including a sibling with a shared prefix', () => {
    expect(translateCgroupPath(mount, '/docker')).toBeNull();
    expect(translateCgroupPath(mount, '/docker/abcdef')).toBeNull();
  });
});
