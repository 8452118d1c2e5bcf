import { describe, expect, it } from 'vitest';
import { AWS_STANDARD_RETRY_QUOTA, createRetryBudget } from './retry-budget.ts';

describe('retry budget', () => {
  it('pays for 100 retries (or 50 after timeouts) from a full AWS quota, then refuses', () => {
    const budget = createRetryBudget();
    let granted = 0;
    while (budget.tryAcquire(false)) granted += 1;
    expect(granted).toBe(AWS_STANDARD_RETRY_QUOTA.capacity / AWS_STANDARD_RETRY_QUOTA.retryCost);
    const afterTimeouts = createRetryBudget();
    granted = 0;
    while (afterTimeouts.tryAcquire(true)) granted += 1;
    expect(granted).toBe(50);
  });

  it('successes refill it, never past its capacity', () => {
    const budget = createRetryBudget({ capacity: 10, retryCost: 5, timeoutRetryCost: 10, successRefill: 1 });
    budget.tryAcquire(false);
    budget.tryAcquire(false);
    expect(budget.tryAcquire(false)).toBe(false);
    for (let i = 0; i < 5; i += 1) budget.recordSuccess();
    expect(budget.tryAcquire(false)).toBe(true);
    for (let i = 0; i < 50; i += 1) budget.recordSuccess();
    expect(budget.available()).toBe(10);
  });
});
