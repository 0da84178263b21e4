import { Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import { KeelError, toKeelError } from '@keel/contracts/jobs';

/** True when the client asked for Server-Sent Events; anything else keeps the JSON answer. */
export function wantsEventStream(req: Request): boolean {
  const accept = req.headers.accept;
  if (!accept) return false;
  return accept.split(',').some((part) => {
    const [type, ...params] = part.trim().split(';');
    if (type.trim().toLowerCase() !== 'text/event-stream') return false;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}

const logger = new Logger('EventStream');

/** One Server-Sent Event: its name and its data (sent as one line of JSON). */
export interface SseEvent {
  event: string;
  data: unknown;
}

/**
 * Sends `events` as SSE. The headers go only with
 * the first event: whatever fails before it (validation, a missing collection, an LLM that could
 * not be reached) is thrown to the exception filter and answered with its status and JSON body.
 * After that the status is spent, so a failure becomes one `error` event `{ code, message,
 * requestId }` and the stream ends. A client that goes away aborts the request's signal (the
 * request-context middleware), which stops the work upstream; nothing more is written then.
 */
export async function sendEventStream(
  res: Response,
  events: AsyncIterable<SseEvent>,
  requestId: string,
  signal?: AbortSignal,
): Promise<void> {
  const iterator = events[Symbol.asyncIterator]();
  const first = await iterator.next();
  res.status(200);
  res.setHeader('content-type', 'text/event-stream; charset=utf-8');
  res.setHeader('cache-control', 'no-cache, no-transform');
  // Reverse proxies (nginx) buffer responses unless told not to; a buffered stream is no stream.
  res.setHeader('x-accel-buffering', 'no');
  res.flushHeaders();
  try {
    for (let next = first; !next.done; next = await iterator.next()) {
      if (!(await write(res, next.value, signal))) break;
    }
  } catch (error) {
    const known = toKeelError(error);
    if (!known) logger.error({ msg: 'unhandled error in a stream', err: error, requestId });
    const keel =
      known ?? new KeelError('INTERNAL', 'internal error; see the server log for this request id');
    await write(res, {
      event: 'error',
      data: { code: keel.code, message: keel.message, requestId },
    });
  } finally {
    await iterator.return?.();
    if (!res.writableEnded) res.end();
  }
}

/**
 * Writes one event; false once the client is gone. A client that reads slower than the model
 * writes fills the socket: the next event waits for it to drain, so the stream from the model
 * waits too (its own socket's window) instead of the answer piling up in this process. The wait
 * ends with the request (its deadline, the client leaving): a client that stops reading and keeps
 * the connection open is cut off then, as nothing more can be told to it.
 */
async function write(
  res: Response,
  { event, data }: SseEvent,
  signal?: AbortSignal,
): Promise<boolean> {
  if (res.destroyed || res.writableEnded) return false;
  // JSON has no raw newlines, so each event is one data line.
  if (res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)) return true;
  if (signal?.aborted) {
    res.destroy();
    return false;
  }
  await new Promise<void>((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
    signal?.addEventListener('abort', done);
  });
  if (signal?.aborted && res.writableNeedDrain) {
    res.destroy();
    return false;
  }
  return !res.destroyed;
}
