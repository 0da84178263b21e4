import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** The built, bundled CLI: e2e tests run what ships (`npm test` builds first). */
export const KEEL_MAIN = join(REPO_ROOT, 'dist/bundle/apps/cli/src/main.js');

export interface StartOptions {
  env?: Record<string, string>;
  dataDir?: string;
  args?: string[];
  /** Wraps the command, e.g. to start it inside a control group. */
  wrap?: (command: string[]) => string[];
  /** Wait for /health/ready (default) or only for the listening line. */
  waitReady?: boolean;
}

export interface HttpResult<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export class KeelServer {
  readonly logs: string[] = [];
  url = '';

  constructor(
    readonly child: ChildProcess,
    readonly dataDir: string,
    private readonly ownsDataDir: boolean,
  ) {}

  async request<T = any>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<HttpResult<T>> {
    const raw = typeof body === 'string' || body instanceof Uint8Array;
    const res = await fetch(`${this.url}${path}`, {
      method,
      headers: {
        ...(body !== undefined && !raw ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : raw ? (body as string) : JSON.stringify(body),
      signal: AbortSignal.timeout(60_000),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      // not JSON (metrics, HTML)
    }
    return { status: res.status, headers: res.headers, body: parsed as T, text };
  }

  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  /** Sends a signal and resolves with the exit code once the process has gone. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 20_000): Promise<number | null> {
    if (!this.exited) {
      const gone = new Promise<void>((r) => this.child.once('exit', () => r()));
      this.child.kill(signal);
      const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
      await gone;
      clearTimeout(timer);
    }
    return this.child.exitCode;
  }

  async dispose(): Promise<void> {
    await this.stop();
    if (this.ownsDataDir) rmSync(this.dataDir, { recursive: true, force: true });
  }
}

export function tempDir(prefix = 'keel-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Starts the built Keel API on a free loopback port and waits until it is ready. */
export function startKeel(options: StartOptions = {}): Promise<KeelServer> {
  return startProcess('serve', /Keel API listening on (http:\/\/[^"\s]+)/, options);
}

/**
 * Starts `keel worker --queues <queues>` (REDIS_URL in `env`) with its probe port on a free
 * loopback port, over the API's data directory, and waits until it consumes.
 */
export function startKeelWorker(
  queues: string,
  options: StartOptions & { dataDir: string },
): Promise<KeelServer> {
  return startProcess('worker', /Keel worker listening on (http:\/\/[^"\s]+)/, {
    ...options,
    args: ['--queues', queues, '--port', '0', ...(options.args ?? [])],
  });
}

/**
 * Starts the built CLI with a container's `args` as a pod would run it (`serve`, or
 * `worker --queues …`), on free loopback ports, and waits until it is ready.
 */
export function startKeelCommand(args: string[], options: StartOptions = {}): Promise<KeelServer> {
  const [command, ...rest] = args;
  if (command === 'serve')
    return startKeel({ ...options, args: [...rest, ...(options.args ?? [])] });
  if (command === 'worker') {
    return startProcess('worker', /Keel worker listening on (http:\/\/[^"\s]+)/, {
      ...options,
      args: [...rest, '--port', '0', ...(options.args ?? [])],
    });
  }
  throw new Error(`not a Keel process: ${JSON.stringify(args)}`);
}

async function startProcess(
  role: 'serve' | 'worker',
  listeningLine: RegExp,
  options: StartOptions,
): Promise<KeelServer> {
  const dataDir = options.dataDir ?? tempDir();
  const command = [process.execPath, KEEL_MAIN, role, ...(options.args ?? [])];
  const [file, ...args] = options.wrap ? options.wrap(command) : command;
  const child = spawn(file, args, {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      PORT: '0',
      HOST: '127.0.0.1',
      KEEL_DATA_DIR: dataDir,
      LOG_LEVEL: 'info',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const server = new KeelServer(child, dataDir, options.dataDir === undefined);
  const listening = new Promise<string>((resolveUrl, reject) => {
    const onData = (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line === '') continue;
        server.logs.push(line);
        const m = listeningLine.exec(line);
        if (m) resolveUrl(m[1]);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code, signal) =>
      reject(
        new Error(`keel exited (${code ?? signal}) before listening:\n${server.logs.join('\n')}`),
      ),
    );
  });
  server.url = await listening;
  if (options.waitReady !== false) await waitReady(server);
  return server;
}

export async function waitReady(server: KeelServer, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (server.exited) throw new Error(`keel exited:\n${server.logs.join('\n')}`);
    try {
      const res = await fetch(`${server.url}/health/ready`, { signal: AbortSignal.timeout(2_000) });
      await res.body?.cancel();
      if (res.ok) return;
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`keel not ready after ${timeoutMs} ms:\n${server.logs.join('\n')}`);
}
