import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import client from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SHOP_SPAN_ATTR } from '../kit/conventions.ts';
import { createCacheMetrics, createCachedReader } from './cached-reader.ts';
import { createTtlCache } from './ttl-cache.ts';

const exporter = new InMemorySpanExporter();
const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
const contextManager = new AsyncLocalStorageContextManager();
beforeAll(() => void context.setGlobalContextManager(contextManager.enable()));
afterAll(async () => {
  context.disable();
  await provider.shutdown();
});

function registry() {
  const r = new client.Registry<client.OpenMetricsContentType>();
  r.setContentType(client.Registry.OPENMETRICS_CONTENT_TYPE);
  return r;
}

describe('cached reader', () => {
  it('counts hits and misses by cache, reports the size, and marks the active span', async () => {
    const metricsRegistry = registry();
    const metrics = createCacheMetrics(metricsRegistry);
    let t = 0;
    const read = createCachedReader<string, string>({ name: 'product', cache: createTtlCache({ ttlMs: 10, maxEntries: 5, now: () => t }), metrics });
    const results: string[] = [];
    await provider.getTracer('t').startActiveSpan('GET /products/:sku', async (span) => {
      results.push((await read('sku-1', async () => 'one')).result);
      span.end();
    });
    results.push((await read('sku-1', async () => 'one')).result);
    t = 10;
    results.push((await read('sku-1', async () => 'one')).result);
    expect(results).toEqual(['miss', 'hit', 'miss']);

    const text = await metricsRegistry.metrics();
    expect(text).toContain('cache_requests_total{cache="product",result="miss"} 2');
    expect(text).toContain('cache_requests_total{cache="product",result="hit"} 1');
    expect(text).toContain('cache_entries{cache="product"} 1');

    await provider.forceFlush();
    const [span] = exporter.getFinishedSpans();
    expect(span?.attributes).toMatchObject({ [SHOP_SPAN_ATTR.cacheName]: 'product', [SHOP_SPAN_ATTR.cacheResult]: 'miss', [SHOP_SPAN_ATTR.cacheHit]: false });
  });

  it('counts a read that waited for another read\'s load as coalesced', async () => {
    const metricsRegistry = registry();
    const read = createCachedReader<string, string>({ name: 'product_page', cache: createTtlCache({ ttlMs: 1_000, maxEntries: 5, now: () => 0 }), metrics: createCacheMetrics(metricsRegistry) });
    let finish: (value: string) => void = () => undefined;
    const load = () => new Promise<string>((resolve) => (finish = resolve));
    const reads = [read('10:0', load), read('10:0', load), read('10:0', load)];
    finish('page');
    expect((await Promise.all(reads)).map((r) => r.result)).toEqual(['miss', 'coalesced', 'coalesced']);
    const text = await metricsRegistry.metrics();
    expect(text).toContain('cache_requests_total{cache="product_page",result="miss"} 1');
    expect(text).toContain('cache_requests_total{cache="product_page",result="coalesced"} 2');
  });

  it('goes to the store every time when the cache is off, counted as bypass', async () => {
    const metricsRegistry = registry();
    const read = createCachedReader<string, number>({ name: 'product', cache: undefined, metrics: createCacheMetrics(metricsRegistry) });
    let loads = 0;
    await read('a', async () => (loads += 1));
    await read('a', async () => (loads += 1));
    expect(loads).toBe(2);
    expect(await metricsRegistry.metrics()).toContain('cache_requests_total{cache="product",result="bypass"} 2');
  });
});
