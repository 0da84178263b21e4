import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { Gauge, Histogram, type Registry } from 'prom-client';
import { KeelError, toKeelError, type QueueName, type SerializedError } from '@keel/contracts/jobs';
import type { ThreadPool } from '../embedded/thread-pool.js';
import type { ThreadReply } from '../thread/index.js';
import { connectRedis, whenReady } from './connection.js';
import { encodeFailure, isRetryable, readEnvelope } from './envelope.js';
import { keys } from './keys.js';
import { isRemote, isTracked } from './routing.js';

export interface WorkerOptions {
  redisUrl: string;
  prefix: string;
  queues: readonly QueueName[];
  /** Jobs run at once per queue. */
  concurrency: number;
  lockMs: number;
  redisTimeoutMs: number;
  pool: ThreadPool;
  registry: Registry;
  log: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
}

/** Throttle for progress writes to Redis (one round trip each). */
const PROGRESS_EVERY_MS = 500;

/**
 * `keel worker`: consumes BullMQ queues and runs each job on a worker thread of its own pool, with
 * the same processors as the embedded mode. The event loop only moves messages, so BullMQ's lock
 * renewal never waits behind a CPU-heavy job; a worker that dies loses its locks, and another
 * worker takes its jobs back once they expire (BullMQ's stalled-job check).
 */
export class KeelWorker {
  private readonly workers = new Map<QueueName, Worker>();
  private subscriber?: Redis;
  /** Reads and deletes tracked jobs' payloads (see JobEnvelope.payloadKey). */
  private commands?: Redis;
  /** The workers' connections: BullMQ duplicates them for its blocking reads, never closes them. */
  private readonly connections: Redis[] = [];
  private closing = false;
  private readonly duration: Histogram<'queue' | 'name' | 'outcome'>;
  private readonly active = new Map<QueueName, number>();

  constructor(private readonly options: WorkerOptions) {
    const registers = [options.registry];
    this.duration = new Histogram({
      name: 'keel_job_duration_seconds',
      help: 'Job run time on this worker, from pick-up to result, by queue, name and outcome.',
      labelNames: ['queue', 'name', 'outcome'],
      buckets: [
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 120, 600,
      ],
      registers,
    });
    const active = () => this.active;
    const { concurrency } = options;
    new Gauge({
      name: 'keel_worker_utilization',
      help: "Share of this worker's job slots in use, by queue.",
      labelNames: ['queue'],
      registers,
      collect() {
        for (const [queue, n] of active()) this.set({ queue }, n / concurrency);
      },
    });
    new Gauge({
      name: 'keel_worker_concurrency',
      help: 'Job slots per queue on this worker (from the CPU quota unless configured).',
      labelNames: ['queue'],
      registers,
      collect() {
        for (const queue of options.queues) this.set({ queue }, concurrency);
      },
    });
  }

  async start(): Promise<void> {
    const { redisUrl, prefix, redisTimeoutMs, queues, concurrency, lockMs } = this.options;
    // Cancel messages: a request that timed out, a tracked job someone cancelled.
    this.subscriber = connectRedis(redisUrl, 'blocking', redisTimeoutMs);
    this.subscriber.on('error', () => undefined);
    await whenReady(this.subscriber);
    await this.subscriber.subscribe(keys.cancelChannel(prefix));
    this.commands = connectRedis(redisUrl, 'producer', redisTimeoutMs);
    this.commands.on('error', () => undefined);
    await whenReady(this.commands);
    this.subscriber.on('message', (_channel: string, jobId: string) => {
      for (const worker of this.workers.values()) worker.cancelJob(jobId, 'cancelled');
    });
    for (const queue of queues) {
      this.active.set(queue, 0);
      const connection = connectRedis(redisUrl, 'blocking', redisTimeoutMs);
      connection.on('error', () => undefined);
      this.connections.push(connection);
      const worker = new Worker(queue, (job, _token, signal) => this.process(queue, job, signal), {
        connection,
        prefix,
        concurrency,
        lockDuration: lockMs,
        stalledInterval: Math.max(1_000, Math.floor(lockMs / 2)),
        // A job whose worker died is taken back once; twice is a job that kills workers.
        maxStalledCount: 1,
        autorun: false,
      });
      worker.on('error', (error) =>
        this.options.log('warn', 'worker connection error', { queue, err: error.message }),
      );
      worker.on('stalled', (jobId) =>
        this.options.log('warn', 'took back a stalled job', { queue, jobId }),
      );
      this.workers.set(queue, worker);
      void worker
        .run()
        .catch((error: unknown) =>
          this.options.log('error', 'worker stopped', { queue, err: String(error) }),
        );
    }
    await Promise.all([...this.workers.values()].map((w) => w.waitUntilReady()));
  }

  private async process(queue: QueueName, job: Job, signal?: AbortSignal): Promise<unknown> {
    const end = this.duration.startTimer({ queue, name: job.name });
    this.active.set(queue, (this.active.get(queue) ?? 0) + 1);
    try {
      const result = await this.execute(queue, job, signal);
      end({ outcome: 'ok' });
      return result;
    } catch (error) {
      const serialized = failure(error, signal);
      end({ outcome: serialized.code });
      const message = encodeFailure(serialized);
      // Cancelled, past its deadline or bad input: a retry cannot help.
      throw isRetryable(serialized) ? new Error(message) : new UnrecoverableError(message);
    } finally {
      this.active.set(queue, (this.active.get(queue) ?? 1) - 1);
    }
  }

  private async execute(queue: QueueName, job: Job, signal?: AbortSignal): Promise<unknown> {
    if (!isRemote(queue, job.name)) {
      throw new KeelError('VALIDATION_FAILED', `job ${queue}/${job.name} does not run on workers`);
    }
    const envelope = readEnvelope(job.data);
    const tracked = isTracked(queue, job.name);
    if (tracked) {
      // Cancelled while it waited: the record says so; do not run it.
      const cancelled = await this.subscriber?.exists(keys.cancelled(this.options.prefix, job.id!));
      if (cancelled) throw new KeelError('CANCELLED', 'the job was cancelled');
    }
    const deadline = tracked ? Date.now() + (envelope.timeoutMs ?? 600_000) : envelope.deadline;
    if (deadline !== undefined && deadline <= Date.now()) {
      throw new KeelError('DEADLINE_EXCEEDED', 'nobody waits for this job any more');
    }
    let payloadBytes: Buffer | null = null;
    if (envelope.payloadKey !== undefined) {
      payloadBytes = (await this.commands?.getBuffer(envelope.payloadKey)) ?? null;
      if (!payloadBytes) {
        throw new KeelError(
          'NOT_FOUND',
          `the job's payload is no longer in Redis (kept KEEL_JOB_RETENTION_HOURS from when it was queued)`,
        );
      }
    }
    const task = {
      queue,
      name: job.name,
      payload: envelope.payload,
      ...(payloadBytes ? { payloadBytes } : {}),
      jobId: job.id!,
      ...(envelope.requestId ? { requestId: envelope.requestId } : {}),
      ...(deadline !== undefined ? { deadline } : {}),
    };
    let reply: ThreadReply;
    if (tracked) {
      let last = 0;
      reply = await this.options.pool.runCooperative(task, {
        ...(signal ? { signal } : {}),
        onProgress: (fraction) => {
          const now = Date.now();
          if (now - last < PROGRESS_EVERY_MS && fraction < 1) return;
          last = now;
          void job.updateProgress(fraction).catch(() => undefined);
        },
      });
    } else {
      // Request/reply: a cancelled or expired job is not waited for (ThreadPool.run).
      const timeout = AbortSignal.timeout(Math.max(0, deadline! - Date.now()));
      try {
        reply = await this.options.pool.run(
          task,
          signal ? AbortSignal.any([signal, timeout]) : timeout,
        );
      } catch (error) {
        // piscina's AbortError: say which of the two stopped it.
        if (timeout.aborted) {
          throw new KeelError('DEADLINE_EXCEEDED', 'nobody waits for this job any more');
        }
        if (signal?.aborted) throw new KeelError('CANCELLED', 'the job was cancelled');
        throw error;
      }
    }
    if (!reply.ok) throw KeelError.from(reply.error);
    // Done: the input is not needed again (a failed job keeps it, for its retries).
    if (envelope.payloadKey !== undefined) {
      await this.commands?.del(envelope.payloadKey).catch(() => 0);
    }
    return reply.result;
  }

  health(): { up: boolean; details: Record<string, unknown> } {
    const pool = this.options.pool.health();
    const workers = Object.fromEntries(
      [...this.workers].map(([queue, w]) => [queue, w.isRunning() ? 'running' : 'stopped']),
    );
    const running = [...this.workers.values()].every((w) => w.isRunning());
    const redis = this.subscriber?.status ?? 'none';
    return {
      up: !this.closing && running && redis === 'ready' && pool.up,
      details: {
        mode: 'worker',
        redis,
        queues: workers,
        concurrency: this.options.concurrency,
        pool,
      },
    };
  }

  /**
   * SIGTERM: stop taking jobs and let the running ones finish within the grace period. Jobs still
   * running after it are not failed: their locks lapse and another worker takes them back (BullMQ's
   * stalled check), as after a crash.
   */
  async close(graceMs: number): Promise<void> {
    this.closing = true;
    const workers = [...this.workers.values()];
    const closed = Promise.all(workers.map((w) => w.close()));
    const timedOut = await Promise.race([
      closed.then(() => false),
      new Promise<boolean>((r) => setTimeout(() => r(true), graceMs).unref()),
    ]);
    if (timedOut) {
      this.options.log('warn', 'grace period over; leaving unfinished jobs to other workers', {
        graceMs,
      });
      await Promise.all(workers.map((w) => w.close(true)));
    }
    await this.subscriber?.quit().catch(() => undefined);
    this.commands?.disconnect();
    for (const c of this.connections) c.disconnect();
    await this.options.pool.destroy();
  }
}

function failure(error: unknown, signal?: AbortSignal): SerializedError {
  const known = toKeelError(error);
  if (known) return known.toJSON();
  if (signal?.aborted) return { code: 'CANCELLED', message: 'the job was cancelled' };
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return { code: 'JOB_FAILED', message };
}
