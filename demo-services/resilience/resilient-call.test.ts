import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { CircuitState, Outcome } from '../kit/conventions.ts';
import type { ResilienceMetrics } from '../kit/metrics.ts';
import { CircuitOpenError, TimeoutError, UpstreamStatusError } from './errors.ts';
import { isTransient } from './http-failures.ts';
import { dependencyPolicySchema } from './policy-config.ts';
import { createResilientCall } from './resilient-call.ts';

/** An in-memory metrics sink: what the policies published. */
function recordingMetrics() {
  const calls: Outcome[] = [];
  const attempts: number[] = [];
  const transitions: string[] = [];
  let retries = 0;
  let state: CircuitState | undefined;
  const metrics: ResilienceMetrics = {
    call: (_dependency, outcome) => void calls.push(outcome),
    retry: () => void (retries += 1),
    attempts: (_dependency, count) => void attempts.push(count),
    circuitState: (_dependency, next) => void (state = next),
    circuitTransition: (_dependency, from, to) => void transitions.push(`${from}->${to}`),
    bulkheadInFlight: () => undefined,
    bulkheadQueued: () => undefined,
    retryBudget: () => undefined,
    switchedOff: () => undefined,
    rateLimited: () => undefined,
  };
  return { metrics, calls, attempts, transitions, retries: () => retries, state: () => state };
}

const logger = pino({ level: 'silent' });
const unavailable = () => new UpstreamStatusError('payment', 503, {});

describe('resilient call', () => {
  it('retries transient failures and records the attempts of the logical call', async () => {
    const sink = recordingMetrics();
    const call = createResilientCall({
      dependency: 'payment',
      policy: dependencyPolicySchema.parse({ retry: { maxAttempts: 3, baseDelay: 1, maxDelay: 5 }, circuitBreaker: { enabled: false } }),
      metrics: sink.metrics,
      logger,
      retryable: isTransient,
    });
    let n = 0;
    await expect(call.execute(async () => (++n < 3 ? Promise.reject(unavailable()) : 'paid'))).resolves.toBe('paid');
    expect(sink.calls).toEqual(['success']);
    expect(sink.attempts).toEqual([3]);
    expect(sink.retries()).toBe(2);
  });

  it('does not retry what is not retryable', async () => {
    const sink = recordingMetrics();
    const call = createResilientCall({ dependency: 'payment', policy: dependencyPolicySchema.parse({}), metrics: sink.metrics, logger, retryable: isTransient });
    let n = 0;
    await expect(call.execute(async () => {
      n += 1;
      throw new UpstreamStatusError('payment', 400, {});
    })).rejects.toMatchObject({ status: 400 });
    expect(n).toBe(1);
    expect(sink.calls).toEqual(['failure']);
  });

  it('makes a call that is not safe to repeat once, whatever the retry policy', async () => {
    const sink = recordingMetrics();
    const call = createResilientCall({ dependency: 'catalog', policy: dependencyPolicySchema.parse({ retry: { maxAttempts: 3, baseDelay: 1 } }), metrics: sink.metrics, logger, retryable: isTransient });
    let n = 0;
    const failing = async () => {
      n += 1;
      throw unavailable();
    };
    await expect(call.execute(failing, undefined, { retry: false })).rejects.toBeInstanceOf(UpstreamStatusError);
    expect(n).toBe(1);
    await expect(call.execute(failing)).rejects.toBeInstanceOf(UpstreamStatusError);
    expect(n).toBe(4);
  });

  it('times out a slow attempt and reports the outcome as timeout', async () => {
    const sink = recordingMetrics();
    const call = createResilientCall({
      dependency: 'payment',
      policy: dependencyPolicySchema.parse({ timeout: { timeout: 30 }, retry: { enabled: false }, circuitBreaker: { enabled: false } }),
      metrics: sink.metrics,
      logger,
      retryable: isTransient,
    });
    const started = performance.now();
    const slow = (signal: AbortSignal) => new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
    await expect(call.execute(slow)).rejects.toBeInstanceOf(TimeoutError);
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(sink.calls).toEqual(['timeout']);
  });

  it('opens the breaker, then fails fast without calling the dependency', async () => {
    const sink = recordingMetrics();
    const call = createResilientCall({
      dependency: 'payment',
      policy: dependencyPolicySchema.parse({ retry: { enabled: false }, circuitBreaker: { minimumCalls: 4, windowSize: 4, openDuration: 60_000 } }),
      metrics: sink.metrics,
      logger,
      retryable: isTransient,
    });
    expect(sink.state()).toBe('closed');
    let reached = 0;
    const failing = async () => {
      reached += 1;
      throw unavailable();
    };
    for (let i = 0; i < 4; i += 1) await expect(call.execute(failing)).rejects.toBeInstanceOf(UpstreamStatusError);
    expect(sink.transitions).toEqual(['closed->open']);
    expect(sink.state()).toBe('open');
    await expect(call.execute(failing)).rejects.toBeInstanceOf(CircuitOpenError);
    expect(reached).toBe(4);
    expect(sink.calls).toEqual(['failure', 'failure', 'failure', 'failure', 'short_circuited']);
  });

  it('stops retrying when the breaker opens mid-call', async () => {
    const sink = recordingMetrics();
    const call = createResilientCall({
      dependency: 'payment',
      policy: dependencyPolicySchema.parse({ retry: { maxAttempts: 5, baseDelay: 1, maxDelay: 2 }, circuitBreaker: { minimumCalls: 2, windowSize: 2, openDuration: 60_000 } }),
      metrics: sink.metrics,
      logger,
      retryable: isTransient,
    });
    let reached = 0;
    await expect(call.execute(async () => {
      reached += 1;
      throw unavailable();
    })).rejects.toBeInstanceOf(CircuitOpenError);
    expect(reached).toBe(2);
    expect(sink.calls).toEqual(['short_circuited']);
    expect(sink.attempts).toEqual([3]);
  });

  it('with openCircuit: wait, waits out the open breaker and lets its half-open probe through', async () => {
    const sink = recordingMetrics();
    const call = createResilientCall({
      dependency: 'bank',
      policy: dependencyPolicySchema.parse({
        retry: { maxAttempts: 5, baseDelay: 1, maxDelay: 2, jitter: 'none', openCircuit: 'wait' },
        circuitBreaker: { minimumCalls: 2, windowSize: 2, openDuration: 80, halfOpenProbes: 1 },
      }),
      metrics: sink.metrics,
      logger,
      retryable: isTransient,
    });
    let reached = 0;
    const started = performance.now();
    // Fails until the breaker has opened, then the dependency is back: the probe after the open time succeeds.
    const value = await call.execute(async () => {
      reached += 1;
      if (reached <= 2) throw unavailable();
      return 'charged';
    });
    expect(value).toBe('charged');
    expect(reached).toBe(3);
    expect(performance.now() - started).toBeGreaterThanOrEqual(75);
    expect(sink.transitions).toEqual(['closed->open', 'open->half_open', 'half_open->closed']);
    expect(sink.calls).toEqual(['success']);
  });

  it('rejects calls beyond the bulkhead without counting them against the dependency', async () => {
    const sink = recordingMetrics();
    const call = createResilientCall({
      dependency: 'bank',
      policy: dependencyPolicySchema.parse({ retry: { enabled: false }, bulkhead: { enabled: true, maxConcurrent: 1, maxQueued: 0 }, circuitBreaker: { minimumCalls: 1, windowSize: 1 } }),
      metrics: sink.metrics,
      logger,
      retryable: isTransient,
    });
    let finish: (value: string) => void = () => undefined;
    const slow = call.execute(() => new Promise<string>((resolve) => (finish = resolve)));
    await new Promise((resolve) => setImmediate(resolve));
    await expect(call.execute(async () => 'never')).rejects.toMatchObject({ code: 'FL_BULKHEAD_REJECTED' });
    finish('done');
    await expect(slow).resolves.toBe('done');
    expect(sink.calls).toEqual(['rejected', 'success']);
    expect(sink.transitions).toEqual([]);
  });

  it('stops retrying when the retry budget is spent', async () => {
    const sink = recordingMetrics();
    const call = createResilientCall({
      dependency: 'payment',
      policy: dependencyPolicySchema.parse({ retry: { maxAttempts: 3, baseDelay: 0, maxDelay: 0, budget: { enabled: true } }, circuitBreaker: { enabled: false } }),
      metrics: sink.metrics,
      logger,
      retryable: isTransient,
    });
    let reached = 0;
    const failing = async () => {
      reached += 1;
      throw unavailable();
    };
    // 500 tokens at 5 per retry: 100 retries, then every call gets exactly one attempt.
    for (let i = 0; i < 60; i += 1) await expect(call.execute(failing)).rejects.toBeInstanceOf(UpstreamStatusError);
    expect(reached).toBe(60 + 100);
    expect(sink.retries()).toBe(100);
  });
});

