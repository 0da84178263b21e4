import { setTimeout as sleep } from 'node:timers/promises';
import { KeelError } from '@keel/contracts/jobs';
import { backoffDelay, retryAfterMs, type BackoffOptions } from './retry.js';

/** One JSON POST to a model server, with its deadline, cancellation and retries. */
export interface PostJsonOptions {
  url: URL;
  body: unknown;
  headers: Readonly<Record<string, string>>;
  /** Bound of each attempt; the deadline bounds them all. */
  timeoutMs: number;
  maxRetries: number;
  backoff: BackoffOptions;
  /** Epoch ms. */
  deadline?: number;
  /** The caller's signal. */
  signal?: AbortSignal;
  /** Aborted when a sibling call failed and this one's answer no longer matters. */
  stop?: AbortSignal;
  /** Strings no error message may contain (the API key). */
  secrets: readonly string[];
}

/** The most of an error body quoted in a message: enough for the server's reason. */
const QUOTE_CHARS = 200;

type Attempt = { ok: true; value: unknown } | { ok: false; failure: Failure };

interface Failure {
  retryable: boolean;
  error: KeelError;
  /** What the server asked for (`Retry-After`), if it did. */
  retryAfterMs?: number;
}

/**
 * POSTs `body` as JSON and returns the parsed JSON answer. Retries 429, 503, connection errors and
 * attempts that timed out, with full-jitter back-off or the server's `Retry-After`, never past the
 * deadline: a wait that would end after it fails the call at once instead (with the server's
 * `Retry-After` in the error, for Keel's own caller). Everything else fails at once:
 * `EMBEDDINGS_REJECTED` (4xx), `EMBEDDINGS_UNAVAILABLE` (5xx, retries exhausted),
 * `EMBEDDINGS_INVALID` (not JSON), `DEADLINE_EXCEEDED`, `CANCELLED`.
 *
 * The loop is hand-written rather than cockatiel's retry policy: cockatiel 4's back-off sleep does
 * not listen to the abort signal (a cancelled call would wait out a `Retry-After`), and its
 * back-off cannot say "give up now" when the server's wait outlasts the deadline.
 */
export async function postJson(options: PostJsonOptions): Promise<unknown> {
  const outer = [options.signal, options.stop].filter((s): s is AbortSignal => s !== undefined);
  const attempts = options.maxRetries + 1;
  for (let attempt = 1; ; attempt++) {
    throwIfStopped(options);
    const result = await attemptOnce(options, outer);
    if (result.ok) return result.value;
    const { failure } = result;
    if (!failure.retryable) throw failure.error;
    if (attempt >= attempts) {
      throw rephrase(failure.error, `${failure.error.message} (${attempts} attempts)`, options);
    }
    const delay = failure.retryAfterMs ?? backoffDelay(attempt - 1, options.backoff);
    if (options.deadline !== undefined && Date.now() + delay >= options.deadline) {
      throw rephrase(
        failure.error,
        `${failure.error.message}; waiting ${delay} ms to retry would pass the deadline`,
        options,
      );
    }
    try {
      await sleep(delay, undefined, outer.length > 0 ? { signal: AbortSignal.any(outer) } : {});
    } catch {
      throw stoppedError(options);
    }
  }
}

async function attemptOnce(options: PostJsonOptions, outer: AbortSignal[]): Promise<Attempt> {
  const where = describe(options.url);
  const remaining = options.deadline === undefined ? Infinity : options.deadline - Date.now();
  if (remaining <= 0) throw deadlineError(where);
  // When the deadline comes before the attempt's own timeout, the timeout firing means the
  // deadline passed: no retry can help then.
  const byDeadline = remaining <= options.timeoutMs;
  const timeout = AbortSignal.timeout(Math.max(1, Math.min(options.timeoutMs, remaining)));
  let status: number;
  let headers: Headers;
  let text: string;
  try {
    const response = await fetch(options.url, {
      method: 'POST',
      headers: options.headers,
      body: JSON.stringify(options.body),
      // A model server has no reason to redirect a POST; following one could carry the key away.
      redirect: 'manual',
      signal: AbortSignal.any([timeout, ...outer]),
    });
    status = response.status;
    headers = response.headers;
    text = await response.text();
  } catch (error) {
    if (outer.some((s) => s.aborted)) throw stoppedError(options);
    if (timeout.aborted) {
      if (byDeadline) throw deadlineError(where);
      return fail(true, unavailable(`${where} did not answer within ${options.timeoutMs} ms`));
    }
    return fail(
      true,
      unavailable(scrub(`could not reach ${where}: ${connectionReason(error)}`, options.secrets)),
    );
  }

  if (status >= 200 && status < 300) {
    try {
      return { ok: true, value: JSON.parse(text) as unknown };
    } catch {
      return fail(
        false,
        new KeelError('EMBEDDINGS_INVALID', `${where} answered with invalid JSON`),
      );
    }
  }
  const quoted = quote(text, options.secrets);
  if (status === 429 || status === 503) {
    const wait = retryAfterMs(headers);
    return {
      ok: false,
      failure: {
        retryable: true,
        retryAfterMs: wait,
        error: new KeelError(
          'EMBEDDINGS_UNAVAILABLE',
          `${where} answered ${status}${quoted}`,
          undefined,
          wait === undefined ? undefined : Math.ceil(wait / 1000),
        ),
      },
    };
  }
  if (status >= 500) return fail(false, unavailable(`${where} answered ${status}${quoted}`));
  return fail(
    false,
    new KeelError('EMBEDDINGS_REJECTED', `${where} refused the request: ${status}${quoted}`),
  );
}

function fail(retryable: boolean, error: KeelError): Attempt {
  return { ok: false, failure: { retryable, error } };
}

function unavailable(message: string): KeelError {
  return new KeelError('EMBEDDINGS_UNAVAILABLE', message);
}

function deadlineError(where: string): KeelError {
  return new KeelError('DEADLINE_EXCEEDED', `the deadline passed before ${where} answered`);
}

function throwIfStopped(options: PostJsonOptions): void {
  if (options.signal?.aborted || options.stop?.aborted) throw stoppedError(options);
  if (options.deadline !== undefined && Date.now() >= options.deadline) {
    throw deadlineError(describe(options.url));
  }
}

/** The error of a call its caller (or a failed sibling) stopped: the caller's reason wins. */
export function stoppedError(options: Pick<PostJsonOptions, 'signal'>): KeelError {
  const reason: unknown = options.signal?.aborted ? options.signal.reason : undefined;
  if (reason instanceof KeelError) return reason;
  if (reason instanceof DOMException && reason.name === 'TimeoutError') {
    return new KeelError('DEADLINE_EXCEEDED', 'the deadline passed before the embeddings came');
  }
  return new KeelError('CANCELLED', 'the embedding call was cancelled');
}

function rephrase(error: KeelError, message: string, options: PostJsonOptions): KeelError {
  return new KeelError(
    error.code,
    scrub(message, options.secrets),
    error.details,
    error.retryAfterSeconds,
  );
}

/** The endpoint without credentials or query, safe to put in a message. */
function describe(url: URL): string {
  return `${url.origin}${url.pathname}`;
}

function connectionReason(error: unknown): string {
  const cause: unknown = error instanceof Error ? error.cause : undefined;
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code;
    return typeof code === 'string' ? code : cause.message;
  }
  return error instanceof Error ? error.message : String(error);
}

function quote(text: string, secrets: readonly string[]): string {
  const compact = text.replace(/\s+/g, ' ').trim();
  if (compact === '') return '';
  // Scrub before cutting, so a cut cannot leave half a secret behind.
  const clean = scrub(compact, secrets);
  return `: ${clean.length > QUOTE_CHARS ? `${clean.slice(0, QUOTE_CHARS)}…` : clean}`;
}

export function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) if (secret) out = out.split(secret).join('[redacted]');
  return out;
}
