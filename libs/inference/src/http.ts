import { setTimeout as sleep } from 'node:timers/promises';
import { KeelError, type ErrorCode } from '@keel/contracts/jobs';
import { backoffDelay, retryAfterMs, type BackoffOptions } from './retry.js';

/**
 * The error codes and words of one kind of model server. Each client keeps its own family, so an
 * embedding outage and an LLM outage stay apart in the API's codes, the logs and the alerts.
 */
export interface ErrorFamily {
  /** 4xx other than 429. */
  rejected: ErrorCode;
  /** An answer the client cannot use (not JSON, wrong shape). */
  invalid: ErrorCode;
  /** 5xx, connection errors, timeouts, retries exhausted. */
  unavailable: ErrorCode;
  /** How a cancelled call is named: "the embedding call was cancelled". */
  call: string;
  /** What the call waits for: "the deadline passed before the embeddings came". */
  result: string;
}

export const EMBEDDING_ERRORS: ErrorFamily = {
  rejected: 'EMBEDDINGS_REJECTED',
  invalid: 'EMBEDDINGS_INVALID',
  unavailable: 'EMBEDDINGS_UNAVAILABLE',
  call: 'the embedding call',
  result: 'the embeddings',
};

export const CHAT_ERRORS: ErrorFamily = {
  rejected: 'LLM_REJECTED',
  invalid: 'LLM_INVALID',
  unavailable: 'LLM_UNAVAILABLE',
  call: 'the LLM call',
  result: "the LLM's answer",
};

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
  errors: ErrorFamily;
}

/**
 * Reads a 2xx answer inside the attempt, i.e. under the attempt's timeout and still retryable:
 * the whole JSON body for a plain call, the first bytes for a stream. Throws a KeelError for an
 * answer no retry can fix; any other error counts as a broken connection.
 */
export type AcceptBody<T> = (response: Response, where: string) => Promise<T>;

export interface Posted<T> {
  value: T;
  /** Attempts it took (1 = no retry). */
  attempts: number;
}

/** The most of an error body quoted in a message: enough for the server's reason. */
const QUOTE_CHARS = 200;

type Attempt<T> = { ok: true; value: T } | { ok: false; failure: Failure };

interface Failure {
  retryable: boolean;
  error: KeelError;
  /** What the server asked for (`Retry-After`), if it did. */
  retryAfterMs?: number;
}

/**
 * POSTs `body` as JSON and returns the parsed JSON answer. See {@link post} for the retries and
 * the errors.
 */
export async function postJson(options: PostJsonOptions): Promise<unknown> {
  return (await post(options, jsonBody(options.errors))).value;
}

/** Reads the whole body as JSON; not JSON is the family's `invalid`, never retried. */
export function jsonBody(errors: ErrorFamily): AcceptBody<unknown> {
  return async (response, where) => {
    const text = await response.text();
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new KeelError(errors.invalid, `${where} answered with invalid JSON`);
    }
  };
}

/**
 * POSTs `body` as JSON and hands a 2xx answer to `accept`. Retries 429, 503, connection errors and
 * attempts that timed out, with full-jitter back-off or the server's `Retry-After`, never past the
 * deadline: a wait that would end after it fails the call at once instead (with the server's
 * `Retry-After` in the error, for Keel's own caller). Everything else fails at once, with the
 * family's codes: `rejected` (4xx), `unavailable` (5xx, retries exhausted), `invalid` (what
 * `accept` refused), or `DEADLINE_EXCEEDED`, `CANCELLED`.
 *
 * After `accept` returns, the response's body stays bound to the caller's signal, the sibling
 * stop and the deadline (not to the attempt's timeout): a stream read later is still cancelled at
 * the socket.
 *
 * The loop is hand-written rather than cockatiel's retry policy: cockatiel 4's back-off sleep does
 * not listen to the abort signal (a cancelled call would wait out a `Retry-After`), and its
 * back-off cannot say "give up now" when the server's wait outlasts the deadline.
 */
export async function post<T>(options: PostJsonOptions, accept: AcceptBody<T>): Promise<Posted<T>> {
  const outer = [options.signal, options.stop].filter((s): s is AbortSignal => s !== undefined);
  const attempts = options.maxRetries + 1;
  for (let attempt = 1; ; attempt++) {
    throwIfStopped(options);
    const result = await attemptOnce(options, outer, accept);
    if (result.ok) return { value: result.value, attempts: attempt };
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
      throw stoppedError(options.signal, options.errors);
    }
  }
}

async function attemptOnce<T>(
  options: PostJsonOptions,
  outer: AbortSignal[],
  accept: AcceptBody<T>,
): Promise<Attempt<T>> {
  const where = describe(options.url);
  const { errors } = options;
  const remaining = options.deadline === undefined ? Infinity : options.deadline - Date.now();
  if (remaining <= 0) throw deadlineError(where);
  // When the deadline comes before the attempt's own timeout, the timeout firing means the
  // deadline passed: no retry can help then.
  const byDeadline = remaining <= options.timeoutMs;
  // The attempt's timeout is a timer of our own, cleared once `accept` returns: a stream's body
  // may then take longer than one attempt (the deadline still bounds it).
  const timeout = new AbortController();
  const timer = setTimeout(
    () => timeout.abort(),
    Math.max(1, Math.min(options.timeoutMs, remaining)),
  );
  const lifetime = [...outer];
  if (options.deadline !== undefined) lifetime.push(AbortSignal.timeout(Math.max(1, remaining)));
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
      signal: AbortSignal.any([timeout.signal, ...lifetime]),
    });
    status = response.status;
    headers = response.headers;
    if (status >= 200 && status < 300) return { ok: true, value: await accept(response, where) };
    text = await response.text();
  } catch (error) {
    if (outer.some((s) => s.aborted)) throw stoppedError(options.signal, errors);
    if (timeout.signal.aborted) {
      if (byDeadline) throw deadlineError(where);
      return fail(
        true,
        unavailable(errors, `${where} did not answer within ${options.timeoutMs} ms`),
      );
    }
    if (options.deadline !== undefined && Date.now() >= options.deadline) {
      throw deadlineError(where);
    }
    if (error instanceof KeelError) return fail(false, rephrase(error, error.message, options));
    return fail(
      true,
      unavailable(
        errors,
        scrub(`could not reach ${where}: ${connectionReason(error)}`, options.secrets),
      ),
    );
  } finally {
    clearTimeout(timer);
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
          errors.unavailable,
          `${where} answered ${status}${quoted}`,
          undefined,
          wait === undefined ? undefined : Math.ceil(wait / 1000),
        ),
      },
    };
  }
  if (status >= 500)
    return fail(false, unavailable(errors, `${where} answered ${status}${quoted}`));
  return fail(
    false,
    new KeelError(errors.rejected, `${where} refused the request: ${status}${quoted}`),
  );
}

function fail(retryable: boolean, error: KeelError): Attempt<never> {
  return { ok: false, failure: { retryable, error } };
}

function unavailable(errors: ErrorFamily, message: string): KeelError {
  return new KeelError(errors.unavailable, message);
}

export function deadlineError(where: string): KeelError {
  return new KeelError('DEADLINE_EXCEEDED', `the deadline passed before ${where} answered`);
}

function throwIfStopped(options: PostJsonOptions): void {
  if (options.signal?.aborted || options.stop?.aborted) {
    throw stoppedError(options.signal, options.errors);
  }
  if (options.deadline !== undefined && Date.now() >= options.deadline) {
    throw deadlineError(describe(options.url));
  }
}

/** The error of a call its caller (or a failed sibling) stopped: the caller's reason wins. */
export function stoppedError(
  signal: AbortSignal | undefined,
  errors: ErrorFamily = EMBEDDING_ERRORS,
): KeelError {
  const reason: unknown = signal?.aborted ? signal.reason : undefined;
  if (reason instanceof KeelError) return reason;
  if (reason instanceof DOMException && reason.name === 'TimeoutError') {
    return new KeelError('DEADLINE_EXCEEDED', `the deadline passed before ${errors.result} came`);
  }
  return new KeelError('CANCELLED', `${errors.call} was cancelled`);
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
export function describe(url: URL): string {
  return `${url.origin}${url.pathname}`;
}

export function connectionReason(error: unknown): string {
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
