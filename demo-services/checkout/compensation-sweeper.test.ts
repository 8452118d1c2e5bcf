// The sweeper's scheduling on fake timers with an in-memory store stand-in:
// due orders only, most overdue first, capped full-jitter backoff, one sweep
// at a time, partial progress kept, and nothing retried after stop().

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createCompensationSweeper, dueCompensations, nextAttemptAt, resultOf, type CompensationOutcome, type CompensationPolicy } from './compensation-sweeper.ts';
import type { CompensationProgress, OwedCompensation } from './order-store.ts';

const POLICY: CompensationPolicy = { enabled: true, sweepInterval: 100, baseDelay: 1_000, maxDelay: 8_000, maxPerSweep: 20 };

function owed(orderId: string, change: Partial<OwedCompensation> = {}): OwedCompensation {
  return { orderId, idempotencyKey: `key-${orderId}`, reservationId: `res-${orderId}`, refund: true, release: true, attempts: 1, nextAttemptAt: 0, ...change };
}

/** The store's contract in memory: a row per owed order, gone (compensated) when nothing is left. */
function memoryStore(initial: OwedCompensation[]) {
  const rows = new Map(initial.map((row) => [row.orderId, { ...row }]));
  const compensated: string[] = [];
  return {
    rows,
    compensated,
    owedCompensations: () => [...rows.values()].sort((a, b) => a.nextAttemptAt - b.nextAttemptAt),
    recordCompensationAttempt(orderId: string, progress: CompensationProgress) {
      const row = rows.get(orderId);
      if (!row) throw new Error(`no owed compensation for ${orderId}`);
      if (!progress.refund && !progress.release) {
        rows.delete(orderId);
        compensated.push(orderId);
        return;
      }
      rows.set(orderId, { ...row, refund: progress.refund, release: progress.release, attempts: row.attempts + 1, nextAttemptAt: progress.nextAttemptAt });
    },
  };
}

beforeEach(() => {
  vi.useFakeTimers({ now: 10_000 });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('scheduling maths', () => {
  it('backs off exponentially with full jitter, capped', () => {
    // random() = 1 - tiny gives the top of each jitter range: the exponential itself.
    const top = () => 0.999_999;
    const delays = [1, 2, 3, 4, 5, 6].map((attempts) => Math.round(nextAttemptAt(0, attempts, POLICY, top)));
    expect(delays).toEqual([1_000, 2_000, 4_000, 8_000, 8_000, 8_000]);
    // Full jitter: anywhere from now to the exponential.
    expect(nextAttemptAt(500, 3, POLICY, () => 0)).toBe(500);
    expect(nextAttemptAt(500, 3, POLICY, () => 0.5)).toBe(500 + 2_000);
  });

  it('picks due orders only, most overdue first, at most the limit', () => {
    const list = [owed('late', { nextAttemptAt: 900 }), owed('future', { nextAttemptAt: 5_000 }), owed('oldest', { nextAttemptAt: 100 }), owed('now', { nextAttemptAt: 1_000 })];
    expect(dueCompensations(list, 1_000, 10).map((o) => o.orderId)).toEqual(['oldest', 'late', 'now']);
    expect(dueCompensations(list, 1_000, 2).map((o) => o.orderId)).toEqual(['oldest', 'late']);
  });

  it('calls an attempt done, partial or failed by what is left', () => {
    expect(resultOf({ refund: true, release: true }, { refund: false, release: false })).toBe('done');
    expect(resultOf({ refund: true, release: true }, { refund: true, release: false })).toBe('partial');
    expect(resultOf({ refund: true, release: false }, { refund: true, release: false })).toBe('failed');
    expect(resultOf({ refund: false, release: true }, { refund: false, release: false, refused: true })).toBe('refused');
  });
});

describe('the sweeper on a timer', () => {
  it('retries due orders until done, backing off between failures, and reports each retry', async () => {
    const store = memoryStore([owed('a', { nextAttemptAt: 10_000 }), owed('b', { nextAttemptAt: 60_000, refund: false })]);
    // Order a: the refund fails twice, then everything goes through.
    let failuresLeft = 2;
    const calls: Array<{ orderId: string; at: number; refund: boolean; release: boolean }> = [];
    const compensate = vi.fn(async (o: OwedCompensation): Promise<CompensationOutcome> => {
      calls.push({ orderId: o.orderId, at: Date.now(), refund: o.refund, release: o.release });
      if (o.orderId === 'a' && failuresLeft > 0) {
        failuresLeft -= 1;
        return { refund: true, release: false, error: 'payment unavailable' };
      }
      return { refund: false, release: false };
    });
    const results: string[] = [];
    const sweeper = createCompensationSweeper({ store, compensate, policy: POLICY, random: () => 0.5, onRetry: (o, result) => results.push(`${o.orderId}:${result}`) });
    sweeper.start();

    await vi.advanceTimersByTimeAsync(100);
    // First retry at the first sweep; the release went through, so only the refund is asked for next time.
    expect(calls).toEqual([{ orderId: 'a', at: 10_100, refund: true, release: true }]);
    expect(store.rows.get('a')).toMatchObject({ refund: true, release: false, attempts: 2, nextAttemptAt: 10_100 + 1_000 });

    await vi.advanceTimersByTimeAsync(900);
    expect(calls).toHaveLength(1); // not due before its backoff
    await vi.advanceTimersByTimeAsync(100);
    expect(calls.at(-1)).toEqual({ orderId: 'a', at: 11_100, refund: true, release: false });
    expect(store.rows.get('a')).toMatchObject({ attempts: 3, nextAttemptAt: 11_100 + 2_000 });

    await vi.advanceTimersByTimeAsync(2_000);
    expect(calls.at(-1)).toEqual({ orderId: 'a', at: 13_100, refund: true, release: false });
    expect(store.compensated).toEqual(['a']);
    expect(results).toEqual(['a:partial', 'a:failed', 'a:done']);

    // b was not due until 60 s: untouched until then, then done at once.
    expect(calls.filter((c) => c.orderId === 'b')).toEqual([]);
    await vi.advanceTimersByTimeAsync(60_000 - Date.now() + 100);
    expect(store.compensated).toEqual(['a', 'b']);
    expect(calls.filter((c) => c.orderId === 'b')).toEqual([{ orderId: 'b', at: 60_000, refund: false, release: true }]);
    await sweeper.stop();
  });

  it('while a stop drains the service, every owed order is due at once, backoff or not', async () => {
    const store = memoryStore([owed('soon', { nextAttemptAt: 10_050 }), owed('later', { nextAttemptAt: 70_000 })]);
    let draining = false;
    const compensate = vi.fn(async (): Promise<CompensationOutcome> => ({ refund: false, release: false }));
    const sweeper = createCompensationSweeper({ store, compensate, policy: POLICY, random: () => 0.5, hurry: () => draining });
    sweeper.start();
    await vi.advanceTimersByTimeAsync(100);
    expect(store.compensated).toEqual(['soon']);
    draining = true;
    await vi.advanceTimersByTimeAsync(100);
    // Due at 70 s, retried at 10.2 s: the stop must not wait a backoff out.
    expect(store.compensated).toEqual(['soon', 'later']);
    await sweeper.stop();
  });

  it('runs one sweep at a time, however long a compensation takes', async () => {
    const store = memoryStore([owed('slow', { nextAttemptAt: 0 }), owed('next', { nextAttemptAt: 1 })]);
    let inFlight = 0;
    let maxInFlight = 0;
    const compensate = async (): Promise<CompensationOutcome> => {
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((resolve) => setTimeout(resolve, 1_000)); // ten sweep intervals
      inFlight -= 1;
      return { refund: false, release: false };
    };
    const spy = vi.fn(compensate);
    const sweeper = createCompensationSweeper({ store, compensate: spy, policy: POLICY, random: () => 0 });
    sweeper.start();
    await vi.advanceTimersByTimeAsync(1_500);
    // A direct call during a sweep joins it rather than starting another.
    const joined = sweeper.sweep();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(await joined).toBe(2);
    expect(maxInFlight).toBe(1);
    expect(spy).toHaveBeenCalledTimes(2);
    expect(store.compensated).toEqual(['slow', 'next']);
    await sweeper.stop();
  });

  it('counts a compensator that throws as a failed attempt and keeps everything owed', async () => {
    const store = memoryStore([owed('x')]);
    const sweeper = createCompensationSweeper({
      store,
      compensate: () => Promise.reject(new Error('boom')),
      policy: POLICY,
      random: () => 0.25,
    });
    expect(await sweeper.sweep()).toBe(1);
    expect(store.rows.get('x')).toMatchObject({ refund: true, release: true, attempts: 2, nextAttemptAt: 10_000 + 0.25 * 2_000 });
  });

  it('stops: waits for the compensation in flight, starts no other, and the timer keeps no process alive', async () => {
    const store = memoryStore([owed('first', { nextAttemptAt: 0 }), owed('second', { nextAttemptAt: 1 })]);
    const spy = vi.fn(async (): Promise<CompensationOutcome> => {
      await new Promise((resolve) => setTimeout(resolve, 500));
      return { refund: false, release: false };
    });
    const unref = vi.spyOn(globalThis, 'setInterval');
    const sweeper = createCompensationSweeper({ store, compensate: spy, policy: POLICY, random: () => 0 });
    sweeper.start();
    const timer = unref.mock.results[0]?.value as NodeJS.Timeout;
    expect(timer.hasRef()).toBe(false);
    unref.mockRestore();
    await vi.advanceTimersByTimeAsync(150);
    expect(spy).toHaveBeenCalledTimes(1);
    const stopped = sweeper.stop();
    await vi.advanceTimersByTimeAsync(500);
    await stopped;
    expect(store.compensated).toEqual(['first']);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(spy).toHaveBeenCalledTimes(1);
    expect(store.rows.has('second')).toBe(true);
  });
});
