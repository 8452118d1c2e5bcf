import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import client from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { CATALOG_DB_DEPENDENCY, DB_SPAN_ATTR, SHOP_SPAN_ATTR, SPAN_ATTR } from '../kit/conventions.ts';
import { SEED_PRODUCTS } from './product.ts';
import { openProductStore } from './product-store.ts';

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

describe('product store', () => {
  it('serves the seeded products by SKU and in pages, in seed order', async () => {
    const store = openProductStore({ products: SEED_PRODUCTS });
    expect(await store.get('sku-4')).toEqual(SEED_PRODUCTS[3]);
    expect(await store.get('sku-404')).toBeUndefined();
    const page = await store.list(3, 9);
    expect(page.total).toBe(20);
    expect(page.items.map((p) => p.sku)).toEqual(['sku-10', 'sku-11', 'sku-12']);
    expect((await store.list(10, 100)).items).toEqual([]);
    expect(store.reads).toBe(4);
    store.close();
  });

  it('keeps what a database file holds when it is opened again', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'faultline-catalog-'));
    dirs.push(dir);
    const path = join(dir, 'catalog.sqlite');
    openProductStore({ path, products: SEED_PRODUCTS }).close();
    const again = openProductStore({ path, products: SEED_PRODUCTS.slice(0, 2) });
    expect((await again.list(100, 0)).total).toBe(20);
    again.close();
  });

  it('adds the configured latency to every read', async () => {
    const store = openProductStore({ products: SEED_PRODUCTS, readLatencyMs: 30 });
    const started = performance.now();
    await store.get('sku-1');
    expect(performance.now() - started).toBeGreaterThanOrEqual(25);
    store.close();
  });

  it('makes every read a database client span and a sample of db_client_operation_duration_seconds', async () => {
    const exporter = new InMemorySpanExporter();
    const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
    trace.setGlobalTracerProvider(provider);
    const registry = new client.Registry<client.OpenMetricsContentType>();
    try {
      const store = openProductStore({ products: SEED_PRODUCTS, namespace: 'catalog-1', registry });
      await store.get('sku-3');
      await store.list(10, 0);
      store.close();
      const spans = exporter.getFinishedSpans();
      expect(spans.map((span) => [span.name, span.kind, span.attributes[SHOP_SPAN_ATTR.storeKey]])).toEqual([
        ['SELECT products', 2, 'sku-3'],
        ['SELECT products', 2, '10:0'],
      ]);
      expect(spans[0]?.attributes).toMatchObject({
        [DB_SPAN_ATTR.systemName]: 'sqlite',
        [DB_SPAN_ATTR.namespace]: 'catalog-1',
        [DB_SPAN_ATTR.operationName]: 'SELECT',
        [DB_SPAN_ATTR.collectionName]: 'products',
        [DB_SPAN_ATTR.queryText]: expect.stringContaining('WHERE sku = ?'),
        [SPAN_ATTR.dependency]: CATALOG_DB_DEPENDENCY,
      });
      expect(await registry.metrics()).toContain('db_client_operation_duration_seconds_count{db_system_name="sqlite",db_operation_name="SELECT",db_collection_name="products"} 2');
    } finally {
      trace.disable();
      await provider.shutdown();
    }
  });
});
