import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { KEEL_MAIN, REPO_ROOT } from './keel-server.js';

const run = promisify(execFile);

/** Runs the built `keel <args>` and resolves with its output; rejects on a non-zero exit. */
export function keel(args: string[], env: Record<string, string> = {}, timeout = 120_000) {
  return run(process.execPath, [KEEL_MAIN, ...args], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: 'warn', ...env },
    timeout,
    maxBuffer: 16 * 2 ** 20,
  });
}
