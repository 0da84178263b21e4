// The distributed-mode parts of the agent module, in a chunk of their own: the embedded server
// never loads BullMQ or ioredis (start-up time, DESIGN.md §2).
import { Redis } from 'ioredis';
import type { KeelConfig } from '@keel/platform';
import { RedisRunStore } from '../runs/redis-run-store.js';
import { RedisToolDeclarations } from '../runs/tool-declarations.js';
import { BullmqAgentQueue } from '../service/bullmq-agent-queue.js';
import { RedisCancelBus } from '../service/cancel-bus.js';
import type { AgentParts } from './parts.js';

export function distributedParts(config: KeelConfig): AgentParts {
  const url = config.redisUrl!;
  const prefix = config.queues.prefix;
  const timeoutMs = config.queues.redisTimeoutMs;
  const retry = (times: number) => Math.min(50 * 2 ** Math.min(times, 6), 2_000);
  // Commands: fail fast while Redis is away. Blocking (the worker) and the subscriber: wait.
  const commands = new Redis(url, {
    connectTimeout: timeoutMs,
    retryStrategy: retry,
    maxRetriesPerRequest: 1,
    commandTimeout: timeoutMs,
  });
  const blocking = new Redis(url, { retryStrategy: retry, maxRetriesPerRequest: null });
  const subscriber = new Redis(url, { retryStrategy: retry, maxRetriesPerRequest: null });
  for (const c of [commands, blocking, subscriber]) c.on('error', () => undefined);
  return {
    store: new RedisRunStore(commands, prefix, config.jobs.retentionHours * 3600),
    declarations: new RedisToolDeclarations(commands, prefix),
    queue: new BullmqAgentQueue({
      connection: commands,
      blocking,
      prefix,
      concurrency: config.agent.concurrency,
      lockMs: config.queues.lockMs,
    }),
    cancels: new RedisCancelBus(commands, subscriber, `${prefix}:agent:cancel`),
    resumeOnStart: false,
    close: () => {
      for (const c of [commands, blocking, subscriber]) c.disconnect();
      return Promise.resolve();
    },
  };
}
