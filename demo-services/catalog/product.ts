// The shop's products: their shape, the SKU spelling every service validates,
// and the fixed seed list the catalog and inventory start from. Prices come
// from the shop's price list (prices.ts), which the load generator imports
// too, so the amount a checkout journey sends always agrees with what the
// catalog says the items cost.

import { z } from 'zod';
import { skuPriceCents } from './prices.ts';

export interface Product {
  sku: string;
  name: string;
  category: string;
  priceCents: number;
  currency: string;
}

/** A SKU as the services accept it: `sku-<n>` and similar short slugs; anything else is a 400, not a lookup. */
export const skuSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[a-z0-9][a-z0-9-]*$/, 'must be lower-case letters, digits and dashes (e.g. sku-1)');

export const SEED_PRODUCT_COUNT = 20;
export const CURRENCY = 'EUR';

const NAMES = [
  'Trail running shoes',
  'Merino wool socks',
  'Rain shell jacket',
  'Insulated water bottle',
  'Headlamp 400 lm',
  'Ultralight tent',
  'Down sleeping bag',
  'Camping stove',
  'Titanium spork',
  'Trekking poles',
  'Daypack 20 l',
  'First aid kit',
  'Map and compass set',
  'Fleece pullover',
  'Sun hat',
  'Water filter',
  'Dry bag 10 l',
  'Gaiters',
  'Camp chair',
  'Bear canister',
] as const;
const CATEGORIES = ['footwear', 'clothing', 'shelter', 'kitchen', 'gear'] as const;

/** sku-1 .. sku-20, the products the catalog is seeded with and the load generator orders. */
export const SEED_PRODUCTS: readonly Product[] = Object.freeze(
  NAMES.map((name, index) =>
    Object.freeze({
      sku: `sku-${index + 1}`,
      name,
      category: CATEGORIES[index % CATEGORIES.length] as string,
      priceCents: skuPriceCents(index + 1),
      currency: CURRENCY,
    }),
  ),
);

/**
 * The products a storefront shows when recommendations are unavailable: a
 * fixed best-seller order, so the degraded page is stable and cheap to build.
 */
export function popularProducts(limit: number): Product[] {
  const order = [3, 1, 11, 7, 14, 5, 16, 2, 10, 20, 4, 12, 6, 17, 9, 13, 8, 15, 18, 19];
  return order.slice(0, Math.max(0, limit)).map((n) => SEED_PRODUCTS[n - 1] as Product);
}
