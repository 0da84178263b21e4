import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request the tool server saw. */
export interface RecordedRequest {
  method: string;
  /** Path without the query (`/echo/paris`). */
  path: string;
  query: Record<string, string>;
  headers: Record<string, string | string[] | undefined>;
  /** The parsed JSON body, the raw text when it is not JSON, undefined when empty. */
  body: unknown;
  /** The client closed the connection before the response was complete (an abort, a cap). */
  closed: boolean;
  /** The response was written to the end. */
  finished: boolean;
}

/**
 * A real HTTP server for tool tests, on 127.0.0.1 at a random port. Endpoints:
 *
 * - `/echo[/anything]`: 200 JSON `{ method, path, query, body, headers }` (what the tool sent).
 * - `/slow?ms=N`: answers `{ sleptMs: N }` after N ms.
 * - `/fail?times=N&key=K`: 500 for the first N calls with key K (default key: `default`), then
 *   200 `{ ok: true, calls }`.
 * - `/status?code=N`: answers status N with a text body that quotes the request's Authorization
 *   header (a server that echoes what it got: error messages must scrub secrets).
 * - `/text`: 200 `text/plain`.
 * - `/hang`: never answers (until the client goes away or the server closes).
 * - `/huge?mb=N`: streams N MiB (default 16) of JSON-ish bytes, in 64 KiB chunks, slowly enough
 *   that a client that stops reading is seen to close early.
 * - `/redirect?to=URL[&status=302]`: a redirect to URL.
 *
 * Every request is recorded (`requests`, `count`), including whether the client closed the
 * socket before the response ended: `waitForClosed('/hang', 2)` waits for the second such close.
 */
export interface ToolServer {
  /** `http://127.0.0.1:<port>` */
  url: string;
  port: number;
  readonly requests: readonly RecordedRequest[];
  /** Requests seen on `path` (exactly, without the query). */
  count(path: string): number;
  /** Resolves once `n` requests on `path` were closed by the client early; rejects after `timeoutMs`. */
  waitForClosed(path: string, n?: number, timeoutMs?: number): Promise<void>;
  /** Forgets the recorded requests and the `/fail` counters. */
  reset(): void;
  close(): Promise<void>;
}

export async function startToolServer(): Promise<ToolServer> {
  const requests: RecordedRequest[] = [];
  const failures = new Map<string, number>();
  const waiters = new Set<() => void>();
  const notify = () => {
    for (const waiter of waiters) waiter();
  };

  const server = createServer((req, res) => {
    void handle(req, res);
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const text = await readBody(req);
    let body: unknown;
    if (text !== '') {
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
    }
    const record: RecordedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: req.headers,
      body,
      closed: false,
      finished: false,
    };
    requests.push(record);
    res.once('finish', () => {
      record.finished = true;
    });
    res.once('close', () => {
      if (!res.writableFinished) {
        record.closed = true;
        notify();
      }
    });
    const json = (status: number, value: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(value));
    };
    const number = (name: string, fallback: number) => {
      const value = Number(url.searchParams.get(name));
      return Number.isFinite(value) && url.searchParams.has(name) ? value : fallback;
    };

    const [, first] = url.pathname.split('/');
    switch (first) {
      case 'echo':
        return json(200, {
          method: record.method,
          path: record.path,
          query: record.query,
          body,
          headers: req.headers,
        });
      case 'slow': {
        const ms = number('ms', 1000);
        const timer = setTimeout(() => json(200, { sleptMs: ms }), ms);
        res.once('close', () => clearTimeout(timer));
        return;
      }
      case 'fail': {
        const key = url.searchParams.get('key') ?? 'default';
        const calls = (failures.get(key) ?? 0) + 1;
        failures.set(key, calls);
        if (calls <= number('times', 1)) return json(500, { error: 'failing on purpose', calls });
        return json(200, { ok: true, calls });
      }
      case 'status': {
        res.writeHead(number('code', 500), { 'content-type': 'text/plain' });
        res.end(`status ${number('code', 500)}; authorization: ${req.headers.authorization ?? ''}`);
        return;
      }
      case 'text':
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
        res.end('plain text answer');
        return;
      case 'hang':
        return;
      case 'huge': {
        const total = number('mb', 16) * 1024 * 1024;
        const chunk = Buffer.alloc(64 * 1024, 'a');
        res.writeHead(200, { 'content-type': 'application/json' });
        let sent = 0;
        const pump = () => {
          if (res.destroyed) return;
          if (sent >= total) return void res.end();
          sent += chunk.length;
          // Backpressure and a tick between chunks: the client's early close lands mid-stream.
          if (res.write(chunk)) setTimeout(pump, 1);
          else res.once('drain', pump);
        };
        pump();
        return;
      }
      case 'redirect': {
        res.writeHead(number('status', 302), { location: url.searchParams.get('to') ?? '/echo' });
        res.end();
        return;
      }
      default:
        return json(404, { error: `no endpoint ${url.pathname}` });
    }
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    count: (path) => requests.filter((r) => r.path === path).length,
    waitForClosed(path, n = 1, timeoutMs = 5_000) {
      return new Promise<void>((resolve, reject) => {
        const check = () => {
          if (requests.filter((r) => r.path === path && r.closed).length >= n) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve();
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          const seen = requests.filter((r) => r.path === path && r.closed).length;
          reject(
            new Error(`${path}: ${seen} of ${n} requests closed early within ${timeoutMs} ms`),
          );
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    reset() {
      requests.length = 0;
      failures.clear();
    },
    close() {
      server.closeAllConnections();
      return new Promise<void>((resolve, reject) =>
        server.close((error) => (error ? reject(error) : resolve())),
      );
    },
  };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
