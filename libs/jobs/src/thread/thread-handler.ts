import type { MessagePort } from 'node:worker_threads';
import {
  KeelError,
  toKeelError,
  type AnyProcessor,
  type EmbedFunction,
  type ProcessorContext,
  type QueueName,
  type SerializedError,
} from '@keel/contracts/jobs';
import { move } from 'piscina';
import { ProcessorRegistry } from './registry.js';

/** What the pool sends a thread. Plain data: it is structured-cloned across the boundary. */
export interface ThreadTask {
  queue: QueueName;
  name: string;
  payload: unknown;
  /**
   * The payload as JSON bytes instead, parsed on the thread: a queued ingest's documents arrive
   * from Redis as bytes, and the worker's event loop never parses them.
   */
  payloadBytes?: Uint8Array;
  jobId?: string;
  requestId?: string;
  deadline?: number;
  /** Progress goes up and cancellation comes down this port (tracked jobs only). */
  port?: MessagePort;
  /** Set to 1 when the task starts, so the caller knows a running task from a queued one. */
  started?: Int32Array;
}

export type ThreadReply = { ok: true; result: unknown } | { ok: false; error: SerializedError };

/** Readiness: the thread has loaded its modules and prepared what every job needs. */
export const PING = '__ping';
/** After readiness: load what makes later jobs faster (see ThreadOptions.warm). */
export const WARM = '__warm';
/**
 * Serializes a value to JSON bytes on the thread, for a caller whose event loop should not (the
 * distributed API, writing an ingest's documents to Redis). The bytes move back without a copy.
 */
export interface EncodeTask {
  encode: unknown;
}
export type ControlTask = typeof PING | typeof WARM | EncodeTask;

const utf8 = new TextDecoder('utf-8');
const utf8Encoder = new TextEncoder();

export interface ThreadOptions {
  dataDir: string;
  /** The embedding server, when the process has one: jobs see it as `context.embed`. */
  embed?: EmbedFunction;
  opensearch?: ProcessorContext['opensearch'];
  /** Opens what every job needs (the store connection) once, before the thread counts as up. */
  prepare?: () => void;
  /**
   * Work that makes later jobs faster but need not hold up readiness (loading tokenizer tables),
   * run as a task of its own once the pool is ready. It must be idempotent. A job that arrives
   * meanwhile waits for it, as it would otherwise have waited for the same load inside the job.
   */
  warm?: () => void;
}

function serialize(error: unknown): SerializedError {
  const known = toKeelError(error);
  if (known) return known.toJSON();
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return { code: 'JOB_FAILED', message };
}

/**
 * Builds the function a pool thread runs for each task: it finds the processor, gives it a
 * context (deadline signal, progress, cancellation) and turns any failure into a serialized
 * error with a stable code, because Error subclasses lose their fields across threads.
 */
export function createThreadHandler(
  processors: readonly AnyProcessor[],
  options: ThreadOptions,
): (task: ThreadTask | ControlTask) => Promise<ThreadReply | Uint8Array> {
  const registry = ProcessorRegistry.from(processors);
  return async (task) => {
    if (task === PING || task === WARM) {
      try {
        if (task === PING) options.prepare?.();
        else options.warm?.();
        return { ok: true, result: null };
      } catch (error) {
        return { ok: false, error: serialize(error) };
      }
    }
    if ('encode' in task) {
      try {
        // Its own memory, moved to the caller: piscina transfers a moved value returned as is.
        return move(utf8Encoder.encode(JSON.stringify(task.encode))) as Uint8Array;
      } catch (error) {
        return { ok: false, error: serialize(error) };
      }
    }
    if (task.started) Atomics.store(task.started, 0, 1);
    const processor = registry.get(task.queue, task.name);
    if (!processor) {
      return {
        ok: false,
        error: { code: 'JOB_FAILED', message: `no handler for ${task.queue}/${task.name}` },
      };
    }
    const controller = new AbortController();
    // A timer of its own, cleared when the job ends: AbortSignal.timeout would stay armed (and
    // AbortSignal.any hold both signals) for the rest of a request's 30 s deadline, per job.
    const deadline =
      task.deadline === undefined
        ? undefined
        : setTimeout(
            () =>
              controller.abort(new DOMException('the job ran past its deadline', 'TimeoutError')),
            Math.max(0, task.deadline - Date.now()),
          );
    task.port?.on('message', (message: { cancel?: boolean }) => {
      if (message.cancel) controller.abort(new KeelError('CANCELLED', 'the job was cancelled'));
    });
    let lastProgress = 0;
    const context: ProcessorContext = {
      jobId: task.jobId,
      requestId: task.requestId,
      deadline: task.deadline,
      signal: controller.signal,
      dataDir: options.dataDir,
      ...(options.embed ? { embed: options.embed } : {}),
      ...(options.opensearch ? { opensearch: options.opensearch } : {}),
      progress: (fraction) => {
        const now = Date.now();
        // At most a few messages a second, whatever the caller does.
        if (task.port && (now - lastProgress > 200 || fraction >= 1)) {
          lastProgress = now;
          task.port.postMessage({ progress: Math.min(1, Math.max(0, fraction)) });
        }
      },
    };
    try {
      // The registry guarantees the processor matches (queue, name); the payload type follows.
      const handle = processor.handle.bind(processor) as (
        payload: unknown,
        c: ProcessorContext,
      ) => Promise<unknown>;
      const payload: unknown = task.payloadBytes
        ? JSON.parse(utf8.decode(task.payloadBytes))
        : task.payload;
      const result = await handle(payload, context);
      return { ok: true, result };
    } catch (error) {
      if (context.signal.aborted && !(error instanceof KeelError)) {
        const reason: unknown = context.signal.reason;
        if (reason instanceof KeelError) return { ok: false, error: reason.toJSON() };
        return {
          ok: false,
          error: { code: 'DEADLINE_EXCEEDED', message: 'the job ran past its deadline' },
        };
      }
      return { ok: false, error: serialize(error) };
    } finally {
      clearTimeout(deadline);
      task.port?.close();
    }
  };
}
