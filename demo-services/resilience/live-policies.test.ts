import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createServiceMetrics } from '../kit/metrics.ts';
import { CircuitOpenError, UpstreamStatusError } from './errors.ts';
import { isTransient } from './http-failures.ts';
import { createLiveCall, createPolicyRegistry, mergePatch, PolicyValidationError, UnknownDependencyError, type LiveCall } from './live-policies.ts';

const logger = pino({ level: 'silent' });
const unavailable = () => new UpstreamStatusError('payment', 503, {});

/** A dependency that fails every call with a 503, counting the attempts that reached it. */
function failingDependency() {
  let reached = 0;
  return {
    fn: async (): Promise<never> => {
      reached += 1;
      throw unavailable();
    },
    reached: () => reached,
  };
}

/** A breaker that opens after two failed calls and stays open for a minute. */
const TRIP_FAST = { minimumCalls: 2, windowSize: 2, failureRateThreshold: 0.5, openDuration: 60_000 };

async function trip(call: LiveCall): Promise<void> {
  const dependency = failingDependency();
  for (let i = 0; i < 2; i += 1) await expect(call.execute(dependency.fn)).rejects.toBeInstanceOf(UpstreamStatusError);
  expect(call.breaker?.state).toBe('open');
}

/** A circuit state gauge line of the rendered metrics, or undefined when the series is absent. */
async function circuitGauge(metrics: ReturnType<typeof createServiceMetrics>, state: string): Promise<string | undefined> {
  const text = await metrics.render(false);
  return text.split('\n').find((line) => line.startsWith(`resilience_circuit_state{dependency="payment",state="${state}"}`));
}

function liveCall(policy: unknown, metrics = createServiceMetrics({ defaultMetrics: false })): { call: LiveCall; metrics: typeof metrics } {
  return { call: createLiveCall({ dependency: 'payment', policy, metrics: metrics.resilience, logger, retryable: isTransient }), metrics };
}

describe('live call', () => {
  it('lets a call in flight finish under the old policy while new calls use the new one', async () => {
    const { call } = liveCall({ retry: { maxAttempts: 3, baseDelay: 1, maxDelay: 1 }, circuitBreaker: { enabled: false } });
    let attempts = 0;
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const inFlight = call.execute(async () => {
      attempts += 1;
      if (attempts === 1) await gate;
      if (attempts < 3) throw unavailable();
      return 'paid';
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(attempts).toBe(1);

    call.reconfigure({ retry: { maxAttempts: 1 }, circuitBreaker: { enabled: false } });
    expect(call.policy.retry.maxAttempts).toBe(1);
    release();
    // Three attempts, as the policy it started under allowed.
    await expect(inFlight).resolves.toBe('paid');
    expect(attempts).toBe(3);

    const after = failingDependency();
    await expect(call.execute(after.fn)).rejects.toBeInstanceOf(UpstreamStatusError);
    expect(after.reached()).toBe(1);
  });

  it('changes the attempts a failing dependency sees with retry.maxAttempts', async () => {
    const { call } = liveCall({ retry: { maxAttempts: 3, baseDelay: 0, maxDelay: 0 }, circuitBreaker: { enabled: false } });
    const counts: number[] = [];
    for (const maxAttempts of [3, 1, 5]) {
      call.reconfigure({ ...call.policy, retry: { ...call.policy.retry, maxAttempts } });
      const dependency = failingDependency();
      await expect(call.execute(dependency.fn)).rejects.toBeInstanceOf(UpstreamStatusError);
      counts.push(dependency.reached());
    }
    expect(counts).toEqual([3, 1, 5]);
  });

  it('keeps an open breaker when only the retry policy changes', async () => {
    const { call, metrics } = liveCall({ retry: { enabled: false }, circuitBreaker: TRIP_FAST });
    await trip(call);
    const breaker = call.breaker;
    call.reconfigure({ ...call.policy, retry: { ...call.policy.retry, enabled: true, maxAttempts: 2 } });
    expect(call.breaker).toBe(breaker);
    expect(call.breaker?.state).toBe('open');
    const dependency = failingDependency();
    await expect(call.execute(dependency.fn)).rejects.toBeInstanceOf(CircuitOpenError);
    expect(dependency.reached()).toBe(0);
    expect(await circuitGauge(metrics, 'open')).toMatch(/ 1$/);
  });

  it('replaces the breaker when its settings change: the fresh one starts closed, and the gauge and a transition say so', async () => {
    const { call, metrics } = liveCall({ retry: { enabled: false }, circuitBreaker: TRIP_FAST });
    await trip(call);
    const breaker = call.breaker;
    call.reconfigure({ ...call.policy, circuitBreaker: { ...call.policy.circuitBreaker, openDuration: 30_000 } });
    expect(call.breaker).not.toBe(breaker);
    expect(call.breaker?.state).toBe('closed');
    expect(await circuitGauge(metrics, 'closed')).toMatch(/ 1$/);
    expect(await circuitGauge(metrics, 'open')).toMatch(/ 0$/);
    expect(await metrics.render(false)).toContain('resilience_circuit_transitions_total{dependency="payment",from="open",to="closed"} 1');

    // The retired breaker no longer speaks for the dependency: calls reach it again.
    const dependency = failingDependency();
    await expect(call.execute(dependency.fn)).rejects.toBeInstanceOf(UpstreamStatusError);
    expect(dependency.reached()).toBe(1);
  });

  it('with the breaker switched off, calls go through while the fault persists, and no gauge claims it open', async () => {
    const { call, metrics } = liveCall({ retry: { enabled: false }, circuitBreaker: TRIP_FAST });
    await trip(call);
    const dependency = failingDependency();
    await expect(call.execute(dependency.fn)).rejects.toBeInstanceOf(CircuitOpenError);

    call.reconfigure({ ...call.policy, circuitBreaker: { ...call.policy.circuitBreaker, enabled: false } });
    expect(call.breaker).toBeUndefined();
    for (let i = 0; i < 5; i += 1) await expect(call.execute(dependency.fn)).rejects.toBeInstanceOf(UpstreamStatusError);
    expect(dependency.reached()).toBe(5);
    expect(await circuitGauge(metrics, 'open')).toBeUndefined();

    // Switched on again: a fresh breaker, closed.
    call.reconfigure({ ...call.policy, circuitBreaker: { ...call.policy.circuitBreaker, enabled: true } });
    expect(call.breaker?.state).toBe('closed');
    expect(await circuitGauge(metrics, 'closed')).toMatch(/ 1$/);
  });

  it('keeps the retry budget while its settings are unchanged, and refills it when they change', async () => {
    const { call } = liveCall({ retry: { maxAttempts: 3, baseDelay: 0, maxDelay: 0, budget: { enabled: true, capacity: 10, retryCost: 5 } }, circuitBreaker: { enabled: false } });
    const first = failingDependency();
    await expect(call.execute(first.fn)).rejects.toBeInstanceOf(UpstreamStatusError);
    expect(first.reached()).toBe(3);

    // The budget is spent: a new attempt count does not refill it.
    call.reconfigure({ ...call.policy, retry: { ...call.policy.retry, maxAttempts: 4 } });
    const second = failingDependency();
    await expect(call.execute(second.fn)).rejects.toBeInstanceOf(UpstreamStatusError);
    expect(second.reached()).toBe(1);

    call.reconfigure({ ...call.policy, retry: { ...call.policy.retry, budget: { ...call.policy.retry.budget, capacity: 15 } } });
    const third = failingDependency();
    await expect(call.execute(third.fn)).rejects.toBeInstanceOf(UpstreamStatusError);
    expect(third.reached()).toBe(4);
  });

  it('refuses an invalid policy, naming every bad field, and keeps the one it had', () => {
    const { call } = liveCall({});
    const before = call.policy;
    let error: unknown;
    try {
      call.reconfigure({ retry: { maxAttempts: 11, jitter: 'some', maxAtempts: 2 }, timeout: { timeout: 'soon' }, circuitBreaker: { failureRateThreshold: true } });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(PolicyValidationError);
    const issues = (error as PolicyValidationError).issues;
    expect(issues).toEqual(
      expect.arrayContaining([
        { field: 'retry.maxAttempts', message: 'must be <= 10' },
        { field: 'retry.jitter', message: 'must be one of "none", "full", "equal", "decorrelated"' },
        { field: 'retry.maxAtempts', message: expect.stringMatching(/^unknown field \(retry has: enabled, maxAttempts, /) },
        { field: 'timeout.timeout', message: expect.stringContaining('soon') },
        { field: 'circuitBreaker.failureRateThreshold', message: 'must be a string or a number' },
      ]),
    );
    expect(call.policy).toBe(before);
  });
});

describe('policy registry', () => {
  function registry() {
    const lines: Array<Record<string, unknown>> = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    });
    const metrics = createServiceMetrics({ defaultMetrics: false });
    const policies = createPolicyRegistry({ metrics: metrics.resilience, logger: pino({ level: 'info' }, sink) });
    const payment = policies.register({ dependency: 'payment', policy: { retry: { maxAttempts: 3 } }, retryable: isTransient });
    const inventory = policies.register({ dependency: 'inventory', policy: { circuitBreaker: { enabled: false } }, retryable: isTransient });
    return { policies, payment, inventory, lines };
  }

  it('lists every dependency with its normalised policy', () => {
    const { policies } = registry();
    expect(Object.keys(policies.policies())).toEqual(['payment', 'inventory']);
    expect(policies.policy('inventory')).toMatchObject({ timeout: { enabled: true, timeout: 1_000 }, circuitBreaker: { enabled: false }, bulkhead: { enabled: false } });
  });

  it('merges a deep-partial patch, records and logs the change', () => {
    const { policies, payment, lines } = registry();
    const change = policies.patch('payment', { retry: { maxAttempts: 1 }, timeout: { timeout: '250ms' } });
    expect(change).toMatchObject({ dependency: 'payment', action: 'patch', changed: ['timeout.timeout', 'retry.maxAttempts'] });
    expect(change?.before.retry.maxAttempts).toBe(3);
    expect(change?.after).toMatchObject({ retry: { maxAttempts: 1, baseDelay: 50 }, timeout: { timeout: 250 }, circuitBreaker: { enabled: true } });
    expect(payment.policy).toBe(change?.after);
    expect(Number.isNaN(Date.parse(change?.at ?? ''))).toBe(false);
    expect(policies.history()).toEqual([change]);
    expect(lines.find((line) => line.msg === 'resilience policy changed')).toMatchObject({ dependency: 'payment', action: 'patch', changed: ['timeout.timeout', 'retry.maxAttempts'] });
  });

  it('switches a breaker off with a patch, and null brings a field back to its default', () => {
    const { policies, payment } = registry();
    policies.patch('payment', { circuitBreaker: { enabled: false }, deadline: '2s' });
    expect(payment.breaker).toBeUndefined();
    expect(payment.policy.deadline).toBe(2_000);
    policies.patch('payment', { deadline: null, circuitBreaker: { enabled: null } });
    expect(payment.policy.deadline).toBeUndefined();
    expect(payment.breaker?.state).toBe('closed');
  });

  it('records nothing for a change that changes nothing', () => {
    const { policies } = registry();
    expect(policies.patch('payment', { retry: { maxAttempts: 3 } })).toBeUndefined();
    expect(policies.history()).toEqual([]);
  });

  it('replaces a whole policy with defaults filled, and resets every policy to its start', () => {
    const { policies, payment, inventory } = registry();
    const initial = policies.policies();
    policies.replace('payment', { retry: { enabled: false } });
    expect(payment.policy).toMatchObject({ retry: { enabled: false, maxAttempts: 3 }, timeout: { enabled: true, timeout: 1_000 }, circuitBreaker: { enabled: true, windowSize: 20 } });
    policies.patch('inventory', { bulkhead: { enabled: true, maxConcurrent: 2 } });
    const resets = policies.reset();
    expect(resets.map((change) => [change.dependency, change.action])).toEqual([['payment', 'reset'], ['inventory', 'reset']]);
    expect(policies.policies()).toEqual(initial);
    expect(inventory.policy).toEqual(initial.inventory);
    expect(policies.history()).toHaveLength(4);
  });

  it('refuses an invalid patch naming the merged path, and leaves the policy alone', () => {
    const { policies, payment } = registry();
    const before = payment.policy;
    expect(() => policies.patch('payment', { retry: { maxAttempts: 11 } })).toThrow('payment: retry.maxAttempts: must be <= 10');
    expect(() => policies.patch('payment', JSON.parse('{"__proto__": {"polluted": true}}'))).toThrow(/__proto__: unknown field/);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(() => policies.patch('payment', [1])).toThrow('(root): must be an object');
    expect(payment.policy).toBe(before);
    expect(policies.history()).toEqual([]);
  });

  it('names the known dependencies when asked for an unknown one', () => {
    const { policies } = registry();
    expect(() => policies.patch('bank', {})).toThrow(UnknownDependencyError);
    expect(() => policies.policy('bank')).toThrow("no guarded calls to 'bank' here; known: payment, inventory");
  });

  it("applies a caller's own rules: refusals beside the schema's, and its shape of the result", () => {
    const metrics = createServiceMetrics({ defaultMetrics: false });
    const policies = createPolicyRegistry({ metrics: metrics.resilience, logger });
    const catalog = policies.register({
      dependency: 'catalog',
      policy: { circuitBreaker: { enabled: false } },
      retryable: isTransient,
      rules: {
        refuse: (change) => (change.circuitBreaker === undefined ? [] : [{ field: 'circuitBreaker', message: 'not applied here' }]),
        shape: (policy) => ({ ...policy, deadline: 5_000 }),
      },
    });
    expect(() => policies.patch('catalog', { circuitBreaker: { enabled: true }, retry: { maxAttempts: 0 } })).toThrow(
      'catalog: retry.maxAttempts: must be >= 1; circuitBreaker: not applied here',
    );
    policies.patch('catalog', { retry: { maxAttempts: 2 } });
    expect(catalog.policy).toMatchObject({ retry: { maxAttempts: 2 }, deadline: 5_000, circuitBreaker: { enabled: false } });
  });
});

describe('mergePatch', () => {
  it('merges objects key by key, replaces the rest, and removes a key set to null', () => {
    expect(mergePatch({ a: { b: 1, c: 2 }, d: 3 }, { a: { b: 5, c: null }, e: [1] })).toEqual({ a: { b: 5 }, d: 3, e: [1] });
    expect(mergePatch({ a: 1 }, 'x')).toBe('x');
  });
});
