// A retry budget: retries spend tokens from a shared bucket and successes
// refill it, so when a dependency is down the service stops multiplying its
// load with retries (a retry storm) instead of tripling it. The constants are
// the AWS SDKs' "standard" retry quota: 500 tokens, 5 per retry, 10 per retry
// after a timeout, 1 back per success. No resilience library on npm has this,
// so it is written here.

export interface RetryBudgetOptions {
  capacity: number;
  retryCost: number;
  timeoutRetryCost: number;
  successRefill: number;
}

export const AWS_STANDARD_RETRY_QUOTA: RetryBudgetOptions = { capacity: 500, retryCost: 5, timeoutRetryCost: 10, successRefill: 1 };

export interface RetryBudget {
  /** Spend for one retry; false when the budget cannot pay for it (do not retry). */
  tryAcquire(afterTimeout: boolean): boolean;
  /** A call succeeded: refill a little. */
  recordSuccess(): void;
  available(): number;
}

export function createRetryBudget(options: RetryBudgetOptions = AWS_STANDARD_RETRY_QUOTA): RetryBudget {
  let tokens = options.capacity;
  return {
    tryAcquire(afterTimeout) {
      const cost = afterTimeout ? options.timeoutRetryCost : options.retryCost;
      if (tokens < cost) return false;
      tokens -= cost;
      return true;
    },
    recordSuccess() {
      tokens = Math.min(options.capacity, tokens + options.successRefill);
    },
    available: () => tokens,
  };
}
