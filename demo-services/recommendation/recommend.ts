// What the recommendation service suggests, as pure functions: a stable
// per-user pick from the catalog (the same user sees the same suggestions on
// every replica and every run, so traces and load results compare), and the
// degraded answer a storefront shows instead when recommendations fail.

import { deriveSeed } from '../kit/random.ts';
import { popularProducts, type Product } from '../catalog/product.ts';

export interface Recommendations {
  userId: string;
  items: Product[];
}

/** `limit` products for `userId`, ranked by a hash of (user, sku): deterministic, and different per user. */
export function recommend(userId: string, products: readonly Product[], limit: number): Recommendations {
  const ranked = products
    .map((product) => ({ product, score: deriveSeed(0, `${userId}|${product.sku}`) }))
    .sort((a, b) => b.score - a.score || a.product.sku.localeCompare(b.product.sku));
  return { userId, items: ranked.slice(0, limit).map((entry) => entry.product) };
}

/**
 * The storefront's fallback when recommendations are unavailable: the shop's
 * best sellers, which need no call to anything. Pass it to withFallback.
 */
export function popularRecommendations(userId: string, limit: number): Recommendations {
  return { userId, items: popularProducts(limit) };
}
