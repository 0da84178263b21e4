import type {
  AnyProcessor,
  JobName,
  JobPayload,
  JobRecord,
  JobResult,
  QueueName,
} from '@keel/contracts/jobs';
import { KeelError } from '@keel/contracts/jobs';
import {
  JobRunner,
  type EnqueueOptions,
  type RunOptions,
  type RunnerHealth,
} from './job-runner.js';
import { ProcessorRegistry } from './thread/index.js';

/**
 * DIAGNOSTIC ONLY (`KEEL_DIAGNOSTIC_INLINE_QUEUES`): request/reply jobs of the named queues run
 * on the calling thread, i.e. the API's event loop, the way a service without a job pool would
 * run them. It exists to measure what Keel's design avoids (DESIGN.md §1: event-loop delay and
 * p99 with CPU work inline); never use it in production. Everything else goes to the real runner.
 */
export class InlineQueuesJobRunner extends JobRunner {
  private readonly registry: ProcessorRegistry;

  constructor(
    private readonly inner: JobRunner,
    private readonly queues: ReadonlySet<QueueName>,
    processors: readonly AnyProcessor[],
    private readonly dataDir: string,
  ) {
    super();
    this.registry = ProcessorRegistry.from(processors);
  }

  override async run<Q extends QueueName, N extends JobName<Q>>(
    queue: Q,
    name: N,
    payload: JobPayload<Q, N>,
    options: RunOptions,
  ): Promise<JobResult<Q, N>> {
    if (!this.queues.has(queue)) return this.inner.run(queue, name, payload, options);
    const processor = this.registry.get(queue, name);
    if (!processor) throw new KeelError('JOB_FAILED', `no handler for ${queue}/${name}`);
    const handle = processor.handle.bind(processor) as (
      payload: unknown,
      context: Parameters<AnyProcessor['handle']>[1],
    ) => Promise<unknown>;
    const signal =
      options.signal ?? AbortSignal.timeout(Math.max(0, options.deadline - Date.now()));
    return await handle(payload, {
      signal,
      deadline: options.deadline,
      dataDir: this.dataDir,
      progress: () => undefined,
      ...(options.requestId ? { requestId: options.requestId } : {}),
    });
  }

  override enqueue<Q extends QueueName, N extends JobName<Q>>(
    queue: Q,
    name: N,
    payload: JobPayload<Q, N>,
    options?: EnqueueOptions,
  ): Promise<JobRecord> {
    return this.inner.enqueue(queue, name, payload, options);
  }

  override get(id: string): Promise<JobRecord | undefined> {
    return this.inner.get(id);
  }

  override wait(id: string, signal?: AbortSignal): Promise<JobRecord> {
    return this.inner.wait(id, signal);
  }

  override cancel(id: string): Promise<boolean> {
    return this.inner.cancel(id);
  }

  override async health(): Promise<RunnerHealth> {
    const inner = await this.inner.health();
    return { ...inner, details: { ...inner.details, diagnosticInlineQueues: [...this.queues] } };
  }

  override start(): Promise<void> {
    return this.inner.start();
  }

  override close(graceMs: number): Promise<void> {
    return this.inner.close(graceMs);
  }
}
