// One guarded call to a dependency: overall deadline -> retry -> circuit
// breaker -> per-attempt timeout -> the call. List order is run order, each
// policy optional. Every decision is published as metrics (calls by outcome,
// retries, attempts per call, breaker state and transitions) and as events on
// a span that wraps the call, so a trace shows why a call took as long as it did.
// The stateful parts (breaker, bulkhead, retry budget) may be handed in, so a
// live call (live-policies.ts) keeps them across a change of its policy.

import { SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import { SPAN_ATTR, SPAN_EVENT, type Outcome } from '../kit/conventions.ts';
import type { Logger } from '../kit/logger.ts';
import type { ResilienceMetrics } from '../kit/metrics.ts';
import { tracer } from '../kit/telemetry.ts';
import { mulberry32 } from '../kit/random.ts';
import { createCircuitBreaker, type CircuitBreaker } from './circuit-breaker.ts';
import { BulkheadRejectedError, createBulkhead, type Bulkhead } from './bulkhead.ts';
import { CircuitOpenError, TimeoutError, UpstreamStatusError } from './errors.ts';
import { isDependencyFailure } from './http-failures.ts';
import { createRetryBudget, type RetryBudget } from './retry-budget.ts';
import type { DependencyPolicy } from './policy-config.ts';
import { attemptsOf, retry, rootCause } from './retry.ts';

export interface ResilientCallOptions {
  dependency: string;
  policy: DependencyPolicy;
  metrics: ResilienceMetrics;
  logger: Logger;
  /** Whether an error may be retried; the caller knows whether the call is idempotent. */
  retryable: (error: unknown) => boolean;
  /** Whether an error says the dependency is unhealthy (counts against the breaker); by default anything but a 4xx refusal. */
  isFailure?: (error: unknown) => boolean;
  seed?: number;
  /** Built (and published) by the caller, which keeps them across policy changes (live-policies.ts); built here from the policy otherwise. */
  parts?: ResilienceParts;
}

/** The stateful parts of a guarded call: what a policy change may keep or replace. */
export interface ResilienceParts {
  breaker: CircuitBreaker | undefined;
  bulkhead: Bulkhead | undefined;
  budget: RetryBudget | undefined;
}

/** Whether a part still is the one in use: a replaced part's late events (a call that was in flight) must not overwrite the gauges. */
type IsCurrent = () => boolean;
const always: IsCurrent = () => true;

/** A breaker for the policy, its state and transitions published (metrics, span event, log) while it is current. */
export function publishedBreaker(dependency: string, policy: DependencyPolicy['circuitBreaker'], metrics: ResilienceMetrics, logger: Logger, isCurrent: IsCurrent = always): CircuitBreaker {
  const breaker = createCircuitBreaker({
    failureRateThreshold: policy.failureRateThreshold,
    slowCallRateThreshold: policy.slowCallRateThreshold,
    slowCallDurationMs: policy.slowCallDuration,
    windowSize: policy.windowSize,
    minimumCalls: policy.minimumCalls,
    openDurationMs: policy.openDuration,
    halfOpenProbes: policy.halfOpenProbes,
  });
  metrics.circuitState(dependency, breaker.state);
  breaker.onStateChange((from, to, reason) => {
    if (!isCurrent()) return;
    metrics.circuitTransition(dependency, from, to);
    metrics.circuitState(dependency, to);
    // Transitions happen synchronously inside a call, so the active span is the call that caused it.
    trace.getActiveSpan()?.addEvent(SPAN_EVENT.circuitTransition, { [SPAN_ATTR.circuitFrom]: from, [SPAN_ATTR.circuitTo]: to, reason });
    logger.warn({ dependency, from, to, reason }, 'circuit breaker transition');
  });
  return breaker;
}

/** A bulkhead for the policy, its in-flight and queued counts published while it is current. */
export function publishedBulkhead(dependency: string, policy: DependencyPolicy['bulkhead'], metrics: ResilienceMetrics, isCurrent: IsCurrent = always): Bulkhead {
  return createBulkhead(dependency, { maxConcurrent: policy.maxConcurrent, maxQueued: policy.maxQueued, queueTimeoutMs: policy.queueTimeout }, (inFlight, queued) => {
    if (!isCurrent()) return;
    metrics.bulkheadInFlight(dependency, inFlight);
    metrics.bulkheadQueued(dependency, queued);
  });
}

/** A retry budget for the policy, its tokens published at once. */
export function publishedBudget(dependency: string, policy: DependencyPolicy['retry']['budget'], metrics: ResilienceMetrics): RetryBudget {
  const { enabled: _enabled, ...quota } = policy;
  const budget = createRetryBudget(quota);
  metrics.retryBudget(dependency, budget.available());
  return budget;
}

export interface ResilientCall {
  readonly breaker: CircuitBreaker | undefined;
  /** `call.retry: false`: this call is made once whatever the policy (a request that is not safe to repeat). */
  execute<T>(fn: (signal: AbortSignal, attempt: number) => Promise<T>, signal?: AbortSignal, call?: { retry?: boolean }): Promise<T>;
}

export function createResilientCall(options: ResilientCallOptions): ResilientCall {
  const { dependency, policy, metrics, logger } = options;
  const random = mulberry32(options.seed ?? 1);
  const isFailure = options.isFailure ?? isDependencyFailure;
  const { breaker, bulkhead, budget } = options.parts ?? {
    breaker: policy.circuitBreaker.enabled ? publishedBreaker(dependency, policy.circuitBreaker, metrics, logger) : undefined,
    bulkhead: policy.bulkhead.enabled ? publishedBulkhead(dependency, policy.bulkhead, metrics) : undefined,
    budget: policy.retry.budget.enabled ? publishedBudget(dependency, policy.retry.budget, metrics) : undefined,
  };

  const attemptOnce = async <T>(fn: (signal: AbortSignal, attempt: number) => Promise<T>, attempt: number, signal: AbortSignal, span: Span): Promise<T> => {
    const permit = breaker?.tryAcquire();
    if (breaker && !permit) {
      span.addEvent(SPAN_EVENT.circuitRejected, { [SPAN_ATTR.circuitState]: breaker.state });
      throw new CircuitOpenError(dependency, breaker.retryAfterMs());
    }
    let release: (() => void) | undefined;
    try {
      release = await bulkhead?.acquire(signal);
    } catch (error) {
      // A full bulkhead says nothing about the dependency's health.
      permit?.release();
      throw error;
    }
    const attemptSignal = policy.timeout.enabled ? AbortSignal.any([signal, AbortSignal.timeout(policy.timeout.timeout)]) : signal;
    const started = performance.now();
    try {
      const value = await fn(attemptSignal, attempt);
      permit?.done({ ok: true, durationMs: performance.now() - started });
      if (budget) {
        budget.recordSuccess();
        metrics.retryBudget(dependency, budget.available());
      }
      return value;
    } catch (error) {
      const timedOut = attemptSignal.aborted && !signal.aborted;
      const failure = timedOut ? new TimeoutError(`${dependency} attempt ${attempt}`, policy.timeout.timeout) : error;
      if (timedOut) span.addEvent(SPAN_EVENT.timeout, { [SPAN_ATTR.timeoutMs]: policy.timeout.timeout, [SPAN_ATTR.retryAttempt]: attempt });
      if (signal.aborted && !timedOut) permit?.release();
      else permit?.done({ ok: !isFailure(failure), durationMs: performance.now() - started });
      throw failure;
    } finally {
      release?.();
    }
  };

  return {
    breaker,
    async execute(fn, parentSignal, call) {
      return tracer().startActiveSpan(`${dependency} call`, async (span) => {
        span.setAttribute(SPAN_ATTR.dependency, dependency);
        const signals = [parentSignal, policy.deadline ? AbortSignal.timeout(policy.deadline) : undefined].filter((s): s is AbortSignal => s !== undefined);
        const signal = signals.length ? AbortSignal.any(signals) : new AbortController().signal;
        const deadlineAt = policy.deadline ? performance.now() + policy.deadline : undefined;
        let attempts = 1;
        try {
          let value;
          if (policy.retry.enabled && policy.retry.maxAttempts > 1 && call?.retry !== false) {
            const outcome = await retry(
              {
                maxAttempts: policy.retry.maxAttempts,
                backoff: { baseMs: policy.retry.baseDelay, capMs: policy.retry.maxDelay, jitter: policy.retry.jitter },
                random,
                retryable: (error) => {
                  // Waiting out an open breaker puts no load on the dependency: no budget is spent on it.
                  if (error instanceof CircuitOpenError) return policy.retry.openCircuit === 'wait';
                  if (error instanceof BulkheadRejectedError || !options.retryable(error)) return false;
                  if (!budget) return true;
                  const granted = budget.tryAcquire(error instanceof TimeoutError);
                  metrics.retryBudget(dependency, budget.available());
                  if (!granted) span.addEvent('retry.budget_exhausted');
                  return granted;
                },
                retryAfterMs: (error) => (error instanceof UpstreamStatusError ? error.retryAfterMs : undefined),
                waitMs: (error) => (error instanceof CircuitOpenError ? error.retryAfterMs : undefined),
              },
              (attempt) => attemptOnce(fn, attempt, signal, span),
              {
                signal,
                ...(deadlineAt !== undefined ? { deadlineAt } : {}),
                onRetry: ({ attempt, delayMs, error }) => {
                  metrics.retry(dependency);
                  // A Retry-After longer than the backoff wins over the policy's cap: say so beside the delay.
                  const requested = error instanceof UpstreamStatusError ? error.retryAfterMs : undefined;
                  span.addEvent(SPAN_EVENT.retry, {
                    [SPAN_ATTR.retryAttempt]: attempt,
                    [SPAN_ATTR.retryDelayMs]: Math.round(delayMs),
                    [SPAN_ATTR.retryDelayCapMs]: Math.round(policy.retry.maxDelay),
                    [SPAN_ATTR.retryDelaySource]: error instanceof CircuitOpenError ? 'circuit-open' : requested !== undefined && requested >= delayMs ? 'retry-after' : 'backoff',
                    reason: (error as Error).message,
                  });
                },
              },
            );
            value = outcome.value;
            attempts = outcome.attempts;
          } else {
            value = await attemptOnce(fn, 1, signal, span);
          }
          record(span, 'success', attempts);
          return value;
        } catch (error) {
          attempts = attemptsOf(error);
          const cause = rootCause(error);
          const outcome: Outcome =
            cause instanceof CircuitOpenError
              ? 'short_circuited'
              : cause instanceof BulkheadRejectedError
                ? 'rejected'
                : cause instanceof TimeoutError || signal.aborted
                  ? 'timeout'
                  : 'failure';
          record(span, outcome, attempts);
          span.setStatus({ code: SpanStatusCode.ERROR, message: (cause as Error).message });
          throw cause instanceof Error && signal.aborted && !(cause instanceof TimeoutError)
            ? new TimeoutError(`${dependency} call`, policy.deadline ?? 0)
            : cause;
        } finally {
          span.end();
        }
      });
    },
  };

  function record(span: Span, outcome: Outcome, attempts: number): void {
    metrics.call(dependency, outcome);
    metrics.attempts(dependency, attempts);
    span.setAttribute(SPAN_ATTR.outcome, outcome);
    span.setAttribute(SPAN_ATTR.retryAttempt, attempts);
    if (breaker) span.setAttribute(SPAN_ATTR.circuitState, breaker.state);
  }
}
