import { describe, expect, it } from 'vitest';
import { createTtlCache } from './ttl-cache.ts';

function clock() {
  let t = 1_000;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

describe('TTL cache', () => {
  it('serves a loaded value until its TTL passes, then loads again', async () => {
    const time = clock();
    const cache = createTtlCache<string, number>({ ttlMs: 100, maxEntries: 10, now: time.now });
    let loads = 0;
    const load = async () => (loads += 1);
    expect(await cache.read('a', load)).toEqual({ value: 1, hit: false });
    time.advance(99);
    expect(await cache.read('a', load)).toEqual({ value: 1, hit: true });
    time.advance(1);
    expect(await cache.read('a', load)).toEqual({ value: 2, hit: false });
    expect(loads).toBe(2);
  });

  it('shares one load between concurrent misses of a key', async () => {
    const cache = createTtlCache<string, string>({ ttlMs: 1_000, maxEntries: 10, now: clock().now });
    let loads = 0;
    let finish: (value: string) => void = () => undefined;
    const load = () => {
      loads += 1;
      return new Promise<string>((resolve) => (finish = resolve));
    };
    const first = cache.read('k', load);
    const second = cache.read('k', load);
    finish('v');
    expect(await first).toEqual({ value: 'v', hit: false });
    expect(await second).toEqual({ value: 'v', hit: true, coalesced: true });
    expect(loads).toBe(1);
  });

  it('coalesces any number of concurrent misses into one load, and serves hits after it', async () => {
    const cache = createTtlCache<string, string>({ ttlMs: 1_000, maxEntries: 10, now: clock().now });
    let loads = 0;
    let finish: (value: string) => void = () => undefined;
    const load = () => {
      loads += 1;
      return new Promise<string>((resolve) => (finish = resolve));
    };
    const reads = Array.from({ length: 50 }, () => cache.read('hot', load));
    finish('v');
    const results = await Promise.all(reads);
    expect(loads).toBe(1);
    expect(results.filter((r) => !r.hit)).toHaveLength(1);
    expect(results.filter((r) => r.coalesced)).toHaveLength(49);
    expect(await cache.read('hot', load)).toEqual({ value: 'v', hit: true });
  });

  it('shares a failed load with the reads that waited for it, and keeps none of it', async () => {
    const cache = createTtlCache<string, string>({ ttlMs: 1_000, maxEntries: 10, now: clock().now });
    let loads = 0;
    let fail: (error: Error) => void = () => undefined;
    const failing = () => {
      loads += 1;
      return new Promise<string>((_, reject) => (fail = reject));
    };
    const reads = [cache.read('k', failing), cache.read('k', failing), cache.read('k', failing)];
    fail(new Error('store down'));
    const settled = await Promise.allSettled(reads);
    expect(settled.map((r) => (r.status === 'rejected' ? (r.reason as Error).message : r.status))).toEqual(['store down', 'store down', 'store down']);
    expect(loads).toBe(1);
    expect(cache.size).toBe(0);
    expect(await cache.read('k', async () => 'back')).toEqual({ value: 'back', hit: false });
  });

  it('does not expire an entry while its load is under way; the TTL counts from when it finished', async () => {
    const time = clock();
    const cache = createTtlCache<string, string>({ ttlMs: 100, maxEntries: 10, now: time.now });
    let finish: (value: string) => void = () => undefined;
    let loads = 0;
    const load = () => {
      loads += 1;
      return new Promise<string>((resolve) => (finish = resolve));
    };
    const first = cache.read('k', load);
    time.advance(500);
    const second = cache.read('k', load);
    finish('v');
    expect(await Promise.all([first, second])).toEqual([{ value: 'v', hit: false }, { value: 'v', hit: true, coalesced: true }]);
    time.advance(99);
    expect((await cache.read('k', load)).hit).toBe(true);
    expect(loads).toBe(1);
  });

  it('without coalescing every concurrent miss loads on its own (the stampede), and the value is cached after', async () => {
    const cache = createTtlCache<string, number>({ ttlMs: 1_000, maxEntries: 10, now: clock().now, coalesce: false });
    let loads = 0;
    const pending: Array<(value: number) => void> = [];
    const load = () => {
      loads += 1;
      return new Promise<number>((resolve) => pending.push(resolve));
    };
    const reads = Array.from({ length: 5 }, () => cache.read('hot', load));
    pending.forEach((resolve, i) => resolve(i));
    const results = await Promise.all(reads);
    expect(loads).toBe(5);
    expect(results.every((r) => !r.hit && !r.coalesced)).toBe(true);
    expect(await cache.read('hot', load)).toEqual({ value: 4, hit: true });
    expect(loads).toBe(5);
  });

  it('without coalescing does not keep a failed load either', async () => {
    const cache = createTtlCache<string, string>({ ttlMs: 1_000, maxEntries: 10, now: clock().now, coalesce: false });
    await expect(cache.read('k', () => Promise.reject(new Error('store down')))).rejects.toThrow('store down');
    expect(cache.size).toBe(0);
  });

  it('spreads each entry\'s TTL by the jitter share, within ttl x (1 +- jitter), from the random source', async () => {
    const ttlMs = 1_000;
    const jitter = 0.2;
    const draws = [0, 0.5, 0.999_999, 0.25];
    for (const u of draws) {
      const time = clock();
      const cache = createTtlCache<string, number>({ ttlMs, maxEntries: 10, jitter, random: () => u, now: time.now });
      await cache.read('k', async () => 1);
      const lives = ttlMs * (1 + jitter * (2 * u - 1));
      expect(lives).toBeGreaterThanOrEqual(ttlMs * (1 - jitter));
      expect(lives).toBeLessThan(ttlMs * (1 + jitter));
      time.advance(Math.ceil(lives) - 1);
      expect((await cache.read('k', async () => 2)).hit).toBe(true);
      time.advance(1);
      expect((await cache.read('k', async () => 2)).hit).toBe(false);
    }
  });

  it('with a seeded random source, jittered TTLs stay within bounds and actually vary', async () => {
    let state = 7;
    const random = () => ((state = (state * 48_271) % 2_147_483_647) / 2_147_483_647);
    const time = clock();
    const lives: number[] = [];
    for (let i = 0; i < 200; i++) {
      const cache = createTtlCache<string, number>({ ttlMs: 1_000, maxEntries: 10, jitter: 0.1, random, now: time.now });
      await cache.read('k', async () => 1);
      // Find when it expires, 1 ms at a time from the lower bound.
      let life = 899;
      time.advance(899);
      while ((await cache.read('k', async () => 2)).hit) {
        time.advance(1);
        life += 1;
      }
      lives.push(life);
    }
    expect(Math.min(...lives)).toBeGreaterThanOrEqual(900);
    expect(Math.max(...lives)).toBeLessThanOrEqual(1_100);
    expect(new Set(lives).size).toBeGreaterThan(50);
  });

  it('refuses a jitter outside [0, 1)', () => {
    expect(() => createTtlCache({ ttlMs: 1, maxEntries: 1, jitter: 1 })).toThrow(/jitter/);
    expect(() => createTtlCache({ ttlMs: 1, maxEntries: 1, jitter: -0.1 })).toThrow(/jitter/);
  });

  it('does not keep a failed load', async () => {
    const cache = createTtlCache<string, string>({ ttlMs: 1_000, maxEntries: 10, now: clock().now });
    await expect(cache.read('k', () => Promise.reject(new Error('store down')))).rejects.toThrow('store down');
    expect(cache.size).toBe(0);
    expect(await cache.read('k', async () => 'v')).toEqual({ value: 'v', hit: false });
  });

  it('caches an absent value like any other', async () => {
    const cache = createTtlCache<string, string | undefined>({ ttlMs: 1_000, maxEntries: 10, now: clock().now });
    await cache.read('missing', async () => undefined);
    expect(await cache.read('missing', async () => 'appeared')).toEqual({ value: undefined, hit: true });
  });

  it('holds at most maxEntries keys, dropping the oldest first', async () => {
    const time = clock();
    const cache = createTtlCache<number, number>({ ttlMs: 1_000, maxEntries: 3, now: time.now });
    for (const key of [1, 2, 3, 4]) {
      await cache.read(key, async () => key);
      time.advance(1);
    }
    expect(cache.size).toBe(3);
    expect((await cache.read(1, async () => -1)).hit).toBe(false);
    expect((await cache.read(4, async () => -4)).hit).toBe(true);
  });
});
