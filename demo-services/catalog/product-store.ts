// Where the catalog keeps its products: an embedded SQLite database
// (node:sqlite, built into Node 24, so no native npm module to build). Each
// catalog instance opens its own database, in memory by default, and seeds it
// with the fixed product list; seeding is INSERT OR IGNORE, so reopening a
// database file keeps what is there. An optional read latency stands in for a
// remote database, so that what the cache saves shows on the dashboards.
// Every read is a database CLIENT span (OpenTelemetry database semantic
// conventions, plus faultline.dependency and the key it fetched) and, given a
// registry, a sample of db_client_operation_duration_seconds: the store's
// load is visible in a trace and on a dashboard, and countable by a scenario.

import { DatabaseSync } from 'node:sqlite';
import { setTimeout as sleep } from 'node:timers/promises';
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import client from 'prom-client';
import { CATALOG_DB_DEPENDENCY, DB_LABEL, DB_METRIC, DB_SPAN_ATTR, DB_SYSTEM_NAME, LATENCY_BUCKETS, SHOP_SPAN_ATTR, SPAN_ATTR } from '../kit/conventions.ts';
import type { Product } from './product.ts';

export interface ProductStoreOptions {
  /** SQLite file; `:memory:` (the default) keeps the database in this process. */
  path?: string;
  products: readonly Product[];
  /** Added to every read, to model a database across the network. */
  readLatencyMs?: number;
  /** db.namespace of the read spans: which database (the instance's own); the file's path when absent. */
  namespace?: string;
  /** Where db_client_operation_duration_seconds is registered; no metric without it. */
  registry?: client.Registry<client.OpenMetricsContentType>;
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

const COLLECTION = 'products';
const BY_SKU = 'SELECT sku, name, category, price_cents, currency FROM products WHERE sku = ?';
const PAGE = 'SELECT sku, name, category, price_cents, currency FROM products ORDER BY position LIMIT ? OFFSET ?';

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

  const bySku = db.prepare(BY_SKU);
  const page = db.prepare(PAGE);
  const count = db.prepare('SELECT COUNT(*) AS total FROM products');
  const latency = options.readLatencyMs ?? 0;
  const namespace = options.namespace ?? options.path ?? ':memory:';
  const duration = options.registry
    ? new client.Histogram({
        name: DB_METRIC.clientOperationDuration,
        help: 'Duration of database client operations (reads of the product store).',
        labelNames: [DB_LABEL.systemName, DB_LABEL.operationName, DB_LABEL.collectionName],
        buckets: [...LATENCY_BUCKETS],
        registers: [options.registry],
      })
    : undefined;
  let reads = 0;
  const read = async <T>(key: string, queryText: string, query: () => T): Promise<T> => {
    reads += 1;
    const attributes = {
      [DB_SPAN_ATTR.systemName]: DB_SYSTEM_NAME.sqlite,
      [DB_SPAN_ATTR.namespace]: namespace,
      [DB_SPAN_ATTR.operationName]: 'SELECT',
      [DB_SPAN_ATTR.collectionName]: COLLECTION,
      [DB_SPAN_ATTR.querySummary]: `SELECT ${COLLECTION}`,
      [DB_SPAN_ATTR.queryText]: queryText,
      [SPAN_ATTR.dependency]: CATALOG_DB_DEPENDENCY,
      [SHOP_SPAN_ATTR.storeKey]: key,
    };
    const started = performance.now();
    return trace.getTracer('faultline').startActiveSpan(`SELECT ${COLLECTION}`, { kind: SpanKind.CLIENT, attributes }, async (span) => {
      try {
        if (latency > 0) await sleep(latency);
        return query();
      } catch (error) {
        span.recordException(error as Error);
        span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
        throw error;
      } finally {
        span.end();
        duration?.observe({ [DB_LABEL.systemName]: DB_SYSTEM_NAME.sqlite, [DB_LABEL.operationName]: 'SELECT', [DB_LABEL.collectionName]: COLLECTION }, (performance.now() - started) / 1000);
      }
    });
  };

  return {
    get: (sku) =>
      read(sku, BY_SKU, () => {
        const row = bySku.get(sku) as ProductRow | undefined;
        return row ? toProduct(row) : undefined;
      }),
    list: (limit, offset) =>
      read(`${limit}:${offset}`, PAGE, () => ({
        items: (page.all(limit, offset) as unknown as ProductRow[]).map(toProduct),
        total: (count.get() as { total: number }).total,
      })),
    get reads() {
      return reads;
    },
    close: () => db.close(),
  };
}
