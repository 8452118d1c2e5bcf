// The checkout journey: one iteration places one order through the gateway,
// as a shopper would. It is the journey the lab's SLOs are about (orders
// confirmed, fast), so its expectations are strict: only a 201 with
// `{ orderId, status: 'confirmed' }` counts as success.
//
// What an iteration sends is seeded per iteration (random.ts), so two runs
// with the same seed send the same orders; the idempotency key is unique per
// iteration AND per run, so a second run never replays the first one's
// orders from the checkout service's idempotency store.

import { randomUUID } from 'node:crypto';
import { HEADER } from '../../demo-services/kit/conventions.ts';
import type { IterationContext, IterationFunction } from '../executors/constant-arrival-rate.ts';
import { createHttpClient } from '../http-client.ts';
import type { HttpClient, HttpResponse } from '../http-client.ts';
import { createRandom, deriveSeed } from '../../demo-services/kit/random.ts';
import type { LoadRecorder } from '../recorder.ts';

export interface CheckoutJourneyOptions {
  /** Base URL of the gateway, e.g. http://127.0.0.1:8080. */
  gatewayUrl: string;
  recorder: LoadRecorder;
  /** Per-request timeout; default 10_000 ms. */
  timeoutMs?: number;
  /** Seed for the orders; default 1. */
  seed?: number;
  /** Share a client (and its connections) with other journeys; otherwise the journey owns one. */
  client?: HttpClient;
  /** Prefix of idempotency keys; default a random UUID per journey instance. */
  runId?: string;
  /** SKUs are drawn from sku-1 .. sku-<skuCount>; default 20. */
  skuCount?: number;
  /** The bearer token of a VU (issued before the run, so signing stays off the hot path). */
  tokenFor?: (vu: number) => string;
}

export interface CheckoutOrder {
  userId: string;
  items: Array<{ sku: string; quantity: number }>;
  amount: number;
}

/** The iteration function, plus close() for the client it owns (a shared client is left open). */
export type CheckoutJourney = IterationFunction & { close(): Promise<void> };

export const CHECKOUT_TAGS: Readonly<Record<string, string>> = Object.freeze({ journey: 'checkout', step: 'checkout' });

export class JourneyOptionsError extends Error {
  readonly code = 'FL_BAD_JOURNEY_OPTIONS';

  constructor(problem: string) {
    super(`invalid journey options: ${problem}`);
    this.name = 'JourneyOptionsError';
  }
}

/** Unit price of a SKU in cents: fixed per SKU so an order's amount is a pure function of what it holds. */
export function skuPriceCents(skuNumber: number): number {
  return 199 + ((skuNumber * 7_919) % 9_800);
}

/** The order iteration `iteration` of `vu` sends under `seed`. */
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

function confirmedOrder(response: HttpResponse): true | string {
  const body = response.json() as { orderId?: unknown; status?: unknown } | undefined;
  if (body === undefined || body === null || typeof body !== 'object') return 'response is not a JSON object';
  if (typeof body.orderId !== 'string' || body.orderId === '') return 'response has no orderId';
  if (body.status !== 'confirmed') return `order status is ${JSON.stringify(body.status)}, not "confirmed"`;
  return true;
}

export function createCheckoutJourney(options: CheckoutJourneyOptions): CheckoutJourney {
  let base: URL;
  try {
    base = new URL(options.gatewayUrl);
  } catch {
    throw new JourneyOptionsError(`gatewayUrl: ${JSON.stringify(options.gatewayUrl)} is not a URL`);
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') {
    throw new JourneyOptionsError(`gatewayUrl: must be http(s), got ${base.protocol}`);
  }
  const skuCount = options.skuCount ?? 20;
  if (!Number.isInteger(skuCount) || skuCount < 1) throw new JourneyOptionsError(`skuCount: must be an integer >= 1 (got ${skuCount})`);
  const url = new URL('api/checkout', base.href.endsWith('/') ? base.href : `${base.href}/`).href;
  const seed = options.seed ?? 1;
  const runId = options.runId ?? randomUUID();
  const owned = options.client === undefined;
  const client = options.client ?? createHttpClient(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs });

  const iteration = async (ctx: IterationContext): Promise<void> => {
    await client.request({
      method: 'POST',
      url,
      headers: {
        [HEADER.idempotencyKey]: `${runId}-${ctx.iteration}`,
        ...(options.tokenFor ? { authorization: `Bearer ${options.tokenFor(ctx.vu)}` } : {}),
      },
      json: checkoutOrder(seed, ctx.vu, ctx.iteration, skuCount),
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
      intendedStartMs: ctx.intendedStartMs,
      tags: CHECKOUT_TAGS,
      expectStatus: 201,
      check: confirmedOrder,
      signal: ctx.signal,
      recorder: options.recorder,
    });
  };

  return Object.assign(iteration, {
    async close(): Promise<void> {
      if (owned) await client.close();
    },
  });
}
