/**
 * Stable error codes. Clients branch on `code`, never on `message`; a code, once published, keeps
 * its meaning and its HTTP status.
 */
export const ERROR_STATUS = {
  INVALID_JSON: 400,
  VALIDATION_FAILED: 400,
  INVALID_COLLECTION_NAME: 400,
  DUPLICATE_DOCUMENT_ID: 400,
  DENSE_UNAVAILABLE: 400,
  PACK_BUDGET_TOO_SMALL: 400,
  RERANK_METHOD_UNKNOWN: 400,
  METRIC_UNKNOWN: 400,
  DATASET_INVALID: 400,
  /** A metadata value's type conflicts with the field's type in the collection's mapping. */
  METADATA_CONFLICT: 400,
  /** A tool declaration (POST /v1/tools, the tools file) is malformed or points at a forbidden host. */
  TOOL_INVALID: 400,
  UNAUTHORIZED: 401,
  NOT_FOUND: 404,
  COLLECTION_NOT_FOUND: 404,
  DOCUMENT_NOT_FOUND: 404,
  JOB_NOT_FOUND: 404,
  DATASET_NOT_FOUND: 404,
  EVALUATION_NOT_FOUND: 404,
  TOOL_NOT_FOUND: 404,
  AGENT_RUN_NOT_FOUND: 404,
  COLLECTION_EXISTS: 409,
  EVALUATION_NOT_READY: 409,
  TOOL_EXISTS: 409,
  /** The run already ended (completed, failed or cancelled): it cannot be cancelled. */
  AGENT_RUN_FINISHED: 409,
  PAYLOAD_TOO_LARGE: 413,
  /** An agent run took its maximum steps without an answer. */
  AGENT_MAX_STEPS: 422,
  /** An agent run's next model call would pass its token budget. */
  AGENT_TOKEN_BUDGET: 422,
  UNSUPPORTED_MEDIA_TYPE: 415,
  OVERLOADED: 429,
  CANCELLED: 499,
  INTERNAL: 500,
  JOB_FAILED: 500,
  /** A synchronous agent run whose process stopped (killed, shut down) before the run ended. */
  AGENT_RUN_ABANDONED: 500,
  /** The embedding server refused the request (a 4xx other than 429: bad input, bad key). */
  EMBEDDINGS_REJECTED: 502,
  /** The embedding server answered something unusable: bad shape, wrong dimensions, NaN. */
  EMBEDDINGS_INVALID: 502,
  /** The LLM server refused the request (a 4xx other than 429). */
  LLM_REJECTED: 502,
  /** The LLM server answered something unusable (not JSON, no choices, a broken stream). */
  LLM_INVALID: 502,
  UNAVAILABLE: 503,
  /** The LLM server is down, overloaded past its retries, or too slow. */
  LLM_UNAVAILABLE: 503,
  /** The embedding server is down, overloaded past its retries, or too slow to answer. */
  EMBEDDINGS_UNAVAILABLE: 503,
  /** Every retrieval leg (BM25, dense) failed, or the search backend is unreachable. */
  BACKEND_UNAVAILABLE: 503,
  DEADLINE_EXCEEDED: 504,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export interface ErrorDetail {
  field?: string;
  message: string;
}

/** A plain, structured-clone-safe description of an error: it crosses thread and queue boundaries. */
export interface SerializedError {
  code: ErrorCode;
  message: string;
  details?: ErrorDetail[];
  retryAfterSeconds?: number;
}

/** A domain error with a stable code; the API maps it to `ERROR_STATUS[code]`. */
export class KeelError extends Error {
  override readonly name = 'KeelError';

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: ErrorDetail[],
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }

  toJSON(): SerializedError {
    return {
      code: this.code,
      message: this.message,
      ...(this.details ? { details: this.details } : {}),
      ...(this.retryAfterSeconds !== undefined
        ? { retryAfterSeconds: this.retryAfterSeconds }
        : {}),
    };
  }

  static from(serialized: SerializedError): KeelError {
    return new KeelError(
      serialized.code in ERROR_STATUS ? serialized.code : 'INTERNAL',
      serialized.message,
      serialized.details,
      serialized.retryAfterSeconds,
    );
  }
}

export function isKeelError(error: unknown): error is KeelError {
  return error instanceof KeelError;
}

/** Anything that carries a `code` we know, including errors from pure libs (e.g. packing). */
export function toKeelError(error: unknown): KeelError | undefined {
  if (error instanceof KeelError) return error;
  if (error instanceof Error && 'code' in error && typeof error.code === 'string') {
    const code = error.code;
    if (code in ERROR_STATUS) return new KeelError(code as ErrorCode, error.message);
  }
  return undefined;
}
