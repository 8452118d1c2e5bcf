// Token-bucket rate limiting per client: each client gets `burst` tokens that
// refill at `ratePerSecond`; a request spends one, and a client with none left
// is told when the next token arrives (Retry-After). Pure, on an injected clock.
// Written here because the algorithm is a dozen lines and the npm limiters
// either bring a store (Redis) or hide the refill time we need for Retry-After.

export interface TokenBucketOptions {
  ratePerSecond: number;
  burst: number;
  /** Buckets untouched this long are forgotten, so memory stays bounded by active clients. */
  idleMs?: number;
}

export type Admission = { allowed: true; remaining: number } | { allowed: false; retryAfterMs: number };

export interface RateLimiter {
  take(client: string): Admission;
  size(): number;
  /**
   * New rate and burst from now on (a live change, live-admission.ts): every bucket is first
   * refilled at the old rate up to now, then capped at the new burst, so a change neither hands
   * every client a fresh burst nor takes back what it had earned.
   */
  reconfigure(options: Pick<TokenBucketOptions, 'ratePerSecond' | 'burst'>): void;
}

export function createRateLimiter(options: TokenBucketOptions, now: () => number = () => performance.now()): RateLimiter {
  const buckets = new Map<string, { tokens: number; at: number }>();
  const idleMs = options.idleMs ?? 60_000;
  let { ratePerSecond, burst } = options;
  const refill = (bucket: { tokens: number; at: number }, at: number): void => {
    bucket.tokens = Math.min(burst, bucket.tokens + ((at - bucket.at) / 1_000) * ratePerSecond);
    bucket.at = at;
  };
  let lastSweep = now();

  const sweep = (at: number): void => {
    if (at - lastSweep < idleMs) return;
    lastSweep = at;
    for (const [client, bucket] of buckets) if (at - bucket.at > idleMs) buckets.delete(client);
  };

  return {
    take(client) {
      const at = now();
      sweep(at);
      const bucket = buckets.get(client) ?? { tokens: burst, at };
      refill(bucket, at);
      buckets.set(client, bucket);
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1;
        return { allowed: true, remaining: Math.floor(bucket.tokens) };
      }
      return { allowed: false, retryAfterMs: Math.ceil(((1 - bucket.tokens) / ratePerSecond) * 1_000) };
    },
    size: () => buckets.size,
    reconfigure(next) {
      const at = now();
      for (const bucket of buckets.values()) refill(bucket, at);
      ({ ratePerSecond, burst } = next);
      for (const bucket of buckets.values()) bucket.tokens = Math.min(burst, bucket.tokens);
    },
  };
}
