import { afterEach, describe, expect, it } from 'vitest';
import { HEADER } from '../../demo-services/kit/conventions.ts';
import { systemClock } from '../clock.ts';
import { runConstantArrivalRate } from '../executors/constant-arrival-rate.ts';
import type { IterationContext } from '../executors/constant-arrival-rate.ts';
import { createLoadRecorder } from '../recorder.ts';
import { closedPort, readBody, startTestServer } from '../test-server.ts';
import type { TestServer } from '../test-server.ts';
import { checkoutOrder, createCheckoutJourney, JourneyOptionsError, skuPriceCents } from './checkout.ts';
import type { CheckoutJourney, CheckoutOrder } from './checkout.ts';

interface Received {
  method: string;
  url: string;
  idempotencyKey: string | undefined;
  contentType: string | undefined;
  order: CheckoutOrder;
}

/** A fake gateway: answers like the real one for 'confirm', or fails the way it is told to. */
async function fakeGateway(mode: () => 'confirm' | 'unavailable' | 'pending'): Promise<{ server: TestServer; received: Received[] }> {
  const received: Received[] = [];
  const server = await startTestServer((req, res) => {
    void readBody(req).then((body) => {
      received.push({
        method: req.method ?? '',
        url: req.url ?? '',
        idempotencyKey: req.headers[HEADER.idempotencyKey] as string | undefined,
        contentType: req.headers['content-type'],
        order: JSON.parse(body) as CheckoutOrder,
      });
      const current = mode();
      if (current === 'unavailable') {
        res.writeHead(503, { 'content-type': 'application/problem+json' }).end(JSON.stringify({ title: 'Service Unavailable', status: 503 }));
      } else {
        const status = current === 'confirm' ? 'confirmed' : 'pending';
        res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ orderId: `o-${received.length}`, status }));
      }
    });
  });
  return { server, received };
}

function ctx(vu: number, iteration: number): IterationContext {
  return { vu, iteration, intendedStartMs: systemClock.wallNow(), signal: new AbortController().signal };
}

let servers: TestServer[] = [];
let journeys: CheckoutJourney[] = [];

afterEach(async () => {
  await Promise.all(journeys.map((j) => j.close()));
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
  journeys = [];
});

describe('checkout journey', () => {
  it('places orders through the gateway and records confirmed ones as successes', async () => {
    const { server, received } = await fakeGateway(() => 'confirm');
    servers.push(server);
    const recorder = createLoadRecorder();
    const journey = createCheckoutJourney({ gatewayUrl: server.url, recorder, seed: 42, runId: 'run-test' });
    journeys.push(journey);
    await Promise.all([journey(ctx(1, 0)), journey(ctx(2, 1)), journey(ctx(1, 2))]);

    expect(received).toHaveLength(3);
    for (const request of received) {
      expect(request).toMatchObject({ method: 'POST', url: '/api/checkout', contentType: 'application/json' });
      expect(request.order.items).toHaveLength(1);
      const [item] = request.order.items;
      expect(item!.sku).toMatch(/^sku-\d+$/);
      expect(item!.quantity).toBeGreaterThanOrEqual(1);
      expect(item!.quantity).toBeLessThanOrEqual(3);
      expect(Number.isInteger(request.order.amount)).toBe(true);
      expect(request.order.amount).toBe(skuPriceCents(Number(item!.sku.slice(4))) * item!.quantity);
    }
    expect(received.map((r) => r.idempotencyKey).sort()).toEqual(['run-test-0', 'run-test-1', 'run-test-2']);
    const byKey = new Map(received.map((r) => [r.idempotencyKey, r.order]));
    expect(byKey.get('run-test-1')).toEqual(checkoutOrder(42, 2, 1));
    expect(byKey.get('run-test-1')!.userId).toBe('user-2');

    const summary = recorder.summary({ tags: { journey: 'checkout', step: 'checkout' } });
    expect(summary).toMatchObject({ count: 3, failed: 0 });
  });

  it('records a 503 as a status error and a non-confirmed order as a failure, without throwing', async () => {
    let mode: 'unavailable' | 'pending' = 'unavailable';
    const { server } = await fakeGateway(() => mode);
    servers.push(server);
    const recorder = createLoadRecorder();
    const journey = createCheckoutJourney({ gatewayUrl: `${server.url}/`, recorder });
    journeys.push(journey);
    await expect(journey(ctx(1, 0))).resolves.toBeUndefined();
    mode = 'pending';
    await expect(journey(ctx(1, 1))).resolves.toBeUndefined();
    const summary = recorder.summary();
    expect(summary).toMatchObject({ count: 2, failed: 2, failRate: 1 });
    expect(summary.errors).toMatchObject({ status: 1, other: 1 });
  });

  it('records a closed gateway port as refused, without throwing', async () => {
    const port = await closedPort();
    const recorder = createLoadRecorder();
    const journey = createCheckoutJourney({ gatewayUrl: `http://127.0.0.1:${port}`, recorder, timeoutMs: 2_000 });
    journeys.push(journey);
    await expect(journey(ctx(1, 0))).resolves.toBeUndefined();
    expect(recorder.summary()).toMatchObject({ count: 1, failed: 1, errors: { refused: 1 } });
  });

  it('runs as the iteration of the open-model executor', async () => {
    const { server, received } = await fakeGateway(() => 'confirm');
    servers.push(server);
    const recorder = createLoadRecorder();
    const journey = createCheckoutJourney({ gatewayUrl: server.url, recorder });
    journeys.push(journey);
    const result = await runConstantArrivalRate({ rate: 20, duration: '500ms', preAllocatedVUs: 5 }, journey);
    expect(result).toMatchObject({ started: 10, completed: 10, failed: 0, dropped: 0 });
    expect(new Set(received.map((r) => r.idempotencyKey)).size).toBe(10);
    expect(recorder.summary()).toMatchObject({ count: 10, failed: 0 });
  });

  it('sends the same orders for the same seed and different ones for another', () => {
    const orders = (seed: number) => Array.from({ length: 20 }, (_, i) => checkoutOrder(seed, 1, i));
    expect(orders(7)).toEqual(orders(7));
    expect(orders(7)).not.toEqual(orders(8));
    // Orders depend on the iteration, not on what ran before: iteration 5 alone equals iteration 5 in sequence.
    expect(checkoutOrder(7, 1, 5)).toEqual(orders(7)[5]);
  });

  it('rejects a bad gateway URL up front', () => {
    const recorder = createLoadRecorder();
    expect(() => createCheckoutJourney({ gatewayUrl: 'gateway:8080/x', recorder })).toThrow(JourneyOptionsError);
    expect(() => createCheckoutJourney({ gatewayUrl: 'nope', recorder })).toThrow(/gatewayUrl: "nope" is not a URL/);
    expect(() => createCheckoutJourney({ gatewayUrl: 'http://127.0.0.1:1', recorder, skuCount: 0 })).toThrow(/skuCount/);
  });
});
