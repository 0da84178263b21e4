import type { Redis } from 'ioredis';
import type { CancelBus } from './agent-runs.service.js';

/** Embedded mode: one process executes every run, so a cancel never has to travel. */
export class LocalCancelBus implements CancelBus {
  publish(): Promise<void> {
    return Promise.resolve();
  }
  subscribe(): Promise<void> {
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * Distributed mode: DELETE may reach any API replica; the one executing the run hears it on this
 * channel and aborts the run's calls. A replica that misses the message (it reconnects) still
 * sees `cancelRequested` when it next starts the run.
 */
export class RedisCancelBus implements CancelBus {
  constructor(
    private readonly publisher: Redis,
    /** A connection of its own: a subscribed connection can do nothing else. */
    private readonly subscriber: Redis,
    private readonly channel: string,
  ) {}

  async publish(runId: string): Promise<void> {
    await this.publisher.publish(this.channel, runId);
  }

  async subscribe(onCancel: (runId: string) => void): Promise<void> {
    this.subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.channel) onCancel(message);
    });
    await this.subscriber.subscribe(this.channel);
  }

  async close(): Promise<void> {
    this.subscriber.disconnect();
    return Promise.resolve();
  }
}
