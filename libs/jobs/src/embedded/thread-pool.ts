import { fileURLToPath } from 'node:url';
import { MessageChannel } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { Gauge, type Registry } from 'prom-client';
import { KeelError } from '@keel/contracts/jobs';
import type { KeelConfig } from '@keel/platform';
import {
  PING,
  WARM,
  type ControlTask,
  type ThreadReply,
  type ThreadTask,
} from '../thread/index.js';

export interface ThreadPoolOptions {
  /** The module each thread loads (it default-exports a thread handler). */
  threadFile: string | URL;
  threads: number;
  /** Tasks that may wait for a thread; past it, `run` rejects with {@link QUEUE_FULL}. */
  maxQueue: number;
  dataDir: string;
  /** The embedding server, for jobs that embed (ingest of collections with vectors). */
  embeddings?: KeelConfig['embeddings'];
  /** The OpenSearch backend, for jobs on collections that live there. */
  opensearch?: KeelConfig['opensearch'];
  registry: Registry;
}

/** piscina's message when its task queue is at `maxQueue`. */
export const QUEUE_FULL = 'Task queue is at limit';

export function isQueueFull(error: unknown): boolean {
  return error instanceof Error && error.message === QUEUE_FULL;
}

export interface CooperativeOptions {
  /** Aborting it asks the job to stop (it sees its context signal abort); the thread lives on. */
  signal?: AbortSignal;
  onProgress?: (fraction: number) => void;
}

/**
 * The worker threads that run processors, in the API (embedded mode) and in `keel worker`
 * (distributed mode): the same thread file, so the same processor code in both (DESIGN.md §2).
 * CPU-heavy work never runs on the event loop that serves HTTP or renews BullMQ locks.
 */
export class ThreadPool {
  private pool?: Piscina<ThreadTask | ControlTask, ThreadReply>;
  private warm = false;

  constructor(private readonly options: ThreadPoolOptions) {
    const pool = () => this.pool;
    const registers = [options.registry];
    new Gauge({
      name: 'keel_job_pool_threads',
      help: 'Worker threads in the job pool.',
      registers,
      collect() {
        this.set(pool()?.threads.length ?? 0);
      },
    });
    new Gauge({
      name: 'keel_job_pool_queue_depth',
      help: 'Tasks waiting for a pool thread.',
      registers,
      collect() {
        this.set(pool()?.queueSize ?? 0);
      },
    });
    new Gauge({
      name: 'keel_job_pool_utilization',
      help: 'Share of pool thread time spent running tasks since start (piscina).',
      registers,
      collect() {
        this.set(pool()?.utilization ?? 0);
      },
    });
  }

  get threads(): number {
    return this.options.threads;
  }

  /**
   * Starts the threads and resolves once each has loaded its modules and prepared (opened the
   * store); readiness waits for it.
   */
  async start(timeoutMs = 30_000): Promise<void> {
    const options = this.options;
    const pool = new Piscina<ThreadTask | ControlTask, ThreadReply>({
      filename:
        options.threadFile instanceof URL ? fileURLToPath(options.threadFile) : options.threadFile,
      minThreads: options.threads,
      maxThreads: options.threads,
      maxQueue: options.maxQueue,
      // Threads are expensive to start (modules, tokenizer tables): keep them.
      idleTimeout: 2 ** 31 - 1,
      workerData: {
        dataDir: options.dataDir,
        embeddings: options.embeddings,
        opensearch: options.opensearch,
      },
    });
    this.pool = pool;
    const signal = AbortSignal.timeout(timeoutMs);
    const replies = await Promise.all(
      Array.from({ length: options.threads }, () => pool.run(PING, { signal })),
    );
    const failed = replies.find((r) => !r.ok);
    if (failed && !failed.ok) throw KeelError.from(failed.error);
    this.warm = true;
    // Not awaited: readiness does not wait for it. An idle piscina thread blocks in Atomics.wait,
    // so this has to be a task; piscina gives each to an idle thread, and one thread that gets
    // two has nothing to do the second time.
    for (let i = 0; i < options.threads; i++) void pool.run(WARM).catch(() => undefined);
  }

  private live(): Piscina<ThreadTask | ControlTask, ThreadReply> {
    if (!this.pool) throw new KeelError('UNAVAILABLE', 'the job pool is starting', undefined, 1);
    return this.pool;
  }

  /**
   * Runs a task. Aborting `signal` takes a queued task out of the queue and terminates the thread
   * of a running one (piscina starts a new one), so nothing keeps computing a result nobody will
   * read. Rejects with piscina's {@link QUEUE_FULL} error when the queue is at its bound.
   */
  run(task: Omit<ThreadTask, 'port'>, signal?: AbortSignal): Promise<ThreadReply> {
    return this.live().run(task, signal ? { signal } : {});
  }

  /**
   * Runs a job that writes (ingest, an evaluation's report) and may run long: cancellation is
   * cooperative (a message the job's context turns into an aborted signal), because a thread
   * terminated mid-transaction costs a restart for nothing; progress comes back the same way. A
   * full queue only delays such a job: it was admitted already.
   */
  async runCooperative(
    task: Omit<ThreadTask, 'port'>,
    { signal, onProgress }: CooperativeOptions = {},
  ): Promise<ThreadReply> {
    const { port1, port2 } = new MessageChannel();
    port1.on('message', (m: { progress?: number }) => {
      if (typeof m.progress === 'number') onProgress?.(m.progress);
    });
    const cancel = () => port1.postMessage({ cancel: true });
    if (signal?.aborted) cancel();
    signal?.addEventListener('abort', cancel, { once: true });
    try {
      for (let attempt = 0; ; attempt++) {
        try {
          return await this.live().run({ ...task, port: port2 }, { transferList: [port2] });
        } catch (error) {
          if (!isQueueFull(error) || attempt > 600) throw error;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    } finally {
      signal?.removeEventListener('abort', cancel);
      port1.close();
    }
  }

  health(): { up: boolean; threads: number; expectedThreads: number; queueDepth: number } {
    const threads = this.pool?.threads.length ?? 0;
    return {
      up: this.warm && threads === this.options.threads,
      threads,
      expectedThreads: this.options.threads,
      queueDepth: this.pool?.queueSize ?? 0,
    };
  }

  async destroy(): Promise<void> {
    await this.pool?.destroy();
  }
}
