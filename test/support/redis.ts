import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

/**
 * A real redis-server for the distributed-mode tests, on a free loopback port, with AOF on
 * (`appendfsync always`: an acknowledged write is on disk, so a restart loses nothing the API
 * accepted). It can be stopped and started again on the same port and data directory, as a
 * Redis restart in production would be. Debian's `redis-server` package provides the binary
 * (`.ci/run` installs it); REDIS_SERVER_BIN points elsewhere.
 */
export class RedisServer {
  private child?: ChildProcess;
  readonly dir = mkdtempSync(join(tmpdir(), 'keel-redis-'));

  private constructor(readonly port: number) {}

  static async start(): Promise<RedisServer> {
    const server = new RedisServer(await freePort());
    await server.start();
    return server;
  }

  /** The server's process id, while it runs (to read its CPU time from /proc). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const bin = process.env.REDIS_SERVER_BIN ?? 'redis-server';
    if (spawnSync(bin, ['--version']).status !== 0) {
      throw new Error(
        `${bin} not found: install Debian's redis-server (apt-get install -y redis-server) or set REDIS_SERVER_BIN`,
      );
    }
    const child = spawn(
      bin,
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--dir',
        this.dir,
        '--appendonly',
        'yes',
        '--appendfsync',
        'always',
        '--save',
        '',
        '--daemonize',
        'no',
        // BullMQ's requirement: keys must never be evicted.
        '--maxmemory-policy',
        'noeviction',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child = child;
    const client = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0 });
    client.on('error', () => undefined);
    try {
      for (let i = 0; i < 200; i++) {
        if (child.exitCode !== null) throw new Error(`redis-server exited (${child.exitCode})`);
        try {
          await client.connect();
          if ((await client.ping()) === 'PONG') return;
        } catch {
          await new Promise((r) => setTimeout(r, 25));
        }
      }
      throw new Error('redis-server did not answer within 5 s');
    } finally {
      client.disconnect();
    }
  }

  /** SIGTERM: Redis flushes the AOF and exits, as on a rolling restart. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    await gone;
  }

  client(): Redis {
    const client = new Redis(this.url, { maxRetriesPerRequest: 1 });
    client.on('error', () => undefined);
    return client;
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address
          ? resolve(address.port)
          : reject(new Error('no port')),
      );
    });
  });
}
