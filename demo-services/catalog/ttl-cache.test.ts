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
    expect(await second).toEqual({ value: 'v', hit: true });
    expect(loads).toBe(1);
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
