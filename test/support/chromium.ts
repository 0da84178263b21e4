import { spawn } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * Headless Chromium for tests that check how a page renders: a screenshot of a local HTML file
 * and its DOM after parsing. Each run gets its own throw-away profile, so parallel runs (and
 * other users of the machine) never share one, and is killed, with its helpers, on timeout.
 */

const INSTALL_HINT =
  'install it (Debian: `apt-get update && apt-get install -y --no-install-recommends chromium`) ' +
  'or set CHROMIUM_BIN to its executable.';

/** Why no Chromium was found, and how to get one. */
export function chromiumMissingMessage(): string {
  const fromEnv = process.env.CHROMIUM_BIN;
  return fromEnv !== undefined && fromEnv !== ''
    ? `CHROMIUM_BIN=${fromEnv} is not an executable file: fix it, or ${INSTALL_HINT}`
    : `Chromium not found (chromium or chromium-browser on PATH): ${INSTALL_HINT}`;
}

const NAMES = ['chromium', 'chromium-browser'];
const DEFAULT_TIMEOUT_MS = 30_000;

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** `CHROMIUM_BIN` when set (it must then be executable), else `chromium` or `chromium-browser` on PATH. */
export function findChromium(): string | undefined {
  const fromEnv = process.env.CHROMIUM_BIN;
  if (fromEnv !== undefined && fromEnv !== '') {
    return isExecutable(fromEnv) ? resolve(fromEnv) : undefined;
  }
  const dirs = (process.env.PATH ?? '').split(delimiter).filter((dir) => dir !== '');
  for (const name of NAMES) {
    for (const dir of dirs) {
      const candidate = join(dir, name);
      if (isExecutable(candidate)) return candidate;
    }
  }
  return undefined;
}

/** Like `findChromium`, but throws how to install Chromium instead of returning undefined. */
export function requireChromium(): string {
  const bin = findChromium();
  if (bin === undefined) throw new Error(chromiumMissingMessage());
  return bin;
}

export interface ChromiumOptions {
  /** Default: `requireChromium()`. */
  chromium?: string;
  /** Kill Chromium after this long; default 30 s. */
  timeoutMs?: number;
}

export interface ScreenshotOptions extends ChromiumOptions {
  width: number;
  height: number;
}

interface ChromiumResult {
  stdout: string;
  stderr: string;
}

const COMMON_ARGS = [
  '--headless',
  '--no-sandbox', // tests run as root in containers, where the sandbox cannot start
  '--disable-gpu',
  '--disable-dev-shm-usage', // a container's /dev/shm is often 64 MB
  '--no-first-run',
  '--no-default-browser-check',
  '--disable-extensions',
  '--hide-scrollbars',
  '--force-device-scale-factor=1', // a screenshot of exactly the window's pixels
  '--force-color-profile=srgb', // colours as written in the page, whatever the host's profile
];

async function runChromium(
  args: readonly string[],
  options: ChromiumOptions,
): Promise<ChromiumResult> {
  const bin = options.chromium ?? requireChromium();
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const profile = await mkdtemp(join(tmpdir(), 'keel-chromium-'));
  try {
    return await new Promise<ChromiumResult>((done, fail) => {
      // Its own process group, so a timeout kills the browser and the helpers it started. (The
      // crash handler starts a session of its own; it exits once the browser is gone.) The XDG
      // directories keep what Chromium writes besides the profile, crash reports included, in
      // the throw-away directory rather than the user's home.
      const child = spawn(bin, [...COMMON_ARGS, `--user-data-dir=${profile}`, ...args], {
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, XDG_CONFIG_HOME: profile, XDG_CACHE_HOME: profile },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      let timedOut = false;
      const killGroup = (): void => {
        if (child.pid === undefined) return;
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      };
      const timer = setTimeout(() => {
        timedOut = true;
        killGroup();
      }, timeoutMs);
      child.on('error', (error) => {
        clearTimeout(timer);
        fail(error);
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        killGroup(); // helpers that outlived the browser
        if (timedOut) {
          fail(new Error(`chromium timed out after ${timeoutMs} ms\n${stderr.slice(-2000)}`));
        } else if (code !== 0) {
          fail(new Error(`chromium exited with ${code ?? signal}\n${stderr.slice(-2000)}`));
        } else {
          done({ stdout, stderr });
        }
      });
    });
  } finally {
    await rm(profile, { recursive: true, force: true });
  }
}

/** A PNG of the first `width` × `height` pixels of a local HTML file as Chromium renders it. */
export async function screenshot(
  htmlFile: string,
  pngFile: string,
  options: ScreenshotOptions,
): Promise<void> {
  await runChromium(
    [
      `--screenshot=${resolve(pngFile)}`,
      `--window-size=${options.width},${options.height}`,
      pathToFileURL(resolve(htmlFile)).href,
    ],
    options,
  );
}

/** The DOM of a local HTML file after Chromium parsed it, serialised as HTML. */
export async function dumpDom(htmlFile: string, options: ChromiumOptions = {}): Promise<string> {
  const { stdout } = await runChromium(
    ['--dump-dom', pathToFileURL(resolve(htmlFile)).href],
    options,
  );
  return stdout;
}
