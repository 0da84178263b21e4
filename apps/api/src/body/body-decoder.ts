import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { KeelError } from '@keel/contracts';
import { ownedBytes } from '@keel/jobs/thread';
import { KEEL_CONFIG, MetricsService, type KeelConfig } from '@keel/platform';
import { sharedHistogram } from '@keel/platform/metrics';
import type { Histogram } from 'prom-client';
import { BODY_TYPES, type BodyReply, type BodyTask, type BodyTypeName } from './body-types.js';

export const BODY_THREAD_FILE = Symbol('BODY_THREAD_FILE');

type BodyType = (typeof BODY_TYPES)[BodyTypeName];

/**
 * Decodes large JSON bodies (parse + the ValidationPipe's rules) on one thread of the API's own,
 * in both modes: this is the HTTP layer's work, not a job, and in distributed mode the API has no
 * pool. One thread, because a body is decoded in tens of milliseconds and a request waits for it;
 * a backlog bounded in bytes beyond it answers 429, like every other queue in Keel.
 */
@Injectable()
export class BodyDecoder implements OnModuleDestroy {
  private readonly logger = new Logger(BodyDecoder.name);
  private pool?: Piscina<BodyTask, BodyReply>;
  private started = false;
  /** Bytes of the bodies given to the thread and not decoded yet (see decode). */
  private backlogBytes = 0;
  private readonly seconds: Histogram<'type' | 'thread'>;

  constructor(
    @Inject(BODY_THREAD_FILE) private readonly threadFile: URL,
    @Inject(KEEL_CONFIG) private readonly config: KeelConfig,
    metrics: MetricsService,
  ) {
    this.seconds = sharedHistogram(metrics.registry, {
      name: 'keel_body_decode_seconds',
      help: 'Time to parse and validate a large request body, on the thread that did it (main = the event loop).',
      labelNames: ['type', 'thread'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
    });
  }

  /** Starts the thread (its modules take ~100 ms to load) ahead of the first large body. */
  start(): void {
    if (this.started) return;
    this.started = true;
    if (this.config.diagnosticBodyOnLoop) {
      this.logger.warn(
        'DIAGNOSTIC: ingest, rerank and pack bodies are decoded on the API event loop (KEEL_DIAGNOSTIC_BODY_ON_LOOP); never in production',
      );
      return;
    }
    this.pool = new Piscina<BodyTask, BodyReply>({
      filename: fileURLToPath(this.threadFile),
      minThreads: 1,
      maxThreads: 1,
      idleTimeout: 2 ** 31 - 1,
      // See the job pool: tasks arrive as port messages, so the thread's event loop keeps turning.
      atomics: 'disabled',
    });
    // A thread that dies is replaced by piscina; its error is logged, never thrown at the process.
    this.pool.on('error', (error: unknown) =>
      this.logger.error({ msg: 'body thread failed', err: error }),
    );
  }

  /** The body as `type`, validated, or the request's 4xx; its bytes move to the thread (ownedBytes). */
  async decode<T extends BodyType>(type: T, body: unknown): Promise<InstanceType<T>> {
    this.start();
    const bytes = Buffer.isBuffer(body) ? body : undefined;
    const task: BodyTask = { type: type.name as BodyTypeName };
    const transferList: ArrayBuffer[] = [];
    if (bytes && bytes.byteLength > 0) {
      const owned = ownedBytes(bytes);
      task.bytes = owned;
      transferList.push(owned.buffer);
    }
    // At least 1 KiB a body, so that the number of waiting bodies is bounded too.
    const cost = Math.max(task.bytes?.byteLength ?? 0, 1024);
    if (
      this.backlogBytes > 0 &&
      this.backlogBytes + cost > this.config.http.bodyDecodeBacklogBytes
    ) {
      throw new KeelError(
        'OVERLOADED',
        'too many request bodies waiting to be decoded; retry later',
        undefined,
        1,
      );
    }
    this.backlogBytes += cost;
    let reply: BodyReply;
    try {
      reply = this.config.diagnosticBodyOnLoop
        ? await (await import('./body-decode.js')).decodeBody(task)
        : await this.pool!.run(task, { transferList });
    } finally {
      this.backlogBytes -= cost;
    }
    this.seconds.observe(
      { type: task.type, thread: reply.threadId === 0 ? 'main' : 'body' },
      reply.seconds,
    );
    if (reply.error) throw KeelError.from(reply.error);
    return reply.value as InstanceType<T>;
  }

  async onModuleDestroy(): Promise<void> {
    await this.pool?.destroy();
  }
}
