import { readFileSync } from 'node:fs';
import { posix } from 'node:path';
import {
  clip,
  MountInfoEntry,
  parseMountInfo,
  parseProcCgroup,
  ProcCgroupEntry,
  translateCgroupPath,
} from './proc.js';

/** Reads a file by its absolute path as this process sees it; `undefined` when it cannot. */
export type FileReader = (absolutePath: string) => string | undefined;

export interface CgroupProbeOptions {
  /**
   * Prefix for every path read (`/proc/self/cgroup`, `/proc/self/mountinfo`, the limit files), so
   * a fixture tree can stand in for the real filesystem. Paths in the result stay unprefixed.
   * Default `/`.
   */
  root?: string;
  /** Replaces the file reader altogether; `root` is then ignored. */
  readFile?: FileReader;
}

export type CgroupVersion = 1 | 2;

/** What the control groups of this process allow, as far as they could be read. */
export interface CgroupLimits {
  /** The hierarchy the CPU limit was looked up in (the memory one when no CPU controller is found). */
  cgroupVersion: CgroupVersion | null;
  /** Quota divided by period, e.g. 1.5; `null` when no level of the path sets a quota. */
  cpuQuotaCores: number | null;
  /** The limit file that set {@link cpuQuotaCores}. */
  cpuQuotaSource: string | null;
  memoryLimitBytes: number | null;
  memorySource: string | null;
  /** Malformed or inconsistent content that was ignored. */
  warnings: string[];
}

/**
 * cgroup v1 reports "no limit" as the largest page-aligned counter (9223372036854771712 on 4 KiB
 * pages, other values with other page sizes); anything from 2^62 bytes up is no real machine's
 * memory, so it is read as unlimited whatever the page size.
 */
const V1_MEMORY_UNLIMITED = 2n ** 62n;

/**
 * Reads the CPU quota and memory limit of the calling process's cgroup, the way Go's automaxprocs
 * does. Synchronous on purpose: it runs once at boot, before the worker pool and libuv's thread
 * pool exist, and its answer decides their sizes. Missing or unreadable files mean "no limit
 * found"; malformed content becomes a warning. It never throws.
 */
export function readCgroupLimits(options: CgroupProbeOptions = {}): CgroupLimits {
  const read = options.readFile ?? fsReader(options.root ?? '/');
  const warnings: string[] = [];

  const procText = read('/proc/self/cgroup');
  const mountText = read('/proc/self/mountinfo');
  const proc = parseProcCgroup(procText ?? '');
  const mounts = parseMountInfo(mountText ?? '');
  warnings.push(...proc.warnings, ...mounts.warnings);

  const hierarchies = { proc: proc.entries, mounts: mounts.entries, warnings };
  const cpuDirs = locateController(hierarchies, 'cpu');
  const memoryDirs = locateController(hierarchies, 'memory');

  const cpu = cpuDirs ? smallestCpuQuota(read, cpuDirs, warnings) : null;
  const memory = memoryDirs ? smallestMemoryLimit(read, memoryDirs, warnings) : null;

  return {
    cgroupVersion: cpuDirs?.version ?? memoryDirs?.version ?? null,
    cpuQuotaCores: cpu?.value ?? null,
    cpuQuotaSource: cpu?.source ?? null,
    memoryLimitBytes: memory?.value ?? null,
    memorySource: memory?.source ?? null,
    warnings,
  };
}

interface Hierarchies {
  proc: ProcCgroupEntry[];
  mounts: MountInfoEntry[];
  warnings: string[];
}

/** The process's own cgroup directory for one controller, and the mount point above it. */
interface ControllerDirs {
  version: CgroupVersion;
  /** From the process's cgroup up to the mount point, innermost first. */
  path: string[];
}

/**
 * A controller lives in exactly one hierarchy. On hybrid hosts (v1 controllers plus a unified
 * hierarchy that holds none of them, like systemd's default for years) the v2 line `0::/` is
 * present but its directory has no `cpu.max`, so a v1 line naming the controller wins; only
 * without one is the unified hierarchy consulted.
 */
function locateController(h: Hierarchies, controller: 'cpu' | 'memory'): ControllerDirs | null {
  const v1 = h.proc.find((e) => e.hierarchyId !== 0 && e.controllers.includes(controller));
  if (v1) {
    const mount = pickMount(
      h.mounts.filter((m) => m.fsType === 'cgroup' && m.superOptions.includes(controller)),
      v1.path,
    );
    return mount ? dirs(1, mount, v1.path, h.warnings, controller) : unmounted(h, controller);
  }
  const v2 = h.proc.find((e) => e.hierarchyId === 0 && e.controllers.length === 0);
  if (v2) {
    const mount = pickMount(
      h.mounts.filter((m) => m.fsType === 'cgroup2'),
      v2.path,
    );
    return mount ? dirs(2, mount, v2.path, h.warnings, controller) : unmounted(h, controller);
  }
  return null;
}

/**
 * The same hierarchy can be mounted more than once (a container may see the host's and its own);
 * the mount whose root is the deepest ancestor of the cgroup path shows the most of it.
 */
function pickMount(candidates: MountInfoEntry[], cgroupPath: string): MountInfoEntry | null {
  let best: MountInfoEntry | null = null;
  for (const mount of candidates) {
    if (translateCgroupPath(mount, cgroupPath) === null) continue;
    if (!best || mount.root.length > best.root.length) best = mount;
  }
  return best ?? candidates[0] ?? null;
}

function dirs(
  version: CgroupVersion,
  mount: MountInfoEntry,
  cgroupPath: string,
  warnings: string[],
  controller: string,
): ControllerDirs | null {
  const own = translateCgroupPath(mount, cgroupPath);
  if (own === null) {
    warnings.push(
      `cgroup v${version} ${controller}: path ${cgroupPath} is outside the mount root ` +
        `${mount.root} at ${mount.mountPoint}`,
    );
    return null;
  }
  // Levels above the mount point belong to whoever set up this view (the host, for a container);
  // they are not visible here, and their limits are already reflected in what the kernel enforces
  // on the levels that are.
  const top = posix.normalize(mount.mountPoint);
  const path: string[] = [];
  for (let dir = own; ; dir = posix.dirname(dir)) {
    path.push(dir);
    if (dir === top || dir === '/') break;
  }
  return { version, path };
}

function unmounted(h: Hierarchies, controller: string): null {
  h.warnings.push(`cgroup ${controller}: listed in /proc/self/cgroup but no matching mount`);
  return null;
}

interface Found {
  value: number;
  source: string;
}

/**
 * Every level along the path can carry its own quota and the kernel enforces all of them, so the
 * tightest one is what this process really gets (a pod's limit constrains the container inside
 * it even when the container's own file says "max").
 */
function smallestCpuQuota(read: FileReader, at: ControllerDirs, warnings: string[]): Found | null {
  let best: Found | null = null;
  for (const dir of at.path) {
    const found = at.version === 2 ? cpuMax(read, dir, warnings) : cfsQuota(read, dir, warnings);
    if (found && (!best || found.value < best.value)) best = found;
  }
  return best;
}

function smallestMemoryLimit(
  read: FileReader,
  at: ControllerDirs,
  warnings: string[],
): Found | null {
  let best: Found | null = null;
  for (const dir of at.path) {
    const found =
      at.version === 2 ? memoryMax(read, dir, warnings) : memoryLimitV1(read, dir, warnings);
    if (found && (!best || found.value < best.value)) best = found;
  }
  return best;
}

/** v2 `cpu.max`: "max <period>" or "<quota> <period>", in microseconds. */
function cpuMax(read: FileReader, dir: string, warnings: string[]): Found | null {
  const source = posix.join(dir, 'cpu.max');
  const text = read(source)?.trim();
  if (text === undefined) return null;
  const match = /^(max|\d+)(?:\s+(\d+))?$/.exec(text);
  if (!match) return malformed(warnings, source, text);
  if (match[1] === 'max') return null;
  // The kernel always writes the period; if it is ever left out, its documented default applies.
  const period = Number(match[2] ?? '100000');
  const quota = Number(match[1]);
  if (quota <= 0 || period <= 0) return malformed(warnings, source, text);
  return { value: quota / period, source };
}

/** v1 `cpu.cfs_quota_us` (-1 means unlimited) over `cpu.cfs_period_us`. */
function cfsQuota(read: FileReader, dir: string, warnings: string[]): Found | null {
  const source = posix.join(dir, 'cpu.cfs_quota_us');
  const quotaText = read(source)?.trim();
  if (quotaText === undefined) return null;
  if (!/^-?\d+$/.test(quotaText)) return malformed(warnings, source, quotaText);
  const quota = Number(quotaText);
  if (quota < 0) return null;
  if (quota === 0) return malformed(warnings, source, quotaText);
  const periodFile = posix.join(dir, 'cpu.cfs_period_us');
  const periodText = read(periodFile)?.trim();
  // A quota without its period cannot be turned into cores; guessing the default period here
  // could size the pool from a number the kernel does not use.
  if (periodText === undefined) {
    warnings.push(`${periodFile}: missing next to a quota of ${quota}`);
    return null;
  }
  if (!/^\d+$/.test(periodText) || Number(periodText) === 0) {
    return malformed(warnings, periodFile, periodText);
  }
  return { value: quota / Number(periodText), source };
}

/** v2 `memory.max`: "max" or bytes. */
function memoryMax(read: FileReader, dir: string, warnings: string[]): Found | null {
  const source = posix.join(dir, 'memory.max');
  const text = read(source)?.trim();
  if (text === undefined || text === 'max') return null;
  if (!/^\d+$/.test(text)) return malformed(warnings, source, text);
  return { value: Number(text), source };
}

/** v1 `memory.limit_in_bytes`, where a huge value means unlimited. */
function memoryLimitV1(read: FileReader, dir: string, warnings: string[]): Found | null {
  const source = posix.join(dir, 'memory.limit_in_bytes');
  const text = read(source)?.trim();
  if (text === undefined) return null;
  if (!/^\d+$/.test(text)) return malformed(warnings, source, text);
  // BigInt because the unlimited sentinel is beyond the integers a double holds exactly.
  if (BigInt(text) >= V1_MEMORY_UNLIMITED) return null;
  return { value: Number(text), source };
}

function malformed(warnings: string[], source: string, text: string): null {
  warnings.push(`${source}: ignoring malformed value "${clip(text)}"`);
  return null;
}

function fsReader(root: string): FileReader {
  return (absolutePath) => {
    try {
      return readFileSync(posix.join(root, absolutePath), 'utf8');
    } catch {
      // ENOENT is the normal "this level sets no limit"; EACCES and friends (a locked-down
      // sandbox, a non-Linux host) mean the same for sizing: fall back to what the host shows.
      return undefined;
    }
  };
}
