// Where the catalog keeps its products: an embedded SQLite database
// (node:sqlite, built into Node 24, so no native npm module to build). Each
// catalog instance opens its own database, in memory by default, and seeds it
// with the fixed product list; seeding is INSERT OR IGNORE, so reopening a
// database file keeps what is there. An optional read latency stands in for a
// remote database, so that what the cache saves shows on the dashboards.

import { DatabaseSync } from 'node:sqlite';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Product } from './product.ts';

export interface ProductStoreOptions {
  /** SQLite file; `:memory:` (the default) keeps the database in this process. */
  path?: string;
  products: readonly Product[];
  /** Added to every read, to model a database across the network. */
  readLatencyMs?: number;
}

export interface ProductPage {
  items: Product[];
  total: number;
}

export interface ProductStore {
  get(sku: string): Promise<Product | undefined>;
  list(limit: number, offset: number): Promise<ProductPage>;
  /** Store reads made (each a cache miss), for tests and logs. */
  readonly reads: number;
  close(): void;
}

interface ProductRow {
  sku: string;
  name: string;
  category: string;
  price_cents: number;
  currency: string;
}

const toProduct = (row: ProductRow): Product => ({
  sku: row.sku,
  name: row.name,
  category: row.category,
  priceCents: row.price_cents,
  currency: row.currency,
});

export function openProductStore(options: ProductStoreOptions): ProductStore {
  const db = new DatabaseSync(options.path ?? ':memory:', { timeout: 5_000 });
  db.exec(`
    CREATE TABLE IF NOT EXISTS products (
      sku TEXT PRIMARY KEY,
      position INTEGER NOT NULL UNIQUE,
      name TEXT NOT NULL,
      category TEXT NOT NULL,
      price_cents INTEGER NOT NULL CHECK (price_cents > 0),
      currency TEXT NOT NULL
    ) STRICT
  `);
  const insert = db.prepare('INSERT OR IGNORE INTO products (sku, position, name, category, price_cents, currency) VALUES (?, ?, ?, ?, ?, ?)');
  db.exec('BEGIN IMMEDIATE');
  try {
    options.products.forEach((p, index) => insert.run(p.sku, index + 1, p.name, p.category, p.priceCents, p.currency));
    db.exec('COMMIT');
  } catch (error) {
    db.exec('ROLLBACK');
    throw error;
  }

  const bySku = db.prepare('SELECT sku, name, category, price_cents, currency FROM products WHERE sku = ?');
  const page = db.prepare('SELECT sku, name, category, price_cents, currency FROM products ORDER BY position LIMIT ? OFFSET ?');
  const count = db.prepare('SELECT COUNT(*) AS total FROM products');
  const latency = options.readLatencyMs ?? 0;
  let reads = 0;
  const read = async <T>(query: () => T): Promise<T> => {
    reads += 1;
    if (latency > 0) await sleep(latency);
    return query();
  };

  return {
    get: (sku) =>
      read(() => {
        const row = bySku.get(sku) as ProductRow | undefined;
        return row ? toProduct(row) : undefined;
      }),
    list: (limit, offset) =>
      read(() => ({
        items: (page.all(limit, offset) as unknown as ProductRow[]).map(toProduct),
        total: (count.get() as { total: number }).total,
      })),
    get reads() {
      return reads;
    },
    close: () => db.close(),
  };
}
