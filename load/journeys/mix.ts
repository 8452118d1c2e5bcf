// A weighted mix of user journeys as one iteration function for any executor.
// Each iteration picks a journey by weight (seeded by iteration, so a run is
// reproducible and the pick does not depend on what ran before), then walks
// its steps through the gateway with a think time between them. Every request
// is tagged { journey, step }, carries the VU's bearer token and W3C baggage
// marking it synthetic. The first step is measured from the iteration's
// intended start (the honest latency); a later step from when the think time
// ended, since that is when the user meant to send it. A failed step ends the
// iteration: a shopper whose product page fails does not add it to the cart.
//
// Scenarios spell the mix `journeys: { browse: 60, cart: 15, ... }` (or the
// older `journey: checkout`, a mix of one) and `thinkTime: { min, max }`.
// The weights can be changed while the mix runs (setWeights, for a live
// console): iterations that start afterwards pick by the new weights, still
// seeded by iteration, so the same seed and the same changes at the same
// iterations send the same journeys.
//
// By default every VU is a client with its own token. A mix may instead name
// its clients (a group such as `noisy`, and one token per client): iteration
// i is then client i mod count, whichever VU runs it, its requests are tagged
// `client: <group>`, and with a backoff (retry-after.ts) a client answered
// 429 sends nothing until its Retry-After has passed: a step it would send
// meanwhile is held back (counted as deferred) and ends the iteration.

import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { HEADER, LOAD_LABEL } from '../../demo-services/kit/conventions.ts';
import type { DurationInput } from '../../demo-services/kit/durations.ts';
import { durationMs, formatIssues } from '../../demo-services/kit/schema.ts';
import { systemClock } from '../clock.ts';
import type { Clock } from '../clock.ts';
import type { IterationContext, IterationFunction } from '../executors/constant-arrival-rate.ts';
import { createHttpClient } from '../http-client.ts';
import type { HttpClient, HttpRequest } from '../http-client.ts';
import type { LoadRecorder } from '../recorder.ts';
import type { ClientBackoff, ClientId } from '../retry-after.ts';
import { confirmedOrder, cumulativeWeights, JOURNEY_NAMES, JOURNEYS, JourneyOptionsError, planIteration, syntheticBaggage } from './definitions.ts';
import type { JourneyName, JourneyStep, JourneyWeights } from './definitions.ts';

const weight = z.number().min(0);

/** `journeys:` weights by journey name; unknown names are rejected, at least one weight must be > 0. */
export const journeyWeightsSchema = z
  .strictObject(Object.fromEntries(JOURNEY_NAMES.map((name) => [name, weight.optional()])) as Record<JourneyName, z.ZodOptional<typeof weight>>)
  .refine((weights) => Object.values(weights).some((w) => w !== undefined && w > 0), 'give at least one journey a weight > 0');

/** `thinkTime:` the pause between two steps of a journey, uniform in [min, max]. */
export const thinkTimeSchema = z
  .strictObject({ min: durationMs.default(0), max: durationMs })
  .refine((t) => t.min <= t.max, { message: 'min must not be more than max', path: ['min'] });

export type { JourneyWeights };

/** The journey keys of a load section (scenario or k6 generator), beside the executor's own keys. */
export const journeyLoadFields = {
  /** One journey (the same as `journeys: { <name>: 1 }`). */
  journey: z.enum(JOURNEY_NAMES).optional(),
  /** A weighted mix. */
  journeys: journeyWeightsSchema.optional(),
  thinkTime: thinkTimeSchema.optional(),
};

/** Keys journeyLoadFields adds to a load section (the executor must not see them). */
export const JOURNEY_LOAD_KEYS = ['journey', 'journeys', 'thinkTime'] as const;

export const DEFAULT_THINK_TIME_MS = Object.freeze({ min: 100, max: 500 });

interface JourneyChoice {
  journey?: JourneyName | undefined;
  journeys?: JourneyWeights | undefined;
}

/** What is wrong with how a load section names its journeys: exactly one of journey / journeys. */
export function journeyChoiceProblem(load: JourneyChoice): { path: 'journey' | 'journeys'; message: string } | undefined {
  if (load.journey !== undefined && load.journeys !== undefined) return { path: 'journeys', message: 'give either journey or journeys, not both' };
  if (load.journey === undefined && load.journeys === undefined) return { path: 'journeys', message: `name the journeys to run, e.g. { ${JOURNEY_NAMES.map((n) => `${n}: 1`).join(', ')} }` };
  return undefined;
}

/** superRefine for a load schema holding journeyLoadFields. */
export function refineJourneyChoice(load: JourneyChoice, ctx: z.RefinementCtx): void {
  const problem = journeyChoiceProblem(load);
  if (problem) ctx.addIssue({ code: 'custom', path: [problem.path], message: problem.message });
}

/** The weights a load section asks for, as a mix (journey: x is a mix of one). */
export function journeyWeights(load: JourneyChoice): JourneyWeights {
  return load.journeys ?? (load.journey === undefined ? {} : { [load.journey]: 1 });
}

/** The services behind the gateway a mix reaches (a lab starts these and what they call). */
export function journeyServices(load: JourneyChoice): string[] {
  const weights = journeyWeights(load);
  const services = new Set<string>();
  for (const name of JOURNEY_NAMES) if ((weights[name] ?? 0) > 0) for (const service of JOURNEYS[name].services) services.add(service);
  return [...services];
}

/** Validate journey keys given as plain data (not through a scenario); throws JourneyOptionsError naming each bad path under `root`. */
export function parseJourneyMix(input: unknown, root = ''): { weights: JourneyWeights; thinkTime: { min: number; max: number } } {
  const parsed = z.object(journeyLoadFields).superRefine(refineJourneyChoice).safeParse(input);
  if (!parsed.success) throw new JourneyOptionsError(formatIssues(parsed.error, root));
  return { weights: journeyWeights(parsed.data), thinkTime: parsed.data.thinkTime ?? { ...DEFAULT_THINK_TIME_MS } };
}

export interface JourneyMixOptions {
  /** Base URL of the gateway, e.g. http://127.0.0.1:8080. */
  gatewayUrl: string;
  recorder: LoadRecorder;
  /** Weights by journey; default { checkout: 1 }. */
  journeys?: JourneyWeights;
  /** Pause between steps, uniform in [min, max]; default 100ms .. 500ms. */
  thinkTime?: { min?: DurationInput; max: DurationInput };
  /** Per-request timeout; default 10_000 ms. */
  timeoutMs?: number;
  /** Seed for journey picks, products and think times; default 1. */
  seed?: number;
  /** Share a client (and its connections) with other journeys; otherwise the mix owns one. */
  client?: HttpClient;
  /** Prefix of idempotency keys; default a random UUID per mix. */
  runId?: string;
  /** Products are drawn from sku-1 .. sku-<skuCount>; default 20. */
  skuCount?: number;
  /** The bearer token of a VU (issued before the run, so signing stays off the hot path). */
  tokenFor?: (vu: number) => string;
  /** Named clients instead of one per VU: iteration i is client `<group>-<i mod tokens.length + 1>` with that token. */
  clients?: { group: string; tokens: readonly string[] };
  /** Clients honour Retry-After: a client answered 429 sends nothing more until it has passed. */
  backoff?: ClientBackoff;
  clock?: Clock;
}

/** The iteration function, plus which journey an iteration runs, its weights (changeable live) and close() for the client it owns (a shared client is left open). */
export type JourneyMix = IterationFunction & {
  pick(iteration: number): JourneyName;
  /** The weights iterations pick by now (a copy). */
  weights(): JourneyWeights;
  /** Pick by `weights` from the next iteration on; throws JourneyOptionsError naming each bad key (`journeys.<name>: ...`) and keeps the old weights. */
  setWeights(weights: JourneyWeights): void;
  close(): Promise<void>;
};

/** Weights checked with journeyWeightsSchema, or JourneyOptionsError with every bad path under `root`. */
export function parseJourneyWeights(input: unknown, root = 'journeys'): JourneyWeights {
  const parsed = journeyWeightsSchema.safeParse(input);
  if (!parsed.success) throw new JourneyOptionsError(formatIssues(parsed.error, root));
  return parsed.data;
}

interface PreparedStep {
  step: JourneyStep;
  url: string;
  tags: Readonly<Record<string, string>>;
  baggage: string;
}

export function createJourneyMix(options: JourneyMixOptions): JourneyMix {
  let base: URL;
  try {
    base = new URL(options.gatewayUrl);
  } catch {
    throw new JourneyOptionsError(`gatewayUrl: ${JSON.stringify(options.gatewayUrl)} is not a URL`);
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') {
    throw new JourneyOptionsError(`gatewayUrl: must be http(s), got ${base.protocol}`);
  }
  if (options.clients !== undefined && options.clients.tokens.length === 0) throw new JourneyOptionsError(`clients.tokens: give at least one token for group '${options.clients.group}'`);
  const skuCount = options.skuCount ?? 20;
  if (!Number.isInteger(skuCount) || skuCount < 1) throw new JourneyOptionsError(`skuCount: must be an integer >= 1 (got ${skuCount})`);
  const { weights, thinkTime } = parseJourneyMix({
    journeys: options.journeys ?? { checkout: 1 },
    ...(options.thinkTime === undefined ? {} : { thinkTime: options.thinkTime }),
  });

  const origin = base.href.endsWith('/') ? base.href.slice(0, -1) : base.href;
  const prepared = new Map<JourneyName, PreparedStep[]>(
    JOURNEY_NAMES.map((journey) => [
      journey,
      JOURNEYS[journey].steps.map((step) => ({
        step,
        url: `${origin}${step.path}`,
        tags: Object.freeze({ journey, step: step.name, ...(options.clients ? { [LOAD_LABEL.client]: options.clients.group } : {}) }),
        baggage: syntheticBaggage(journey, step.name),
      })),
    ]),
  );
  let current = Object.freeze({ ...weights });
  // Mutable: setWeights swaps `cumulative`, read by every iteration as it starts.
  const plan = { seed: options.seed ?? 1, cumulative: cumulativeWeights(current), thinkTime, skuCount };
  const runId = options.runId ?? randomUUID();
  const clock = options.clock ?? systemClock;
  const owned = options.client === undefined;
  const client = options.client ?? createHttpClient(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs });

  const named = options.clients;
  const backoff = options.backoff;
  /** Who sends an iteration, and with which token: a named client, or the VU. */
  const clientOf = (ctx: IterationContext): { who: ClientId; token: string | undefined } => {
    if (named === undefined) return { who: { group: '', id: `vu-${ctx.vu}` }, token: options.tokenFor?.(ctx.vu) };
    const index = ctx.iteration % named.tokens.length;
    return { who: { group: named.group, id: `${named.group}-${index + 1}` }, token: named.tokens[index] };
  };

  const iteration = async (ctx: IterationContext): Promise<void> => {
    const { journey, order, item, pausesMs } = planIteration(plan, ctx.vu, ctx.iteration);
    const { who, token } = clientOf(ctx);
    const steps = prepared.get(journey) ?? [];
    for (const [index, { step, url, tags, baggage }] of steps.entries()) {
      if (index > 0) {
        const pauseMs = pausesMs[index] ?? 0;
        if (pauseMs > 0) {
          try {
            await sleep(pauseMs, undefined, { signal: ctx.signal });
          } catch {
            return;
          }
        }
      }
      const request: HttpRequest = {
        method: step.method,
        url: url.replace('{sku}', item.sku),
        headers: {
          baggage,
          ...(step.idempotent ? { [HEADER.idempotencyKey]: `${runId}-${ctx.iteration}` } : {}),
          ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
        },
        ...(step.body === 'order' ? { json: order } : step.body === 'cart-item' ? { json: item } : {}),
        ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
        intendedStartMs: index === 0 ? ctx.intendedStartMs : clock.wallNow(),
        tags,
        expectStatus: step.expectStatus,
        ...(step.check === 'confirmed-order' ? { check: confirmedOrder } : {}),
        signal: ctx.signal,
        recorder: options.recorder,
      };
      if (backoff) {
        const now = clock.wallNow();
        // Waiting out a Retry-After: this request is not sent, and the journey ends here.
        if (!backoff.admit(who, now)) return;
        backoff.sending(who, now);
      }
      const result = await client.request(request);
      backoff?.answered(who, result.status, result.response?.headers['retry-after'], clock.wallNow());
      if (!result.ok) return;
    }
  };

  return Object.assign(iteration, {
    pick: (iteration: number) => planIteration(plan, 1, iteration).journey,
    weights: (): JourneyWeights => ({ ...current }),
    setWeights(next: JourneyWeights): void {
      current = Object.freeze({ ...parseJourneyWeights(next) });
      plan.cumulative = cumulativeWeights(current);
    },
    async close(): Promise<void> {
      if (owned) await client.close();
    },
  });
}
