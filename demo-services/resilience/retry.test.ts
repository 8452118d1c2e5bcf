import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { retry, RetriesExhaustedError, type RetryOptions } from './retry.ts';

class Flaky extends Error {}

const options = (overrides: Partial<RetryOptions> = {}): RetryOptions => ({
  maxAttempts: 3,
  backoff: { baseMs: 100, capMs: 1_000, jitter: 'none' },
  random: () => 0.5,
  retryable: (error) => error instanceof Flaky,
  now: () => Date.now(),
  ...overrides,
});

describe('retry (fake timers)', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('retries retryable errors with the backoff delays, then succeeds', async () => {
    const delays: number[] = [];
    let calls = 0;
    const result = retry(options(), async () => {
      calls += 1;
      if (calls < 3) throw new Flaky('boom');
      return 'ok';
    }, { onRetry: (event) => delays.push(event.delayMs) });
    await vi.advanceTimersByTimeAsync(100);
    expect(calls).toBe(2);
    await vi.advanceTimersByTimeAsync(200);
    await expect(result).resolves.toEqual({ value: 'ok', attempts: 3 });
    expect(delays).toEqual([100, 200]);
  });

  it('waits out the wait an error names, then adds only the jitter of its backoff', async () => {
    const delays: number[] = [];
    const waited = (jitter: 'none' | 'full') =>
      retry(options({ maxAttempts: 2, backoff: { baseMs: 100, capMs: 1_000, jitter }, waitMs: () => 700 }), async (attempt) => {
        if (attempt === 1) throw new Flaky('circuit open');
        return attempt;
      }, { onRetry: (event) => delays.push(event.delayMs) });
    const exact = waited('none');
    await vi.advanceTimersByTimeAsync(700);
    await expect(exact).resolves.toEqual({ value: 2, attempts: 2 });
    const spread = waited('full');
    await vi.advanceTimersByTimeAsync(750);
    await expect(spread).resolves.toEqual({ value: 2, attempts: 2 });
    expect(delays).toEqual([700, 750]);
  });

  it('gives up after maxAttempts and says how many were made', async () => {
    const result = retry(options(), async () => {
      throw new Flaky('always');
    });
    const assertion = expect(result).rejects.toMatchObject({ attempts: 3, code: 'FL_RETRIES_EXHAUSTED' });
    await vi.advanceTimersByTimeAsync(1_000);
    await assertion;
  });

  it('does not retry errors that are not retryable', async () => {
    let calls = 0;
    await expect(retry(options(), async () => {
      calls += 1;
      throw new Error('bad request');
    })).rejects.toThrow('bad request');
    expect(calls).toBe(1);
  });

  it('honours Retry-After when it asks for more than the backoff', async () => {
    const delays: number[] = [];
    let calls = 0;
    const result = retry(options({ retryAfterMs: () => 700 }), async () => {
      calls += 1;
      if (calls === 1) throw new Flaky('slow down');
      return calls;
    }, { onRetry: (event) => delays.push(event.delayMs) });
    await vi.advanceTimersByTimeAsync(699);
    expect(calls).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    await expect(result).resolves.toEqual({ value: 2, attempts: 2 });
    expect(delays).toEqual([700]);
  });

  it('does not start a retry whose delay runs past the deadline', async () => {
    let calls = 0;
    const deadlineAt = Date.now() + 250;
    const result = retry(options(), async () => {
      calls += 1;
      throw new Flaky('down');
    }, { deadlineAt });
    const assertion = expect(result).rejects.toBeInstanceOf(RetriesExhaustedError);
    await vi.advanceTimersByTimeAsync(1_000);
    await assertion;
    // attempt 1, wait 100, attempt 2; the next wait (200) would end past the deadline.
    expect(calls).toBe(2);
  });

  it('stops sleeping when the signal aborts', async () => {
    const controller = new AbortController();
    const result = retry(options(), async () => {
      throw new Flaky('down');
    }, { signal: controller.signal });
    const assertion = expect(result).rejects.toThrow('cancelled');
    await vi.advanceTimersByTimeAsync(50);
    controller.abort(new Error('cancelled'));
    await assertion;
  });
});
