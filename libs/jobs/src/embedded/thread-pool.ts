import { fileURLToPath } from 'node:url';
import { MessageChannel } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { Counter, Gauge, type Registry } from 'prom-client';
import { KeelError } from '@keel/contracts/jobs';
import type { KeelConfig } from '@keel/platform';
import {
  ownedBytes,
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
  /** {@link ABANDONED_GRACE_MS} unless set. */
  abandonedGraceMs?: number;
}

/**
 * How long a task whose caller stopped waiting may go on running before its thread is terminated.
 * Request/reply jobs take milliseconds, while a new thread costs hundreds of milliseconds of CPU
 * (modules, the store, tokenizer tables) and starts cold. Terminating it for a client that hung up
 * costs more than finishing the job does; the grace still bounds a job that runs away.
 */
export const ABANDONED_GRACE_MS = 1_000;

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
  private readonly abandoned: Counter<'outcome'>;

  constructor(private readonly options: ThreadPoolOptions) {
    const pool = () => this.pool;
    const registers = [options.registry];
    this.abandoned = new Counter({
      name: 'keel_job_pool_abandoned_total',
      help:
        'Tasks whose caller stopped waiting (cancelled, deadline) while they ran: finished on ' +
        'their thread, or terminated with it past the grace period.',
      labelNames: ['outcome'],
      registers,
    });
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
    // Each thread is an isolate with its own heap, outside nodejs_heap_size_*_bytes (the main
    // thread's): without these, most of the process's RSS is unaccounted for.
    new Gauge({
      name: 'keel_job_pool_heap_bytes',
      help: 'V8 heap of the pool threads together, by kind: used, or total (reserved).',
      labelNames: ['kind'],
      registers,
      async collect() {
        const stats = await Promise.all(
          (pool()?.threads ?? []).map((t) => t.getHeapStatistics().catch(() => undefined)),
        );
        let used = 0;
        let total = 0;
        for (const s of stats) {
          used += s?.used_heap_size ?? 0;
          total += s?.total_heap_size ?? 0;
        }
        this.set({ kind: 'used' }, used);
        this.set({ kind: 'total' }, total);
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
      // Tasks arrive as messages on the thread's event loop. piscina's default ('sync') has an
      // idle thread wait for work in Atomics.wait inside the task it just finished, so the
      // thread's event loop never turns again: its timers never fire, and V8 keeps every object
      // a WeakRef was made of (AbortSignal.timeout and .any make them, once per job) until that
      // task ends, which is never. The soak's pool threads grew by ~50k AbortSignals and Timeouts
      // every 5 min. 'disabled' leaves one way in, the message port; piscina's 'async' would add
      // Atomics.waitAsync beside it. None measurably costs more than another here: an empty task's
      // round trip ~110 µs p50 (~100 µs of the caller's CPU) in all three, and the API's CPU per
      // request and p99 at 96 req/s on SciFact within the spread of alternating 60 s runs.
      atomics: 'disabled',
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
    // Not awaited: readiness does not wait for it. A task, so that the pool knows the thread is
    // busy and a job that comes meanwhile waits for it; piscina gives each to an idle thread, and
    // one thread that gets two has nothing to do the second time.
    for (let i = 0; i < options.threads; i++) void pool.run(WARM).catch(() => undefined);
  }

  private live(): Piscina<ThreadTask | ControlTask, ThreadReply> {
    if (!this.pool) throw new KeelError('UNAVAILABLE', 'the job pool is starting', undefined, 1);
    return this.pool;
  }

  /**
   * Runs a task. Aborting `signal` takes a queued task out of the queue, and rejects at once for a
   * running one, which finishes on its thread for nobody unless it outlasts
   * {@link ABANDONED_GRACE_MS}, when its thread is terminated (piscina starts a new one). Rejects
   * with piscina's {@link QUEUE_FULL} error when the queue is at its bound.
   */
  run(task: Omit<ThreadTask, 'port'>, signal?: AbortSignal): Promise<ThreadReply> {
    const pool = this.live();
    if (!signal) return pool.run(task);
    // The thread sets it when the task starts: whether aborting means dequeuing or abandoning.
    const started = new Int32Array(new SharedArrayBuffer(4));
    const terminate = new AbortController();
    const reply = pool.run({ ...task, started }, { signal: terminate.signal });
    return new Promise<ThreadReply>((resolve, reject) => {
      const onAbort = () => {
        if (Atomics.load(started, 0) === 0) {
          terminate.abort(signal.reason);
          return;
        }
        reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
        const timer = setTimeout(
          () => terminate.abort(signal.reason),
          this.options.abandonedGraceMs ?? ABANDONED_GRACE_MS,
        );
        reply
          .then(
            () => this.abandoned.inc({ outcome: 'finished' }),
            () =>
              this.abandoned.inc({ outcome: terminate.signal.aborted ? 'terminated' : 'finished' }),
          )
          .finally(() => clearTimeout(timer));
      };
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
      reply.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
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
          // The payload's bytes move rather than copy (see ownedBytes).
          const bytes = task.payloadBytes && ownedBytes(task.payloadBytes);
          return await this.live().run(
            { ...task, port: port2, ...(bytes ? { payloadBytes: bytes } : {}) },
            { transferList: bytes ? [port2, bytes.buffer] : [port2] },
          );
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

  /** `value` as JSON bytes, serialized on a thread (see EncodeTask). */
  async encode(value: unknown): Promise<Uint8Array> {
    const reply = (await this.live().run({ encode: value })) as ThreadReply | Uint8Array;
    if (reply instanceof Uint8Array) return reply;
    throw reply.ok
      ? new KeelError('INTERNAL', 'the thread returned no bytes')
      : KeelError.from(reply.error);
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
