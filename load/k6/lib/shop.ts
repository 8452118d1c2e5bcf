// The k6 side of the lab's journeys: one k6 iteration runs what one lab
// iteration runs (load/journeys/mix.ts), from the same definitions
// (load/journeys/definitions.ts, imported as is): the journey picked by
// weight, the same product, think times between steps, each request tagged
// { journey, step }, a bearer token per VU, W3C baggage marking it synthetic,
// an Idempotency-Key on writes, and a failed step ends the iteration.
//
// Environment: BASE_URL (the gateway, default http://127.0.0.1:8080, what
// `faultline up` binds) and AUTH_SECRET (the lab's token secret, printed by
// `faultline up`; without it no Authorization header is sent).

import { check, sleep } from 'k6';
import crypto from 'k6/crypto';
import encoding from 'k6/encoding';
import exec from 'k6/execution';
import http from 'k6/http';
import { HEADER } from '../../../demo-services/kit/conventions.ts';
import { confirmedOrder, cumulativeWeights, JOURNEYS, planIteration, syntheticBaggage } from '../../journeys/definitions.ts';
import type { JourneyWeights, ThinkTimeMs } from '../../journeys/definitions.ts';
import { signToken } from './token.ts';

export interface ShopMix {
  weights: JourneyWeights;
  thinkTime: ThinkTimeMs;
  seed: number;
  skuCount: number;
  /** Per-request timeout in ms. */
  requestTimeoutMs: number;
}

export interface RunData {
  /** Prefix of idempotency keys, one per k6 run (made in setup, shared by every VU). */
  runId: string;
}

const baseUrl = (__ENV.BASE_URL ?? 'http://127.0.0.1:8080').replace(/\/$/, '');
const secret = __ENV.AUTH_SECRET;
let token: string | undefined;

function bearer(): Record<string, string> {
  if (secret === undefined || secret === '') return {};
  if (token === undefined) {
    token = signToken(
      {
        base64url: (text) => encoding.b64encode(text, 'rawurl'),
        hmacSha256: (key, input) => crypto.hmac('sha256', key, input, 'base64rawurl'),
      },
      secret,
      `user-${exec.vu.idInTest}`,
      Math.floor(Date.now() / 1_000),
    );
  }
  return { authorization: `Bearer ${token}` };
}

/** For `export function setup()`. */
export function setupRun(): RunData {
  return { runId: `k6-${Date.now()}` };
}

/** For `export default function (data)`. */
export function runIteration(mix: ShopMix, data: RunData): void {
  const iteration = exec.scenario.iterationInTest;
  const vu = exec.vu.idInTest;
  const plan = planIteration({ seed: mix.seed, cumulative: cumulativeWeights(mix.weights), thinkTime: mix.thinkTime, skuCount: mix.skuCount }, vu, iteration);
  const steps = JOURNEYS[plan.journey].steps;
  for (const [index, step] of steps.entries()) {
    const pauseMs = plan.pausesMs[index] ?? 0;
    if (pauseMs > 0) sleep(pauseMs / 1_000);
    const body = step.body === 'order' ? JSON.stringify(plan.order) : step.body === 'cart-item' ? JSON.stringify(plan.item) : null;
    const response = http.request(step.method, `${baseUrl}${step.path.replace('{sku}', plan.item.sku)}`, body, {
      headers: {
        baggage: syntheticBaggage(plan.journey, step.name),
        ...(body === null ? {} : { 'content-type': 'application/json' }),
        ...(step.idempotent ? { [HEADER.idempotencyKey]: `${data.runId}-${exec.scenario.name}-${iteration}` } : {}),
        ...bearer(),
      },
      tags: { journey: plan.journey, step: step.name },
      timeout: `${mix.requestTimeoutMs}ms`,
      responseCallback: http.expectedStatuses(step.expectStatus),
    });
    const ok = check(response, {
      [`${step.name}: status ${step.expectStatus}`]: (r) => r.status === step.expectStatus,
      ...(step.check === 'confirmed-order'
        ? {
            [`${step.name}: order confirmed`]: (r) =>
              confirmedOrder({
                json: () => {
                  try {
                    return r.json();
                  } catch {
                    return undefined;
                  }
                },
              }) === true,
          }
        : {}),
    });
    if (!ok) return;
  }
}
