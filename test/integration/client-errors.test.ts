// Client errors stay client errors: each service that calls another passes a
// dependency's refusal (a 4xx that describes what the client sent:
// validation 400/422, 402, 409) on to its own client as that 4xx, in
// problem+json naming the field, never as a 502; a refusal is never retried
// and never counts against a breaker; a 4xx that says the service itself
// asked wrongly (401, 403, 404) is a 502. Real service processes on
// loopback, started the way the lab starts them; where a real dependency
// cannot be made to refuse (cart and recommendation validate a SKU as the
// catalog does; the bank takes what payment sends), a scripted HTTP server
// answers in its place and counts what it was asked.

import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVICE_CONFIG_ENV } from '../../demo-services/kit/config.ts';
import { HEADER, PROBLEM_CONTENT_TYPE } from '../../demo-services/kit/conventions.ts';
import { issueToken } from '../../demo-services/kit/jwt.ts';
import { createSupervisor, type ManagedProcess, type Supervisor } from '../../runner/supervisor.ts';

const SECRET = 'client-errors-secret-0123456789abcdef';
/** Breakers that would open after two failures in a window of four, and three attempts per call. */
const TOUCHY = { retry: { maxAttempts: 3, baseDelay: '10ms', maxDelay: '20ms' }, circuitBreaker: { minimumCalls: 2, windowSize: 4, failureRateThreshold: 0.5, openDuration: '30s' } };

let workDir: string;
let supervisor: Supervisor;
let refuser: Server;
const crashes: string[] = [];
const urls: Record<string, string> = {};
const ports: Record<string, ManagedProcess['ports']> = {};
/** Requests the scripted dependency received, by method and path. */
const asked = new Map<string, number>();

const validation = (field: string, message: string) => ({
  type: 'https://faultline.dev/problems/validation',
  title: 'Invalid request',
  status: 400,
  detail: `${field}: ${message}`,
  errors: [{ field, message }],
  instance: '/somewhere',
  trace_id: '0af7651916cd43dd8448eb211c80319c',
});

/** What the scripted dependency answers: a catalog that refuses every SKU, a bank that refuses by amount. */
async function refusal(req: IncomingMessage): Promise<{ status: number; body: unknown }> {
  let text = '';
  for await (const chunk of req) text += String(chunk);
  if (req.url?.startsWith('/products')) return { status: 400, body: validation('path.sku', 'not a SKU this catalog sells') };
  const amount = text ? (JSON.parse(text) as { amount?: number }).amount : undefined;
  if (amount === 4000) return { status: 400, body: validation('body.currency', 'must be an ISO 4217 code such as EUR') };
  if (amount === 4090) return { status: 409, body: { type: 'https://faultline.dev/problems/idempotency-conflict', title: 'Idempotency key reused', status: 409, detail: 'key used for another order' } };
  if (amount === 4020) return { status: 402, body: { type: 'https://faultline.dev/problems/card-declined', title: 'Card declined', status: 402, detail: 'insufficient funds' } };
  if (amount === 4030) return { status: 403, body: { title: 'Forbidden', status: 403, detail: 'merchant not enrolled' } };
  return { status: 201, body: { chargeId: '7d4fd8a8-5a3f-4b5e-9b0a-0f6d5d3c2b1a', orderId: 'o', amount } };
}

async function startShopService(instance: string, name: string, dependencies: Record<string, string | string[]>, policies: Record<string, unknown> = {}): Promise<string> {
  const config = { name, instance, port: 0, telemetry: false, dependencies, policies, logLevel: 'warn' };
  const managed = await supervisor.start({
    name: instance,
    entry: `demo-services/${name}/main.ts`,
    nodeArgs: ['--import', './demo-services/kit/instrument.ts'],
    env: { [SERVICE_CONFIG_ENV]: JSON.stringify(config) },
    readyTimeoutMs: 30_000,
  });
  ports[instance] = managed.ports;
  urls[instance] = `http://127.0.0.1:${managed.ports.http}`;
  return urls[instance];
}

async function call(base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  return { status: response.status, type: response.headers.get('content-type') ?? '', body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

async function circuitState(base: string, dependency: string): Promise<string | undefined> {
  const text = await (await fetch(`${base}/metrics`)).text();
  return new RegExp(`^resilience_circuit_state\\{dependency="${dependency}",state="(\\w+)"\\} 1$`, 'm').exec(text)?.[1];
}

const fieldsOf = (body: Record<string, unknown>) => (body.errors as Array<{ field: string }> | undefined)?.map((error) => error.field);
let orderCount = 0;
const order = (items: Array<{ sku: string; quantity: number }>, amount = 1_000) => ({ userId: 'client-errors', items, amount });
const key = () => ({ [HEADER.idempotencyKey]: `client-errors-${++orderCount}-${Date.now()}` });

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'faultline-client-errors-'));
  supervisor = createSupervisor({ logDir: join(workDir, 'logs') });
  supervisor.onUnexpectedExit((name, code, signal) => crashes.push(`${name} exited (code ${code}, signal ${signal})`));
  refuser = createServer((req, res) => {
    const at = `${req.method} ${req.url?.split('?')[0]}`;
    asked.set(at, (asked.get(at) ?? 0) + 1);
    void refusal(req).then(({ status, body }) => {
      res.writeHead(status, { 'content-type': status >= 400 ? PROBLEM_CONTENT_TYPE : 'application/json' }).end(JSON.stringify(body));
    });
  }).listen(0, '127.0.0.1');
  await once(refuser, 'listening');
  const scripted = `http://127.0.0.1:${(refuser.address() as AddressInfo).port}`;

  const [inventory, catalog] = await Promise.all([
    startShopService('inventory', 'inventory', {}),
    startShopService('catalog', 'catalog', {}),
    startShopService('payment', 'payment', { bank: scripted }, { bank: TOUCHY }),
  ]);
  const paymentGrpc = `http://127.0.0.1:${ports.payment?.grpc}`;
  const [checkout, cart, recommendation] = await Promise.all([
    startShopService('checkout', 'checkout', { inventory: inventory as string, payment: paymentGrpc }, { inventory: TOUCHY, payment: { retry: { maxAttempts: 1 } } }),
    startShopService('cart', 'cart', { catalog: scripted }, { catalog: TOUCHY }),
    startShopService('recommendation', 'recommendation', { catalog: scripted }, { catalog: TOUCHY }),
  ]);
  await startShopService('gateway', 'gateway', { checkout, cart, recommendation, catalog }, { gateway: { auth: { secret: SECRET }, rateLimit: { enabled: false } } });
}, 90_000);

afterAll(async () => {
  await supervisor?.stopAll();
  refuser?.close();
  if (workDir) await rm(workDir, { recursive: true, force: true });
  expect(crashes).toEqual([]);
});

describe('checkout passes on what inventory and payment refuse', () => {
  it("inventory's validation errors reach the client as 400 naming the field (an upper-case SKU, a SKU listed twice)", async () => {
    const upper = await call(urls.checkout as string, 'POST', '/checkout', order([{ sku: 'SKU-1', quantity: 1 }]), key());
    expect(upper.status).toBe(400);
    expect(upper.type).toContain(PROBLEM_CONTENT_TYPE);
    expect(fieldsOf(upper.body)).toEqual(['body.items.0.sku']);
    expect(upper.body.detail).toMatch(/body\.items\.0\.sku: must be lower-case/);
    const twice = await call(urls.checkout as string, 'POST', '/checkout', order([{ sku: 'sku-1', quantity: 1 }, { sku: 'sku-1', quantity: 2 }]), key());
    expect(twice.status).toBe(400);
    expect(fieldsOf(twice.body)).toEqual(['body.items.1.sku']);
    // Business refusals pass as before: an unknown product is a 422 naming the field.
    const unknown = await call(urls.checkout as string, 'POST', '/checkout', order([{ sku: 'sku-999', quantity: 1 }]), key());
    expect(unknown.status).toBe(422);
    expect(fieldsOf(unknown.body)).toEqual(['body.items.0.sku']);
    expect((await call(urls.checkout as string, 'POST', '/checkout', order([{ sku: 'sku-2', quantity: 1 }, { sku: 'sku-3', quantity: 2 }]), key())).status).toBe(201);
  });

  it('a replay answers the same 400, and the refusals never open the breaker', async () => {
    const headers = key();
    const first = await call(urls.checkout as string, 'POST', '/checkout', order([{ sku: 'BAD', quantity: 1 }]), headers);
    const replay = await call(urls.checkout as string, 'POST', '/checkout', order([{ sku: 'BAD', quantity: 1 }]), headers);
    expect([first.status, replay.status]).toEqual([400, 400]);
    expect(replay.body).toEqual(first.body);
    for (let i = 0; i < 6; i++) expect((await call(urls.checkout as string, 'POST', '/checkout', order([{ sku: `Bad-${i}`, quantity: 1 }]), key())).status).toBe(400);
    expect(await circuitState(urls.checkout as string, 'inventory')).toBe('closed');
  });

  it("payment's refusals (over gRPC) pass on as the bank gave them; a 403 is payment failing us (502)", async () => {
    const invalid = await call(urls.checkout as string, 'POST', '/checkout', order([{ sku: 'sku-4', quantity: 1 }], 4000), key());
    expect(invalid.status).toBe(400);
    expect(invalid.body.detail).toMatch(/body\.currency/);
    expect((await call(urls.checkout as string, 'POST', '/checkout', order([{ sku: 'sku-4', quantity: 1 }], 4090), key())).status).toBe(409);
    expect((await call(urls.checkout as string, 'POST', '/checkout', order([{ sku: 'sku-4', quantity: 1 }], 4020), key())).status).toBe(402);
    expect((await call(urls.checkout as string, 'POST', '/checkout', order([{ sku: 'sku-4', quantity: 1 }], 4030), key())).status).toBe(502);
  });
});

describe('payment passes on what the bank refuses', () => {
  it('400 with the fields, 409, 402 as they are; a 403 is a 502; none retried, none counted by the breaker', async () => {
    const pay = (amount: number) => call(urls.payment as string, 'POST', '/payments', { orderId: `o-${amount}`, amount }, key());
    const before = asked.get('POST /charges') ?? 0;
    const invalid = await pay(4000);
    expect(invalid.status).toBe(400);
    expect(invalid.type).toContain(PROBLEM_CONTENT_TYPE);
    expect(fieldsOf(invalid.body)).toEqual(['body.currency']);
    // The dependency's own instance and trace id are not passed on as ours.
    expect(invalid.body.instance).toBe('/payments');
    expect(invalid.body.trace_id).not.toBe('0af7651916cd43dd8448eb211c80319c');
    expect((await pay(4090)).status).toBe(409);
    expect((await pay(4020)).body).toMatchObject({ status: 402, title: 'Card declined' });
    const forbidden = await pay(4030);
    expect(forbidden.status).toBe(502);
    expect(forbidden.body.detail).toMatch(/bank answered 403/);
    for (let i = 0; i < 4; i++) expect((await pay(4000)).status).toBe(400);
    // Eight refusals, one request each to the bank (three attempts allowed), and the breaker still closed.
    expect((asked.get('POST /charges') ?? 0) - before).toBe(8);
    expect(await circuitState(urls.payment as string, 'bank')).toBe('closed');
    expect((await pay(1_000)).status).toBe(201);
  });
});

describe('cart and recommendation pass on what the catalog refuses', () => {
  it('cart: the catalog\'s 400 reaches the client naming its field; not retried, the breaker stays closed', async () => {
    const before = asked.get('GET /products/sku-1') ?? 0;
    for (let i = 0; i < 6; i++) {
      const added = await call(urls.cart as string, 'POST', '/carts/u-1/items', { sku: 'sku-1', quantity: 1 });
      expect(added.status).toBe(400);
      expect(added.type).toContain(PROBLEM_CONTENT_TYPE);
      expect(fieldsOf(added.body)).toEqual(['path.sku']);
    }
    expect((asked.get('GET /products/sku-1') ?? 0) - before).toBe(6);
    expect(await circuitState(urls.cart as string, 'catalog')).toBe('closed');
  });

  it("recommendation: the catalog's 400 reaches the client as a 400", async () => {
    const answer = await call(urls.recommendation as string, 'GET', '/recommendations?userId=u-1');
    expect(answer.status).toBe(400);
    expect(fieldsOf(answer.body)).toEqual(['path.sku']);
    expect(await circuitState(urls.recommendation as string, 'catalog')).toBe('closed');
  });
});

describe('the gateway hands the services\' refusals back unchanged', () => {
  it('cart and checkout 4xx keep their status, problem+json and fields; recommendations fall back; its own validation names the field', async () => {
    const auth = { authorization: `Bearer ${await issueToken(SECRET, 'shopper-1')}` };
    const added = await call(urls.gateway as string, 'POST', '/api/cart/items', { sku: 'sku-1', quantity: 1 }, auth);
    expect(added.status).toBe(400);
    expect(added.type).toContain(PROBLEM_CONTENT_TYPE);
    expect(fieldsOf(added.body)).toEqual(['path.sku']);
    const checkout = await call(urls.gateway as string, 'POST', '/api/checkout', order([{ sku: 'SKU-1', quantity: 1 }]), { ...auth, ...key() });
    expect(checkout.status).toBe(400);
    expect(checkout.type).toContain(PROBLEM_CONTENT_TYPE);
    expect(fieldsOf(checkout.body)).toEqual(['body.items.0.sku']);
    // Recommendations are non-critical: a refusal there is answered with popular items, marked as a fallback.
    const recommended = await call(urls.gateway as string, 'GET', '/api/recommendations?limit=3', undefined, auth);
    expect(recommended.status).toBe(200);
    expect(recommended.body.fallback).toBe(true);
    const badLimit = await call(urls.gateway as string, 'GET', '/api/recommendations?limit=0x10', undefined, auth);
    expect(badLimit.status).toBe(400);
    expect(fieldsOf(badLimit.body)).toEqual(['query.limit']);
  });
});
