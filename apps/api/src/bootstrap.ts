import { NestFactory } from '@nestjs/core';
import type { Registry } from 'prom-client';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Logger } from 'nestjs-pino';
import type { AnyProcessor } from '@keel/contracts';
import { JobRunner } from '@keel/jobs';
import {
  KeelExceptionFilter,
  createValidationPipe,
  type KeelConfig,
  type RuntimeInfo,
} from '@keel/platform';
import { describeRuntime } from '@keel/platform/runtime';
import { warmTokenizers } from '@keel/text';
import { ApiModule } from './api.module.js';
import { BodyDecoder } from './body/body-decoder.js';
import { mountBullBoard } from './http/bull-board.js';
import { mountOpenApi } from './openapi.js';

export interface ApiBootOptions {
  config: KeelConfig;
  runtime: RuntimeInfo;
  threadFile: URL;
  bodyThreadFile: URL;
  processors: readonly AnyProcessor[];
  version: string;
  /** A pool the caller created and started before loading the API (it starts the threads early). */
  pool?: { runner: JobRunner; registry: Registry; ready: Promise<void> };
}

export interface RunningApi {
  app: NestExpressApplication;
  url: string;
  /** Resolves when every pool thread is warm, i.e. when /health/ready turns green. */
  ready: Promise<void>;
}

export async function createApi(options: ApiBootOptions): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(ApiModule.forRoot(options), {
    bufferLogs: true,
    // Bodies are parsed by Keel's own middleware, with stable error codes.
    bodyParser: false,
  });
  app.useLogger(app.get(Logger));
  app.useGlobalFilters(new KeelExceptionFilter());
  app.useGlobalPipes(createValidationPipe());
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  mountOpenApi(app, options.version);
  const closeBoard = await mountBullBoard(app, options.config);
  if (closeBoard) app.getHttpServer().once('close', () => void closeBoard());
  return app;
}

export async function startApi(options: ApiBootOptions): Promise<RunningApi> {
  const app = await createApi(options);
  const logger = app.get(Logger);
  // Exit through process.exit once the hooks have run, not by re-raising the signal: pino writes
  // asynchronously and flushes on 'exit', which a signal death skips, so the last lines of a
  // shutdown ('job runner stopped') were sometimes lost.
  app.enableShutdownHooks(['SIGTERM', 'SIGINT'], { useProcessExit: true });
  const runner = app.get(JobRunner);
  // With an LLM, this thread counts tokens (the agent loop's budget, usage a server did not
  // report), and o200k's tables take ~170 ms to load: loaded here, while the pool threads warm up
  // on the other cores, rather than on the loop under the first agent run's request.
  if (options.config.llm) warmTokenizers(['o200k_base']);
  await app.listen(options.config.http.port, options.config.http.host);
  const ready = options.pool?.ready ?? runner.start();
  const server = app.getHttpServer();
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.config.http.port;
  const host = options.config.http.host === '0.0.0.0' ? '127.0.0.1' : options.config.http.host;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  // nestjs-pino: an object with `msg` logs its other fields as structured data.
  logger.log({
    msg: describeRuntime(options.runtime.detected, options.runtime.sizing),
    runtime: options.runtime.detected,
    sizing: options.runtime.sizing,
    dataDir: options.config.dataDir,
  });
  logger.log({ msg: `Keel API listening on ${url}`, url, port });
  void ready.then(
    () => {
      logger.log({ msg: 'job pool warm; ready' });
      // Not before ready: its modules would load on a core the start-up needs.
      app.get(BodyDecoder).start();
    },
    (error: unknown) => logger.error({ msg: 'job pool failed to start', err: error }),
  );
  return { app, url, ready };
}
