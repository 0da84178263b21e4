import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inject } from 'vitest';
import { freePort } from './redis.js';
import type { TestProject } from 'vitest/node';

/**
 * One real OpenSearch 2.19 node per test run, for the `opensearch` Vitest project.
 *
 * `setup` is the project's globalSetup: it builds the launcher under test/opensearch/ once
 * (`scripts/opensearch.sh build`, cached), starts the node on a loopback port chosen free here,
 * and provides its URL to the tests (`inject('opensearchUrl')`, or `openSearchUrl()` below). With
 * OPENSEARCH_URL set it starts nothing and provides that URL: a person's own cluster.
 *
 * Fault tests stop the node mid-test and start it again. globalSetup runs in Vitest's main process
 * and tests in worker processes, so the node stays a child of the main process (a node started by
 * a worker would die with it, and the files after it would find none) and the main process serves
 * a small control API on loopback: `stopOpenSearch()`, `startOpenSearch()`, `pauseOpenSearch()`
 * and `resumeOpenSearch()` below call it from a test. A restart reuses the node's home, data path
 * and HTTP port, so the URL a test holds (and any client built on it) stays valid and the indices
 * come back from disk, as after a restart in production. SIGTERM closes the node cleanly, SIGKILL
 * is a crash (OpenSearch replays its translog on the next start), SIGSTOP/SIGCONT is a node that
 * hangs without closing its sockets. The node's stdin is a pipe from the main process: if Vitest
 * dies, the node sees end of file and exits, so no node outlives a run.
 */

declare module 'vitest' {
  export interface ProvidedContext {
    /** Base URL of the node, e.g. http://127.0.0.1:43127 (no trailing slash); '' if none. */
    opensearchUrl: string;
    /** The harness's control endpoint; '' with OPENSEARCH_URL, or when the node did not start. */
    opensearchControlUrl: string;
    /** True when OPENSEARCH_URL names a cluster of one's own, which the harness cannot stop. */
    opensearchExternal: boolean;
    /** Why the build or the start failed; '' when the node runs. */
    opensearchError: string;
  }
}

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const OPENSEARCH_SCRIPT = join(REPO_ROOT, 'scripts/opensearch.sh');

/** Node start on this 2-core machine takes about 10-20 s; leave room for a loaded one. */
const START_TIMEOUT_MS = 180_000;
const STOP_TIMEOUT_MS = 30_000;
const BUILD_TIMEOUT_MS = 15 * 60_000;

export interface OpenSearchState {
  url: string;
  port: number;
  home: string;
  /** pid of the running JVM, or null while stopped. */
  pid: number | null;
  running: boolean;
  paused: boolean;
  /** How long the last start took, from spawn to the ready line. */
  lastStartMs: number | null;
  /** How the last node process ended (`SIGKILL`, `0`, …), or null while the first still runs. */
  lastExit: string | null;
}

/** Runs `scripts/opensearch.sh build`: a no-op when test/opensearch is built and unchanged. */
export function buildOpenSearchLauncher(): Promise<void> {
  return new Promise((resolveBuild, reject) => {
    const child = spawn('bash', [OPENSEARCH_SCRIPT, 'build'], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), BUILD_TIMEOUT_MS);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolveBuild();
      else reject(new Error(`scripts/opensearch.sh build failed (${code ?? signal})`));
    });
  });
}

/**
 * The node process, owned by whoever constructs it (the globalSetup, in a test run). Each start
 * execs `scripts/opensearch.sh run --home H --http-port P`, so the pid is the JVM's.
 */
export class OpenSearchNode {
  readonly logs: string[] = [];
  private child?: ChildProcess;
  private paused = false;
  private lastStartMs: number | null = null;
  private lastExit: string | null = null;

  constructor(
    readonly port: number,
    readonly home: string,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return (
      this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null
    );
  }

  state(): OpenSearchState {
    return {
      url: this.url,
      port: this.port,
      home: this.home,
      pid: this.running ? (this.child?.pid ?? null) : null,
      running: this.running,
      paused: this.running && this.paused,
      lastStartMs: this.lastStartMs,
      lastExit: this.lastExit,
    };
  }

  /** Starts the node (a no-op while it runs; resumes it when paused) and waits until it is ready. */
  async start(): Promise<void> {
    if (this.running) {
      if (this.paused) this.resume();
      return;
    }
    const started = Date.now();
    const child = spawn(
      'bash',
      [OPENSEARCH_SCRIPT, 'run', '--home', this.home, '--http-port', String(this.port)],
      { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env } },
    );
    this.child = child;
    this.paused = false;
    child.once('exit', (code, signal) => (this.lastExit = String(code ?? signal)));
    // Nothing is written to stdin; it only has to stay open. EPIPE after the node exits is fine.
    child.stdin.on('error', () => undefined);

    const ready = new Promise<void>((resolveReady, reject) => {
      const onLine = (line: string) => {
        if (line === '') return;
        this.logs.push(line);
        if (this.logs.length > 400) this.logs.splice(0, this.logs.length - 400);
        if (line.startsWith(`OPENSEARCH_URL=`)) resolveReady();
      };
      lines(child.stdout, onLine);
      lines(child.stderr, onLine);
      child.once('exit', (code, signal) =>
        reject(
          new Error(`OpenSearch exited (${code ?? signal}) before it was ready:\n${this.tail()}`),
        ),
      );
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(new Error(`OpenSearch not ready after ${START_TIMEOUT_MS} ms:\n${this.tail()}`)),
        START_TIMEOUT_MS,
      );
    });
    try {
      await Promise.race([ready, timeout]);
    } catch (error) {
      await this.stop('SIGKILL');
      throw error;
    } finally {
      clearTimeout(timer);
    }
    this.lastStartMs = Date.now() - started;
  }

  /** Sends `signal` (SIGTERM: a clean close; SIGKILL: a crash) and waits until the JVM is gone. */
  async stop(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const gone = new Promise<void>((r) => child.once('exit', () => r()));
    // A stopped process keeps SIGTERM pending; let it run so that it can act on it.
    if (this.paused) this.resume();
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await gone;
    clearTimeout(timer);
    this.paused = false;
  }

  /**
   * SIGSTOP: the node hangs with its sockets open, as under a long GC pause or a frozen VM.
   * Resolves once every thread has stopped: the kernel stops them one by one, and a thread still
   * running just after kill() can answer one more request.
   */
  async pause(): Promise<void> {
    const pid = this.child?.pid;
    if (!this.running || this.paused || pid === undefined) return;
    this.child?.kill('SIGSTOP');
    this.paused = true;
    const until = Date.now() + 10_000;
    while (!allThreadsStopped(pid)) {
      if (Date.now() > until) throw new Error(`OpenSearch (pid ${pid}) did not stop within 10 s`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  resume(): void {
    if (!this.running || !this.paused) return;
    this.child?.kill('SIGCONT');
    this.paused = false;
  }

  tail(n = 60): string {
    return this.logs.slice(-n).join('\n');
  }
}

/** True when each thread of `pid` is in the stopped state (`T`); Linux /proc only. */
function allThreadsStopped(pid: number): boolean {
  if (process.platform !== 'linux') return true;
  try {
    return readdirSync(`/proc/${pid}/task`).every((tid) => {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      // The state follows the command name, which is in parentheses and may contain spaces.
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      return state === 'T' || state === 't';
    });
  } catch {
    return false; // a thread ended while we looked; look again
  }
}

function lines(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let buffered = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buffered += chunk;
    const parts = buffered.split('\n');
    buffered = parts.pop() ?? '';
    for (const line of parts) onLine(line);
  });
}

/** Loopback HTTP API over one node: POST start|stop|pause|resume, GET state. */
function serveControl(node: OpenSearchNode, token: string): Promise<Server> {
  // One operation at a time: a start racing a stop would leave either state.
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(op: () => Promise<T>): Promise<T> => {
    const next = queue.then(op, op);
    queue = next.catch(() => undefined);
    return next;
  };
  const server = createHttpServer((req, res) => {
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const [, prefix, action] = (req.url ?? '').split('/');
    if (prefix !== token) return reply(404, { error: 'not found' });
    void readBody(req)
      .then(async (raw) => {
        const body = raw === '' ? {} : (JSON.parse(raw) as { signal?: string });
        if (req.method === 'GET' && action === 'state') return node.state();
        if (req.method !== 'POST') throw Object.assign(new Error('use POST'), { status: 405 });
        switch (action) {
          case 'start':
            return serial(() => node.start().then(() => node.state()));
          case 'stop': {
            const signal = body.signal ?? 'SIGTERM';
            if (signal !== 'SIGTERM' && signal !== 'SIGKILL') {
              throw Object.assign(new Error('signal must be SIGTERM or SIGKILL'), { status: 400 });
            }
            return serial(() => node.stop(signal).then(() => node.state()));
          }
          case 'pause':
            return serial(() => node.pause().then(() => node.state()));
          case 'resume':
            return serial(() => {
              node.resume();
              return Promise.resolve(node.state());
            });
          default:
            throw Object.assign(new Error(`unknown action ${action}`), { status: 404 });
        }
      })
      .then(
        (state) => reply(200, state),
        (error: Error & { status?: number }) =>
          reply(error.status ?? 500, { error: error.message }),
      );
  });
  return new Promise((resolveServer, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolveServer(server));
  });
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolveBody, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => resolveBody(body));
    req.on('error', reject);
  });
}

/**
 * Vitest globalSetup of the `opensearch` project; the returned function is its teardown.
 *
 * It never throws: Vitest would abort the whole run, unit tests included, on a failed
 * globalSetup. A failed build or start is provided as `opensearchError` instead, and every test
 * that asks for the node fails with it, so the failure shows in the count.
 */
export async function setup(project: TestProject): Promise<() => Promise<void>> {
  const external = process.env.OPENSEARCH_URL;
  project.provide('opensearchExternal', Boolean(external));
  project.provide('opensearchUrl', external ? external.replace(/\/+$/, '') : '');
  project.provide('opensearchControlUrl', '');
  project.provide('opensearchError', '');
  if (external) return () => Promise.resolve();

  const home = mkdtempSync(join(tmpdir(), 'keel-opensearch-test-'));
  let node: OpenSearchNode;
  let control: Server;
  try {
    await buildOpenSearchLauncher();
    node = await startOnFreePort(home);
    const token = randomBytes(12).toString('hex');
    control = await serveControl(node, token);
    const address = control.address();
    const controlPort = typeof address === 'object' && address ? address.port : 0;
    project.provide('opensearchUrl', node.url);
    project.provide('opensearchControlUrl', `http://127.0.0.1:${controlPort}/${token}`);
  } catch (error) {
    rmSync(home, { recursive: true, force: true });
    const message = error instanceof Error ? error.message : String(error);
    console.error(`[opensearch] no node for this run: ${message}`);
    project.provide('opensearchError', message);
    return () => Promise.resolve();
  }
  console.log(
    `[opensearch] node ready at ${node.url} in ${node.state().lastStartMs} ms (home ${home})`,
  );

  return async () => {
    await new Promise<void>((r) => control.close(() => r()));
    await node.stop('SIGTERM');
    rmSync(home, { recursive: true, force: true });
  };
}

/**
 * The port is chosen here, not by the node, so that a restart comes back on it; should another
 * process take it before the JVM binds it, try another one once.
 */
async function startOnFreePort(home: string): Promise<OpenSearchNode> {
  for (let attempt = 1; ; attempt++) {
    const node = new OpenSearchNode(await freePort(), home);
    try {
      await node.start();
      return node;
    } catch (error) {
      if (attempt >= 2 || !/BindHttpException|Address already in use/.test(String(error))) {
        throw error;
      }
    }
  }
}

// ---- helpers for tests (they run in worker processes and talk to the control API) ----

function assertStarted(): void {
  const error = inject('opensearchError');
  if (error) throw new Error(`the harness could not start OpenSearch: ${error}`);
}

/** The node's base URL, from the globalSetup (or OPENSEARCH_URL); throws if it did not start. */
export function openSearchUrl(): string {
  assertStarted();
  return inject('opensearchUrl');
}

/**
 * False against a cluster of one's own (OPENSEARCH_URL): the harness cannot stop that one, so
 * fault tests skip. True when the harness's node failed to start: those tests then fail.
 */
export function canControlOpenSearch(): boolean {
  return !inject('opensearchExternal');
}

async function control(action: string, body?: unknown): Promise<OpenSearchState> {
  assertStarted();
  const base = inject('opensearchControlUrl');
  if (!base) {
    throw new Error(
      'OPENSEARCH_URL is set: the harness did not start this node and cannot control it',
    );
  }
  const res = await fetch(`${base}/${action}`, {
    method: action === 'state' ? 'GET' : 'POST',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(START_TIMEOUT_MS + 10_000),
  });
  const parsed = (await res.json()) as OpenSearchState & { error?: string };
  if (!res.ok) throw new Error(`opensearch control ${action}: ${parsed.error ?? res.status}`);
  return parsed;
}

/** Stops the node and waits until the JVM has exited. SIGKILL: a crash, no clean close. */
export function stopOpenSearch(
  signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM',
): Promise<OpenSearchState> {
  return control('stop', { signal });
}

/**
 * Starts the node again on the same port and data (a no-op while it runs) and waits until it
 * answers HTTP. Its indices may still be recovering: wait for the health you need.
 */
export function startOpenSearch(): Promise<OpenSearchState> {
  return control('start');
}

/** SIGSTOP: connections stay open and requests hang until `resumeOpenSearch()`. */
export function pauseOpenSearch(): Promise<OpenSearchState> {
  return control('pause');
}

export function resumeOpenSearch(): Promise<OpenSearchState> {
  return control('resume');
}

export function openSearchState(): Promise<OpenSearchState> {
  return control('state');
}
