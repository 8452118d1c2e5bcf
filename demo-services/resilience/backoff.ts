// Retry delays: capped exponential backoff with the jitter strategies of the
// AWS Architecture Blog ("Exponential Backoff and Jitter"). Written here as a
// pure function of (attempt, previous delay, random source) rather than taken
// from a resilience library, because runs must replay exactly: the random
// source is the lab's seeded one (kit/random.ts), and the maths is unit-tested without timers.

export type Jitter = 'none' | 'full' | 'equal' | 'decorrelated';

export interface BackoffOptions {
  /** Delay before the first retry, before jitter. */
  baseMs: number;
  /** No delay exceeds this. */
  capMs: number;
  jitter: Jitter;
  /** Growth per retry; 2 doubles. */
  multiplier?: number;
}

/**
 * Delay before retry number `retry` (1 for the first retry).
 * `previousMs` is the delay used before the previous retry (decorrelated jitter needs it).
 */
export function backoffDelay(options: BackoffOptions, retry: number, previousMs: number, random: () => number): number {
  const { baseMs, capMs, jitter } = options;
  const exponential = Math.min(capMs, baseMs * (options.multiplier ?? 2) ** Math.max(0, retry - 1));
  switch (jitter) {
    case 'none':
      return exponential;
    case 'full':
      return random() * exponential;
    case 'equal':
      return exponential / 2 + random() * (exponential / 2);
    case 'decorrelated': {
      const upper = Math.max(baseMs, (previousMs > 0 ? previousMs : baseMs) * 3);
      return Math.min(capMs, baseMs + random() * (upper - baseMs));
    }
  }
}

/**
 * The random part of a retry's backoff alone: what a retry adds after a wait that every caller was
 * told to make (an open breaker's time to half-open), so callers told the same moment do not all
 * come back at it. `none` adds nothing: they all arrive together, the thundering herd.
 */
export function jitterSpread(options: BackoffOptions, retry: number, random: () => number): number {
  const exponential = Math.min(options.capMs, options.baseMs * (options.multiplier ?? 2) ** Math.max(0, retry - 1));
  switch (options.jitter) {
    case 'none':
      return 0;
    case 'equal':
      return random() * (exponential / 2);
    case 'full':
    case 'decorrelated':
      return random() * exponential;
  }
}
