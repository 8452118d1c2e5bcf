// Why: a saga's compensation can fail too (payment down, a reset, a
// partition), and a refund that is only logged leaves a customer charged for
// an order that failed. Real sagas keep compensating until it is done. This
// sweeper retries every order the store says still owes a refund or a release,
// on a timer, with capped exponential backoff and full jitter between tries
// (so a recovering payment service is not hit by every owed order at once),
// through the same resilient calls and the same idempotency keys the saga
// used, so a retry never refunds twice. One sweep at a time; the timer is
// unref'd and stopped at shutdown, after the sweep in flight has finished;
// while a stop drains the service, every owed order is due (no backoff wait).
// The scheduling is pure logic over an injected clock, store and compensator,
// so it is unit-tested with fake timers.

import { SpanStatusCode } from '@opentelemetry/api';
import { CHECKOUT_SPAN, SPAN_ATTR, type CompensationResult } from '../kit/conventions.ts';
import type { Logger } from '../kit/logger.ts';
import { tracer } from '../kit/telemetry.ts';
import { backoffDelay } from '../resilience/backoff.ts';
import type { OrderStore, OwedCompensation } from './order-store.ts';

import type { CompensationPolicy } from './compensation-policy.ts';

export { compensationPolicySchema, type CompensationPolicy } from './compensation-policy.ts';

/** What is still owed after one attempt, whether a part was refused for good (not owed any more, not undone either), and why. */
export interface CompensationOutcome {
  refund: boolean;
  release: boolean;
  refused?: boolean;
  error?: string;
}

/**
 * When the next attempt may start, after `attempts` attempts have failed:
 * capped exponential backoff with full jitter (resilience/backoff.ts).
 */
export function nextAttemptAt(now: number, attempts: number, policy: Pick<CompensationPolicy, 'baseDelay' | 'maxDelay'>, random: () => number): number {
  return now + backoffDelay({ baseMs: policy.baseDelay, capMs: policy.maxDelay, jitter: 'full' }, attempts, 0, random);
}

/** The owed compensations due at `now`, most overdue first, at most `limit`. */
export function dueCompensations(owed: readonly OwedCompensation[], now: number, limit: number): OwedCompensation[] {
  return owed
    .filter((compensation) => compensation.nextAttemptAt <= now)
    .sort((a, b) => a.nextAttemptAt - b.nextAttemptAt)
    .slice(0, limit);
}

/** done: nothing is owed any more; refused: nothing is, but a part was refused; partial: less is owed than before; failed: as much as before. */
export function resultOf(before: Pick<OwedCompensation, 'refund' | 'release'>, after: CompensationOutcome): CompensationResult {
  if (!after.refund && !after.release) return after.refused ? 'refused' : 'done';
  const owedBefore = Number(before.refund) + Number(before.release);
  const owedAfter = Number(after.refund) + Number(after.release);
  return owedAfter < owedBefore ? 'partial' : 'failed';
}

export interface CompensationSweeperOptions {
  store: Pick<OrderStore, 'owedCompensations' | 'recordCompensationAttempt'>;
  /** Undo what is owed (only the parts still owed), through the saga's resilient calls; answers what is still owed. */
  compensate: (owed: OwedCompensation) => Promise<CompensationOutcome>;
  policy: CompensationPolicy;
  random: () => number;
  now?: () => number;
  /** After each retried compensation (metrics). */
  onRetry?: (owed: OwedCompensation, result: CompensationResult) => void;
  logger?: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** True while a stop drains the service: every owed compensation is due at once, backoff or not, so the stop can finish them. */
  hurry?: () => boolean;
}

export interface CompensationSweeper {
  /** Sweep every `sweepInterval` (unref'd timer). */
  start(): void;
  /** Retry what is due now; a call during a sweep joins it. Resolves to the number of orders retried. */
  sweep(): Promise<number>;
  /** Stop the timer and wait for the sweep in flight (which starts no further order). */
  stop(): Promise<void>;
}

export function createCompensationSweeper(options: CompensationSweeperOptions): CompensationSweeper {
  const now = options.now ?? Date.now;
  const { policy, store, logger } = options;
  let running: Promise<number> | undefined;
  let timer: ReturnType<typeof setInterval> | undefined;
  let stopped = false;

  const retryOne = async (owed: OwedCompensation): Promise<void> => {
    const attempt = owed.attempts + 1;
    const result = await tracer().startActiveSpan(CHECKOUT_SPAN.compensationRetry, { attributes: { [SPAN_ATTR.orderId]: owed.orderId, [SPAN_ATTR.retryAttempt]: attempt } }, async (span) => {
      try {
        let outcome: CompensationOutcome;
        try {
          outcome = await options.compensate(owed);
        } catch (error) {
          // The compensator answers what is owed; if it throws, nothing is known to be undone.
          outcome = { refund: owed.refund, release: owed.release, error: String(error) };
        }
        const settled = resultOf(owed, outcome);
        store.recordCompensationAttempt(owed.orderId, {
          refund: outcome.refund,
          release: outcome.release,
          nextAttemptAt: nextAttemptAt(now(), attempt, policy, options.random),
          ...(outcome.refused ? { refused: true } : {}),
          ...(outcome.error ? { error: outcome.error } : {}),
        });
        span.setAttribute(SPAN_ATTR.outcome, settled);
        if (settled !== 'done') span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.error ?? 'compensation still owed' });
        if (settled === 'done') logger?.info({ orderId: owed.orderId, attempts: attempt }, 'compensation done');
        else logger?.warn({ orderId: owed.orderId, attempts: attempt, refund: outcome.refund, release: outcome.release, err: outcome.error }, `compensation ${settled}`);
        return settled;
      } finally {
        span.end();
      }
    });
    // A metrics callback that throws must not stop the sweep.
    try {
      options.onRetry?.(owed, result);
    } catch (error) {
      logger?.error({ err: String(error) }, 'compensation retry callback failed');
    }
  };

  const sweepOnce = async (): Promise<number> => {
    const due = dueCompensations(store.owedCompensations(), options.hurry?.() ? Infinity : now(), policy.maxPerSweep);
    let retried = 0;
    // One order after another: a recovering dependency sees a trickle, not a burst.
    for (const owed of due) {
      if (stopped) break;
      await retryOne(owed);
      retried += 1;
    }
    return retried;
  };

  const sweep = (): Promise<number> => {
    running ??= sweepOnce().finally(() => {
      running = undefined;
    });
    return running;
  };

  return {
    start() {
      if (timer || stopped) return;
      timer = setInterval(() => {
        if (running) return;
        sweep().catch((error: unknown) => logger?.error({ err: String(error) }, 'compensation sweep failed'));
      }, policy.sweepInterval);
      timer.unref();
    },
    sweep,
    async stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      timer = undefined;
      await running?.catch(() => undefined);
    },
  };
}
