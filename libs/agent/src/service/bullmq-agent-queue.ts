import { Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { AgentQueue, RunConsumer } from './agent-queue.js';

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
        // The check that hands a dead replica's job on runs often enough to notice its lock expire.
        stalledInterval: Math.max(1_000, Math.floor(this.options.lockMs / 2)),
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
