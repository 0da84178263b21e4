import type { RunningApi } from '../../api/src/index.js';
import { KeelClient } from './client.js';
import { bootConfig, layout } from './boot.js';

export interface Target {
  client: KeelClient;
  /** Set when the CLI started its own in-process API; close it when done. */
  close?: () => Promise<void>;
}

/**
 * The CLI always talks HTTP to Keel. With `--url` (or KEEL_URL) it uses that server; otherwise it
 * uses one on localhost:PORT when it answers, and else starts the API in this process on a free
 * loopback port over the same data directory, so `keel ingest` works with or without a server.
 */
export async function connect(url: string | undefined): Promise<Target> {
  if (url) return { client: new KeelClient(url) };
  const { config, runtime } = bootConfig();
  const local = new KeelClient(`http://127.0.0.1:${config.http.port}`);
  if (await local.isReady()) return { client: local };
  const { startApi } = await import('../../api/src/index.js');
  const { PROCESSORS } = await import('../../worker/src/index.js');
  const { startJobs } = await import('@keel/jobs/embedded');
  const apiConfig = {
    ...config,
    logLevel: config.logLevel === 'info' ? ('warn' as const) : config.logLevel,
    http: { ...config.http, host: '127.0.0.1', port: 0 },
  };
  const running: RunningApi = await startApi({
    config: apiConfig,
    runtime,
    threadFile: layout().threadFile,
    bodyThreadFile: layout().bodyThreadFile,
    processors: PROCESSORS,
    version: layout().version,
    // With REDIS_URL set, the in-process API queues to the same workers a server would.
    pool: await startJobs(apiConfig, runtime, layout().threadFile),
  });
  await running.ready;
  return { client: new KeelClient(running.url), close: () => running.app.close() };
}
