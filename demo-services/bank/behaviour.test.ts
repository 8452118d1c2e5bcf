import { describe, expect, it } from 'vitest';
import { bankBehaviourSchema, createChargeAdmission } from './behaviour.ts';

describe('bank charge admission (fake clock)', () => {
  it('admits a burst at once, refuses the next with the wait for a token, and refills at the rate', () => {
    let clock = 0;
    const admission = createChargeAdmission(() => clock);
    const limit = { ratePerSecond: 10, burst: 3 };
    expect([admission.refuse(limit), admission.refuse(limit), admission.refuse(limit)]).toEqual([undefined, undefined, undefined]);
    expect(admission.refuse(limit)).toBe(100);
    clock = 100;
    expect(admission.refuse(limit)).toBeUndefined();
    expect(admission.refuse(limit)).toBe(100);
  });

  it('admits everything without a limit, and starts a full bucket when the limit changes', () => {
    const admission = createChargeAdmission(() => 0);
    for (let i = 0; i < 50; i += 1) expect(admission.refuse(undefined)).toBeUndefined();
    expect(admission.refuse({ ratePerSecond: 1, burst: 1 })).toBeUndefined();
    expect(admission.refuse({ ratePerSecond: 1, burst: 1 })).toBe(1_000);
    expect(admission.refuse({ ratePerSecond: 1, burst: 2 })).toBeUndefined();
  });

  it('the same crowd of charges is refused in one instant and admitted spread over a second', () => {
    const limit = { ratePerSecond: 25, burst: 10 };
    let clock = 0;
    const herd = createChargeAdmission(() => clock);
    expect(Array.from({ length: 24 }, () => herd.refuse(limit)).filter((wait) => wait !== undefined)).toHaveLength(14);
    const spread = createChargeAdmission(() => clock);
    const refused = Array.from({ length: 24 }, (_, i) => {
      clock = 1_000 + i * 42;
      return spread.refuse(limit);
    }).filter((wait) => wait !== undefined);
    expect(refused).toHaveLength(0);
  });
});

describe('bank behaviour', () => {
  it('takes durations with units and names a bad rate limit', () => {
    expect(bankBehaviourSchema.parse({ latency: '50ms', rateLimit: { ratePerSecond: 25, burst: 10 } })).toEqual({ latency: 50, jitter: 0, failureRate: 0, rateLimit: { ratePerSecond: 25, burst: 10 } });
    const result = bankBehaviourSchema.safeParse({ rateLimit: { ratePerSecond: 25, burst: 0 } });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path).toEqual(['rateLimit', 'burst']);
  });
});
