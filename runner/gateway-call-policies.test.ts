// A scenario's policies.gateway.<dependency> as the runner reads it: the
// bulkhead and, when written, the retry of reads apply at the gateway
// (demo-services/gateway/dependency-calls.ts), the rest shows as off, and a
// breaker written there is refused with the reason.

import { describe, expect, it } from 'vitest';
import { parseScenario } from './scenario.ts';

const scenario = (gateway: Record<string, unknown>) =>
  parseScenario(
    {
      name: 'unit',
      description: 'unit',
      policies: { gateway },
      phases: [{ name: 'p', duration: '1s' }],
      load: { executor: 'constant-arrival-rate', rate: 1, timeUnit: '1s', preAllocatedVUs: 1, journey: 'checkout' },
      expectations: [{ name: 'x', type: 'threshold', metric: 'http_req_failed', threshold: 'rate<1' }],
    },
    'unit.yaml',
  );

describe('policies.gateway in a scenario', () => {
  it('shows the rest off in the parsed scenario, so pages and --disable say what the gateway does', () => {
    const parsed = scenario({ checkout: { bulkhead: { enabled: true, maxConcurrent: 4 } } });
    expect(parsed.policies.gateway?.checkout).toMatchObject({ timeout: { enabled: false }, retry: { enabled: false }, circuitBreaker: { enabled: false }, bulkhead: { enabled: true, maxConcurrent: 4 } });
    // A parsed scenario handed back is still valid.
    expect(() => parseScenario(structuredClone(parsed), 'again')).not.toThrow();
  });

  it('keeps a retry written there (reads only, at the gateway), which --disable retry switches off', () => {
    const parsed = scenario({ catalog: { retry: { maxAttempts: 2 } } });
    expect(parsed.policies.gateway?.catalog?.retry).toMatchObject({ enabled: true, maxAttempts: 2 });
    expect(() => parseScenario(structuredClone(parsed), 'again')).not.toThrow();
  });

  it('refuses a breaker at the gateway: breakers belong to the services behind it', () => {
    expect(() => scenario({ checkout: { bulkhead: { enabled: true }, circuitBreaker: { windowSize: 10 } } })).toThrow(/policies\.gateway\.checkout\.circuitBreaker: the gateway applies only a bulkhead and a retry of reads per dependency; breakers belong/);
  });
});
