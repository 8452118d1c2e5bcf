// The catalog's knobs, as a scenario writes them under `services.catalog`:
// the read cache (on or off, how long an entry lives and by what share that
// varies, how many entries), request coalescing (concurrent misses of one key
// share one store read; the catalogue switch `coalescing`) and the product
// database (file, simulated read latency). Validated once at start.

import { z } from 'zod';
import { durationMs } from '../kit/schema.ts';

export const cachePolicySchema = z.strictObject({
  enabled: z.boolean().default(true),
  /** How long a product or a page of products is served from memory. */
  ttl: durationMs.default(30_000).pipe(z.number().min(1).max(86_400_000)),
  /** Each entry's TTL varies by up to this share either way (seeded), so keys filled together do not expire together. */
  jitter: z.number().min(0).max(0.9).default(0.1),
  maxEntries: z.int().min(1).max(1_000_000).default(10_000),
});

export const catalogDatabasePolicySchema = z.strictObject({
  /** SQLite file of this instance; an in-memory database when absent. */
  path: z.string().min(1).optional(),
  /** Latency added to every database read (models a remote database). */
  readLatency: durationMs.default(0).pipe(z.number().min(0).max(60_000)),
});

/** Concurrent misses of one key share one store read (single flight); off, every miss reads the store. */
export const coalescingPolicySchema = z.strictObject({
  enabled: z.boolean().default(true),
});

export const catalogPolicySchema = z.strictObject({
  cache: cachePolicySchema.prefault({}),
  coalescing: coalescingPolicySchema.prefault({}),
  database: catalogDatabasePolicySchema.prefault({}),
});

export type CatalogPolicy = z.infer<typeof catalogPolicySchema>;
