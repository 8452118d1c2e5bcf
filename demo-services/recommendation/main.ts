// recommendation: suggests products to a user, the shop's non-critical
// dependency. It reads the products from the catalog on every request (no
// cache of its own: the catalog's cache is the one the lab studies), so when
// the catalog is slow or down, recommendations are too, and the storefront
// falls back to best sellers (resilience/fallback.ts, recommend.ts).

import { z } from 'zod';
import { dependencyUrls, readServiceConfig } from '../kit/config.ts';
import { failStartup } from '../kit/lifecycle.ts';
import { formatIssues } from '../kit/schema.ts';
import { startService } from '../kit/service.ts';
import { parseOrProblem } from '../kit/validation.ts';
import { dependencyPolicySchema } from '../resilience/policy-config.ts';
import { CATALOG_DEPENDENCY, createCatalogClient } from '../catalog/catalog-client.ts';
import { recommend } from './recommend.ts';

const recommendationQuery = z.strictObject({
  userId: z.string().regex(/^[A-Za-z0-9._@-]{1,100}$/, 'must be 1-100 letters, digits or ._@-'),
  limit: z
    .string()
    .regex(/^\d{1,3}$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.int().min(1).max(20))
    .default(4),
});

/** The catalog holds fewer products than this; one page fetches them all. */
const CATALOG_PAGE_LIMIT = 100;

const config = readServiceConfig();
const parsed = dependencyPolicySchema.safeParse(config.policies.catalog ?? {});
if (!parsed.success) failStartup(config.instance, new Error(formatIssues(parsed.error, 'policies.catalog').join('; ')));

await startService(config, ({ app, metrics, logger, policies, onClose }) => {
  const catalog = createCatalogClient({
    urls: dependencyUrls(config, CATALOG_DEPENDENCY),
    policy: parsed.data,
    policies,
    metrics,
    logger,
    seed: Number(process.env.FAULTLINE_SEED ?? 1),
  });
  onClose(() => catalog.close());

  app.get('/recommendations', async (req, res) => {
    const { userId, limit } = parseOrProblem(recommendationQuery, req.query, 'query');
    const products = await catalog.products(CATALOG_PAGE_LIMIT);
    res.json({ ...recommend(userId, products, limit), fallback: false });
  });
});
