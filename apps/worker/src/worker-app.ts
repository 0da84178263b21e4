import {
  DynamicModule,
  Inject,
  Injectable,
  Module,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { TerminusModule } from '@nestjs/terminus';
import { Logger } from 'nestjs-pino';
import { Registry } from 'prom-client';
import type { QueueName } from '@keel/contracts/jobs';
import { KeelWorker } from '@keel/jobs/distributed';
import { ThreadPool } from '@keel/jobs/embedded';
import { ProcessorRegistry } from '@keel/jobs/thread';
import { KEEL_CONFIG, PlatformModule, type KeelConfig, type RuntimeInfo } from '@keel/platform';
import { describeRuntime } from '@keel/platform/runtime';
import { KEEL_WORKER, WorkerHealthController } from './http/worker-health.controller.js';
import { PROCESSORS } from './processors.js';

export interface WorkerBootOptions {
  config: KeelConfig & { redisUrl: string };
  runtime: RuntimeInfo;
  threadFile: URL;
  queues: readonly QueueName[];
  /** Jobs per queue at once; default KEEL_WORKER_CONCURRENCY, else the CPU quota. */
  concurrency?: number;
  port?: number;
}

@Injectable()
class WorkerLifecycle implements OnApplicationShutdown {
  constructor(
    @Inject(KEEL_WORKER) private readonly worker: KeelWorker,
    @Inject(KEEL_CONFIG) private readonly config: KeelConfig,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await this.worker.close(this.config.shutdownGraceMs);
  }
}

@Module({})
class WorkerModule {
  static forRoot(
    options: WorkerBootOptions,
    worker: KeelWorker,
    registry: Registry,
  ): DynamicModule {
    return {
      module: WorkerModule,
      imports: [
        PlatformModule.forRoot({ config: options.config, runtime: options.runtime, registry }),
        TerminusModule.forRoot({ logger: false }),
      ],
      controllers: [WorkerHealthController],
      providers: [{ provide: KEEL_WORKER, useValue: worker }, WorkerLifecycle],
    };
  }
}

export interface RunningWorker {
  app: NestExpressApplication;
  url: string;
  worker: KeelWorker;
  /** Resolves when the threads are warm and every queue is being consumed. */
  ready: Promise<void>;
}

/**
 * `keel worker --queues …`: BullMQ consumers for the given queues (STYLE.md #4: only workers
 * consume), a pool of worker threads sized from the container's CPU quota that runs the jobs, and
 * a small HTTP port for probes and metrics.
 */
export async function startWorker(options: WorkerBootOptions): Promise<RunningWorker> {
  ProcessorRegistry.from(PROCESSORS);
  const { config, runtime } = options;
  const threads = runtime.sizing.poolThreads;
  const concurrency = options.concurrency ?? config.worker.concurrency ?? threads;
  const registry = new Registry();
  const pool = new ThreadPool({
    threadFile: options.threadFile,
    threads,
    // Every slot of every queue may wait for a thread: BullMQ already bounds what is taken.
    maxQueue: concurrency * options.queues.length,
    dataDir: config.dataDir,
    ...(config.embeddings ? { embeddings: config.embeddings } : {}),
    ...(config.opensearch ? { opensearch: config.opensearch } : {}),
    registry,
  });
  const poolReady = pool.start();
  poolReady.catch(() => undefined);
  let log: (level: 'info' | 'warn' | 'error', msg: string, fields?: object) => void = () =>
    undefined;
  const worker = new KeelWorker({
    redisUrl: config.redisUrl,
    prefix: config.queues.prefix,
    queues: options.queues,
    concurrency,
    lockMs: config.queues.lockMs,
    redisTimeoutMs: config.queues.redisTimeoutMs,
    pool,
    registry,
    log: (level, msg, fields) => log(level, msg, fields),
  });
  const app = await NestFactory.create<NestExpressApplication>(
    WorkerModule.forRoot(options, worker, registry),
    { bufferLogs: true },
  );
  const logger = app.get(Logger);
  app.useLogger(logger);
  log = (level, msg, fields) => {
    const entry = { msg, ...fields };
    if (level === 'error') logger.error(entry);
    else if (level === 'warn') logger.warn(entry);
    else logger.log(entry);
  };
  // process.exit after the hooks, as the API does: pino's last lines are flushed on 'exit'.
  app.enableShutdownHooks(['SIGTERM', 'SIGINT'], { useProcessExit: true });
  await app.listen(options.port ?? config.worker.port, config.http.host);
  const address = app.getHttpServer().address();
  const port = typeof address === 'object' && address ? address.port : config.worker.port;
  const host = config.http.host === '0.0.0.0' ? '127.0.0.1' : config.http.host;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  logger.log({
    msg: describeRuntime(runtime.detected, runtime.sizing),
    runtime: runtime.detected,
    sizing: runtime.sizing,
  });
  logger.log({
    msg: `Keel worker listening on ${url}`,
    url,
    port,
    queues: options.queues,
    concurrency,
  });
  // Consume only once the threads are warm: a job taken earlier would wait on them.
  const ready = poolReady.then(() => worker.start());
  void ready.then(
    () => logger.log({ msg: `consuming ${options.queues.join(', ')}; ready` }),
    (error: unknown) => {
      logger.error({ msg: 'worker failed to start', err: error });
      process.exitCode = 1;
      void app.close();
    },
  );
  return { app, url, worker, ready };
}
