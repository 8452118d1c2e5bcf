import { afterEach, describe, expect, it } from 'vitest';
import { HEADER } from '../../demo-services/kit/conventions.ts';
import { systemClock } from '../clock.ts';
import { runConstantArrivalRate } from '../executors/constant-arrival-rate.ts';
import type { IterationContext } from '../executors/constant-arrival-rate.ts';
import { createLoadRecorder } from '../recorder.ts';
import { createClientBackoff } from '../retry-after.ts';
import { readBody, startTestServer } from '../test-server.ts';
import type { TestServer } from '../test-server.ts';
import { checkoutOrder, JOURNEY_NAMES, JOURNEYS, JourneyOptionsError, syntheticBaggage } from './definitions.ts';
import { createJourneyMix, journeyServices, parseJourneyMix } from './mix.ts';
import type { JourneyMix, JourneyWeights } from './mix.ts';

interface Received {
  method: string;
  path: string;
  baggage: string | undefined;
  authorization: string | undefined;
  idempotencyKey: string | undefined;
  body: string;
  atMs: number;
}

/** A fake gateway answering every journey route the way the real one does, or failing one path. */
async function fakeGateway(failPath?: RegExp): Promise<{ server: TestServer; received: Received[] }> {
  const received: Received[] = [];
  const server = await startTestServer((req, res) => {
    void readBody(req).then((body) => {
      const path = req.url ?? '';
      received.push({
        method: req.method ?? '',
        path,
        baggage: req.headers.baggage as string | undefined,
        authorization: req.headers.authorization,
        idempotencyKey: req.headers[HEADER.idempotencyKey] as string | undefined,
        body,
        atMs: systemClock.wallNow(),
      });
      if (failPath?.test(path)) {
        res.writeHead(503, { 'content-type': 'application/problem+json' }).end('{"status":503}');
      } else if (path === '/api/checkout') {
        res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ orderId: `o-${received.length}`, status: 'confirmed' }));
      } else {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"items":[]}');
      }
    });
  });
  return { server, received };
}

function ctx(vu: number, iteration: number): IterationContext {
  return { vu, iteration, intendedStartMs: systemClock.wallNow(), signal: new AbortController().signal };
}

let servers: TestServer[] = [];
let mixes: JourneyMix[] = [];

afterEach(async () => {
  await Promise.all(mixes.map((m) => m.close()));
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
  mixes = [];
});

describe('journey mix', () => {
  it.each(JOURNEY_NAMES)('walks the %s journey step by step, tagged, with token, baggage and think time', async (journey) => {
    const { server, received } = await fakeGateway();
    servers.push(server);
    const recorder = createLoadRecorder();
    const mix = createJourneyMix({
      gatewayUrl: server.url,
      recorder,
      journeys: { [journey]: 1 },
      thinkTime: { min: '30ms', max: '40ms' },
      runId: 'run-mix',
      tokenFor: (vu) => `token-${vu}`,
    });
    mixes.push(mix);
    await mix(ctx(3, 7));

    const steps = JOURNEYS[journey].steps;
    const sku = checkoutOrder(1, 3, 7).items[0]!.sku;
    expect(received.map((r) => `${r.method} ${r.path}`)).toEqual(steps.map((s) => `${s.method} ${s.path.replace('{sku}', sku)}`));
    received.forEach((request, i) => {
      const step = steps[i]!;
      expect(request.baggage).toBe(syntheticBaggage(journey, step.name));
      expect(request.baggage).toContain('synthetic=true');
      expect(request.authorization).toBe('Bearer token-3');
      expect(request.idempotencyKey).toBe(step.idempotent ? 'run-mix-7' : undefined);
      if (step.body === 'cart-item') expect(JSON.parse(request.body)).toMatchObject({ sku: expect.stringMatching(/^sku-\d+$/), quantity: expect.any(Number) });
      if (i > 0) expect(request.atMs - received[i - 1]!.atMs).toBeGreaterThanOrEqual(29);
      expect(recorder.summary({ tags: { journey, step: step.name } })).toMatchObject({ count: 1, failed: 0 });
    });
    expect(recorder.summary()).toMatchObject({ count: steps.length, failed: 0 });
  });

  it('views the same product in browse and cart, and sends the same for the same seed', async () => {
    const { server, received } = await fakeGateway();
    servers.push(server);
    const recorder = createLoadRecorder();
    const options = { gatewayUrl: server.url, recorder, thinkTime: { max: 0 }, seed: 9 };
    const browse = createJourneyMix({ ...options, journeys: { browse: 1 } });
    const cart = createJourneyMix({ ...options, journeys: { cart: 1 } });
    mixes.push(browse, cart);
    await browse(ctx(1, 4));
    await cart(ctx(1, 4));
    const viewed = received.filter((r) => r.path.startsWith('/api/products/')).map((r) => r.path);
    expect(viewed).toHaveLength(2);
    expect(viewed[0]).toBe(viewed[1]);
  });

  it('ends the iteration at the first failed step', async () => {
    const { server, received } = await fakeGateway(/^\/api\/products\?/);
    servers.push(server);
    const recorder = createLoadRecorder();
    const mix = createJourneyMix({ gatewayUrl: server.url, recorder, journeys: { browse: 1 }, thinkTime: { max: 0 } });
    mixes.push(mix);
    await expect(mix(ctx(1, 0))).resolves.toBeUndefined();
    expect(received).toHaveLength(1);
    expect(recorder.summary()).toMatchObject({ count: 1, failed: 1, errors: { status: 1 } });
  });

  it('picks journeys by weight, reproducibly', () => {
    const recorder = createLoadRecorder();
    const weights = { browse: 60, recommendations: 20, cart: 15, checkout: 5 };
    const mix = createJourneyMix({ gatewayUrl: 'http://127.0.0.1:1', recorder, journeys: weights, seed: 3 });
    mixes.push(mix);
    const n = 20_000;
    const counts = new Map<string, number>();
    for (let i = 0; i < n; i += 1) counts.set(mix.pick(i), (counts.get(mix.pick(i)) ?? 0) + 1);
    for (const [name, weight] of Object.entries(weights)) {
      // Binomial standard deviation at n=20000 is under 0.35 percentage points: 1.5 points is > 4 sigma.
      expect(Math.abs(((counts.get(name) ?? 0) / n) * 100 - weight)).toBeLessThan(1.5);
    }
    const again = createJourneyMix({ gatewayUrl: 'http://127.0.0.1:1', recorder, journeys: weights, seed: 3 });
    const other = createJourneyMix({ gatewayUrl: 'http://127.0.0.1:1', recorder, journeys: weights, seed: 4 });
    mixes.push(again, other);
    const picks = (m: JourneyMix) => Array.from({ length: 200 }, (_, i) => m.pick(i));
    expect(picks(again)).toEqual(picks(mix));
    expect(picks(other)).not.toEqual(picks(mix));
    // A zero weight is never picked.
    const noCheckout = createJourneyMix({ gatewayUrl: 'http://127.0.0.1:1', recorder, journeys: { browse: 1, checkout: 0 } });
    mixes.push(noCheckout);
    expect(new Set(picks(noCheckout))).toEqual(new Set(['browse']));
  });

  it('changes its weights live: later iterations pick by the new weights, the same for the same seed', () => {
    const recorder = createLoadRecorder();
    const mix = createJourneyMix({ gatewayUrl: 'http://127.0.0.1:1', recorder, journeys: { browse: 1 }, seed: 5 });
    mixes.push(mix);
    const counts = (m: JourneyMix, from: number, to: number): Record<string, number> => {
      const tally: Record<string, number> = {};
      for (let i = from; i < to; i += 1) tally[m.pick(i)] = (tally[m.pick(i)] ?? 0) + 1;
      return tally;
    };
    expect(counts(mix, 0, 1_000)).toEqual({ browse: 1_000 });
    mix.setWeights({ checkout: 3, cart: 1 });
    expect(mix.weights()).toEqual({ checkout: 3, cart: 1 });
    const after = counts(mix, 1_000, 5_000);
    expect(after).toEqual({ checkout: 2_994, cart: 1_006 });
    // The same as a mix made with those weights: the pick depends on seed, iteration and weights only.
    const twin = createJourneyMix({ gatewayUrl: 'http://127.0.0.1:1', recorder, journeys: { checkout: 3, cart: 1 }, seed: 5 });
    mixes.push(twin);
    expect(counts(twin, 1_000, 5_000)).toEqual(after);
    mix.setWeights({ browse: 1, recommendations: 1, cart: 0, checkout: 0 });
    expect(Object.keys(counts(mix, 5_000, 6_000)).sort()).toEqual(['browse', 'recommendations']);
  });

  it('refuses bad live weights, naming the key, and keeps the old ones', () => {
    const mix = createJourneyMix({ gatewayUrl: 'http://127.0.0.1:1', recorder: createLoadRecorder(), journeys: { cart: 2 } });
    mixes.push(mix);
    const problems = (weights: unknown): string => {
      try {
        mix.setWeights(weights as JourneyWeights);
      } catch (error) {
        expect(error).toBeInstanceOf(JourneyOptionsError);
        return (error as JourneyOptionsError).problems.join('\n');
      }
      return '';
    };
    expect(problems({ browse: 60, brwse: 5 })).toMatch(/^journeys: .*brwse/);
    expect(problems({ browse: -1 })).toMatch(/^journeys\.browse: /);
    expect(problems({ checkout: Number.POSITIVE_INFINITY })).toMatch(/^journeys\.checkout: /);
    expect(problems({ cart: '3' })).toMatch(/^journeys\.cart: /);
    expect(problems({ browse: 0, cart: 0 })).toBe('journeys: give at least one journey a weight > 0');
    expect(problems({})).toBe('journeys: give at least one journey a weight > 0');
    expect(problems(null)).toMatch(/^journeys: /);
    expect(mix.weights()).toEqual({ cart: 2 });
    expect(new Set(Array.from({ length: 50 }, (_, i) => mix.pick(i)))).toEqual(new Set(['cart']));
  });

  it('runs as the iteration of the open-model executor, each request tagged with its journey', async () => {
    const { server, received } = await fakeGateway();
    servers.push(server);
    const recorder = createLoadRecorder();
    const mix = createJourneyMix({ gatewayUrl: server.url, recorder, journeys: { browse: 1, recommendations: 1 }, thinkTime: { max: '10ms' } });
    mixes.push(mix);
    const result = await runConstantArrivalRate({ rate: 40, duration: '500ms', preAllocatedVUs: 10 }, mix);
    expect(result).toMatchObject({ started: 20, completed: 20, failed: 0, dropped: 0 });
    const browse = recorder.summary({ tags: { journey: 'browse' } }).count;
    const recommendations = recorder.summary({ tags: { journey: 'recommendations' } }).count;
    expect(browse % 2).toBe(0);
    expect(browse / 2 + recommendations).toBe(20);
    expect(received.every((r) => r.baggage?.startsWith('synthetic=true,faultline.journey='))).toBe(true);
  });

  it('names every bad path of a journey mix', () => {
    const problems = (input: unknown): readonly string[] => {
      try {
        parseJourneyMix(input, 'load');
      } catch (error) {
        expect(error).toBeInstanceOf(JourneyOptionsError);
        return (error as JourneyOptionsError).problems;
      }
      return [];
    };
    expect(problems({ journeys: { browse: 60, brwse: 5 } }).join('\n')).toMatch(/load\.journeys.*brwse/);
    expect(problems({ journeys: { browse: -1 } }).join('\n')).toMatch(/load\.journeys\.browse/);
    expect(problems({ journeys: { browse: 0 } }).join('\n')).toMatch(/load\.journeys: give at least one journey a weight > 0/);
    expect(problems({ journey: 'checkout', journeys: { browse: 1 } })).toEqual(['load.journeys: give either journey or journeys, not both']);
    expect(problems({}).join('\n')).toMatch(/load\.journeys: name the journeys/);
    expect(problems({ journey: 'shop' }).join('\n')).toMatch(/load\.journey/);
    expect(problems({ journey: 'cart', thinkTime: { min: '2s', max: '1s' } })).toEqual(['load.thinkTime.min: min must not be more than max']);
    expect(problems({ journey: 'cart', thinkTime: { max: 'soon' } }).join('\n')).toMatch(/load\.thinkTime\.max/);
    expect(problems({ journey: 'cart', thinkTime: { min: '1s', max: '2s' } })).toEqual([]);
    expect(() => createJourneyMix({ gatewayUrl: 'http://127.0.0.1:1', recorder: createLoadRecorder(), journeys: {} })).toThrow(/journeys: give at least one/);
  });

  it('knows which services a mix reaches', () => {
    expect(journeyServices({ journey: 'checkout' })).toEqual(['checkout']);
    expect(journeyServices({ journeys: { browse: 5, cart: 1, checkout: 0 } }).sort()).toEqual(['cart', 'catalog']);
  });
});

describe('named clients that honour Retry-After', () => {
  it('rotate iterations over their tokens, tag the group, and hold a client back after a 429 until its Retry-After', async () => {
    // The fake gateway limits client noisy-1 (token 't1') once: its first request is answered 429, Retry-After 1.
    const received: Array<{ authorization: string | undefined; atMs: number }> = [];
    let limited = false;
    const server = await startTestServer((req, res) => {
      received.push({ authorization: req.headers.authorization, atMs: systemClock.wallNow() });
      if (req.headers.authorization === 'Bearer t1' && !limited) {
        limited = true;
        res.writeHead(429, { 'content-type': 'application/problem+json', 'retry-after': '1' }).end('{"type":"https://faultline.dev/problems/rate-limited","status":429}');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"items":[]}');
    });
    servers.push(server);
    const recorder = createLoadRecorder();
    const backoff = createClientBackoff();
    const mix = createJourneyMix({ gatewayUrl: server.url, recorder, journeys: { recommendations: 1 }, clients: { group: 'noisy', tokens: ['t1', 't2'] }, backoff });
    mixes.push(mix);
    // Iterations 0 and 2 are noisy-1, 1 and 3 noisy-2, whichever VU runs them.
    await mix(ctx(5, 0));
    await mix(ctx(5, 1));
    await mix(ctx(6, 2));
    await mix(ctx(6, 3));
    expect(received.map((r) => r.authorization)).toEqual(['Bearer t1', 'Bearer t2', 'Bearer t2']);
    expect(backoff.counts({ group: 'noisy' })).toEqual({ deferred: 1, early: 0, limited: 1 });
    expect(recorder.summary({ tags: { client: 'noisy' } })).toMatchObject({ count: 3, failed: 1 });
    await new Promise((resolve) => setTimeout(resolve, 1_050));
    await mix(ctx(5, 4));
    expect(received.at(-1)?.authorization).toBe('Bearer t1');
  });

  it('need at least one token', () => {
    expect(() => createJourneyMix({ gatewayUrl: 'http://127.0.0.1:1', recorder: createLoadRecorder(), clients: { group: 'noisy', tokens: [] } })).toThrow(/clients\.tokens/);
  });
});
