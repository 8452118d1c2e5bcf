import { describe, expect, it } from 'vitest';
import { createClientBackoff, DEFAULT_RETRY_AFTER_MS, parseRetryAfter } from './retry-after.ts';

const NOW = Date.parse('2025-01-01T00:00:00Z');

describe('parseRetryAfter', () => {
  it('reads delta-seconds and HTTP-dates; anything else is undefined', () => {
    expect(parseRetryAfter('2', NOW)).toBe(2_000);
    expect(parseRetryAfter(['1', '9'], NOW)).toBe(1_000);
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:03 GMT', NOW)).toBe(3_000);
    expect(parseRetryAfter('Tue, 31 Dec 2024 23:59:00 GMT', NOW)).toBe(0);
    expect(parseRetryAfter(undefined, NOW)).toBeUndefined();
    expect(parseRetryAfter('soon', NOW)).toBeUndefined();
    expect(parseRetryAfter('-1', NOW)).toBeUndefined();
    expect(parseRetryAfter('2024', NOW)).toBe(2_024_000);
  });
});

describe('createClientBackoff', () => {
  const noisy1 = { group: 'noisy', id: 'noisy-1' };
  const noisy2 = { group: 'noisy', id: 'noisy-2' };
  const quiet1 = { group: 'quiet', id: 'quiet-1' };

  it('holds a client back until its Retry-After has passed, and no other client', () => {
    const backoff = createClientBackoff();
    expect(backoff.admit(noisy1, 0)).toBe(true);
    backoff.answered(noisy1, 429, '2', 100);
    expect(backoff.admit(noisy1, 1_000)).toBe(false);
    expect(backoff.admit(noisy1, 2_099)).toBe(false);
    expect(backoff.admit(noisy2, 1_000)).toBe(true);
    expect(backoff.admit(noisy1, 2_100)).toBe(true);
    expect(backoff.counts()).toEqual({ deferred: 2, early: 0, limited: 1 });
  });

  it('only 429 makes a client wait; one without a usable Retry-After waits the default', () => {
    const backoff = createClientBackoff();
    backoff.answered(quiet1, 503, '1', 0);
    expect(backoff.admit(quiet1, 1)).toBe(true);
    backoff.answered(quiet1, 429, 'later', 0);
    expect(backoff.admit(quiet1, DEFAULT_RETRY_AFTER_MS - 1)).toBe(false);
    expect(backoff.admit(quiet1, DEFAULT_RETRY_AFTER_MS)).toBe(true);
  });

  it('audits what is sent: a request after a 429 and before its Retry-After is early, one before the 429 arrived is not', () => {
    const backoff = createClientBackoff();
    backoff.answered(noisy1, 429, '1', 1_000);
    backoff.sending(noisy1, 999);
    backoff.sending(noisy1, 2_000);
    expect(backoff.counts().early).toBe(0);
    backoff.answered(noisy1, 429, '1', 3_000);
    backoff.sending(noisy1, 3_500);
    backoff.sending(noisy2, 3_500);
    expect(backoff.counts({ group: 'noisy' }).early).toBe(1);
  });

  it('counts by group and time window', () => {
    const backoff = createClientBackoff();
    backoff.answered(noisy1, 429, '1', 0);
    backoff.admit(noisy1, 500);
    backoff.answered(quiet1, 429, '1', 5_000);
    backoff.admit(quiet1, 5_500);
    expect(backoff.counts({ group: 'noisy' })).toEqual({ deferred: 1, early: 0, limited: 1 });
    expect(backoff.counts({ fromMs: 1_000 })).toEqual({ deferred: 1, early: 0, limited: 1 });
    expect(backoff.counts({ toMs: 500 })).toEqual({ deferred: 0, early: 0, limited: 1 });
    expect(backoff.byGroup()).toEqual([
      { group: 'noisy', deferred: 1, early: 0, limited: 1 },
      { group: 'quiet', deferred: 1, early: 0, limited: 1 },
    ]);
  });
});
