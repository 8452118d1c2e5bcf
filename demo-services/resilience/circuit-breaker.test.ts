import { beforeEach, describe, expect, it } from 'vitest';
import { createCircuitBreaker, HALF_OPEN_RETRY_AFTER_MS, type CircuitBreaker, type CircuitBreakerOptions } from './circuit-breaker.ts';

const options: CircuitBreakerOptions = {
  failureRateThreshold: 0.5,
  slowCallRateThreshold: 0.8,
  slowCallDurationMs: 500,
  windowSize: 10,
  minimumCalls: 4,
  openDurationMs: 1_000,
  halfOpenProbes: 2,
};

describe('circuit breaker state machine (fake clock)', () => {
  let clock: number;
  let breaker: CircuitBreaker;
  let transitions: string[];
  const call = (ok: boolean, durationMs = 10) => {
    const permit = breaker.tryAcquire();
    if (!permit) return 'rejected';
    permit.done({ ok, durationMs });
    return 'called';
  };

  beforeEach(() => {
    clock = 0;
    breaker = createCircuitBreaker(options, () => clock);
    transitions = [];
    breaker.onStateChange((from, to) => transitions.push(`${from}->${to}`));
  });

  it('stays closed below the minimum number of calls, whatever they return', () => {
    for (let i = 0; i < 3; i += 1) call(false);
    expect(breaker.state).toBe('closed');
  });

  it('opens when the failure rate reaches the threshold, then fails fast', () => {
    call(true);
    call(true);
    call(false);
    expect(breaker.state).toBe('closed');
    call(false);
    expect(breaker.state).toBe('open');
    expect(call(true)).toBe('rejected');
    expect(transitions).toEqual(['closed->open']);
  });

  it('opens on the slow-call rate even when every call succeeds', () => {
    for (let i = 0; i < 4; i += 1) call(true, 600);
    expect(breaker.state).toBe('open');
  });

  it('forgets outcomes that slide out of the window', () => {
    for (let i = 0; i < 4; i += 1) call(false, 10);
    // breaker opened; start again
    breaker = createCircuitBreaker({ ...options, minimumCalls: 10 }, () => clock);
    for (let i = 0; i < 4; i += 1) call(false);
    for (let i = 0; i < 10; i += 1) call(true);
    expect(breaker.rates()).toEqual({ calls: 10, failureRate: 0, slowCallRate: 0 });
  });

  it('half-opens after the open duration and lets only the probes through', () => {
    for (let i = 0; i < 4; i += 1) call(false);
    clock = 999;
    expect(breaker.tryAcquire()).toBeUndefined();
    clock = 1_000;
    const first = breaker.tryAcquire();
    const second = breaker.tryAcquire();
    expect(breaker.state).toBe('half_open');
    expect(first?.probe).toBe(true);
    expect(second?.probe).toBe(true);
    expect(breaker.tryAcquire()).toBeUndefined();
    first?.done({ ok: true, durationMs: 5 });
    expect(breaker.state).toBe('half_open');
    second?.done({ ok: true, durationMs: 5 });
    expect(breaker.state).toBe('closed');
    expect(transitions).toEqual(['closed->open', 'open->half_open', 'half_open->closed']);
    expect(breaker.rates().calls).toBe(0);
  });

  it('re-opens when a probe fails and waits a full open duration again', () => {
    for (let i = 0; i < 4; i += 1) call(false);
    clock = 1_000;
    breaker.tryAcquire()?.done({ ok: false, durationMs: 5 });
    expect(breaker.state).toBe('open');
    clock = 1_500;
    expect(breaker.tryAcquire()).toBeUndefined();
    clock = 2_000;
    expect(breaker.tryAcquire()).toBeDefined();
    expect(transitions).toEqual(['closed->open', 'open->half_open', 'half_open->open', 'open->half_open']);
  });

  it('a released probe frees its slot for another caller', () => {
    for (let i = 0; i < 4; i += 1) call(false);
    clock = 1_000;
    const a = breaker.tryAcquire();
    breaker.tryAcquire();
    expect(breaker.tryAcquire()).toBeUndefined();
    a?.release();
    expect(breaker.tryAcquire()).toBeDefined();
  });

  it('tells a refused caller when to come back: the rest of the open time, a probe\'s round trip while half-open, nothing while closed', () => {
    expect(breaker.retryAfterMs()).toBe(0);
    for (let i = 0; i < 4; i += 1) call(false);
    clock = 300;
    expect(breaker.retryAfterMs()).toBe(700);
    clock = 1_000;
    breaker.tryAcquire();
    expect(breaker.state).toBe('half_open');
    expect(breaker.retryAfterMs()).toBe(HALF_OPEN_RETRY_AFTER_MS);
  });

  it('ignores results of calls admitted before the circuit opened', () => {
    const late = breaker.tryAcquire();
    for (let i = 0; i < 4; i += 1) call(false);
    expect(breaker.state).toBe('open');
    late?.done({ ok: true, durationMs: 1 });
    expect(breaker.state).toBe('open');
  });
});
