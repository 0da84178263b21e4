import { describe, expect, it } from 'vitest';
import { backoffDelay, retryAfterMs } from './retry.js';

describe('retryAfterMs', () => {
  const now = Date.parse('2026-03-01T12:00:00Z');
  const headers = (h: Record<string, string>) => new Headers(h);

  it('reads delta-seconds', () => {
    expect(retryAfterMs(headers({ 'retry-after': '7' }), now)).toBe(7_000);
    expect(retryAfterMs(headers({ 'retry-after': ' 0 ' }), now)).toBe(0);
    expect(retryAfterMs(headers({ 'retry-after': '1.5' }), now)).toBe(1_500);
  });

  it('reads an HTTP date, and a date already past as no wait', () => {
    expect(retryAfterMs(headers({ 'retry-after': 'Sun, 01 Mar 2026 12:00:05 GMT' }), now)).toBe(
      5_000,
    );
    expect(retryAfterMs(headers({ 'retry-after': 'Sun, 01 Mar 2026 11:59:00 GMT' }), now)).toBe(0);
  });

  it('prefers retry-after-ms', () => {
    expect(retryAfterMs(headers({ 'retry-after-ms': '250', 'retry-after': '1' }), now)).toBe(250);
  });

  it('ignores what it cannot read', () => {
    expect(retryAfterMs(headers({}), now)).toBeUndefined();
    expect(retryAfterMs(headers({ 'retry-after': 'soon' }), now)).toBeUndefined();
    expect(retryAfterMs(headers({ 'retry-after': '-3' }), now)).toBeUndefined();
    expect(retryAfterMs(headers({ 'retry-after-ms': 'x', 'retry-after': '2' }), now)).toBe(2_000);
  });
});

describe('backoffDelay (full jitter)', () => {
  const options = { baseDelayMs: 100, maxDelayMs: 1_000 };

  it('draws from [0, base * 2^retry)', () => {
    expect(backoffDelay(0, options, () => 0)).toBe(0);
    expect(backoffDelay(0, options, () => 0.999)).toBe(99);
    expect(backoffDelay(2, options, () => 0.5)).toBe(200);
  });

  it('never draws above the cap', () => {
    expect(backoffDelay(10, options, () => 0.999)).toBe(999);
    expect(backoffDelay(1_000, options, () => 0.999)).toBe(999);
  });

  it('spreads its draws', () => {
    const draws = new Set(Array.from({ length: 50 }, () => backoffDelay(3, options)));
    expect(draws.size).toBeGreaterThan(10);
    for (const d of draws) expect(d).toBeGreaterThanOrEqual(0);
    for (const d of draws) expect(d).toBeLessThan(800);
  });
});
