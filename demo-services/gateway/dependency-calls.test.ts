// What the gateway takes from a scenario's policies.gateway.<dependency>: the
// bulkhead and a retry of reads (opt-in); a timeout, breaker or deadline
// written there is a problem with its reason (runner/gateway-call-policies.test.ts: as a scenario).

import { describe, expect, it } from 'vitest';
import { BulkheadRejectedError } from '../resilience/bulkhead.ts';
import { DependencyError } from '../kit/dependency-client.ts';
import { UpstreamStatusError } from '../resilience/errors.ts';
import { bulkheadFullProblem, gatewayCallPolicy, gatewayCallProblems, isConnectFailure, isRetriedMethod } from './dependency-calls.ts';

describe('the gateway per dependency', () => {
  it('applies the bulkhead and nothing else: no attempt timeout, retry or breaker of its own', () => {
    const policy = gatewayCallPolicy({ bulkhead: { enabled: true, maxConcurrent: 3 } });
    expect(policy.bulkhead).toMatchObject({ enabled: true, maxConcurrent: 3 });
    expect([policy.timeout.enabled, policy.retry.enabled, policy.circuitBreaker.enabled, policy.deadline]).toEqual([false, false, false, undefined]);
  });

  it('retries only when a retry is written, only reads, and only when no answer came back', () => {
    expect(gatewayCallPolicy({ retry: { maxAttempts: 2 } }).retry).toMatchObject({ enabled: true, maxAttempts: 2 });
    expect(gatewayCallPolicy({}).retry.enabled).toBe(false);
    expect(['GET', 'POST', 'PUT', 'DELETE'].filter(isRetriedMethod)).toEqual(['GET']);
    expect(['FL_DEP_REFUSED', 'FL_DEP_RESET', 'FL_DEP_NETWORK', 'FL_DEP_TIMEOUT', 'FL_DEP_ABORTED'].map((code) => isConnectFailure(new DependencyError(code as never, 'catalog', 'x')))).toEqual([true, true, true, false, false]);
    expect(isConnectFailure(new UpstreamStatusError('catalog', 502, {}))).toBe(false);
  });

  it('refuses timeouts and breakers, with the reason', () => {
    expect(gatewayCallProblems({ policies: { gateway: { catalog: { timeout: { timeout: '1s' }, circuitBreaker: {}, deadline: '2s' } } } })).toEqual([
      expect.stringMatching(/^policies\.gateway\.catalog\.timeout: .*gateway\.routeTimeout/),
      expect.stringMatching(/^policies\.gateway\.catalog\.circuitBreaker: .*breakers belong/),
      expect.stringMatching(/^policies\.gateway\.catalog\.deadline: .*gateway\.routeTimeout/),
    ]);
    expect(gatewayCallProblems({ policies: { gateway: { checkout: { retry: { enabled: false }, bulkhead: {} } } } })).toEqual([]);
  });

  it('answers a full bulkhead 503 bulkhead-full with Retry-After', () => {
    const problem = bulkheadFullProblem('checkout', new BulkheadRejectedError('checkout', 'full'));
    expect(problem.problem).toMatchObject({ status: 503, title: 'checkout busy', type: expect.stringMatching(/\/bulkhead-full$/) });
    expect(problem.headers).toEqual({ 'retry-after': '1' });
  });
});
