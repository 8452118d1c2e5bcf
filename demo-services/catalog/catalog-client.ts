// How other services (cart, recommendation) read the catalog: one keep-alive
// client per catalog replica behind the client-side balancer (so a killed
// replica is ejected and its traffic fails over), every read under the
// caller's resilience policy for the `catalog` dependency (timeout, retries
// that land on another replica, breaker; tunable live through the caller's
// /admin/policies), and the catalog's answers checked against the product
// shape, so a broken upstream is a 502, not a bad answer.

import { z } from 'zod';
import { createBalancedClient, DEFAULT_BALANCING } from '../kit/balanced-client.ts';
import type { Logger } from '../kit/logger.ts';
import type { ServiceMetrics } from '../kit/metrics.ts';
import { ProblemError, problemType } from '../kit/problem.ts';
import { formatIssues } from '../kit/schema.ts';
import type { BalancerOptions } from '../resilience/balancer.ts';
import { isRefusalStatus, isTransient, problemForFailure, refusalFor, upstreamErrorFor } from '../resilience/http-failures.ts';
import type { PolicyRegistry } from '../resilience/live-policies.ts';
import type { DependencyPolicy } from '../resilience/policy-config.ts';
import { skuSchema, type Product } from './product.ts';

export const CATALOG_DEPENDENCY = 'catalog';

const productSchema = z.object({ sku: skuSchema, name: z.string(), category: z.string(), priceCents: z.int().positive(), currency: z.string() });
const pageSchema = z.object({ items: z.array(productSchema).max(1_000) });

export interface CatalogClientOptions {
  /** Base URLs of the catalog replicas (config.dependencies.catalog). */
  urls: readonly string[];
  /** The policy the client starts with. */
  policy: DependencyPolicy;
  /** Where the call is registered, so the caller's /admin/policies can tune it. */
  policies: PolicyRegistry;
  metrics: ServiceMetrics;
  logger: Logger;
  balancing?: BalancerOptions;
  seed?: number;
}

export interface CatalogClient {
  /** The product, or undefined when the catalog has no such SKU. Throws a ProblemError: the catalog's refusal (4xx), or 502/503/504 when it fails. */
  product(sku: string): Promise<Product | undefined>;
  /** The first `limit` products. Throws a ProblemError when the catalog fails. */
  products(limit: number): Promise<Product[]>;
  close(): Promise<void>;
}

export function createCatalogClient(options: CatalogClientOptions): CatalogClient {
  const { metrics, logger } = options;
  const catalog = createBalancedClient(CATALOG_DEPENDENCY, options.urls, { metrics, logger }, options.balancing ?? DEFAULT_BALANCING);
  const call = options.policies.register({
    dependency: CATALOG_DEPENDENCY,
    policy: options.policy,
    retryable: isTransient,
    seed: options.seed ?? 1,
  });

  /** GET `path` on one replica (the balancer picks); the answer's status and parsed body, or a thrown failure. */
  const get = async <T>(path: string, signal: AbortSignal, accept: (status: number) => boolean, schema: z.ZodType<T>): Promise<{ status: number; body: T | undefined }> => {
    const response = await catalog.request({ method: 'GET', path, signal });
    if (response.status === 200) {
      const parsed = schema.safeParse(response.body);
      if (!parsed.success) {
        throw new ProblemError({
          type: problemType('dependency-failed'),
          title: 'catalog failed',
          status: 502,
          detail: `catalog answered an unexpected body: ${formatIssues(parsed.error).join('; ')}`,
        });
      }
      return { status: 200, body: parsed.data };
    }
    if (accept(response.status)) return { status: response.status, body: undefined };
    // A refusal (a SKU the catalog will not take) is the caller's client error, passed on with its fields; never retried, never a breaker failure.
    if (isRefusalStatus(response.status)) throw refusalFor(CATALOG_DEPENDENCY, response.status, response.body);
    throw upstreamErrorFor(CATALOG_DEPENDENCY, response);
  };

  const guarded = async <T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> => {
    try {
      return await call.execute(work);
    } catch (error) {
      if (error instanceof ProblemError) throw error;
      throw problemForFailure(CATALOG_DEPENDENCY, error);
    }
  };

  return {
    product: (sku) =>
      guarded(async (signal) => (await get(`/products/${encodeURIComponent(sku)}`, signal, (status) => status === 404, productSchema)).body),
    products: (limit) =>
      guarded(async (signal) => (await get(`/products?limit=${limit}`, signal, () => false, pageSchema)).body?.items ?? []),
    close: () => catalog.close(),
  };
}
