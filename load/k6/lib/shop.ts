// The k6 side of the lab's journeys: one k6 iteration runs what one lab
// iteration runs (load/journeys/mix.ts), from the same definitions
// (load/journeys/definitions.ts, imported as is): the journey picked by
// weight, the same product, think times between steps, each request tagged
// { journey, step }, a bearer token per VU, W3C baggage marking it synthetic,
// an Idempotency-Key on writes, and a failed step ends the iteration.
//
// Named clients (a scenario's `load.clients` or stream): iteration i of a k6
// scenario is client `<group>-<i mod count + 1>`, signing its own token, and
// its requests are tagged `client: <group>`. A request answered 429 makes the
// VU sleep out the Retry-After before its iteration ends, as a client that
// honours it would. k6 VUs share no memory, so another VU may still send for
// the same client meanwhile: the lab's clients (load/retry-after.ts) share what
// each was told, and only the lab counts requests sent too early.
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
  /** Named clients instead of one per VU. */
  clients?: { group: string; count: number };
}

export interface RunData {
  /** Prefix of idempotency keys, one per k6 run (made in setup, shared by every VU). */
  runId: string;
}

const baseUrl = (__ENV.BASE_URL ?? 'http://127.0.0.1:8080').replace(/\/$/, '');
const secret = __ENV.AUTH_SECRET;
/** This VU's tokens by subject, signed on first use. */
const tokens: Record<string, string> = {};
/** How long a client waits after a 429 without a usable Retry-After (load/retry-after.ts's default). */
const DEFAULT_RETRY_AFTER_SECONDS = 1;

function bearer(subject: string): Record<string, string> {
  if (secret === undefined || secret === '') return {};
  let token = tokens[subject];
  if (token === undefined) {
    token = signToken(
      {
        base64url: (text) => encoding.b64encode(text, 'rawurl'),
        hmacSha256: (key, input) => crypto.hmac('sha256', key, input, 'base64rawurl'),
      },
      secret,
      subject,
      Math.floor(Date.now() / 1_000),
    );
    tokens[subject] = token;
  }
  return { authorization: `Bearer ${token}` };
}

/** Retry-After in seconds: delta-seconds, else the default (k6 scripts see only what the gateway sends). */
function retryAfterSeconds(value: string | undefined): number {
  return value !== undefined && /^\d+$/.test(value.trim()) ? Number(value.trim()) : DEFAULT_RETRY_AFTER_SECONDS;
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
  const subject = mix.clients ? `${mix.clients.group}-${(iteration % mix.clients.count) + 1}` : `user-${vu}`;
  const clientTag: Record<string, string> = mix.clients ? { client: mix.clients.group } : {};
  for (const [index, step] of steps.entries()) {
    const pauseMs = plan.pausesMs[index] ?? 0;
    if (pauseMs > 0) sleep(pauseMs / 1_000);
    const body = step.body === 'order' ? JSON.stringify(plan.order) : step.body === 'cart-item' ? JSON.stringify(plan.item) : null;
    const response = http.request(step.method, `${baseUrl}${step.path.replace('{sku}', plan.item.sku)}`, body, {
      headers: {
        baggage: syntheticBaggage(plan.journey, step.name),
        ...(body === null ? {} : { 'content-type': 'application/json' }),
        ...(step.idempotent ? { [HEADER.idempotencyKey]: `${data.runId}-${exec.scenario.name}-${iteration}` } : {}),
        ...bearer(subject),
      },
      tags: { journey: plan.journey, step: step.name, ...clientTag },
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
    if (!ok) {
      if (mix.clients && response.status === 429) sleep(retryAfterSeconds(response.headers['Retry-After']));
      return;
    }
  }
}
