// Retries with capped exponential backoff and jitter, that honour Retry-After
// and never sleep past the caller's deadline (a retry that cannot finish in
// time is not worth starting). Only errors the caller marks retryable are
// retried: the caller knows whether its call is idempotent.

import { backoffDelay, jitterSpread, type BackoffOptions } from './backoff.ts';

export interface RetryOptions {
  /** Total attempts, the first included; 1 means no retry. */
  maxAttempts: number;
  backoff: BackoffOptions;
  random: () => number;
  /** Whether this error may be retried. */
  retryable: (error: unknown) => boolean;
  /** Server-requested minimum delay for this error, if any (Retry-After). */
  retryAfterMs?: (error: unknown) => number | undefined;
  /**
   * A wait this error names that every caller refused alike was told (an open breaker's time to
   * half-open): the retry waits it out, then only the jitter of its backoff (backoff.ts jitterSpread),
   * so callers told the same moment spread out after it instead of arriving at it together.
   */
  waitMs?: (error: unknown) => number | undefined;
  now?: () => number;
}

export interface RetryEvent {
  /** The attempt that is about to start (2 for the first retry). */
  attempt: number;
  delayMs: number;
  error: unknown;
}

export interface RetryOutcome<T> {
  value: T;
  attempts: number;
}

/** The error of a call that was retried and still failed; `attempts` says how many were made. */
export class RetriesExhaustedError extends Error {
  readonly code = 'FL_RETRIES_EXHAUSTED';
  readonly attempts: number;
  override readonly cause: unknown;
  constructor(attempts: number, cause: unknown) {
    super(`gave up after ${attempts} attempt(s): ${(cause as Error)?.message ?? String(cause)}`);
    this.name = 'RetriesExhaustedError';
    this.attempts = attempts;
    this.cause = cause;
  }
}

export function attemptsOf(error: unknown): number {
  return error instanceof RetriesExhaustedError ? error.attempts : 1;
}

export function rootCause(error: unknown): unknown {
  return error instanceof RetriesExhaustedError ? error.cause : error;
}

/**
 * Run `fn` until it succeeds, a non-retryable error occurs, attempts run out
 * or the deadline (`deadlineAt`, on the `now` clock) leaves no room for the next delay.
 */
export async function retry<T>(
  options: RetryOptions,
  fn: (attempt: number) => Promise<T>,
  hooks: { signal?: AbortSignal; deadlineAt?: number; onRetry?: (event: RetryEvent) => void } = {},
): Promise<RetryOutcome<T>> {
  const now = options.now ?? (() => performance.now());
  let previousDelay = 0;
  for (let attempt = 1; ; attempt += 1) {
    try {
      return { value: await fn(attempt), attempts: attempt };
    } catch (error) {
      const last = attempt >= options.maxAttempts || !options.retryable(error) || hooks.signal?.aborted;
      if (last) throw attempt > 1 ? new RetriesExhaustedError(attempt, error) : error;
      const wait = options.waitMs?.(error);
      let delayMs = wait !== undefined ? wait + jitterSpread(options.backoff, attempt, options.random) : backoffDelay(options.backoff, attempt, previousDelay, options.random);
      previousDelay = delayMs;
      const requested = options.retryAfterMs?.(error);
      if (requested !== undefined) delayMs = Math.max(delayMs, requested);
      if (hooks.deadlineAt !== undefined && now() + delayMs >= hooks.deadlineAt) {
        throw attempt > 1 ? new RetriesExhaustedError(attempt, error) : error;
      }
      hooks.onRetry?.({ attempt: attempt + 1, delayMs, error });
      await sleep(delayMs, hooks.signal);
    }
  }
}

/** setTimeout as a promise that an AbortSignal cancels (rejects with the signal's reason). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
