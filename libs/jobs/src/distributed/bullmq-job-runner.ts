import { randomUUID } from 'node:crypto';
import { Job, Queue, QueueEvents, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import {
  KeelError,
  type JobName,
  type JobPayload,
  type JobRecord,
  type JobResult,
  type JobState,
  type QueueName,
} from '@keel/contracts/jobs';
import { sharedCounter } from '@keel/platform/metrics';
import { idempotentJobId } from '../job-ids.js';
import { stoppedWaiting } from '../waiting.js';
import {
  JobRunner,
  type EnqueueOptions,
  type RunOptions,
  type RunnerHealth,
} from '../job-runner.js';
import type { PoolJobRunner } from '../embedded/pool-job-runner.js';
import { connectRedis, whenReady } from './connection.js';
import { decodeFailure, type JobEnvelope } from './envelope.js';
import { keys } from './keys.js';
import { isRemote, WORKER_QUEUES } from './routing.js';

export interface DistributedOptions {
  redisUrl: string;
  prefix: string;
  /** Waiting jobs (wait + prioritized) past which new request/reply work on a queue gets 429. */
  maxBacklog: number;
  /** Tracked jobs not finished past which new ingest or eval jobs get 429. */
  trackedBacklog: number;
  trackedTimeoutMs: number;
  attempts: number;
  backoffMs: number;
  retentionHours: number;
  redisTimeoutMs: number;
  registry: Registry;
  /**
   * Runs the jobs that stay in the API process (see REMOTE_JOBS), and serializes tracked jobs'
   * payloads on its threads.
   */
  local: PoolJobRunner;
}

interface Waiter {
  queue: QueueName;
  since: number;
  resolve(value: unknown): void;
  reject(error: KeelError): void;
}

type Counts = Record<'wait' | 'prioritized' | 'active' | 'delayed' | 'failed', number>;

const COUNTED = ['wait', 'prioritized', 'active', 'delayed', 'failed'] as const;
const TRACKED_QUEUES: readonly QueueName[] = ['ingest', 'eval'];
/** How often the API refreshes its view of each queue's backlog (for 429s and /metrics). */
const COUNTS_EVERY_MS = 250;
/** A waiter with no event after this long asks Redis directly (a lost event, a reconnect). */
const SWEEP_AFTER_MS = 1_000;
/** Event ids carry Redis's clock, `since` the API's: how far apart the two may be. */
const CLOCK_SKEW_MS = 5_000;

function toState(state: string, failure?: { code: string }): JobState {
  switch (state) {
    case 'active':
      return 'active';
    case 'completed':
      return 'completed';
    case 'failed':
      return failure?.code === 'CANCELLED' ? 'cancelled' : 'failed';
    default:
      // waiting, prioritized, delayed (a retry's back-off), waiting-children
      return 'waiting';
  }
}

/**
 * The distributed JobRunner (DESIGN.md §2): jobs that run on workers go to BullMQ queues on Redis;
 * the rest go to the API's own pool. Request/reply jobs wait for their result on the queue's
 * event stream within the request's deadline; when the deadline passes or the client goes away
 * the job is removed, or, if a worker already runs it, stopped through a cancel message, so
 * nothing computes a result nobody reads. The API never consumes jobs.
 */
export class BullmqJobRunner extends JobRunner {
  private readonly connection: Redis;
  /** One per QueueEvents (each blocks on its stream); BullMQ does not close what it was given. */
  private readonly blocking: Redis[] = [];
  private readonly queues = new Map<QueueName, Queue>();
  private readonly events = new Map<QueueName, QueueEvents>();
  private readonly waiters = new Map<string, Waiter>();
  private readonly counts = new Map<QueueName, Counts>();
  private countsTimer?: NodeJS.Timeout;
  private sweepTimer?: NodeJS.Timeout;
  private started = false;
  private closing = false;
  private readonly roundTrip: Histogram<'queue' | 'name' | 'outcome'>;
  private readonly shed: Counter<'queue'>;

  constructor(private readonly options: DistributedOptions) {
    super();
    this.connection = connectRedis(options.redisUrl, 'producer', options.redisTimeoutMs);
    // Errors surface as failed commands and readiness; ioredis would print each one otherwise.
    this.connection.on('error', () => undefined);
    const registers = [options.registry];
    this.roundTrip = new Histogram({
      name: 'keel_remote_job_duration_seconds',
      help: 'Request/reply jobs on BullMQ, from enqueue to result as the API sees it, by queue, name and outcome.',
      labelNames: ['queue', 'name', 'outcome'],
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30],
      registers,
    });
    // The local pool counts its own shed jobs on the same metric.
    this.shed = sharedCounter<'queue'>(options.registry, {
      name: 'keel_jobs_shed_total',
      help: 'Jobs refused because a queue was at its bound.',
      labelNames: ['queue'],
    });
    const counts = () => this.counts;
    new Gauge({
      name: 'keel_queue_jobs',
      help: 'Jobs in each BullMQ queue by state (refreshed every 250 ms).',
      labelNames: ['queue', 'state'],
      registers,
      collect() {
        for (const [queue, c] of counts()) {
          for (const state of COUNTED) this.set({ queue, state }, c[state]);
        }
      },
    });
    const pending = () => this.waiters.size;
    new Gauge({
      name: 'keel_remote_jobs_pending',
      help: 'Request/reply jobs this API process waits for.',
      registers,
      collect() {
        this.set(pending());
      },
    });
  }

  override async start(): Promise<void> {
    await Promise.all([this.options.local.start(), this.connect()]);
    await this.refreshCounts();
    this.countsTimer = setInterval(() => void this.refreshCounts(), COUNTS_EVERY_MS);
    this.countsTimer.unref();
    this.sweepTimer = setInterval(() => void this.sweep(), SWEEP_AFTER_MS);
    this.sweepTimer.unref();
    this.started = true;
  }

  /**
   * Queues are made once the connection is ready: with the offline queue off (fail fast), a
   * Queue whose first commands meet a connecting client would stay broken.
   */
  private async connect(): Promise<void> {
    await whenReady(this.connection);
    const { redisUrl, prefix, redisTimeoutMs } = this.options;
    for (const queue of WORKER_QUEUES) {
      const q = new Queue(queue, {
        connection: this.connection,
        prefix,
        skipWaitingForReady: true,
      });
      q.on('error', () => undefined);
      this.queues.set(queue, q);
      const eventsConnection = connectRedis(redisUrl, 'blocking', redisTimeoutMs);
      eventsConnection.on('error', () => undefined);
      this.blocking.push(eventsConnection);
      const events = new QueueEvents(queue, {
        connection: eventsConnection,
        prefix,
        autorun: false,
      });
      events.on('error', () => undefined);
      events.on('completed', ({ jobId, returnvalue }) => this.settle(jobId, { returnvalue }));
      events.on('failed', ({ jobId, failedReason }) => this.settle(jobId, { failedReason }));
      this.events.set(queue, events);
    }

    await Promise.all([
      ...[...this.queues.values()].map((q) => q.waitUntilReady()),
      ...[...this.events.values()].map(async (events) => {
        void events.run().catch(() => undefined);
        await events.waitUntilReady();
      }),
    ]);
  }

  private queue(queue: QueueName): Queue {
    const q = this.queues.get(queue);
    if (!q)
      throw new KeelError('UNAVAILABLE', `the ${queue} queue is not connected yet`, undefined, 1);
    return q;
  }

  /** Fails fast with 503 while Redis is away: the client retries, nothing waits unbounded. */
  private checkAvailable(): void {
    if (this.closing) throw new KeelError('UNAVAILABLE', 'shutting down', undefined, 1);
    if (this.connection.status !== 'ready') {
      throw new KeelError('UNAVAILABLE', 'the job queue (Redis) is not reachable', undefined, 1);
    }
  }

  private async refreshCounts(): Promise<void> {
    if (this.connection.status !== 'ready') return;
    await Promise.all(
      [...this.queues].map(async ([name, q]) => {
        try {
          this.counts.set(name, (await q.getJobCounts(...COUNTED)) as Counts);
        } catch {
          // keep the last known counts; readiness reports the connection
        }
      }),
    );
  }

  override async run<Q extends QueueName, N extends JobName<Q>>(
    queue: Q,
    name: N,
    payload: JobPayload<Q, N>,
    options: RunOptions,
  ): Promise<JobResult<Q, N>> {
    if (!isRemote(queue, name)) return this.options.local.run(queue, name, payload, options);
    const remaining = options.deadline - Date.now();
    if (remaining <= 0) {
      throw new KeelError('DEADLINE_EXCEEDED', 'the deadline passed before the job started');
    }
    this.checkAvailable();
    const backlog = this.counts.get(queue);
    if (backlog && backlog.wait + backlog.prioritized >= this.options.maxBacklog) {
      this.shed.inc({ queue });
      throw new KeelError(
        'OVERLOADED',
        `the ${queue} queue is full (${backlog.wait + backlog.prioritized} waiting); retry shortly`,
        undefined,
        1,
      );
    }
    const end = this.roundTrip.startTimer({ queue, name });
    const id = randomUUID();
    const envelope: JobEnvelope = {
      v: 1,
      payload,
      deadline: options.deadline,
      ...(options.requestId ? { requestId: options.requestId } : {}),
    };
    // Registered before the add: the result can arrive before add() returns.
    const result = new Promise<unknown>((resolve, reject) => {
      this.waiters.set(id, { queue, since: Date.now(), resolve, reject });
    });
    const timeout = AbortSignal.timeout(remaining);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    let onAbort: (() => void) | undefined;
    const stop = new Promise<never>((_, reject) => {
      onAbort = () => {
        // The request's own deadline arrives as a TimeoutError on its signal.
        const reason: unknown = options.signal?.reason;
        const expired =
          timeout.aborted || (reason instanceof DOMException && reason.name === 'TimeoutError');
        reject(
          expired
            ? new KeelError('DEADLINE_EXCEEDED', 'the deadline passed before the job finished')
            : new KeelError('CANCELLED', 'the request was cancelled'),
        );
      };
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      await this.queue(queue).add(name, envelope, {
        jobId: id,
        attempts: 1,
        // The result travels in the completed event; the payload (candidate texts) is dropped
        // from Redis at once. Failures stay a while for inspection.
        removeOnComplete: true,
        removeOnFail: { age: 3_600, count: 1_000 },
      });
      const value = await Promise.race([result, stop]);
      end({ outcome: 'ok' });
      return value;
    } catch (error) {
      const keel =
        error instanceof KeelError
          ? error
          : new KeelError(
              'UNAVAILABLE',
              `could not queue the job: ${error instanceof Error ? error.message : String(error)}`,
              undefined,
              1,
            );
      if (keel.code === 'DEADLINE_EXCEEDED' || keel.code === 'CANCELLED')
        void this.discard(queue, id);
      end({ outcome: keel.code });
      throw keel;
    } finally {
      this.waiters.delete(id);
      // A timeout or composite signal with an abort listener stays alive until its timer fires,
      // and the listener with it (holding the job's result, through the race): detach it.
      signal.removeEventListener('abort', onAbort!);
    }
  }

  private settle(id: string, outcome: { returnvalue?: unknown; failedReason?: string }): void {
    const waiter = this.waiters.get(id);
    if (!waiter) return;
    this.waiters.delete(id);
    if (outcome.failedReason !== undefined) {
      waiter.reject(KeelError.from(decodeFailure(outcome.failedReason)));
    } else {
      let value = outcome.returnvalue;
      // Older BullMQ versions deliver the return value as its JSON text.
      if (typeof value === 'string') {
        try {
          value = JSON.parse(value) as unknown;
        } catch {
          // a string result
        }
      }
      waiter.resolve(value);
    }
  }

  /**
   * Waiters that have heard nothing for a while look at their job: an event can be missed while
   * the events connection reconnects, and a completed request/reply job is removed at once, so a
   * job that is gone without an event lost its result.
   */
  private async sweep(): Promise<void> {
    if (this.connection.status !== 'ready') return;
    const now = Date.now();
    for (const [id, waiter] of this.waiters) {
      if (now - waiter.since < SWEEP_AFTER_MS) continue;
      try {
        const job = await Job.fromId(this.queue(waiter.queue), id);
        if (!job) {
          // Gone: it finished and was removed. The same script that removed it wrote its outcome
          // to the event stream, which the waiter may simply not have read yet (a busy loop, a
          // reconnect): the outcome is read from there, and is lost only if the stream was trimmed.
          const outcome = await this.finishedEvent(waiter.queue, id, waiter.since);
          if (outcome) {
            this.settle(id, outcome);
          } else if (this.waiters.get(id) === waiter) {
            this.waiters.delete(id);
            waiter.reject(
              new KeelError(
                'UNAVAILABLE',
                'the job finished but its result was lost; retry',
                undefined,
                1,
              ),
            );
          }
        } else if (job.finishedOn !== undefined) {
          this.settle(
            id,
            job.failedReason
              ? { failedReason: job.failedReason }
              : { returnvalue: job.returnvalue },
          );
        }
      } catch {
        // Redis went away mid-sweep: the next one tries again
      }
    }
  }

  /**
   * A job's `completed` or `failed` event, searched newest first in the queue's event stream back
   * to when the job was added (stream ids begin with their time in ms), a page at a time.
   */
  private async finishedEvent(
    queue: QueueName,
    id: string,
    since: number,
  ): Promise<{ returnvalue?: unknown; failedReason?: string } | undefined> {
    const key = this.queue(queue).keys.events;
    let end = '+';
    for (;;) {
      const page = await this.connection.xrevrange(
        key,
        end,
        String(since - CLOCK_SKEW_MS),
        'COUNT',
        500,
      );
      for (const [, fields] of page) {
        const event = Object.fromEntries(
          Array.from({ length: fields.length / 2 }, (_, i) => [fields[2 * i], fields[2 * i + 1]]),
        ) as Record<string, string | undefined>;
        if (event.jobId !== id) continue;
        if (event.event === 'completed') return { returnvalue: event.returnvalue };
        if (event.event === 'failed') return { failedReason: event.failedReason ?? '' };
      }
      if (page.length < 500) return undefined;
      end = `(${page.at(-1)![0]}`;
    }
  }

  /** Drops a job nobody waits for: out of the queue if it has not started, else stopped. */
  private async discard(queue: QueueName, id: string): Promise<void> {
    try {
      const removed = await this.queue(queue).remove(id);
      if (removed === 0) await this.connection.publish(keys.cancelChannel(this.options.prefix), id);
    } catch {
      // Redis is away; the worker skips the job anyway once its deadline has passed.
    }
  }

  override async enqueue<Q extends QueueName, N extends JobName<Q>>(
    queue: Q,
    name: N,
    payload: JobPayload<Q, N>,
    options: EnqueueOptions = {},
  ): Promise<JobRecord> {
    if (!isRemote(queue, name)) return this.options.local.enqueue(queue, name, payload, options);
    this.checkAvailable();
    const id = options.idempotencyKey
      ? idempotentJobId(queue, options.idempotencyKey)
      : randomUUID();
    if (options.idempotencyKey) {
      const existing = await this.get(id);
      if (existing) return existing;
    }
    const c = this.counts.get(queue);
    const unfinished = c ? c.wait + c.prioritized + c.active + c.delayed : 0;
    if (unfinished >= this.options.trackedBacklog) {
      this.shed.inc({ queue });
      throw new KeelError(
        'OVERLOADED',
        `too many ${queue} jobs in progress; retry later`,
        undefined,
        5,
      );
    }
    const retention = this.options.retentionHours * 3_600;
    const payloadKey = keys.payload(this.options.prefix, id);
    const envelope: JobEnvelope = {
      v: 1,
      payloadKey,
      timeoutMs: options.timeoutMs ?? this.options.trackedTimeoutMs,
      ...(options.requestId ? { requestId: options.requestId } : {}),
    };
    const jobOptions: JobsOptions = {
      jobId: id,
      attempts: this.options.attempts,
      backoff: { type: 'exponential', delay: this.options.backoffMs, jitter: 0.5 },
      removeOnComplete: { age: retention },
      removeOnFail: { age: retention },
    };
    try {
      // Kept, counted from now, as long as a finished job's record; the worker deletes it once the
      // job completes.
      const bytes = await this.options.local.encode(payload);
      await this.connection.set(
        payloadKey,
        Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
        'EX',
        retention,
      );
      const job = await this.queue(queue).add(name, envelope, jobOptions);
      return this.record(queue, job, 'waiting');
    } catch (error) {
      if (error instanceof KeelError) throw error;
      throw new KeelError(
        'UNAVAILABLE',
        `could not queue the job: ${error instanceof Error ? error.message : String(error)}`,
        undefined,
        1,
      );
    }
  }

  private record(queue: QueueName, job: Job, state: string): JobRecord {
    const data = job.data as Partial<JobEnvelope>;
    const error = job.failedReason ? decodeFailure(job.failedReason) : undefined;
    return {
      id: job.id!,
      queue,
      name: job.name,
      state: toState(state, error),
      progress: state === 'completed' ? 1 : typeof job.progress === 'number' ? job.progress : 0,
      ...(state === 'completed' ? { result: job.returnvalue as unknown } : {}),
      // A failed attempt that will be retried keeps its error on the waiting job.
      ...(error ? { error } : {}),
      createdAt: new Date(job.timestamp).toISOString(),
      ...(job.processedOn ? { startedAt: new Date(job.processedOn).toISOString() } : {}),
      ...(job.finishedOn ? { finishedAt: new Date(job.finishedOn).toISOString() } : {}),
      ...(data?.requestId ? { requestId: data.requestId } : {}),
    };
  }

  override async get(id: string): Promise<JobRecord | undefined> {
    const local = await this.options.local.get(id);
    if (local) return local;
    this.checkAvailable();
    for (const queue of TRACKED_QUEUES) {
      const q = this.queue(queue);
      // State first: finishing is atomic in Redis, so a job read after a finished state has its
      // result, whereas a job read first may finish before its state is read.
      const state = await q.getJobState(id);
      if (state === 'unknown') continue;
      const job = await Job.fromId(q, id);
      if (job) return this.record(queue, job, state);
    }
    const cancelled = await this.connection.get(keys.cancelled(this.options.prefix, id));
    return cancelled ? (JSON.parse(cancelled) as JobRecord) : undefined;
  }

  override async wait(id: string, signal?: AbortSignal): Promise<JobRecord> {
    for (let delay = 20; ; delay = Math.min(delay * 2, 250)) {
      const record = await this.get(id);
      if (!record) throw new KeelError('JOB_NOT_FOUND', `job '${id}' does not exist`);
      if (['completed', 'failed', 'cancelled'].includes(record.state)) return record;
      if (signal?.aborted) throw stoppedWaiting(id, signal);
      await new Promise((r) => setTimeout(r, delay));
    }
  }

  /**
   * A waiting job leaves the queue and a record of it stays as `cancelled`; a running one gets a
   * cancel message, and its worker stops it and fails it as CANCELLED (never retried).
   */
  override async cancel(id: string): Promise<boolean> {
    if (await this.options.local.cancel(id)) return true;
    this.checkAvailable();
    for (const queue of TRACKED_QUEUES) {
      const job = await Job.fromId(this.queue(queue), id);
      if (!job) continue;
      const state = await job.getState();
      if (state === 'completed' || state === 'failed') return false;
      if (state !== 'active' && (await this.queue(queue).remove(id)) === 1) {
        const record: JobRecord = {
          ...this.record(queue, job, 'failed'),
          state: 'cancelled',
          error: { code: 'CANCELLED', message: 'cancelled before it started' },
          finishedAt: new Date().toISOString(),
        };
        await this.connection.set(
          keys.cancelled(this.options.prefix, id),
          JSON.stringify(record),
          'EX',
          this.options.retentionHours * 3_600,
        );
        await this.connection.del(keys.payload(this.options.prefix, id));
        return true;
      }
      // Active (or it became active under us): its worker stops it.
      await this.connection.publish(keys.cancelChannel(this.options.prefix), id);
      return true;
    }
    return false;
  }

  override async health(): Promise<RunnerHealth> {
    const local = await this.options.local.health();
    const redis = this.connection.status;
    const backlog = Object.fromEntries(this.counts);
    return {
      up: this.started && !this.closing && redis === 'ready' && local.up,
      details: { mode: 'distributed', redis, local: local.details, queues: backlog },
    };
  }

  override async close(graceMs: number): Promise<void> {
    this.closing = true;
    clearInterval(this.countsTimer);
    clearInterval(this.sweepTimer);
    for (const [id, waiter] of this.waiters) {
      waiter.reject(new KeelError('UNAVAILABLE', 'shutting down', undefined, 1));
      void this.discard(waiter.queue, id);
    }
    await this.options.local.close(graceMs);
    await Promise.allSettled([...this.events.values()].map((e) => e.close()));
    await Promise.allSettled([...this.queues.values()].map((q) => q.close()));
    this.connection.disconnect();
    for (const c of this.blocking) c.disconnect();
  }
}
