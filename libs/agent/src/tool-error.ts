import { KeelError } from '@keel/contracts/jobs';
import type { ToolErrorCode } from './tool-types.js';

/**
 * A failed tool call. Tools throw it to say how they failed; the dispatcher turns it into the
 * call's outcome, so the model reads `code` and `message` and the run goes on.
 */
export class ToolError extends Error {
  override readonly name = 'ToolError';

  constructor(
    readonly code: ToolErrorCode,
    message: string,
    /** Another attempt may succeed (a timeout, a 5xx, a dropped connection): idempotent tools retry. */
    readonly transient = false,
  ) {
    super(message);
  }
}

/** Statuses of a KeelError that say "try again later" rather than "this request is wrong". */
const TRANSIENT_STATUSES = new Set([429, 502, 503, 504]);

/**
 * Whatever a tool threw, as a ToolError. A built-in tool that calls Keel's own services throws
 * KeelErrors (COLLECTION_NOT_FOUND, BACKEND_UNAVAILABLE): their code goes into the message, as the
 * model can act on it ("no such collection"), and 429/5xx ones count as transient.
 */
export function toToolError(error: unknown, toolName: string): ToolError {
  if (error instanceof ToolError) return error;
  if (error instanceof KeelError) {
    return new ToolError(
      'TOOL_FAILED',
      `${toolName} failed: ${error.code}: ${error.message}`,
      TRANSIENT_STATUSES.has(error.status),
    );
  }
  const message = error instanceof Error ? error.message : String(error);
  return new ToolError('TOOL_FAILED', `${toolName} failed: ${message}`);
}
