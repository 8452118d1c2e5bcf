// A circuit breaker with resilience4j's semantics: it opens when the failure
// rate OR the slow-call rate over a sliding window of the last N calls passes
// its threshold (once a minimum number of calls is seen), stays open for a
// while, then lets a few probe calls through (half-open) while every other
// caller fails fast; the probes decide between closing and opening again.
// Written here rather than taken from cockatiel or opossum because neither
// has a slow-call rate nor more than one half-open probe, and because the
// state machine must run on an injected clock to be tested without timers.

import type { CircuitState } from '../kit/conventions.ts';

export interface CircuitBreakerOptions {
  /** Open when this share of the window's calls failed (0..1). */
  failureRateThreshold: number;
  /** Open when this share of the window's calls were slow (0..1; 1 disables it). */
  slowCallRateThreshold: number;
  /** A call slower than this counts as slow. */
  slowCallDurationMs: number;
  /** The sliding window holds the outcomes of this many most recent calls. */
  windowSize: number;
  /** No decision before this many calls are in the window. */
  minimumCalls: number;
  /** How long the circuit stays open before it lets probes through. */
  openDurationMs: number;
  /** Calls let through while half-open; all must succeed to close. */
  halfOpenProbes: number;
}

export interface CallResult {
  ok: boolean;
  durationMs: number;
}

/** Permission to make one call; report its result exactly once. */
export interface Permit {
  readonly probe: boolean;
  done(result: CallResult): void;
  /** The call was abandoned without a verdict on the dependency (e.g. the caller cancelled). */
  release(): void;
}

export type StateListener = (from: CircuitState, to: CircuitState, reason: string) => void;

export interface CircuitBreaker {
  readonly state: CircuitState;
  /** A permit, or undefined when the call must fail fast. */
  tryAcquire(): Permit | undefined;
  onStateChange(listener: StateListener): () => void;
  /** Failure and slow-call rates over the current window (for logs and tests). */
  rates(): { calls: number; failureRate: number; slowCallRate: number };
  /**
   * How long a refused caller should wait before it tries again: open, until it goes half-open;
   * half-open, about a probe's round trip (HALF_OPEN_RETRY_AFTER_MS, at most the open duration): the
   * probes are deciding, and a caller told longer would wait out a dependency that is already back.
   * Closed, 0.
   */
  retryAfterMs(): number;
}

/** What a caller refused while half-open is told to wait: about one probe's round trip to a dependency that answers. */
export const HALF_OPEN_RETRY_AFTER_MS = 200;

export function createCircuitBreaker(options: CircuitBreakerOptions, now: () => number = () => performance.now()): CircuitBreaker {
  const listeners = new Set<StateListener>();
  let state: CircuitState = 'closed';
  let openedAt = 0;
  // Ring buffer of the last `windowSize` outcomes.
  const failed = new Array<boolean>(options.windowSize).fill(false);
  const slow = new Array<boolean>(options.windowSize).fill(false);
  let next = 0;
  let count = 0;
  let failures = 0;
  let slowCalls = 0;
  // Half-open bookkeeping.
  let probesIssued = 0;
  let probesSucceeded = 0;

  const transition = (to: CircuitState, reason: string): void => {
    const from = state;
    if (from === to) return;
    state = to;
    if (to === 'open') openedAt = now();
    if (to === 'half_open') {
      probesIssued = 0;
      probesSucceeded = 0;
    }
    if (to === 'closed') resetWindow();
    for (const listener of listeners) listener(from, to, reason);
  };

  const resetWindow = (): void => {
    failed.fill(false);
    slow.fill(false);
    next = 0;
    count = 0;
    failures = 0;
    slowCalls = 0;
  };

  const recordInWindow = (result: CallResult): void => {
    const isSlow = result.durationMs >= options.slowCallDurationMs;
    if (count === options.windowSize) {
      if (failed[next]) failures -= 1;
      if (slow[next]) slowCalls -= 1;
    } else {
      count += 1;
    }
    failed[next] = !result.ok;
    slow[next] = isSlow;
    if (!result.ok) failures += 1;
    if (isSlow) slowCalls += 1;
    next = (next + 1) % options.windowSize;
    if (count < options.minimumCalls) return;
    if (failures / count >= options.failureRateThreshold) {
      transition('open', `failure rate ${(failures / count).toFixed(2)} over ${count} calls`);
    } else if (options.slowCallRateThreshold < 1 && slowCalls / count >= options.slowCallRateThreshold) {
      transition('open', `slow-call rate ${(slowCalls / count).toFixed(2)} over ${count} calls`);
    }
  };

  const permit = (probe: boolean): Permit => {
    let settled = false;
    return {
      probe,
      done(result) {
        if (settled) return;
        settled = true;
        if (!probe) {
          // A call admitted while closed may finish after the circuit opened: it no longer counts.
          if (state === 'closed') recordInWindow(result);
          return;
        }
        if (state !== 'half_open') return;
        const isSlow = result.durationMs >= options.slowCallDurationMs && options.slowCallRateThreshold < 1;
        if (!result.ok || isSlow) {
          transition('open', result.ok ? 'slow half-open probe' : 'failed half-open probe');
          return;
        }
        probesSucceeded += 1;
        if (probesSucceeded >= options.halfOpenProbes) transition('closed', `${probesSucceeded} probes succeeded`);
      },
      release() {
        if (settled) return;
        settled = true;
        if (probe && state === 'half_open') probesIssued -= 1;
      },
    };
  };

  return {
    get state() {
      return state;
    },
    tryAcquire() {
      if (state === 'open') {
        if (now() - openedAt < options.openDurationMs) return undefined;
        transition('half_open', `open for ${options.openDurationMs} ms`);
      }
      if (state === 'half_open') {
        if (probesIssued >= options.halfOpenProbes) return undefined;
        probesIssued += 1;
        return permit(true);
      }
      return permit(false);
    },
    onStateChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    rates() {
      return { calls: count, failureRate: count ? failures / count : 0, slowCallRate: count ? slowCalls / count : 0 };
    },
    retryAfterMs() {
      if (state === 'open') return Math.max(0, openedAt + options.openDurationMs - now());
      return state === 'half_open' ? Math.min(options.openDurationMs, HALF_OPEN_RETRY_AFTER_MS) : 0;
    },
  };
}
