// A read-through cache with a time to live, a bounded number of entries, and
// (by default) single-flight loads: concurrent misses for one key share one
// load (the pending promise is what is cached), so a cold or just-expired key
// does not stampede the store. With coalescing off every miss loads on its
// own, which is the stampede the cache-stampede scenario shows. Each entry's
// TTL can be spread by a share (jitter), so keys filled together do not all
// expire together. Written here rather than taken from lru-cache because it
// is short, the lab needs to know for each read whether it was a hit (for
// metrics and spans), and the clock and the dice must be injectable to test
// expiry without waiting.

export interface TtlCacheOptions {
  /** How long a loaded value is served before it is loaded again, counted from when its load finished. */
  ttlMs: number;
  /** At most this many keys; the oldest entry is dropped first. */
  maxEntries: number;
  /** Each entry lives ttlMs x (1 + jitter x (2u - 1)), u uniform in [0, 1): a share in [0, 1), 0 (the default) for exactly ttlMs. */
  jitter?: number;
  /** Uniform numbers in [0, 1) for the jitter (a seeded generator in the service); Math.random by default. */
  random?: () => number;
  /** Concurrent misses of one key share one load (single flight). Default true; off, every miss loads. */
  coalesce?: boolean;
  now?: () => number;
}

export interface CacheRead<V> {
  value: V;
  /** Answered without a load of its own (from memory, or by waiting for another read's load). */
  hit: boolean;
  /** Present (true) when the read waited for a load another read had started. */
  coalesced?: true;
}

export interface TtlCache<K, V> {
  /** The cached value of `key`, or the result of `load` (then cached for the TTL). A failed load is not cached; reads that shared it get its error. */
  read(key: K, load: () => Promise<V>): Promise<CacheRead<V>>;
  readonly size: number;
  clear(): void;
}

interface Entry<V> {
  value: Promise<V>;
  /** Infinity while the load is pending: a loading entry does not expire. */
  expiresAt: number;
  settled: boolean;
}

export function createTtlCache<K, V>(options: TtlCacheOptions): TtlCache<K, V> {
  const now = options.now ?? (() => performance.now());
  const jitter = options.jitter ?? 0;
  if (!(jitter >= 0 && jitter < 1)) throw new RangeError(`jitter must be in [0, 1), got ${jitter}`);
  const random = options.random ?? Math.random;
  const coalesce = options.coalesce ?? true;
  const entries = new Map<K, Entry<V>>();
  const ttl = () => (jitter === 0 ? options.ttlMs : options.ttlMs * (1 + jitter * (2 * random() - 1)));
  /** Make room for one more key: the oldest inserted entry goes first. */
  const makeRoom = () => {
    while (entries.size >= options.maxEntries) {
      const oldest = entries.keys().next();
      if (oldest.done) break;
      entries.delete(oldest.value);
    }
  };

  return {
    async read(key, load) {
      const cached = entries.get(key);
      if (cached && cached.expiresAt > now()) {
        const coalesced = !cached.settled;
        const value = await cached.value;
        return coalesced ? { value, hit: true, coalesced: true } : { value, hit: true };
      }
      if (cached) entries.delete(key);
      if (!coalesce) {
        // Every miss goes to the store; whichever load finishes last is what stays.
        const value = await load();
        entries.delete(key);
        makeRoom();
        entries.set(key, { value: Promise.resolve(value), expiresAt: now() + ttl(), settled: true });
        return { value, hit: false };
      }
      makeRoom();
      const entry: Entry<V> = { value: load(), expiresAt: Infinity, settled: false };
      entries.set(key, entry);
      try {
        const value = await entry.value;
        entry.settled = true;
        entry.expiresAt = now() + ttl();
        return { value, hit: false };
      } catch (error) {
        if (entries.get(key) === entry) entries.delete(key);
        throw error;
      }
    },
    get size() {
      return entries.size;
    },
    clear: () => entries.clear(),
  };
}
