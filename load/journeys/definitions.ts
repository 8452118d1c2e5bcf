// The shop's user journeys as data: which gateway routes a journey calls, in
// what order, with what body and what answer counts as success; and the plan
// of one iteration (which journey, which product, how long to think between
// steps), seeded per iteration so two runs with the same seed send the same
// traffic. Two runtimes read this one definition: the lab's journey mix
// (mix.ts) and the k6 scripts (load/k6/scripts/lib/shop.ts imports this file
// as is). So it stays pure: no Node APIs, and imports only modules that are
// pure too (conventions, seeded random).

import { LOAD_BAGGAGE } from '../../demo-services/kit/conventions.ts';
import { createRandom, deriveSeed } from '../../demo-services/kit/random.ts';
import { skuPriceCents } from '../../demo-services/catalog/prices.ts';

export const JOURNEY_NAMES = ['browse', 'recommendations', 'cart', 'checkout'] as const;
export type JourneyName = (typeof JOURNEY_NAMES)[number];

export interface JourneyStep {
  /** Tag `step` of its requests. */
  name: string;
  method: 'GET' | 'POST';
  /** Path on the gateway; `{sku}` is replaced by the iteration's product. */
  path: string;
  /** `cart-item`: `{ sku, quantity }`; `order`: checkoutOrder(). */
  body?: 'cart-item' | 'order';
  /** Send an Idempotency-Key unique per iteration and run, so a retried write is safe. */
  idempotent?: boolean;
  /** The status that counts as success. */
  expectStatus: number;
  /** `confirmed-order`: the body must be `{ orderId, status: 'confirmed' }`. */
  check?: 'confirmed-order';
}

export interface JourneyDefinition {
  description: string;
  /** The services behind the gateway this journey reaches directly (the lab starts them and what they call). */
  services: readonly string[];
  steps: readonly JourneyStep[];
}

const viewProduct: JourneyStep = { name: 'view-product', method: 'GET', path: '/api/products/{sku}', expectStatus: 200 };

export const JOURNEYS: Readonly<Record<JourneyName, JourneyDefinition>> = {
  browse: {
    description: 'list the products, then look at one',
    services: ['catalog'],
    steps: [{ name: 'list-products', method: 'GET', path: '/api/products?limit=10', expectStatus: 200 }, viewProduct],
  },
  recommendations: {
    description: 'ask for recommendations (the gateway falls back to popular items)',
    services: ['recommendation'],
    steps: [{ name: 'recommendations', method: 'GET', path: '/api/recommendations?limit=4', expectStatus: 200 }],
  },
  cart: {
    description: 'look at a product, add it to the cart, look at the cart',
    services: ['catalog', 'cart'],
    steps: [
      viewProduct,
      { name: 'add-to-cart', method: 'POST', path: '/api/cart/items', body: 'cart-item', idempotent: true, expectStatus: 200 },
      { name: 'view-cart', method: 'GET', path: '/api/cart', expectStatus: 200 },
    ],
  },
  checkout: {
    description: 'place one order',
    services: ['checkout'],
    steps: [{ name: 'checkout', method: 'POST', path: '/api/checkout', body: 'order', idempotent: true, expectStatus: 201, check: 'confirmed-order' }],
  },
};

/** Bad journey options or mix; `problems` each start with the path of what is wrong. */
export class JourneyOptionsError extends Error {
  readonly code = 'FL_BAD_JOURNEY_OPTIONS';
  readonly problems: readonly string[];

  constructor(problems: string | readonly string[]) {
    const list = typeof problems === 'string' ? [problems] : problems;
    super(`invalid journey options: ${list.join('; ')}`);
    this.name = 'JourneyOptionsError';
    this.problems = list;
  }
}

export interface CheckoutOrder {
  userId: string;
  items: Array<{ sku: string; quantity: number }>;
  amount: number;
}

/** Unit price of a SKU in cents: the shop's own price list (demo-services/catalog/prices.ts). */
export { skuPriceCents };

/**
 * The order iteration `iteration` of `vu` sends under `seed`. Every journey
 * takes its product (and quantity) from here, so an iteration's product does
 * not depend on which journey it runs.
 */
export function checkoutOrder(seed: number, vu: number, iteration: number, skuCount = 20): CheckoutOrder {
  const random = createRandom(deriveSeed(seed, iteration));
  const skuNumber = random.int(1, skuCount);
  const quantity = random.int(1, 3);
  return {
    userId: `user-${vu}`,
    items: [{ sku: `sku-${skuNumber}`, quantity }],
    amount: skuPriceCents(skuNumber) * quantity,
  };
}

/** The check of the checkout step; takes anything with json() (an undici or a k6 response). */
export function confirmedOrder(response: { json(): unknown }): true | string {
  const body = response.json() as { orderId?: unknown; status?: unknown } | undefined;
  if (body === undefined || body === null || typeof body !== 'object') return 'response is not a JSON object';
  if (typeof body.orderId !== 'string' || body.orderId === '') return 'response has no orderId';
  if (body.status !== 'confirmed') return `order status is ${JSON.stringify(body.status)}, not "confirmed"`;
  return true;
}

/** The `baggage` header value of a journey's step: W3C baggage marking the request synthetic. */
export function syntheticBaggage(journey: string, step: string): string {
  return `${LOAD_BAGGAGE.synthetic}=true,${LOAD_BAGGAGE.journey}=${encodeURIComponent(journey)},${LOAD_BAGGAGE.step}=${encodeURIComponent(step)}`;
}

export type JourneyWeights = Partial<Record<JourneyName, number>>;

/** Think time between two steps, in ms, uniform in [min, max]. */
export interface ThinkTimeMs {
  min: number;
  max: number;
}

export interface IterationPlan {
  journey: JourneyName;
  /** The order a checkout step sends; its first item is the product every other journey looks at. */
  order: CheckoutOrder;
  item: { sku: string; quantity: number };
  /** Milliseconds to pause before each step (0 before the first). */
  pausesMs: number[];
}

/**
 * Cumulative weights of a mix, for picking with one uniform draw; journeys
 * with no or zero weight are left out. Empty when no weight is > 0.
 */
export function cumulativeWeights(weights: JourneyWeights): Array<{ journey: JourneyName; upTo: number }> {
  const chosen = JOURNEY_NAMES.filter((name) => (weights[name] ?? 0) > 0);
  const total = chosen.reduce((sum, name) => sum + (weights[name] ?? 0), 0);
  let running = 0;
  return chosen.map((journey) => ({ journey, upTo: (running += (weights[journey] ?? 0) / total) }));
}

/** What iteration `iteration` of `vu` does under `seed`: independent of every other iteration. */
export function planIteration(
  mix: { seed: number; cumulative: ReadonlyArray<{ journey: JourneyName; upTo: number }>; thinkTime: ThinkTimeMs; skuCount: number },
  vu: number,
  iteration: number,
): IterationPlan {
  const draw = createRandom(deriveSeed(deriveSeed(mix.seed, 'journey-pick'), iteration)).next();
  // (ES2020 only here: k6's JavaScript runtime runs this too.)
  const journey = (mix.cumulative.find((entry) => draw < entry.upTo) ?? mix.cumulative[mix.cumulative.length - 1])?.journey ?? 'checkout';
  const order = checkoutOrder(mix.seed, vu, iteration, mix.skuCount);
  const think = createRandom(deriveSeed(deriveSeed(mix.seed, 'think-time'), iteration));
  const { min, max } = mix.thinkTime;
  const pausesMs = JOURNEYS[journey].steps.map((_, index) => (index === 0 ? 0 : min + think.next() * (max - min)));
  return { journey, order, item: order.items[0] as { sku: string; quantity: number }, pausesMs };
}
