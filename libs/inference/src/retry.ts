/** Back-off between attempts of one call (milliseconds). */
export interface BackoffOptions {
  /** The cap of the first retry's delay; doubles each retry. */
  baseDelayMs: number;
  /** No delay is drawn above this. */
  maxDelayMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseDelayMs: 100, maxDelayMs: 5_000 };

/**
 * Exponential back-off with full jitter: uniform in [0, min(max, base * 2^retry)). Full jitter
 * spreads the retries of many clients that failed together (a server restart) instead of bringing
 * them back in waves.
 */
export function backoffDelay(
  retry: number,
  options: BackoffOptions = DEFAULT_BACKOFF,
  random: () => number = Math.random,
): number {
  const cap = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** retry);
  return Math.floor(random() * cap);
}

// Whole seconds per the RFC; fractions too, as some servers send them.
const NUMBER = /^\d+(\.\d+)?$/;
// Every HTTP-date form names a day or a month; without a letter Date.parse would guess ("-3").
const HTTP_DATE = /[a-z]/i;

/**
 * How long the server asked us to wait, in milliseconds: `Retry-After` as delta-seconds or as an
 * HTTP date (RFC 9110 §10.2.3), or the `retry-after-ms` that OpenAI-compatible servers also send
 * (finer than whole seconds, so preferred when present). Undefined when absent or unreadable.
 */
export function retryAfterMs(headers: Headers, now: number = Date.now()): number | undefined {
  const ms = headers.get('retry-after-ms')?.trim();
  if (ms && NUMBER.test(ms)) return Number(ms);
  const value = headers.get('retry-after')?.trim();
  if (!value) return undefined;
  if (NUMBER.test(value)) return Math.round(Number(value) * 1000);
  if (!HTTP_DATE.test(value)) return undefined;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
