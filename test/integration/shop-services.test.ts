// The shop services (catalog, cart, recommendation, inventory) as real
// processes, started the way the lab starts them (runner/supervisor.ts, the
// telemetry preload, FAULTLINE_SERVICE_CONFIG, the IPC ready message), driven
// only through their HTTP APIs. The last block throws a few thousand
// generated bad requests at each service and requires a 4xx problem+json for
// every one, and a service still standing afterwards.

import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedCollector, type EmbeddedCollector } from '../../collector/embedded-collector.ts';
import { readSpans } from '../../collector/trace-query.ts';
import { SERVICE_CONFIG_ENV } from '../../demo-services/kit/config.ts';
import { HEADER, PROBLEM_CONTENT_TYPE, SHOP_HEADER, SHOP_SPAN_ATTR, type Outcome } from '../../demo-services/kit/conventions.ts';
import type { Random } from '../../demo-services/kit/random.ts';
import { BAD_NUMBERS, BAD_QUERY_INTS, BAD_STRINGS, badBodies, fuzz, json, query, segment, type Generator } from '../fuzz.ts';
import { checkInventoryInvariants } from '../../demo-services/inventory/invariants.ts';
import { popularRecommendations } from '../../demo-services/recommendation/recommend.ts';
import { withFallback } from '../../demo-services/resilience/fallback.ts';
import { skuPriceCents } from '../../load/journeys/checkout.ts';
import { createSupervisor, type ManagedProcess, type Supervisor } from '../../runner/supervisor.ts';
import { until } from '../until.ts';

const SERVICE_NODE_ARGS = ['--import', './demo-services/kit/instrument.ts'];
const NO_RETRY = { retry: { enabled: false }, circuitBreaker: { enabled: false }, timeout: { timeout: '2s' } };

let workDir: string;
let supervisor: Supervisor;
let collector: EmbeddedCollector;
let downServer: Server | undefined;
const crashes: string[] = [];
const expectedExits = new Set<string>();
const urls: Record<string, string> = {};
/** Each service's admin listener (loopback; /admin/books lives there), by its public URL. */
const adminUrls = new Map<string, string>();
const adminOf = (base: string): string => adminUrls.get(base) as string;
const processes: Record<string, ManagedProcess> = {};

async function startShopService(
  instance: string,
  name: string,
  options: { dependencies?: Record<string, string | string[]>; policies?: Record<string, unknown>; telemetry?: boolean } = {},
): Promise<string> {
  const config = {
    name,
    instance,
    port: 0,
    telemetry: options.telemetry ?? false,
    ...(options.telemetry ? { otlpEndpoint: `http://127.0.0.1:${collector.grpcPort}` } : {}),
    dependencies: options.dependencies ?? {},
    policies: options.policies ?? {},
    logLevel: 'warn',
  };
  const managed = await supervisor.start({
    name: instance,
    entry: `demo-services/${name}/main.ts`,
    nodeArgs: SERVICE_NODE_ARGS,
    env: { [SERVICE_CONFIG_ENV]: JSON.stringify(config) },
    readyTimeoutMs: 30_000,
  });
  processes[instance] = managed;
  urls[instance] = `http://127.0.0.1:${managed.ports.http}`;
  adminUrls.set(urls[instance], `http://127.0.0.1:${managed.ports.admin}`);
  return urls[instance];
}

/**
 * A dependency that is down: it accepts and at once resets every connection.
 * (A released port would be racy: another process may bind it before use.)
 */
async function resettingServer(): Promise<Server> {
  const server = createServer((socket) => socket.resetAndDestroy()).listen(0, '127.0.0.1');
  await once(server, 'listening');
  return server;
}

async function call(base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
}

async function metricValue(base: string, sample: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${sample} `));
  return line ? Number(line.split(' ')[1]) : 0;
}

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'faultline-shop-'));
  collector = await startEmbeddedCollector({ runDir: workDir, grpcPort: 0, httpPort: 0, flushIntervalMs: 50 });
  supervisor = createSupervisor({ logDir: join(workDir, 'logs') });
  supervisor.onUnexpectedExit((name, code, signal) => {
    if (!expectedExits.has(name)) crashes.push(`${name} exited (code ${code}, signal ${signal})`);
  });
  const [catalog1, catalog2] = await Promise.all([
    startShopService('catalog-1', 'catalog', { telemetry: true, policies: { cache: { ttl: '600ms' } } }),
    startShopService('catalog-2', 'catalog'),
  ]);
  downServer = await resettingServer();
  const down = `http://127.0.0.1:${(downServer.address() as { port: number }).port}`;
  await Promise.all([
    startShopService('cart', 'cart', { dependencies: { catalog: [catalog2, catalog1] } }),
    startShopService('recommendation', 'recommendation', { dependencies: { catalog: catalog2 } }),
    startShopService('recommendation-orphan', 'recommendation', { dependencies: { catalog: down }, policies: { catalog: NO_RETRY } }),
    startShopService('inventory', 'inventory', {
      policies: { stock: { initial: 50, overrides: { 'sku-7': 10, 'sku-8': 5 } }, reservations: { sweepInterval: '100ms' } },
    }),
    startShopService('inventory-file', 'inventory', { policies: { database: { path: join(workDir, 'inventory.sqlite') } } }),
  ]);
}, 90_000);

afterAll(async () => {
  await supervisor?.stopAll();
  downServer?.close();
  await collector?.close();
  if (workDir) await rm(workDir, { recursive: true, force: true });
  expect(crashes).toEqual([]);
}, 60_000);

describe('catalog', () => {
  it('lists products in pages, priced as the load generator prices them', async () => {
    const page = await call(urls['catalog-1'] as string, 'GET', '/products?limit=5&offset=17');
    expect(page.status).toBe(200);
    expect(page.body).toMatchObject({ total: 20, limit: 5, offset: 17 });
    expect(page.body.items.map((p: { sku: string }) => p.sku)).toEqual(['sku-18', 'sku-19', 'sku-20']);
    expect(page.body.items[0].priceCents).toBe(skuPriceCents(18));
    const all = await call(urls['catalog-1'] as string, 'GET', '/products?limit=100');
    expect(all.body.items).toHaveLength(20);
    const bad = await call(urls['catalog-1'] as string, 'GET', '/products?limit=0');
    expect(bad.status).toBe(400);
    expect(bad.body.errors).toEqual([{ field: 'query.limit', message: expect.any(String) }]);
  });

  it('gets one product, 404s an unknown one, and both replicas agree', async () => {
    const one = await call(urls['catalog-1'] as string, 'GET', '/products/sku-7');
    expect(one.body).toEqual({ sku: 'sku-7', name: expect.any(String), category: expect.any(String), priceCents: skuPriceCents(7), currency: 'EUR' });
    expect((await call(urls['catalog-2'] as string, 'GET', '/products/sku-7')).body).toEqual(one.body);
    const missing = await call(urls['catalog-1'] as string, 'GET', '/products/sku-21');
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toContain(PROBLEM_CONTENT_TYPE);
    expect(missing.body).toMatchObject({ status: 404, title: 'Unknown product' });
  });

  it('answers from its cache until the TTL passes, counts hits and misses, and marks the span', async () => {
    const base = urls['catalog-1'] as string;
    const hits = () => metricValue(base, 'cache_requests_total{cache="product",result="hit"}');
    const misses = () => metricValue(base, 'cache_requests_total{cache="product",result="miss"}');
    const [hits0, misses0] = [await hits(), await misses()];
    const first = await call(base, 'GET', '/products/sku-13');
    const second = await call(base, 'GET', '/products/sku-13');
    expect([first.headers.get(SHOP_HEADER.cache), second.headers.get(SHOP_HEADER.cache)]).toEqual(['miss', 'hit']);
    expect(second.body).toEqual(first.body);
    await new Promise((resolve) => setTimeout(resolve, 800));
    const third = await call(base, 'GET', '/products/sku-13');
    expect(third.headers.get(SHOP_HEADER.cache)).toBe('miss');
    expect([(await hits()) - hits0, (await misses()) - misses0]).toEqual([1, 2]);

    // The server span of the cached read carries the result (exported over OTLP to the collector).
    const marked = await until('a catalog span marked as a cache hit', async () => {
      await collector.flush();
      const spans = await readSpans(collector.tracesFile).catch(() => []);
      return spans.find((span) => span.service === 'catalog' && span.attributes[SHOP_SPAN_ATTR.cacheResult] === 'hit' && span.attributes[SHOP_SPAN_ATTR.sku] === 'sku-13');
    });
    expect(marked.attributes).toMatchObject({ [SHOP_SPAN_ATTR.cacheName]: 'product', [SHOP_SPAN_ATTR.cacheHit]: true });
  });
});

describe('cart', () => {
  it('adds, lists, removes and clears, priced from the catalog', async () => {
    const base = urls.cart as string;
    const added = await call(base, 'POST', '/carts/user-1/items', { sku: 'sku-1', quantity: 2 });
    expect(added.status).toBe(200);
    await call(base, 'POST', '/carts/user-1/items', { sku: 'sku-2', quantity: 1 });
    const cart = await call(base, 'GET', '/carts/user-1');
    expect(cart.body).toMatchObject({ userId: 'user-1', itemCount: 3, totalCents: skuPriceCents(1) * 2 + skuPriceCents(2), currency: 'EUR' });
    expect(cart.body.items.map((line: { sku: string; quantity: number }) => [line.sku, line.quantity])).toEqual([['sku-1', 2], ['sku-2', 1]]);
    const removed = await call(base, 'DELETE', '/carts/user-1/items/sku-1');
    expect(removed.body.items.map((line: { sku: string }) => line.sku)).toEqual(['sku-2']);
    expect((await call(base, 'DELETE', '/carts/user-1')).status).toBe(204);
    expect((await call(base, 'GET', '/carts/user-1')).body.items).toEqual([]);
  });

  it('rejects an unknown SKU naming the field, and adds once per idempotency key', async () => {
    const base = urls.cart as string;
    const unknown = await call(base, 'POST', '/carts/user-2/items', { sku: 'sku-999', quantity: 1 });
    expect(unknown.status).toBe(422);
    expect(unknown.headers.get('content-type')).toContain(PROBLEM_CONTENT_TYPE);
    expect(unknown.body.errors).toEqual([{ field: 'body.sku', message: 'no product with sku sku-999' }]);
    expect((await call(base, 'GET', '/carts/user-2')).body.items).toEqual([]);

    const key = { [HEADER.idempotencyKey]: 'cart-key-0001' };
    await call(base, 'POST', '/carts/user-2/items', { sku: 'sku-3', quantity: 1 }, key);
    const replay = await call(base, 'POST', '/carts/user-2/items', { sku: 'sku-3', quantity: 1 }, key);
    expect(replay.headers.get(SHOP_HEADER.idempotentReplayed)).toBe('true');
    expect(replay.body.itemCount).toBe(1);
  });
});

describe('recommendation', () => {
  it('suggests catalog products, stable per user', async () => {
    const base = urls.recommendation as string;
    const first = await call(base, 'GET', '/recommendations?userId=user-1&limit=3');
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ userId: 'user-1', fallback: false });
    expect(first.body.items).toHaveLength(3);
    for (const item of first.body.items) expect(item.priceCents).toBe(skuPriceCents(Number(item.sku.slice(4))));
    expect((await call(base, 'GET', '/recommendations?userId=user-1&limit=3')).body).toEqual(first.body);
  });

  it('answers a problem when the catalog is down, which the storefront fallback turns into best sellers', async () => {
    const base = urls['recommendation-orphan'] as string;
    const failed = await call(base, 'GET', '/recommendations?userId=user-1');
    expect(failed.status).toBe(502);
    expect(failed.headers.get('content-type')).toContain(PROBLEM_CONTENT_TYPE);
    expect(failed.body).toMatchObject({ type: 'https://faultline.dev/problems/dependency-unreachable', title: 'catalog unreachable' });

    const outcomes: Outcome[] = [];
    const shown = await withFallback(
      async (signal) => {
        const response = await fetch(`${base}/recommendations?userId=user-1&limit=3`, { signal });
        if (!response.ok) throw new Error(`recommendation answered ${response.status}`);
        return (await response.json()) as unknown;
      },
      () => popularRecommendations('user-1', 3),
      { dependency: 'recommendation', metrics: { call: (_dependency, outcome) => void outcomes.push(outcome) }, timeoutMs: 2_000 },
    );
    expect(shown).toEqual({ ...popularRecommendations('user-1', 3), fallback: true });
    expect(outcomes).toEqual(['fallback']);
  });
});

describe('inventory', () => {
  const stock = async (sku: string) => (await call(urls.inventory as string, 'GET', `/stock/${sku}`)).body as { reserved: number; available: number; onHand: number };

  it('reserves, confirms and releases, and each step is idempotent', async () => {
    const base = urls.inventory as string;
    const held = await call(base, 'POST', '/reservations', { orderId: 'order-1', items: [{ sku: 'sku-1', quantity: 2 }, { sku: 'sku-2', quantity: 1 }] });
    expect(held.status).toBe(201);
    expect(held.body).toMatchObject({ orderId: 'order-1', state: 'held', items: [{ sku: 'sku-1', quantity: 2 }, { sku: 'sku-2', quantity: 1 }] });
    expect(await stock('sku-1')).toMatchObject({ onHand: 50, reserved: 2, available: 48 });
    const confirmed = await call(base, 'POST', `/reservations/${held.body.id}/confirm`);
    expect(confirmed.body.state).toBe('confirmed');
    expect((await call(base, 'POST', `/reservations/${held.body.id}/confirm`)).headers.get(SHOP_HEADER.idempotentReplayed)).toBe('true');
    expect(await stock('sku-1')).toMatchObject({ onHand: 48, reserved: 0, available: 48 });
    expect((await call(base, 'POST', `/reservations/${held.body.id}/release`)).status).toBe(409);

    const other = await call(base, 'POST', '/reservations', { orderId: 'order-2', items: [{ sku: 'sku-3', quantity: 4 }] });
    const released = await call(base, 'POST', `/reservations/${other.body.id}/release`);
    expect(released.body.state).toBe('released');
    expect((await call(base, 'POST', `/reservations/${other.body.id}/release`)).status).toBe(200);
    expect(await stock('sku-3')).toMatchObject({ reserved: 0, available: 50 });
    expect((await call(base, 'POST', `/reservations/${other.body.id}/confirm`)).status).toBe(409);
  });

  it('refuses an order it cannot fill whole with a 409 naming the SKU, and reserves nothing of it', async () => {
    const base = urls.inventory as string;
    const refused = await call(base, 'POST', '/reservations', { orderId: 'order-short', items: [{ sku: 'sku-4', quantity: 1 }, { sku: 'sku-8', quantity: 6 }] });
    expect(refused.status).toBe(409);
    expect(refused.headers.get('content-type')).toContain(PROBLEM_CONTENT_TYPE);
    expect(refused.body).toMatchObject({ title: 'Insufficient stock', sku: 'sku-8', requested: 6, available: 5 });
    expect(await stock('sku-4')).toMatchObject({ reserved: 0, available: 50 });
    const books = await call(adminOf(base), 'GET', '/admin/books');
    expect(books.body.reservations.map((r: { orderId: string }) => r.orderId)).not.toContain('order-short');
  });

  it('reserves once per order id and per idempotency key', async () => {
    const base = urls.inventory as string;
    const body = { orderId: 'order-idem', items: [{ sku: 'sku-5', quantity: 3 }] };
    const key = { [HEADER.idempotencyKey]: 'reserve-key-1' };
    const first = await call(base, 'POST', '/reservations', body, key);
    const again = await call(base, 'POST', '/reservations', body, key);
    const byOrder = await call(base, 'POST', '/reservations', body);
    expect([first.status, again.status, byOrder.status]).toEqual([201, 200, 200]);
    expect(new Set([first.body.id, again.body.id, byOrder.body.id]).size).toBe(1);
    expect(await stock('sku-5')).toMatchObject({ reserved: 3 });
    const reused = await call(base, 'POST', '/reservations', { orderId: 'order-other', items: [{ sku: 'sku-5', quantity: 1 }] }, key);
    expect(reused.status).toBe(409);
    expect(reused.body.title).toBe('Idempotency key reused');
  });

  it('gives the stock of an expired reservation back', async () => {
    const base = urls.inventory as string;
    const held = await call(base, 'POST', '/reservations', { orderId: 'order-ttl', items: [{ sku: 'sku-9', quantity: 4 }], ttl: '300ms' });
    expect(held.status).toBe(201);
    expect(await stock('sku-9')).toMatchObject({ available: 46 });
    const expired = await until('the reservation to expire', async () => {
      const reservation = await call(base, 'GET', `/reservations/${held.body.id}`);
      return reservation.body.state === 'expired' ? reservation.body : undefined;
    });
    expect(Date.parse(expired.updatedAt)).toBeGreaterThanOrEqual(Date.parse(held.body.expiresAt));
    expect(await stock('sku-9')).toMatchObject({ reserved: 0, available: 50 });
    expect((await call(base, 'POST', `/reservations/${held.body.id}/confirm`)).status).toBe(409);
  });

  it('never oversells: 50 concurrent reservations of a SKU with 10 units reserve exactly 10', async () => {
    const base = urls.inventory as string;
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) => call(base, 'POST', '/reservations', { orderId: `order-rush-${i}`, items: [{ sku: 'sku-7', quantity: 1 }] })),
    );
    const statuses = answers.map((answer) => answer.status);
    expect(statuses.filter((status) => status === 201)).toHaveLength(10);
    expect(statuses.filter((status) => status === 409)).toHaveLength(40);
    expect(await stock('sku-7')).toMatchObject({ onHand: 10, reserved: 10, available: 0 });
    const books = await call(adminOf(base), 'GET', '/admin/books?state=held');
    const rushHeld = books.body.reservations.filter((r: { orderId: string }) => r.orderId.startsWith('order-rush-'));
    expect(rushHeld).toHaveLength(10);
    expect(books.body.invariants).toMatchObject({ ok: true, violations: [] });
  });

  it('reports books corrupted behind its back (negative stock written past the CHECK constraints)', async () => {
    const path = join(workDir, 'inventory.sqlite');
    const base = urls['inventory-file'] as string;
    const held = await call(base, 'POST', '/reservations', { orderId: 'order-file', items: [{ sku: 'sku-2', quantity: 1 }] });
    expect(held.status).toBe(201);
    expect((await call(adminOf(base), 'GET', '/admin/books')).body.invariants.ok).toBe(true);

    // Stop the service, damage its database file directly, and start it again on the same file.
    expectedExits.add('inventory-file');
    const child = (processes['inventory-file'] as ManagedProcess).child;
    child.kill('SIGTERM');
    await once(child, 'exit');
    const db = new DatabaseSync(path);
    db.exec("PRAGMA ignore_check_constraints = ON; UPDATE stock SET on_hand = -4 WHERE sku = 'sku-6'");
    expect(checkInventoryInvariants(db).violations.map((v) => `${v.code}:${v.sku}`)).toEqual(expect.arrayContaining(['negative-stock:sku-6', 'oversold:sku-6']));
    db.close();

    const restarted = await startShopService('inventory-file-again', 'inventory', { policies: { database: { path } } });
    const books = await call(adminOf(restarted), 'GET', '/admin/books');
    expect(books.body.invariants.ok).toBe(false);
    expect(books.body.invariants.violations).toEqual(expect.arrayContaining([expect.objectContaining({ code: 'negative-stock', sku: 'sku-6' })]));
    // What was there before the restart is still there.
    expect(books.body.reservations.map((r: { orderId: string }) => r.orderId)).toContain('order-file');
  });
});

describe('start-up', () => {
  it('refuses bad policies with one line naming every bad field', async () => {
    expectedExits.add('inventory-misconfigured');
    await expect(startShopService('inventory-misconfigured', 'inventory', { policies: { reservations: { ttl: '-1s', sweep: 1 } } })).rejects.toThrow(
      /inventory-misconfigured: could not start: policies\.reservations\.ttl: .*must not be negative.*; policies\.reservations: Unrecognized key: "sweep"/,
    );
  });
});

// ---------------------------------------------------------------------------
// Fuzzing: generated bad requests (test/fuzz.ts). Every answer must be a 4xx problem+json.

const BAD_SKUS = [...BAD_STRINGS, 'SKU-1', 'sku_1', '-1', 'sku-1 ', 's'.repeat(65), 'sku-999', 'constructor'];
const BAD_USERS = ['', 'a'.repeat(101), 'a b', '😀', '\u0000', '../x', "' OR 1=1", '<x>', 'ü', 'a/b', 'a%b'];
const BAD_ORDER_IDS = ['', 'a'.repeat(101), 'a b', '😀', '\u0000', '../x', "' OR 1=1", 42, null, [], {}, true];
const BAD_TTLS = ['-1s', 'abc', '1y', 0, -5, 1e20, '', null, [], {}, true, 'Infinity', '10 ms'];
const BAD_ITEMS = [[], 'x', null, {}, Array.from({ length: 51 }, (_, i) => ({ sku: `sku-${i}`, quantity: 1 })), [{ sku: 'sku-1', quantity: 1 }, { sku: 'sku-1', quantity: 2 }], [{ sku: 'sku-1' }], [{ sku: 'sku-1', quantity: 1, extra: 1 }], [{ sku: 'sku-1', quantity: 0 }], [{ sku: 'SKU 1', quantity: 1 }]];
const unroutedMethod = (random: Random) => random.pick(['PUT', 'PATCH']);

const cartItem = { sku: { type: 'string' as const, bad: BAD_SKUS.filter((s) => !['sku-999', 'constructor'].includes(s)), required: true }, quantity: { type: 'number' as const, bad: BAD_NUMBERS, required: true } };

const FUZZ: Record<string, Generator> = {
  catalog: (random) => {
    switch (random.int(0, 4)) {
      case 0:
        return { method: 'GET', path: `/products?${query([[random.pick(['limit', 'offset']), random.pick(BAD_QUERY_INTS)], ...(random.next() < 0.3 ? [['limit', '5'] as [string, string]] : [])])}` };
      case 1:
        return { method: 'GET', path: `/products?${random.pick(['limit=5&unknown=1', 'limit[]=1', 'limit[a]=1', 'limit=1&limit=2', '__proto__=1', 'offset=1000001', 'limit=101'])}` };
      case 2:
        // Not '': GET /products/ is the list itself.
        return { method: 'GET', path: `/products/${segment(random, BAD_SKUS.filter(Boolean))}` };
      case 3:
        return { method: random.pick(['POST', 'PUT', 'PATCH', 'DELETE']), path: random.pick(['/products', '/products/sku-1']), ...badBodies(random, () => ({ sku: 'sku-1' }), { sku: cartItem.sku }) };
      default:
        return { method: 'GET', path: `/${segment(random, BAD_STRINGS)}/${segment(random, BAD_STRINGS)}` };
    }
  },
  cart: (random) => {
    const valid = () => ({ sku: 'sku-1', quantity: 1 });
    switch (random.int(0, 5)) {
      case 0:
      case 1:
        return { method: 'POST', path: `/carts/fuzz-user/items`, ...badBodies(random, valid, cartItem) };
      case 2:
        return { method: 'POST', path: `/carts/fuzz-user/items`, ...json(valid()), headers: { 'content-type': 'application/json', [HEADER.idempotencyKey]: random.pick(['', 'short', 'k'.repeat(201)]) } };
      case 3:
        return { method: random.pick(['GET', 'DELETE']), path: `/carts/${segment(random, BAD_USERS, false)}` };
      case 4:
        return random.next() < 0.5
          ? { method: 'DELETE', path: `/carts/${segment(random, BAD_USERS, false)}/items/sku-1` }
          : { method: 'DELETE', path: `/carts/fuzz-user/items/${segment(random, BAD_SKUS.filter((s) => !['sku-999', 'constructor'].includes(s)))}` };
      default:
        return { method: unroutedMethod(random), path: random.pick(['/carts/fuzz-user', '/carts/fuzz-user/items']), ...json(valid()) };
    }
  },
  recommendation: (random) => {
    switch (random.int(0, 3)) {
      case 0:
        return { method: 'GET', path: `/recommendations?${query([['userId', segment(random, BAD_USERS, false)]])}` };
      case 1:
        return { method: 'GET', path: `/recommendations?${query([['userId', 'user-1'], ['limit', random.pick([...BAD_QUERY_INTS, '0', '21'])]])}` };
      case 2:
        return { method: 'GET', path: `/recommendations?${random.pick(['', 'limit=3', 'userId=a&userId=b', 'userId[]=a', 'userId=u&x=1', 'userId=u&limit=1&limit=2'])}` };
      default:
        return { method: random.pick(['POST', 'PUT', 'DELETE']), path: '/recommendations', ...badBodies(random, () => ({ userId: 'user-1' }), { userId: { type: 'string', bad: BAD_USERS, required: true } }) };
    }
  },
  inventory: (random) => {
    const valid = () => ({ orderId: `fuzz-${random.int(1, 1e9)}`, items: [{ sku: 'sku-1', quantity: 1 }], ttl: '1s' });
    const fields = {
      orderId: { type: 'string' as const, bad: BAD_ORDER_IDS, required: true },
      items: { type: 'array' as const, bad: BAD_ITEMS, required: true },
      ttl: { type: 'duration' as const, bad: BAD_TTLS, required: false },
    };
    const randomId = () => crypto.randomUUID();
    switch (random.int(0, 6)) {
      case 0:
      case 1:
        return { method: 'POST', path: '/reservations', ...badBodies(random, valid, fields) };
      case 2:
        return { method: 'POST', path: '/reservations', ...json(valid()), headers: { 'content-type': 'application/json', [HEADER.idempotencyKey]: random.pick(['', 'short', 'k'.repeat(201)]) } };
      case 3:
        return random.next() < 0.5
          ? { method: 'POST', path: `/reservations/${segment(random, BAD_STRINGS)}/${random.pick(['confirm', 'release'])}` }
          : { method: 'POST', path: `/reservations/${randomId()}/${random.pick(['confirm', 'release'])}`, ...json(random.pick([{ a: 1 }, [], { force: true }, {}])) };
      case 4:
        return { method: 'GET', path: random.next() < 0.5 ? `/reservations/${segment(random, BAD_STRINGS)}` : `/reservations/${randomId()}` };
      case 5:
        return { method: 'GET', path: `/stock/${segment(random, BAD_SKUS)}` };
      default:
        // The books are on the admin listener: on the public port, any spelling of them is a 404.
        return { method: 'GET', path: `/admin/books?${random.pick(['state=HELD', 'state=', 'state=x', 'limit=-1', 'limit=10001', 'limit=abc', 'limit=', 'x=1', 'state[]=held'])}` };
    }
  },
};

describe('fuzzing with bad requests', () => {
  const targets: Array<[service: string, instance: string]> = [
    ['catalog', 'catalog-2'],
    ['cart', 'cart'],
    ['recommendation', 'recommendation'],
    ['inventory', 'inventory'],
  ];
  for (const [service, instance] of targets) {
    it(`${service}: every bad request gets a 4xx problem+json, and the service stays up`, async () => {
      const base = urls[instance] as string;
      const result = await fuzz(base, FUZZ[service] as Generator, 20_240 + service.length);
      expect(result.failures).toEqual([]);
      expect(result.sent).toBeGreaterThan(300);
      expect([...result.statuses.keys()].every((status) => status >= 400 && status < 500)).toBe(true);
      expect((processes[instance] as ManagedProcess).child.exitCode).toBeNull();
      expect((await call(base, 'GET', '/healthz')).status).toBe(200);
    }, 20_000);
  }

  it('leaves the inventory books balanced and the shop working after the fuzzing', async () => {
    const books = await call(adminOf(urls.inventory as string), 'GET', '/admin/books');
    expect(books.body.invariants.ok).toBe(true);
    expect(books.body.reservations.some((r: { orderId: string }) => r.orderId.startsWith('fuzz-'))).toBe(false);
    expect((await call(urls.cart as string, 'POST', '/carts/after-fuzz/items', { sku: 'sku-4', quantity: 1 })).status).toBe(200);
    expect((await call(urls.recommendation as string, 'GET', '/recommendations?userId=after-fuzz')).status).toBe(200);
  });
});
