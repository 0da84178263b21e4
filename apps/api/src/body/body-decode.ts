// Turns the bytes of a JSON request body into a validated DTO, with the same rules and error
// details as the API's global ValidationPipe. It runs on the body thread (body-thread.ts), so
// that parsing and validating megabytes of JSON never holds the event loop.
import { threadId } from 'node:worker_threads';
import { KeelError, type SerializedError } from '@keel/contracts/jobs';
import { createValidationPipe } from '@keel/platform/validation';
import { BODY_TYPES, type BodyReply, type BodyTask } from './body-types.js';

const pipe = createValidationPipe();
const utf8 = new TextDecoder('utf-8');

function failure(error: unknown): SerializedError {
  if (error instanceof KeelError) return error.toJSON();
  return { code: 'INTERNAL', message: error instanceof Error ? error.message : String(error) };
}

/** Parses as express.json({ strict: true }) does: an object or array, an empty body as {}. */
function parse(bytes: Uint8Array | undefined): unknown {
  if (!bytes || bytes.byteLength === 0) return undefined;
  const text = utf8.decode(bytes); // drops a byte-order mark, as body-parser does
  const first = /\S/u.exec(text)?.[0];
  if (first !== '{' && first !== '[') {
    throw new KeelError('INVALID_JSON', 'the request body is not valid JSON');
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new KeelError('INVALID_JSON', 'the request body is not valid JSON');
  }
}

export async function decodeBody(task: BodyTask): Promise<BodyReply> {
  const started = performance.now();
  const seconds = () => (performance.now() - started) / 1000;
  try {
    const metatype = BODY_TYPES[task.type];
    const value: unknown = await pipe.transform(parse(task.bytes), { type: 'body', metatype });
    return { threadId, seconds: seconds(), value };
  } catch (error) {
    return { threadId, seconds: seconds(), error: failure(error) };
  }
}
