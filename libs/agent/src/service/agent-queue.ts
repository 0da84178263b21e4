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
