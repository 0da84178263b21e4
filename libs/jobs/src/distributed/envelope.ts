import {
  KeelError,
  type ErrorCode,
  type SerializedError,
  ERROR_STATUS,
} from '@keel/contracts/jobs';

/**
 * The data of every BullMQ job Keel writes. Versioned (STYLE.md #3): a job outlives the deploy
 * that wrote it, and a worker must refuse what it cannot read rather than guess.
 */
export interface JobEnvelope {
  v: 1;
  /** Request/reply jobs: the payload itself. */
  payload?: unknown;
  /**
   * Tracked jobs: the Redis key that holds the payload as JSON bytes, written by the API from a
   * pool thread. An ingest's megabytes of documents stay out of the job's hash, which BullMQ
   * serializes on the API's event loop when it adds the job and parses on every status read.
   */
  payloadKey?: string;
  requestId?: string;
  /** Request/reply: epoch ms after which nobody waits; a worker that sees it passed skips the job. */
  deadline?: number;
  /** Tracked: how long one attempt may run once started. */
  timeoutMs?: number;
}

export function readEnvelope(data: unknown): JobEnvelope {
  const e = data as Partial<JobEnvelope> | null;
  if (
    !e ||
    typeof e !== 'object' ||
    e.v !== 1 ||
    !('payload' in e || typeof e.payloadKey === 'string')
  ) {
    throw new KeelError(
      'VALIDATION_FAILED',
      `unreadable job data (envelope version ${String(e?.v)}; this build reads 1)`,
    );
  }
  if (e.deadline !== undefined && !Number.isFinite(e.deadline)) {
    throw new KeelError('VALIDATION_FAILED', 'job deadline is not a number');
  }
  if (e.timeoutMs !== undefined && !(Number.isFinite(e.timeoutMs) && e.timeoutMs > 0)) {
    throw new KeelError('VALIDATION_FAILED', 'job timeoutMs is not a positive number');
  }
  return e as JobEnvelope;
}

const PREFIX = 'keel:';

/**
 * A job's failure as BullMQ stores it (`failedReason` is a string): the serialized error as JSON,
 * so the API gets the stable code back.
 */
export function encodeFailure(error: SerializedError): string {
  return `${PREFIX}${JSON.stringify(error)}`;
}

export function decodeFailure(reason: string | undefined): SerializedError {
  if (reason?.startsWith(PREFIX)) {
    try {
      const parsed = JSON.parse(reason.slice(PREFIX.length)) as SerializedError;
      if (typeof parsed.code === 'string' && parsed.code in ERROR_STATUS) return parsed;
    } catch {
      // fall through: not ours
    }
  }
  // BullMQ's own reasons, e.g. "job stalled more than allowable limit".
  return { code: 'JOB_FAILED', message: reason ?? 'the job failed' };
}

/** Errors a retry cannot fix: bad input, missing things, a caller that gave up. */
const PERMANENT: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'INVALID_JSON',
  'VALIDATION_FAILED',
  'INVALID_COLLECTION_NAME',
  'DUPLICATE_DOCUMENT_ID',
  'DENSE_UNAVAILABLE',
  'PACK_BUDGET_TOO_SMALL',
  'RERANK_METHOD_UNKNOWN',
  'METRIC_UNKNOWN',
  'DATASET_INVALID',
  'NOT_FOUND',
  'COLLECTION_NOT_FOUND',
  'DOCUMENT_NOT_FOUND',
  'DATASET_NOT_FOUND',
  'EVALUATION_NOT_FOUND',
  'CANCELLED',
  'DEADLINE_EXCEEDED',
  // A bad key or input, or vectors of the wrong shape: the embedding server will say it again.
  'EMBEDDINGS_REJECTED',
  'EMBEDDINGS_INVALID',
]);

export function isRetryable(error: SerializedError): boolean {
  return !PERMANENT.has(error.code);
}
