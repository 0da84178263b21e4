import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Real control groups for tests: create one with a CPU quota and a memory limit, run commands
 * inside it, remove it afterwards. Needs root (or a delegated cgroup subtree) on Linux.
 *
 * The group is created below the test runner's own cgroup in each hierarchy rather than at the
 * top: whatever limits and accounting the runner already lives under (a CI job's memory group, a
 * systemd slice) keep covering the child. Only the spawned child, and what it starts, ever enters
 * the group; the runner itself and other processes are never moved.
 *
 * This derives paths on its own (mount at /sys/fs/cgroup, host view) instead of borrowing
 * @keel/platform/runtime, so a bug in that module cannot also put the test's group in the wrong
 * place and make the two agree by accident.
 */

const CGROUP_ROOT = '/sys/fs/cgroup';
const NAME_PREFIX = 'keel-test-';
const DEFAULT_PERIOD_US = 100_000;

export interface TestCgroupLimits {
  /** Quota in CPUs, e.g. 1 or 0.5; unset means no quota. */
  cpuQuotaCores?: number;
  /** CFS period; default 100 ms, the kernel's default. */
  cpuPeriodUs?: number;
  memoryLimitBytes?: number;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Kill the command (by its pid) after this long; default 60 s. */
  timeoutMs?: number;
}

export interface RunResult {
  pid: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface TestCgroup {
  readonly name: string;
  readonly version: 1 | 2;
  /** Directory of the group per controller (`cpu`, `cpuacct`, `memory`); all the same on v2. */
  readonly dirs: Readonly<Record<'cpu' | 'cpuacct' | 'memory', string>>;
  /** CPU time used by everything that ran in the group so far. */
  cpuUsageNanos(): Promise<bigint>;
  /**
   * The group's `cpu.stat`: `nr_periods`, `nr_throttled` and `throttled_time` (ns, v1) or
   * `throttled_usec` (v2), which show the kernel enforcing the quota whatever the machine's load.
   */
  cpuStat(): Promise<Record<string, bigint>>;
  /** Starts `command` with the process already inside the group when `command` begins. */
  run(command: string, args: readonly string[], options?: RunOptions): Promise<RunResult>;
  /** Kills what is still in the group and removes its directories; safe to call twice. */
  remove(): Promise<void>;
}

/** Creates a group, hands it to `body`, and removes it whatever `body` does. */
export async function withTestCgroup<T>(
  limits: TestCgroupLimits,
  body: (group: TestCgroup) => Promise<T>,
): Promise<T> {
  const group = await createTestCgroup(limits);
  try {
    return await body(group);
  } finally {
    await group.remove();
  }
}

export async function createTestCgroup(limits: TestCgroupLimits = {}): Promise<TestCgroup> {
  if (process.platform !== 'linux') throw new Error('cgroups exist on Linux only');
  const name = `${NAME_PREFIX}${process.pid}-${randomBytes(4).toString('hex')}`;
  const version = isUnifiedOnly() ? 2 : 1;
  const parents = version === 2 ? v2Parents() : v1Parents();

  const created: string[] = [];
  const group = makeGroup(name, version, parents, created);
  try {
    for (const parent of new Set(Object.values(parents))) {
      sweepStaleGroups(parent);
      const dir = join(parent, name);
      await mkdir(dir);
      created.push(dir);
    }
    await applyLimits(version, group.dirs, limits);
    return group;
  } catch (error) {
    await group.remove();
    throw permissionHint(error);
  }
}

type Controller = 'cpu' | 'cpuacct' | 'memory';

function makeGroup(
  name: string,
  version: 1 | 2,
  parents: Record<Controller, string>,
  created: string[],
): TestCgroup {
  const dirs = {
    cpu: join(parents.cpu, name),
    cpuacct: join(parents.cpuacct, name),
    memory: join(parents.memory, name),
  };
  // On v1, controllers mounted together (cpu,cpuacct) share one directory; a process joins each
  // distinct hierarchy once.
  const procsFiles = () => [...new Set(created)].map((dir) => join(dir, 'cgroup.procs'));
  let removed = false;

  return {
    name,
    version,
    dirs,
    async cpuUsageNanos() {
      if (version === 1) {
        return BigInt((await readFile(join(dirs.cpuacct, 'cpuacct.usage'), 'utf8')).trim());
      }
      const stat = await readFile(join(dirs.cpu, 'cpu.stat'), 'utf8');
      const usec = /^usage_usec (\d+)$/m.exec(stat);
      if (!usec) throw new Error(`no usage_usec in ${join(dirs.cpu, 'cpu.stat')}`);
      return BigInt(usec[1]) * 1000n;
    },
    async cpuStat() {
      const text = await readFile(join(dirs.cpu, 'cpu.stat'), 'utf8');
      const stat: Record<string, bigint> = {};
      for (const [, key, value] of text.matchAll(/^(\w+) (\d+)$/gm)) stat[key] = BigInt(value);
      return stat;
    },
    run(command, args, options = {}) {
      return runInside(procsFiles(), command, args, options);
    },
    async remove() {
      if (removed) return;
      removed = true;
      const failures: unknown[] = [];
      for (const dir of [...new Set(created)].reverse()) {
        try {
          await removeGroupDir(dir);
        } catch (error) {
          failures.push(error);
        }
      }
      if (failures.length > 0)
        throw new AggregateError(failures, `could not remove cgroup ${name}`);
    },
  };
}

function runInside(
  procsFiles: string[],
  command: string,
  args: readonly string[],
  options: RunOptions,
): Promise<RunResult> {
  // The shell writes its own pid ($$) into every hierarchy and then execs the command, so the
  // command's first instruction already runs under the limits; nothing else is ever moved.
  const joins = procsFiles
    .map((file) => `echo $$ > ${shellQuote(file)} || { echo "cannot join ${file}" >&2; exit 125; }`)
    .join('\n');
  const script = `${joins}\nexec "$@"`;
  const child = spawn('/bin/sh', ['-c', script, 'keel-cgroup-run', command, ...args], {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pid = child.pid;
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));

  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      if (pid !== undefined) killQuietly(pid);
      reject(new Error(`${command} timed out in cgroup after ${options.timeoutMs ?? 60_000} ms`));
    }, options.timeoutMs ?? 60_000);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (pid === undefined) reject(new Error(`${command} did not start`));
      else resolve({ pid, code, signal, stdout, stderr });
    });
  });
}

async function applyLimits(
  version: 1 | 2,
  dirs: Record<Controller, string>,
  limits: TestCgroupLimits,
): Promise<void> {
  const period = limits.cpuPeriodUs ?? DEFAULT_PERIOD_US;
  if (limits.cpuQuotaCores !== undefined) {
    const quota = Math.round(limits.cpuQuotaCores * period);
    if (version === 2) {
      await writeFile(join(dirs.cpu, 'cpu.max'), `${quota} ${period}`);
    } else {
      // Period first: the kernel checks the quota against the period already in place.
      await writeFile(join(dirs.cpu, 'cpu.cfs_period_us'), String(period));
      await writeFile(join(dirs.cpu, 'cpu.cfs_quota_us'), String(quota));
    }
  }
  if (limits.memoryLimitBytes !== undefined) {
    const file = version === 2 ? 'memory.max' : 'memory.limit_in_bytes';
    await writeFile(join(dirs.memory, file), String(limits.memoryLimitBytes));
  }
}

/**
 * rmdir fails while tasks remain. Anything still inside is a descendant of a command this helper
 * started (the group's name is unique and nobody else joins it), so it is killed by pid.
 */
async function removeGroupDir(dir: string): Promise<void> {
  if (!existsSync(dir)) return;
  const deadline = Date.now() + 10_000;
  for (;;) {
    const pids = readPids(join(dir, 'cgroup.procs'));
    for (const pid of pids) killQuietly(pid);
    if (pids.length === 0) {
      try {
        await rmdir(dir);
        return;
      } catch (error) {
        if (!isErrno(error, 'EBUSY') || Date.now() > deadline) throw error;
      }
    } else if (Date.now() > deadline) {
      throw new Error(`processes ${pids.join(', ')} still in ${dir}`);
    }
    // Killed tasks leave the group only once they have exited and been reaped.
    await sleep(50);
  }
}

/**
 * A runner killed mid-test (Ctrl-C, OOM) cannot clean up; its groups are recognised by the pid in
 * their name and removed when that process is gone and the group is empty. Groups of live runners,
 * such as another engineer's test run, are left alone.
 */
function sweepStaleGroups(parent: string): void {
  let entries: string[];
  try {
    entries = readdirSync(parent);
  } catch {
    return;
  }
  for (const entry of entries) {
    const match = new RegExp(`^${NAME_PREFIX}(\\d+)-[0-9a-f]+$`).exec(entry);
    if (!match || isAlive(Number(match[1]))) continue;
    const dir = join(parent, entry);
    if (readPids(join(dir, 'cgroup.procs')).length > 0) continue;
    rmdir(dir).catch(() => undefined);
  }
}

/** One directory per controller, below the runner's own cgroup in that hierarchy. */
function v1Parents(): Record<Controller, string> {
  const own = new Map<string, string>();
  for (const line of readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
    const [, controllers = '', path = ''] = line.split(':', 3);
    for (const controller of controllers.split(',')) own.set(controller, path);
  }
  const parent = (controller: Controller): string => {
    const path = own.get(controller);
    if (path === undefined)
      throw new Error(`no cgroup v1 ${controller} controller for this process`);
    // Realpath so that the cpu and cpuacct symlinks to a shared cpu,cpuacct mount collapse into
    // one hierarchy and one directory.
    const dir = realpathSync(join(CGROUP_ROOT, controller, path));
    if (!readPids(join(dir, 'cgroup.procs')).includes(process.pid)) {
      throw new Error(`${dir} does not list this process; is cgroupfs mounted elsewhere?`);
    }
    return dir;
  };
  return { cpu: parent('cpu'), cpuacct: parent('cpuacct'), memory: parent('memory') };
}

/**
 * v2 forbids processes in a group whose children have controllers enabled (except at the root),
 * so the runner's own group usually cannot be the parent. The nearest ancestor that already
 * delegates cpu and memory is used; failing that, the root, after enabling them there.
 */
function v2Parents(): Record<Controller, string> {
  const line = readFileSync('/proc/self/cgroup', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('0::'));
  if (!line) throw new Error('no cgroup v2 entry for this process');
  let dir = join(CGROUP_ROOT, line.slice(3));
  for (;;) {
    const delegated = readText(join(dir, 'cgroup.subtree_control')).split(/\s+/);
    if (delegated.includes('cpu') && delegated.includes('memory')) break;
    if (dir === CGROUP_ROOT) {
      // Writing to the root's subtree_control is a system-wide change, but a harmless one (it
      // only makes the controllers available to children) and one systemd itself makes at boot.
      writeFileSync(join(dir, 'cgroup.subtree_control'), '+cpu +memory');
      break;
    }
    dir = join(dir, '..');
  }
  return { cpu: dir, cpuacct: dir, memory: dir };
}

function isUnifiedOnly(): boolean {
  return existsSync(join(CGROUP_ROOT, 'cgroup.controllers'));
}

function readPids(file: string): number[] {
  return readText(file)
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map(Number);
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Already gone: exactly what we wanted.
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return !isErrno(error, 'ESRCH');
  }
}

function isErrno(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}

function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

function permissionHint(error: unknown): unknown {
  if (isErrno(error, 'EACCES') || isErrno(error, 'EPERM') || isErrno(error, 'EROFS')) {
    return new Error(
      'creating a test cgroup needs root and a writable /sys/fs/cgroup (run the e2e tests as ' +
        'root, or in a container started with --privileged or a delegated cgroup)',
      { cause: error },
    );
  }
  return error;
}

/** Wraps a command so that it is inside every hierarchy of the group before it starts. */
export function insideCgroup(group: TestCgroup): (command: string[]) => string[] {
  const procs = [...new Set(Object.values(group.dirs))].map((d) => join(d, 'cgroup.procs'));
  return (command: string[]) => [
    '/bin/sh',
    '-c',
    `${procs.map((p) => `echo $$ > '${p}'`).join(' && ')} && exec "$@"`,
    'sh',
    ...command,
  ];
}
