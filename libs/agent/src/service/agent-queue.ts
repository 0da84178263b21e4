import { Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';

/** Runs one agent run to its end (or until `signal`, on shutdown); never throws for the run's own failures. */
export type RunConsumer = (runId: string, signal: AbortSignal) => Promise<'ended' | 'interrupted'>;

/**
 * Where async runs wait for an executor: the `agent` queue. Agent runs are IO (model and tool
 * calls), so they execute on an API process's event loop, never on a pool thread.
 */
export interface AgentQueue {
  enqueue(runId: string): Promise<void>;
  start(consumer: RunConsumer): Promise<void>;
  /** Interrupts what runs (it stays unfinished, for the next process to take over). */
  close(): Promise<void>;
}

/** A counting semaphore: at most `limit` runs execute at once in this process. */
class Slots {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  constructor(private readonly limit: number) {}
  async acquire(): Promise<void> {
    if (this.active < this.limit) {
      this.active++;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }
  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.active--;
  }
}

/**
 * Embedded mode: the SQLite run store is the queue (a run is `queued` until an executor starts
 * it), executed in this process with a concurrency bound. On boot the service re-enqueues what the
 * last process left unfinished.
 */
export class LocalAgentQueue implements AgentQueue {
  private consumer: RunConsumer | undefined;
  private readonly slots: Slots;
  private readonly stop = new AbortController();
  private readonly running = new Set<Promise<unknown>>();

  constructor(concurrency: number) {
    this.slots = new Slots(concurrency);
  }

  enqueue(runId: string): Promise<void> {
    const consumer = this.consumer;
    if (!consumer) throw new Error('the agent queue is not started');
    const task = (async () => {
      await this.slots.acquire();
      try {
        if (!this.stop.signal.aborted) await consumer(runId, this.stop.signal);
      } finally {
        this.slots.release();
      }
    })();
    this.running.add(task);
    void task.finally(() => this.running.delete(task));
    return Promise.resolve();
  }

  start(consumer: RunConsumer): Promise<void> {
    this.consumer = consumer;
    return Promise.resolve();
  }

  async close(): Promise<void> {
    this.stop.abort();
    await Promise.allSettled([...this.running]);
  }
}

export const AGENT_QUEUE_NAME = 'agent';
export const RUN_AGENT_JOB = 'run-agent';

/** Thrown by the processor when this process stops mid-run: BullMQ retries the job elsewhere. */
class Interrupted extends Error {}

/**
 * Distributed mode: the BullMQ queue `agent` (a stable name: KEDA and Redis know it). Every API
 * replica consumes it. A replica that stops (SIGTERM) interrupts its runs and their jobs go back
 * to the queue; one that dies (SIGKILL) loses its lock and BullMQ's stalled check hands the job
 * to another replica. Either way the run continues from its last persisted step.
 */
export class BullmqAgentQueue implements AgentQueue {
  private readonly queue: Queue;
  private worker: Worker | undefined;
  private readonly stop = new AbortController();

  constructor(
    private readonly options: {
      connection: Redis;
      blocking: Redis;
      prefix: string;
      concurrency: number;
      /** Lock of a running job: a dead replica's runs are taken over after about this long. */
      lockMs: number;
    },
  ) {
    this.queue = new Queue(AGENT_QUEUE_NAME, {
      connection: options.connection,
      prefix: options.prefix,
    });
  }

  async enqueue(runId: string): Promise<void> {
    await this.queue.add(
      RUN_AGENT_JOB,
      { runId },
      {
        jobId: runId,
        // Attempts here are takeovers after an interrupted process, not retries of a failed run:
        // a run's own failures end the run and complete the job.
        attempts: 5,
        backoff: { type: 'fixed', delay: 0 },
        removeOnComplete: { age: 24 * 3600 },
        removeOnFail: { age: 24 * 3600 },
      },
    );
  }

  start(consumer: RunConsumer): Promise<void> {
    this.worker = new Worker(
      AGENT_QUEUE_NAME,
      async (job) => {
        const { runId } = job.data as { runId: string };
        if ((await consumer(runId, this.stop.signal)) === 'interrupted') throw new Interrupted();
      },
      {
        connection: this.options.blocking,
        prefix: this.options.prefix,
        concurrency: this.options.concurrency,
        lockDuration: this.options.lockMs,
        maxStalledCount: 3,
      },
    );
    this.worker.on('error', () => undefined);
    return this.worker.waitUntilReady().then(() => undefined);
  }

  async close(): Promise<void> {
    this.stop.abort();
    await this.worker?.close();
    await this.queue.close();
  }
}
