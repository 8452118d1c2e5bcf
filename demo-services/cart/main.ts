// cart: a cart per user, held in memory. Adding an item asks the catalog
// whether the SKU exists (and at what price), so an unknown SKU is refused at
// the door; that call runs under the resilience policies of `policies.catalog`
// over the catalog's replicas (catalog-client.ts), and a catalog failure
// becomes this service's 502/503/504 problem.

import { z } from 'zod';
import { dependencyUrls, readServiceConfig } from '../kit/config.ts';
import { HEADER, SHOP_HEADER } from '../kit/conventions.ts';
import { failStartup } from '../kit/lifecycle.ts';
import { ProblemError, problemType } from '../kit/problem.ts';
import { formatIssues } from '../kit/schema.ts';
import { startService } from '../kit/service.ts';
import { parseOrProblem } from '../kit/validation.ts';
import { dependencyPolicySchema } from '../resilience/policy-config.ts';
import { CATALOG_DEPENDENCY, createCatalogClient } from '../catalog/catalog-client.ts';
import { skuSchema, type Product } from '../catalog/product.ts';
import { cartsPolicySchema } from './cart-policy.ts';
import { CartError, createCartStore } from './cart-store.ts';

const userId = z.string().regex(/^[A-Za-z0-9._@-]{1,100}$/, 'must be 1-100 letters, digits or ._@-');
const cartParams = z.strictObject({ userId });
const itemParams = z.strictObject({ userId, sku: skuSchema });
const addItemBody = z.strictObject({ sku: skuSchema, quantity: z.int().min(1).max(10_000) });
const idempotencyHeader = z.string().min(8).max(200).optional();

const config = readServiceConfig();
const parsed = z
  .strictObject({ catalog: dependencyPolicySchema.prefault({}), carts: cartsPolicySchema.prefault({}) })
  .safeParse({ catalog: config.policies.catalog, carts: config.policies.carts });
if (!parsed.success) failStartup(config.instance, new Error(formatIssues(parsed.error, 'policies').join('; ')));
const policy = parsed.data;

const CART_ERROR_TITLES: Record<CartError['code'], [slug: string, title: string]> = {
  FL_CART_FULL: ['cart-full', 'Cart full'],
  FL_CART_QUANTITY_LIMIT: ['quantity-limit', 'Too many units'],
  FL_CART_IDEMPOTENCY_CONFLICT: ['idempotency-conflict', 'Idempotency key reused'],
};

await startService(config, ({ app, metrics, logger, policies, onClose }) => {
  const carts = createCartStore(policy.carts);
  const catalog = createCatalogClient({
    urls: dependencyUrls(config, CATALOG_DEPENDENCY),
    policy: policy.catalog,
    policies,
    metrics,
    logger,
    seed: Number(process.env.FAULTLINE_SEED ?? 1),
  });
  onClose(() => catalog.close());

  /** The product behind a SKU, or a 422 naming body.sku when the catalog does not know it. */
  const lookUp = async (sku: string): Promise<Product> => {
    const product = await catalog.product(sku);
    if (product) return product;
    throw new ProblemError({
      type: problemType('unknown-product'),
      title: 'Unknown product',
      status: 422,
      detail: `body.sku: no product with sku ${sku}`,
      errors: [{ field: 'body.sku', message: `no product with sku ${sku}` }],
    });
  };

  app.get('/carts/:userId', (req, res) => {
    const params = parseOrProblem(cartParams, req.params, 'path');
    res.json(carts.get(params.userId));
  });

  app.post('/carts/:userId/items', async (req, res) => {
    const params = parseOrProblem(cartParams, req.params, 'path');
    const key = parseOrProblem(idempotencyHeader, req.get(HEADER.idempotencyKey), `header.${HEADER.idempotencyKey}`);
    const body = parseOrProblem(addItemBody, req.body, 'body');
    const product = await lookUp(body.sku);
    try {
      const { cart, replayed } = carts.add(params.userId, product, body.quantity, key);
      if (replayed) res.setHeader(SHOP_HEADER.idempotentReplayed, 'true');
      res.json(cart);
    } catch (error) {
      if (!(error instanceof CartError)) throw error;
      const [slug, title] = CART_ERROR_TITLES[error.code];
      throw new ProblemError({ type: problemType(slug), title, status: 409, detail: error.message });
    }
  });

  app.delete('/carts/:userId/items/:sku', (req, res) => {
    const params = parseOrProblem(itemParams, req.params, 'path');
    res.json(carts.remove(params.userId, params.sku));
  });

  app.delete('/carts/:userId', (req, res) => {
    const params = parseOrProblem(cartParams, req.params, 'path');
    carts.clear(params.userId);
    res.status(204).end();
  });
});
