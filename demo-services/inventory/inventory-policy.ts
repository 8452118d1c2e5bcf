// The inventory's knobs, as a scenario or the lab writes them under
// `policies`: where the books live, how much stock each SKU starts with, and
// how long a reservation is held before the sweeper gives it back.

import { z } from 'zod';
import { durationMs } from '../kit/schema.ts';
import { skuSchema } from '../catalog/product.ts';

const units = z.int().min(0).max(1_000_000_000);

export const inventoryPolicySchema = z.strictObject({
  database: z
    .strictObject({
      /** SQLite file; an in-memory database when absent. The lab passes `<runDir>/inventory.sqlite`. */
      path: z.string().min(1).optional(),
    })
    .prefault({}),
  stock: z
    .strictObject({
      /** Units each seeded SKU (sku-1 .. sku-20) starts with. */
      initial: units.default(100_000),
      /** Starting units of particular SKUs, e.g. `{ "sku-7": 10 }` for a scarce product. */
      overrides: z.record(skuSchema, units).default({}),
    })
    .prefault({}),
  reservations: z
    .strictObject({
      /** How long a reservation is held when the request names no ttl. */
      ttl: durationMs.default(300_000).pipe(z.number().min(1).max(86_400_000)),
      /** How often held reservations past their TTL are expired. */
      sweepInterval: durationMs.default(1_000).pipe(z.number().min(10).max(3_600_000)),
    })
    .prefault({}),
});

export type InventoryPolicy = z.infer<typeof inventoryPolicySchema>;
