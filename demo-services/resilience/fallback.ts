// Graceful degradation for a non-critical dependency: when the call fails or
// takes longer than its budget, answer with a fallback value instead (the
// storefront shows popular items when recommendations are unavailable), and
// say so: the value is marked `{ fallback: true }`, the call counts in
// resilience_calls_total{outcome="fallback"}, and the active span carries the
// outcome and a `fallback` event with the reason.
//
// It only counts fallbacks by default, because it is meant to wrap a call
// that already runs under createResilientCall, which counts that call's
// success, failure or timeout for the same dependency; a fallback is then one
// more outcome of the same logical call, not a second call. Used alone, pass
// `recordSuccess: true` so that successes are counted too.

import { trace } from '@opentelemetry/api';
import { SHOP_SPAN_ATTR, SHOP_SPAN_EVENT, SPAN_ATTR } from '../kit/conventions.ts';
import type { ResilienceMetrics } from '../kit/metrics.ts';
import { TimeoutError } from './errors.ts';

export interface FallbackOptions {
  /** Dependency name, the `dependency` label of the metric. */
  dependency: string;
  metrics: Pick<ResilienceMetrics, 'call'>;
  /** Budget for the call; past it the fallback is returned even if the call has not settled. */
  timeoutMs?: number;
  /** Cancels the call (not the fallback) when the caller gives up. */
  signal?: AbortSignal;
  /** Count successful calls as `success` too (when no other policy counts this call). */
  recordSuccess?: boolean;
  /** Called with the reason for every fallback (e.g. to log it). */
  onFallback?: (error: unknown) => void;
}

export type Fallback<F> = F & { fallback: true };

/**
 * The call's value, or the fallback value marked `{ fallback: true }` when the
 * call throws or exceeds `timeoutMs`. Never rejects because of the call.
 */
export async function withFallback<T, F extends object>(
  call: (signal: AbortSignal) => Promise<T>,
  fallbackValue: F | (() => F),
  options: FallbackOptions,
): Promise<T | Fallback<F>> {
  const span = trace.getActiveSpan();
  const controller = new AbortController();
  const signals = [controller.signal, options.signal].filter((s): s is AbortSignal => s !== undefined);
  let timer: NodeJS.Timeout | undefined;
  try {
    const attempt = Promise.resolve().then(() => call(AbortSignal.any(signals)));
    // When the timeout wins, the call may still fail later: that failure is already answered.
    attempt.catch(() => undefined);
    const value =
      options.timeoutMs === undefined
        ? await attempt
        : await Promise.race([
            attempt,
            new Promise<never>((_resolve, reject) => {
              timer = setTimeout(() => {
                const error = new TimeoutError(`${options.dependency} call`, options.timeoutMs as number);
                controller.abort(error);
                reject(error);
              }, options.timeoutMs);
            }),
          ]);
    if (options.recordSuccess) options.metrics.call(options.dependency, 'success');
    return value;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    options.metrics.call(options.dependency, 'fallback');
    span?.setAttribute(SPAN_ATTR.outcome, 'fallback');
    span?.addEvent(SHOP_SPAN_EVENT.fallback, { [SPAN_ATTR.dependency]: options.dependency, [SHOP_SPAN_ATTR.fallbackReason]: reason });
    options.onFallback?.(error);
    const fallback = typeof fallbackValue === 'function' ? (fallbackValue as () => F)() : fallbackValue;
    return { ...fallback, fallback: true };
  } finally {
    clearTimeout(timer);
  }
}
