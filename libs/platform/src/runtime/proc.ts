import { posix } from 'node:path';

/** One line of `/proc/self/cgroup`: `hierarchy-id:controller-list:path`. */
export interface ProcCgroupEntry {
  hierarchyId: number;
  /** Empty for the cgroup v2 (unified) line `0::/path`; may hold `name=systemd` on v1. */
  controllers: string[];
  path: string;
}

/** The cgroup-related part of one line of `/proc/self/mountinfo`. */
export interface MountInfoEntry {
  /** Field 4: the directory of the mounted filesystem that appears at the mount point. */
  root: string;
  /** Field 5: where that directory is mounted, as seen by this process. */
  mountPoint: string;
  fsType: string;
  /** Comma-separated per-superblock options; on cgroup v1 they name the bound controllers. */
  superOptions: string[];
}

export interface Parsed<T> {
  entries: T[];
  warnings: string[];
}

export function parseProcCgroup(text: string): Parsed<ProcCgroupEntry> {
  const entries: ProcCgroupEntry[] = [];
  const warnings: string[] = [];
  for (const [index, line] of lines(text)) {
    // The path is last and may itself contain ':', so only the first two separators count.
    const first = line.indexOf(':');
    const second = first < 0 ? -1 : line.indexOf(':', first + 1);
    const id = line.slice(0, first);
    const path = line.slice(second + 1);
    if (second < 0 || !/^\d+$/.test(id) || !path.startsWith('/')) {
      warnings.push(`/proc/self/cgroup line ${index}: cannot parse "${clip(line)}"`);
      continue;
    }
    const list = line.slice(first + 1, second);
    entries.push({
      hierarchyId: Number(id),
      controllers: list === '' ? [] : list.split(','),
      path,
    });
  }
  return { entries, warnings };
}

export function parseMountInfo(text: string): Parsed<MountInfoEntry> {
  const entries: MountInfoEntry[] = [];
  const warnings: string[] = [];
  for (const [index, line] of lines(text)) {
    const fields = line.split(' ');
    // Optional fields (shared:N, master:N, ...) vary in number; a lone '-' ends them.
    const dash = fields.indexOf('-', 6);
    if (dash < 0 || dash + 3 >= fields.length) {
      warnings.push(`/proc/self/mountinfo line ${index}: cannot parse "${clip(line)}"`);
      continue;
    }
    const fsType = fields[dash + 1];
    // Only cgroup mounts matter; skipping the rest early keeps odd filesystems from producing
    // warnings that have nothing to do with sizing.
    if (fsType !== 'cgroup' && fsType !== 'cgroup2') continue;
    entries.push({
      root: unescapeOctal(fields[3]),
      mountPoint: unescapeOctal(fields[4]),
      fsType,
      superOptions: fields[dash + 3].split(','),
    });
  }
  return { entries, warnings };
}

/**
 * Maps a cgroup path from `/proc/self/cgroup` to a directory under the mount point, or `null` when
 * the path lies outside what this mount shows. Inside a container without a cgroup namespace the
 * path is `/docker/<id>` and the mount's root is that same directory, so the cgroup is the mount
 * point itself; on a host the root is `/` and the path is appended to the mount point.
 */
export function translateCgroupPath(mount: MountInfoEntry, cgroupPath: string): string | null {
  const relative = posix.relative(mount.root, cgroupPath);
  if (relative === '..' || relative.startsWith('../') || posix.isAbsolute(relative)) return null;
  return posix.join(mount.mountPoint, relative);
}

/** The kernel writes space, tab, newline and backslash in mountinfo paths as `\ooo`. */
function unescapeOctal(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) =>
    String.fromCharCode(parseInt(octal, 8)),
  );
}

function* lines(text: string): Generator<[number, string]> {
  let index = 0;
  for (const raw of text.split('\n')) {
    index++;
    const line = raw.trim();
    if (line !== '') yield [index, line];
  }
}

/** Keeps a warning about a garbage line short enough for one log line. */
export function clip(text: string, max = 80): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}
