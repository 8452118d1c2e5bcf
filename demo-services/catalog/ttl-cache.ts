// A read-through cache with a fixed time to live, a bounded number of
// entries, and single-flight loads: concurrent misses for one key share one
// load (the pending promise is what is cached), so a cold or just-expired key
// does not stampede the store. Written here rather than taken from lru-cache
// because it is thirty lines, the lab needs to know for each read whether it
// was a hit (for metrics and spans), and the clock must be injectable to test
// expiry without waiting.

export interface TtlCacheOptions {
  /** How long a loaded value is served before it is loaded again. */
  ttlMs: number;
  /** At most this many keys; the oldest entry is dropped first. */
  maxEntries: number;
  now?: () => number;
}

export interface CacheRead<V> {
  value: V;
  hit: boolean;
}

export interface TtlCache<K, V> {
  /** The cached value of `key`, or the result of `load` (then cached for ttlMs). A failed load is not cached. */
  read(key: K, load: () => Promise<V>): Promise<CacheRead<V>>;
  readonly size: number;
  clear(): void;
}

interface Entry<V> {
  value: Promise<V>;
  expiresAt: number;
}

export function createTtlCache<K, V>(options: TtlCacheOptions): TtlCache<K, V> {
  const now = options.now ?? (() => performance.now());
  const entries = new Map<K, Entry<V>>();

  return {
    async read(key, load) {
      const at = now();
      const cached = entries.get(key);
      if (cached && cached.expiresAt > at) return { value: await cached.value, hit: true };
      if (cached) entries.delete(key);
      // Every entry lives ttlMs from its insertion, so insertion order is expiry order:
      // the first key is both the oldest and the first to expire.
      while (entries.size >= options.maxEntries) {
        const oldest = entries.keys().next();
        if (oldest.done) break;
        entries.delete(oldest.value);
      }
      const entry: Entry<V> = { value: load(), expiresAt: at + options.ttlMs };
      entries.set(key, entry);
      try {
        return { value: await entry.value, hit: false };
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
