// The checkout journey: one iteration places one order through the gateway,
// as a shopper would. It is the journey the lab's SLOs are about (orders
// confirmed, fast), so its expectations are strict: only a 201 with
// `{ orderId, status: 'confirmed' }` counts as success.
//
// It is the journey mix (mix.ts) with checkout alone; what an order holds is
// defined in definitions.ts. What an iteration sends is seeded per iteration,
// so two runs with the same seed send the same orders; the idempotency key is
// unique per iteration AND per run, so a second run never replays the first
// one's orders from the checkout service's idempotency store.

import { createJourneyMix } from './mix.ts';
import type { JourneyMix, JourneyMixOptions } from './mix.ts';

export { checkoutOrder, JourneyOptionsError, skuPriceCents } from './definitions.ts';
export type { CheckoutOrder } from './definitions.ts';

export type CheckoutJourneyOptions = Omit<JourneyMixOptions, 'journeys' | 'thinkTime'>;

/** The iteration function, plus close() for the client it owns (a shared client is left open). */
export type CheckoutJourney = JourneyMix;

export const CHECKOUT_TAGS: Readonly<Record<string, string>> = Object.freeze({ journey: 'checkout', step: 'checkout' });

export function createCheckoutJourney(options: CheckoutJourneyOptions): CheckoutJourney {
  return createJourneyMix({ ...options, journeys: { checkout: 1 } });
}
