// The cart's own knobs under `policies.carts`: how much it keeps in memory.
// The catalog call it makes is tuned under `policies.catalog` (the shared
// dependencyPolicySchema of resilience/policy-config.ts).

import { z } from 'zod';

export const cartsPolicySchema = z.strictObject({
  maxCarts: z.int().min(1).max(10_000_000).default(100_000),
  maxLines: z.int().min(1).max(1_000).default(50),
  maxQuantity: z.int().min(1).max(10_000).default(100),
});

export type CartsPolicy = z.infer<typeof cartsPolicySchema>;
