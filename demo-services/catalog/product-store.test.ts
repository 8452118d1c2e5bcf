import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
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
});
