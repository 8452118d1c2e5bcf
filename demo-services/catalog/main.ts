// catalog: the shop's products, the read path of the demo. Reads go through
// a TTL cache in front of the instance's own SQLite database, so a scenario
// can show what the cache saves (policies.cache) and what happens when it is
// switched off, and how request coalescing (policies.coalescing) keeps the
// store's load bounded when a hot key expires under load. Instances share
// nothing: each seeds its own database with the same fixed product list, so
// any replica answers the same.

import { trace } from '@opentelemetry/api';
import type { Response } from 'express';
import { z } from 'zod';
import { readServiceConfig } from '../kit/config.ts';
import { deriveSeed, mulberry32 } from '../kit/random.ts';
import { SHOP_HEADER, SHOP_SPAN_ATTR, type CacheResult } from '../kit/conventions.ts';
import { failStartup } from '../kit/lifecycle.ts';
import { ProblemError, problemType } from '../kit/problem.ts';
import { formatIssues } from '../kit/schema.ts';
import { startService } from '../kit/service.ts';
import { parseOrProblem } from '../kit/validation.ts';
import { createCacheMetrics, createCachedReader } from './cached-reader.ts';
import { catalogPolicySchema } from './catalog-policy.ts';
import { SEED_PRODUCTS, skuSchema, type Product } from './product.ts';
import { openProductStore, type ProductPage } from './product-store.ts';
import { createTtlCache } from './ttl-cache.ts';

/** A non-negative integer in a query string, as the digits it must be written with. */
const queryInt = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d{1,9}$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.int().min(min).max(max));

const listQuery = z.strictObject({
  limit: queryInt(1, 100).default(20),
  offset: queryInt(0, 1_000_000).default(0),
});
const productParams = z.strictObject({ sku: skuSchema });

const config = readServiceConfig();
const parsed = catalogPolicySchema.safeParse({ cache: config.policies.cache, coalescing: config.policies.coalescing, database: config.policies.database });
if (!parsed.success) failStartup(config.instance, new Error(formatIssues(parsed.error, 'policies').join('; ')));
const policy = parsed.data;

await startService(config, ({ app, metrics, logger, onClose }) => {
  const store = openProductStore({
    ...(policy.database.path ? { path: policy.database.path } : {}),
    products: SEED_PRODUCTS,
    readLatencyMs: policy.database.readLatency,
    namespace: config.instance,
    registry: metrics.registry,
  });
  onClose(() => store.close());
  const cacheMetrics = createCacheMetrics(metrics.registry);
  // TTL jitter from the run's seed, per instance: two runs with one seed spread expiries alike.
  const random = mulberry32(deriveSeed(Number(process.env.FAULTLINE_SEED ?? 1), `${config.instance}/cache-ttl`));
  const cacheOptions = { ttlMs: policy.cache.ttl, maxEntries: policy.cache.maxEntries, jitter: policy.cache.jitter, random, coalesce: policy.coalescing.enabled };
  const readProduct = createCachedReader<string, Product | undefined>({
    name: 'product',
    cache: policy.cache.enabled ? createTtlCache(cacheOptions) : undefined,
    metrics: cacheMetrics,
  });
  const readPage = createCachedReader<string, ProductPage>({
    name: 'product_page',
    cache: policy.cache.enabled ? createTtlCache(cacheOptions) : undefined,
    metrics: cacheMetrics,
  });
  logger.info({ cache: policy.cache, coalescing: policy.coalescing.enabled, database: policy.database.path ?? ':memory:' }, 'catalog ready');

  const answer = (res: Response, result: CacheResult, body: unknown): void => {
    res.setHeader(SHOP_HEADER.cache, result);
    res.json(body);
  };

  app.get('/products', async (req, res) => {
    const { limit, offset } = parseOrProblem(listQuery, req.query, 'query');
    const { value, result } = await readPage(`${limit}:${offset}`, () => store.list(limit, offset));
    answer(res, result, { items: value.items, total: value.total, limit, offset });
  });

  app.get('/products/:sku', async (req, res) => {
    const { sku } = parseOrProblem(productParams, req.params, 'path');
    trace.getActiveSpan()?.setAttribute(SHOP_SPAN_ATTR.sku, sku);
    const { value, result } = await readProduct(sku, () => store.get(sku));
    if (!value) {
      res.setHeader(SHOP_HEADER.cache, result);
      throw new ProblemError({ type: problemType('unknown-product'), title: 'Unknown product', status: 404, detail: `no product with sku ${sku}` });
    }
    answer(res, result, value);
  });
});
