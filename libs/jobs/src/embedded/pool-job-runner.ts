import { randomUUID } from 'node:crypto';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { KeelConfig } from '@keel/platform';
import {
  KeelError,
  type JobName,
  type JobPayload,
  type JobRecord,
  type JobResult,
  type QueueName,
} from '@keel/contracts/jobs';
import type { ThreadReply, ThreadTask } from '../thread/index.js';
import { idempotentJobId } from '../job-ids.js';
import { stoppedWaiting } from '../waiting.js';
import {
  JobRunner,
  type EnqueueOptions,
  type RunOptions,
  type RunnerHealth,
} from '../job-runner.js';
import { JobStore } from './job-store.js';
import { isQueueFull, ThreadPool } from './thread-pool.js';

export interface PoolOptions {
  /** The module each pool thread loads (it default-exports a thread handler). */
  threadFile: string | URL;
  threads: number;
  /** Tasks that may wait for a thread; past it, run() is refused with OVERLOADED. */
  maxQueue: number;
  dataDir: string;
  embeddings?: KeelConfig['embeddings'];
  opensearch?: KeelConfig['opensearch'];
  /** Tracked jobs (ingest) running at once; the rest of the pool stays free for queries. */
  trackedConcurrency: number;
  /** Tracked jobs accepted and not finished; past it, enqueue() is refused with OVERLOADED. */
  trackedBacklog: number;
  trackedTimeoutMs: number;
  retentionHours: number;
  registry: Registry;
}

interface Tracked {
  record: JobRecord;
  task: Omit<ThreadTask, 'port'>;
  timeoutMs: number;
  cancel: AbortController;
  waiters: Array<(record: JobRecord) => void>;
}

const FINISHED = new Set(['completed', 'failed', 'cancelled']);

/**
 * The embedded JobRunner: a worker-thread pool (piscina) in the API process, sized from the
 * container's CPU quota. Synchronous work (search, rerank, pack) goes straight to the pool and is
 * shed with 429 when the pool's queue is full; tracked work (ingest) goes through a small gate so
 * that it never holds every thread, with its records in a SQLite file of its own.
 */
export class PoolJobRunner extends JobRunner {
  private readonly pool: ThreadPool;
  private readonly store: JobStore;
  private readonly tracked = new Map<string, Tracked>();
  private readonly waiting: Tracked[] = [];
  private active = 0;
  private readonly running = new Set<Promise<void>>();
  private closing = false;
  private starting?: Promise<void>;
  private readonly pruneTimer: NodeJS.Timeout;
  private readonly duration: Histogram<'queue' | 'name' | 'outcome'>;
  private readonly shed: Counter<'queue'>;

  constructor(private readonly options: PoolOptions) {
    super();
    this.store = JobStore.open(options.dataDir);
    this.store.failInterrupted();
    this.pruneTimer = setInterval(() => this.prune(), 3_600_000);
    this.pruneTimer.unref();
    this.pool = new ThreadPool(options);
    const registers = [options.registry];
    this.duration = new Histogram({
      name: 'keel_job_duration_seconds',
      help: 'Job run time in the pool, from submission to result, by queue, name and outcome.',
      labelNames: ['queue', 'name', 'outcome'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 120],
      registers,
    });
    this.shed = new Counter({
      name: 'keel_jobs_shed_total',
      help: 'Jobs refused because a queue was at its bound.',
      labelNames: ['queue'],
      registers,
    });
    const tracked = () => ({ active: this.active, waiting: this.waiting.length });
    new Gauge({
      name: 'keel_tracked_jobs',
      help: 'Tracked jobs (ingest) by state.',
      labelNames: ['state'],
      registers,
      collect() {
        const { active, waiting } = tracked();
        this.set({ state: 'active' }, active);
        this.set({ state: 'waiting' }, waiting);
      },
    });
  }

  /**
   * Starts the threads and resolves once they have loaded their modules and prepared (opened the
   * store). Called after the HTTP server listens, so the threads' start-up does not compete with
   * the API's for the same cores; readiness stays red until this resolves.
   */
  override start(timeoutMs = 30_000): Promise<void> {
    // Idempotent: the CLI starts the threads early, and a runner built on top starts it again.
    this.starting ??= this.pool.start(timeoutMs);
    return this.starting;
  }

  /** `value` as JSON bytes, serialized on a pool thread rather than on the caller's event loop. */
  encode(value: unknown): Promise<Uint8Array> {
    this.checkOpen();
    return this.pool.encode(value);
  }

  override async run<Q extends QueueName, N extends JobName<Q>>(
    queue: Q,
    name: N,
    payload: JobPayload<Q, N>,
    options: RunOptions,
  ): Promise<JobResult<Q, N>> {
    this.checkOpen();
    const remaining = options.deadline - Date.now();
    if (remaining <= 0)
      throw new KeelError('DEADLINE_EXCEEDED', 'the deadline passed before the job started');
    const timeout = AbortSignal.timeout(remaining);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    const end = this.duration.startTimer({ queue, name });
    const task: ThreadTask = {
      queue,
      name,
      payload,
      requestId: options.requestId,
      deadline: options.deadline,
    };
    let reply: ThreadReply;
    try {
      // A queued task that is aborted leaves the queue; a running one is not waited for, and
      // finishes on its thread (or has it terminated past ThreadPool's grace).
      reply = await this.pool.run(task, signal);
    } catch (error) {
      const keel = this.poolError(queue, error, timeout, options.signal);
      end({ outcome: keel.code });
      throw keel;
    }
    if (!reply.ok) {
      end({ outcome: reply.error.code });
      throw KeelError.from(reply.error);
    }
    end({ outcome: 'ok' });
    return reply.result;
  }

  private checkOpen(): void {
    if (this.closing) throw new KeelError('UNAVAILABLE', 'shutting down', undefined, 1);
  }

  private poolError(
    queue: QueueName,
    error: unknown,
    timeout: AbortSignal,
    caller: AbortSignal | undefined,
  ): KeelError {
    if (isQueueFull(error)) {
      this.shed.inc({ queue });
      return new KeelError(
        'OVERLOADED',
        `the job pool is full (${queue}); retry shortly`,
        undefined,
        1,
      );
    }
    if (timeout.aborted)
      return new KeelError('DEADLINE_EXCEEDED', 'the deadline passed before the job finished');
    if (caller?.aborted) {
      const reason: unknown = caller.reason;
      if (reason instanceof DOMException && reason.name === 'TimeoutError') {
        return new KeelError('DEADLINE_EXCEEDED', 'the deadline passed before the job finished');
      }
      return new KeelError('CANCELLED', 'the request was cancelled');
    }
    return new KeelError('JOB_FAILED', error instanceof Error ? error.message : String(error));
  }

  override async enqueue<Q extends QueueName, N extends JobName<Q>>(
    queue: Q,
    name: N,
    payload: JobPayload<Q, N>,
    options: EnqueueOptions = {},
  ): Promise<JobRecord> {
    this.checkOpen();
    const id = options.idempotencyKey
      ? idempotentJobId(queue, options.idempotencyKey)
      : randomUUID();
    const existing = options.idempotencyKey ? await this.get(id) : undefined;
    if (existing) return existing;
    if (this.active + this.waiting.length >= this.options.trackedBacklog) {
      this.shed.inc({ queue });
      throw new KeelError(
        'OVERLOADED',
        `too many ${queue} jobs in progress; retry later`,
        undefined,
        5,
      );
    }
    const record: JobRecord = {
      id,
      queue,
      name,
      state: 'waiting',
      progress: 0,
      createdAt: new Date().toISOString(),
      ...(options.requestId ? { requestId: options.requestId } : {}),
    };
    this.store.insert(record);
    const tracked: Tracked = {
      record,
      task: { queue, name, payload, jobId: record.id, requestId: options.requestId },
      timeoutMs: options.timeoutMs ?? this.options.trackedTimeoutMs,
      cancel: new AbortController(),
      waiters: [],
    };
    this.tracked.set(record.id, tracked);
    this.waiting.push(tracked);
    this.pump();
    return { ...record };
  }

  private pump(): void {
    while (this.active < this.options.trackedConcurrency && this.waiting.length > 0) {
      const next = this.waiting.shift()!;
      this.active += 1;
      const execution = this.execute(next).finally(() => {
        this.active -= 1;
        this.running.delete(execution);
        if (!this.closing) this.pump();
      });
      this.running.add(execution);
    }
  }

  private async execute(job: Tracked): Promise<void> {
    const { record } = job;
    record.state = 'active';
    record.startedAt = new Date().toISOString();
    this.store.update(record);
    const deadline = Date.now() + job.timeoutMs;
    const end = this.duration.startTimer({ queue: record.queue, name: record.name });
    try {
      const reply: ThreadReply = await this.pool.runCooperative(
        { ...job.task, deadline },
        {
          signal: job.cancel.signal,
          onProgress: (fraction) => (record.progress = fraction),
        },
      );
      if (reply.ok) {
        this.finish(job, { state: 'completed', progress: 1, result: reply.result });
        end({ outcome: 'ok' });
      } else {
        const cancelled = job.cancel.signal.aborted && reply.error.code === 'CANCELLED';
        this.finish(job, { state: cancelled ? 'cancelled' : 'failed', error: reply.error });
        end({ outcome: reply.error.code });
      }
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.finish(job, { state: 'failed', error: { code: 'JOB_FAILED', message } });
      end({ outcome: 'JOB_FAILED' });
    }
  }

  private finish(job: Tracked, change: Partial<JobRecord>): void {
    Object.assign(job.record, change, { finishedAt: new Date().toISOString() });
    this.store.update(job.record);
    this.tracked.delete(job.record.id);
    for (const resolve of job.waiters) resolve({ ...job.record });
  }

  override get(id: string): Promise<JobRecord | undefined> {
    const live = this.tracked.get(id);
    return Promise.resolve(live ? { ...live.record } : this.store.get(id));
  }

  override async wait(id: string, signal?: AbortSignal): Promise<JobRecord> {
    const live = this.tracked.get(id);
    if (!live) {
      const stored = this.store.get(id);
      if (!stored) throw new KeelError('JOB_NOT_FOUND', `job '${id}' does not exist`);
      return stored;
    }
    // A signal aborted already never fires again: the deadline may pass while the body is decoded.
    if (signal?.aborted) return Promise.reject(stoppedWaiting(id, signal));
    return new Promise<JobRecord>((resolve, reject) => {
      const onAbort = () => reject(stoppedWaiting(id, signal));
      signal?.addEventListener('abort', onAbort, { once: true });
      live.waiters.push((record) => {
        signal?.removeEventListener('abort', onAbort);
        resolve(record);
      });
    });
  }

  override cancel(id: string): Promise<boolean> {
    return Promise.resolve(this.cancelNow(id));
  }

  private cancelNow(id: string): boolean {
    const live = this.tracked.get(id);
    if (!live || FINISHED.has(live.record.state)) return false;
    const index = this.waiting.indexOf(live);
    if (index >= 0) {
      this.waiting.splice(index, 1);
      this.finish(live, {
        state: 'cancelled',
        error: { code: 'CANCELLED', message: 'cancelled before it started' },
      });
      return true;
    }
    live.cancel.abort();
    return true;
  }

  override health(): Promise<RunnerHealth> {
    const { up, ...pool } = this.pool.health();
    return Promise.resolve({
      up: up && !this.closing,
      details: {
        mode: 'embedded',
        ...pool,
        trackedActive: this.active,
        trackedWaiting: this.waiting.length,
      },
    });
  }

  private prune(): void {
    this.store.prune(new Date(Date.now() - this.options.retentionHours * 3_600_000));
  }

  /** Stops taking work, lets tracked jobs finish within the grace period, then stops the threads. */
  override async close(graceMs: number): Promise<void> {
    this.closing = true;
    clearInterval(this.pruneTimer);
    for (const job of this.waiting.splice(0)) {
      this.finish(job, {
        state: 'cancelled',
        error: { code: 'CANCELLED', message: 'the server shut down before it started' },
      });
    }
    const grace = new Promise((r) => setTimeout(r, graceMs).unref());
    await Promise.race([Promise.allSettled([...this.running]), grace]);
    for (const job of this.tracked.values()) job.cancel.abort();
    // Cooperative cancellation gets a moment to land before the threads are stopped.
    await Promise.race([
      Promise.allSettled([...this.running]),
      new Promise((r) => setTimeout(r, 1_000).unref()),
    ]);
    await this.pool.destroy();
    await Promise.allSettled([...this.running]);
    this.store.close();
  }
}
