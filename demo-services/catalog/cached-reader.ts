// A read through a named TTL cache that says how it went: every read counts
// in cache_requests_total{cache,result} and marks the active span with the
// cache's name and result, so both a dashboard and a single trace show
// whether the catalog answered from memory. A read that waited for another
// read's load of the same key (request coalescing) counts as `coalesced`.
// With the cache switched off the read goes straight to the store and counts
// as `bypass`.

import { trace } from '@opentelemetry/api';
import client from 'prom-client';
import { SHOP_LABEL, SHOP_METRIC, SHOP_SPAN_ATTR, type CacheResult } from '../kit/conventions.ts';
import type { TtlCache } from './ttl-cache.ts';

export interface CacheMetrics {
  record(cache: string, result: CacheResult): void;
  /** Report a cache's size in cache_entries{cache} at every scrape. */
  watch(cache: string, size: () => number): void;
}

export function createCacheMetrics(registry: client.Registry<client.OpenMetricsContentType>): CacheMetrics {
  const sizes = new Map<string, () => number>();
  const requests = new client.Counter({
    name: SHOP_METRIC.cacheRequests,
    help: 'Cache lookups, by cache and result (hit, coalesced, miss, bypass).',
    labelNames: [SHOP_LABEL.cache, SHOP_LABEL.result],
    registers: [registry],
  });
  new client.Gauge({
    name: SHOP_METRIC.cacheEntries,
    help: 'Entries held by a cache.',
    labelNames: [SHOP_LABEL.cache],
    registers: [registry],
    collect() {
      for (const [cache, size] of sizes) this.set({ [SHOP_LABEL.cache]: cache }, size());
    },
  });
  return {
    record: (cache, result) => requests.inc({ [SHOP_LABEL.cache]: cache, [SHOP_LABEL.result]: result }),
    watch: (cache, size) => void sizes.set(cache, size),
  };
}

export type CachedReader<K, V> = (key: K, load: () => Promise<V>) => Promise<{ value: V; result: CacheResult }>;

export function createCachedReader<K, V>(options: { name: string; cache: TtlCache<K, V> | undefined; metrics: CacheMetrics }): CachedReader<K, V> {
  const { name, cache, metrics } = options;
  if (cache) metrics.watch(name, () => cache.size);
  return async (key, load) => {
    let value: V;
    let result: CacheResult;
    if (cache) {
      const read = await cache.read(key, load);
      value = read.value;
      result = read.coalesced ? 'coalesced' : read.hit ? 'hit' : 'miss';
    } else {
      value = await load();
      result = 'bypass';
    }
    metrics.record(name, result);
    trace.getActiveSpan()?.setAttributes({
      [SHOP_SPAN_ATTR.cacheName]: name,
      [SHOP_SPAN_ATTR.cacheResult]: result,
      [SHOP_SPAN_ATTR.cacheHit]: result === 'hit',
    });
    return { value, result };
  };
}
