// What the shop charges: the unit price of every SKU, fixed per SKU so an
// order's amount is a pure function of what it holds. The catalog seeds its
// products from it, and the load generator (load/journeys) imports it to send
// amounts that agree with the catalog: shared data lives with the shop, and
// the load side depends on it, never the other way round. Dependency-free, so
// the k6 scripts can bundle it as well.

/** Unit price of SKU `sku-<skuNumber>` in cents. */
export function skuPriceCents(skuNumber: number): number {
  return 199 + ((skuNumber * 7_919) % 9_800);
}
