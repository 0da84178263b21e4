import { existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { TestCgroup, withTestCgroup } from '../support/cgroup.js';

/**
 * Runs the built runtime module inside a control group created for the test, so that what is
 * checked is the kernel's view of a real quota, not a fixture. `npm test` builds dist/ first.
 */
const RUNTIME_MODULE = fileURLToPath(
  new URL('../../dist/libs/platform/src/runtime/index.js', import.meta.url),
);

const MiB = 2 ** 20;

/** Prints what the runtime module detects from inside the child's own cgroup. */
const DETECT_SCRIPT = `
import { readFileSync } from 'node:fs';
const runtime = await import(process.argv[1]);
const detected = runtime.detectRuntime();
const sizing = runtime.sizeRuntime(detected);
console.log(JSON.stringify({
  detected,
  sizing,
  line: runtime.describeRuntime(detected, sizing),
  constrainedMemory: process.constrainedMemory(),
  procCgroup: readFileSync('/proc/self/cgroup', 'utf8'),
}));
`;

/**
 * Two threads spinning until the same wall-clock deadline; prints CPU time against wall time. The
 * worker gets an empty execArgv so it does not inherit --input-type=module and can use require.
 */
const BUSY_SCRIPT = `
import { Worker } from 'node:worker_threads';
const wallStart = performance.now();
const cpuStart = process.cpuUsage();
const deadline = Date.now() + Number(process.argv[1]);
const worker = new Worker('const { workerData } = require("node:worker_threads"); while (Date.now() < workerData) {}', { eval: true, execArgv: [], workerData: deadline });
while (Date.now() < deadline) {}
await new Promise((resolve) => worker.once('exit', resolve));
const cpu = process.cpuUsage(cpuStart);
console.log(JSON.stringify({ wallMs: performance.now() - wallStart, cpuMs: (cpu.user + cpu.system) / 1000 }));
`;

interface DetectOutput {
  detected: {
    cgroupVersion: 1 | 2 | null;
    cpuQuotaCores: number | null;
    cpuQuotaSource: string | null;
    memoryLimitBytes: number | null;
    memorySource: string | null;
    hostCores: number;
    warnings: string[];
  };
  sizing: { effectiveCpus: number; poolThreads: number; uvThreadpoolSize: number };
  line: string;
  constrainedMemory: number;
  procCgroup: string;
}

async function runNode(group: TestCgroup, script: string, arg: string): Promise<string> {
  const result = await group.run(process.execPath, ['--input-type=module', '-e', script, arg]);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return result.stdout;
}

describe('runtime sizing inside a real cgroup', () => {
  beforeAll(() => {
    if (!existsSync(RUNTIME_MODULE)) {
      throw new Error(`${RUNTIME_MODULE} is missing: run \`npm run build\` (npm test does)`);
    }
  });

  it('detects a 1-CPU quota and a 512 MiB limit from inside the group', async () => {
    const hostCores = cpus().length;
    // A quota of one CPU only proves something on a machine that has more.
    expect(hostCores).toBeGreaterThan(1);

    await withTestCgroup({ cpuQuotaCores: 1, memoryLimitBytes: 512 * MiB }, async (group) => {
      const stdout = await runNode(group, DETECT_SCRIPT, pathToFileURL(RUNTIME_MODULE).href);
      const out = JSON.parse(stdout) as DetectOutput;

      expect(out.procCgroup).toContain(group.name);
      const v1 = group.version === 1;
      expect(out.detected).toMatchObject({
        cgroupVersion: group.version,
        cpuQuotaCores: 1,
        cpuQuotaSource: join(group.dirs.cpu, v1 ? 'cpu.cfs_quota_us' : 'cpu.max'),
        memoryLimitBytes: 512 * MiB,
        memorySource: join(group.dirs.memory, v1 ? 'memory.limit_in_bytes' : 'memory.max'),
        hostCores,
        warnings: [],
      });
      expect(out.sizing).toMatchObject({ effectiveCpus: 1, poolThreads: 1, uvThreadpoolSize: 2 });
      // libuv reads the memory limit on its own; the two readings agreeing is a second opinion.
      expect(out.constrainedMemory).toBe(512 * MiB);
      expect(out.line).toContain('cpu quota 1 core');
      expect(out.line).toContain('memory limit 512 MiB');
    });
  });

  it('is throttled by the kernel to about half a CPU in a 0.5-CPU group', async () => {
    await withTestCgroup({ cpuQuotaCores: 0.5 }, async (group) => {
      const usageBefore = await group.cpuUsageNanos();
      const wallBefore = performance.now();
      const stdout = await runNode(group, BUSY_SCRIPT, '2000');
      const wallMs = performance.now() - wallBefore;
      const groupCpuMs = Number((await group.cpuUsageNanos()) - usageBefore) / 1e6;
      const child = JSON.parse(stdout) as { wallMs: number; cpuMs: number };
      const stat = await group.cpuStat();

      // Without the quota the same child used 1.1 to 2 CPU-seconds per second on this two-core
      // machine, depending on what else ran. The bounds are wide because the machine is shared;
      // the upper one is what only the quota explains.
      const childRatio = child.cpuMs / child.wallMs;
      const groupRatio = groupCpuMs / wallMs;
      expect(childRatio).toBeGreaterThan(0.25);
      expect(childRatio).toBeLessThan(0.7);
      expect(groupRatio).toBeGreaterThan(0.25);
      expect(groupRatio).toBeLessThan(0.7);
      // Throttled periods are the kernel's own record of cutting the group off.
      expect(stat.nr_throttled).toBeGreaterThan(5n);
    });
  });

  it('removes the group, and what still runs in it, when the body throws', async () => {
    let dirs: string[] = [];
    const failure = new Error('body failed');
    await expect(
      withTestCgroup({ cpuQuotaCores: 1, memoryLimitBytes: 64 * MiB }, async (group) => {
        dirs = Object.values(group.dirs);
        // A background process that outlives the command keeps the group busy until killed.
        const result = await group.run('/bin/sh', ['-c', 'sleep 300 >/dev/null 2>&1 & echo $!']);
        expect(Number(result.stdout.trim())).toBeGreaterThan(0);
        throw failure;
      }),
    ).rejects.toBe(failure);
    expect(dirs.length).toBeGreaterThan(0);
    for (const dir of dirs) expect(existsSync(dir)).toBe(false);
  });
});
