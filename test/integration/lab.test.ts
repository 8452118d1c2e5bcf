// The skeleton's services as real processes on loopback: the checkout path
// works end to end, every service speaks the kit's conventions (metrics,
// health, problem+json), faults at the proxy reach the caller, and SIGTERM
// drains a request in flight before the process exits.

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createChaosClient } from '../../chaos/admin-client.ts';
import { PROBLEM_CONTENT_TYPE } from '../../demo-services/kit/conventions.ts';
import { issueToken } from '../../demo-services/kit/jwt.ts';
import { serviceFaultTarget } from '../../runner/chaos-target.ts';
import { startLab, type Lab } from '../../runner/lab.ts';
import { parseScenario } from '../../runner/scenario.ts';
import { until } from '../until.ts';

let lab: Lab;
let runDir: string;

const order = { userId: 'user-1', items: [{ sku: 'sku-1', quantity: 1 }], amount: 1_999 };
let token: string;
const checkout = (headers: Record<string, string> = {}, body: unknown = order) =>
  fetch(`${lab.gatewayUrl}/api/checkout`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...headers },
    body: JSON.stringify(body),
  });

beforeAll(async () => {
  runDir = await mkdtemp(join(tmpdir(), 'faultline-lab-'));
  lab = await startLab({
    runDir,
    seed: 7,
    policies: { checkout: { payment: { retry: { maxAttempts: 2, baseDelay: '10ms' }, circuitBreaker: { minimumCalls: 50 } } } },
    // The fallback test is about a dead recommendation service, not its 300 ms budget: a cold first
    // call beside a busy core took longer than that (npm run test:noisy, 2026-12-06) and fell back.
    gateway: { rateLimit: { ratePerSecond: 2, burst: 12 }, loadShedding: { maxInFlight: 3 }, recommendationTimeout: '5s' },
  });
  token = await issueToken(lab.authSecret, 'user-1');
}, 60_000);

afterAll(async () => {
  await lab?.stop();
  await rm(runDir, { recursive: true, force: true });
});

describe('the lab', () => {
  it('confirms an order through gateway, checkout, payment, proxy and bank', async () => {
    const response = await checkout({ 'idempotency-key': 'order-key-0001' });
    expect(response.status).toBe(201);
    expect(await response.json()).toMatchObject({ status: 'confirmed', orderId: expect.any(String), paymentId: expect.any(String) });
  });

  it('gives the read path a larger young generation than the rest (instrumentation cost, docs/benchmarks.md)', async () => {
    // V8 takes the last of repeated flags: what a process runs with is its last --max-semi-space-size.
    const semiSpaceOf = async (name: string): Promise<string | undefined> => {
      const process = lab.processes().find((managed) => managed.name === name);
      const args = (await readFile(`/proc/${process?.pid}/cmdline`, 'utf8')).split('\0');
      return args.filter((arg) => arg.startsWith('--max-semi-space-size=')).at(-1);
    };
    expect(await semiSpaceOf('gateway')).toBe('--max-semi-space-size=8');
    expect(await semiSpaceOf('checkout')).toBe('--max-semi-space-size=2');
    expect(await semiSpaceOf('bank')).toBe('--max-semi-space-size=2');
  });

  it('answers health and readiness on every service', async () => {
    for (const name of ['gateway', 'checkout', 'payment', 'bank']) {
      const alive = await fetch(`${lab.serviceUrl(name)}/healthz`);
      expect(alive.status, name).toBe(200);
      const ready = await fetch(`${lab.serviceUrl(name)}/readyz`);
      expect(await ready.json(), name).toMatchObject({ status: 'ready', service: name });
    }
  });

  it('serves the DESIGN.md metric names, and exemplars with trace ids in OpenMetrics', async () => {
    await checkout();
    const gateway = await (await fetch(`${lab.gatewayUrl}/metrics`)).text();
    expect(gateway).toMatch(/http_server_request_duration_seconds_count\{http_request_method="POST",url_scheme="http",http_route="\/api\/checkout",http_response_status_code="201"\} \d+/);
    expect(gateway).toMatch(/http_client_request_duration_seconds_count\{http_request_method="POST",server_address="checkout",server_port="\d+",http_response_status_code="201"\}/);
    expect(gateway).toContain('nodejs_eventloop_lag_seconds');
    // The span exporter's own counts: the spans of the requests above, nothing dropped.
    const exported = await until('the gateway to count exported spans', async () => {
      const text = await (await fetch(`${lab.gatewayUrl}/metrics`)).text();
      return /telemetry_spans_exported_total [1-9]/.test(text) ? text : undefined;
    });
    expect(exported).toContain('telemetry_spans_dropped_total 0');
    const checkoutMetrics = await (await fetch(`${lab.serviceUrl('checkout')}/metrics`)).text();
    expect(checkoutMetrics).toMatch(/resilience_calls_total\{dependency="payment",outcome="success"\} \d+/);
    expect(checkoutMetrics).toContain('resilience_circuit_state{dependency="payment",state="closed"} 1');
    expect(checkoutMetrics).toContain('resilience_attempts_per_call_bucket');
    const open = await fetch(`${lab.serviceUrl('checkout')}/metrics`, { headers: { accept: 'application/openmetrics-text; version=1.0.0' } });
    expect(open.headers.get('content-type')).toContain('application/openmetrics-text');
    expect(await open.text()).toMatch(/http_server_request_duration_seconds_bucket\{[^}]*\} \d+ # \{trace_id="[0-9a-f]{32}"\}/);
  });

  it('answers bad input with problem+json naming the field, with a trace id and no stack', async () => {
    const invalid = await checkout({}, { userId: '', items: [], amount: 'lots' });
    expect(invalid.status).toBe(400);
    expect(invalid.headers.get('content-type')).toContain(PROBLEM_CONTENT_TYPE);
    const problem = (await invalid.json()) as { detail: string; trace_id: string; errors: Array<{ field: string }> };
    expect(problem.errors.map((e) => e.field).sort()).toEqual(['body.amount', 'body.items', 'body.userId']);
    expect(problem.trace_id).toMatch(/^[0-9a-f]{32}$/);
    const malformed = await fetch(`${lab.gatewayUrl}/api/checkout`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"userId":' });
    expect(malformed.status).toBe(400);
    const text = await malformed.text();
    expect(text).toContain('not valid JSON');
    expect(text).not.toMatch(/at \w+ \(/);
    const missing = await fetch(`${lab.gatewayUrl}/nowhere`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toContain(PROBLEM_CONTENT_TYPE);
  });

  it('turns a bank outage at the proxy into a 502 after bounded retries, and recovers when it is removed', async () => {
    const chaos = createChaosClient(lab.chaosAdminUrl);
    await chaos.addHttpFault('payment-bank', { name: 'outage', type: 'http_error', toxicity: 1, attributes: { status: 503 } });
    try {
      const failed = await checkout();
      expect(failed.status).toBe(502);
      expect(await failed.json()).toMatchObject({ title: 'payment failed', detail: 'payment answered 502' });
    } finally {
      await chaos.removeHttpFault('payment-bank', 'outage');
    }
    expect((await checkout()).status).toBe(201);
    const metrics = await (await fetch(`${lab.serviceUrl('checkout')}/metrics`)).text();
    expect(metrics).toMatch(/resilience_retries_total\{dependency="payment"\} [1-9]/);
  });

  it('rejects a missing or forged bearer token with 401 problem+json', async () => {
    const anonymous = await checkout({ authorization: '' });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toContain('Bearer');
    expect(await anonymous.json()).toMatchObject({ status: 401, detail: 'missing Authorization header' });
    const forged = await checkout({ authorization: `Bearer ${await issueToken('not-the-lab-secret-at-all', 'user-1')}` });
    expect(forged.status).toBe(401);
  });

  it('rate-limits one client with 429 and Retry-After, without touching another', async () => {
    const greedy = await issueToken(lab.authSecret, 'greedy-user');
    const statuses = [];
    for (let i = 0; i < 20; i += 1) {
      const response = await checkout({ authorization: `Bearer ${greedy}` });
      statuses.push(response.status);
      if (response.status === 429) expect(Number(response.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    }
    expect(statuses.filter((status) => status === 201).length).toBeGreaterThanOrEqual(12);
    expect(statuses).toContain(429);
    expect((await checkout({ authorization: `Bearer ${await issueToken(lab.authSecret, 'patient-user')}` })).status).toBe(201);
    expect(await (await fetch(`${lab.gatewayUrl}/metrics`)).text()).toMatch(/resilience_rate_limited_total [1-9]/);
  });

  it('sheds load with 503 when too many requests are in flight', async () => {
    const chaos = createChaosClient(lab.chaosAdminUrl);
    await chaos.addToxic('payment-bank', { name: 'slow-for-shedding', type: 'latency', stream: 'downstream', attributes: { latency: 300, jitter: 0 } });
    try {
      const users = await Promise.all(Array.from({ length: 8 }, (_, i) => issueToken(lab.authSecret, `crowd-${i}`)));
      const responses = await Promise.all(users.map((user) => checkout({ authorization: `Bearer ${user}` })));
      const statuses = responses.map((response) => response.status);
      expect(statuses.filter((status) => status === 201).length).toBeGreaterThanOrEqual(3);
      expect(statuses.filter((status) => status === 503).length).toBeGreaterThanOrEqual(1);
      const shed = responses.find((response) => response.status === 503)!;
      expect(await shed.json()).toMatchObject({ title: 'Overloaded' });
    } finally {
      await chaos.removeToxic('payment-bank', 'slow-for-shedding');
    }
  });

  it("switches the gateway's rate limit and load shedding live (/admin/admission), and back", async () => {
    const admission = `${lab.adminUrl('gateway')}/admin/admission`;
    const change = (body: unknown) => fetch(admission, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const read = async (user: string, times: number) => {
      const bearer = `Bearer ${await issueToken(lab.authSecret, user)}`;
      const statuses: number[] = [];
      for (let i = 0; i < times; i += 1) statuses.push((await fetch(`${lab.gatewayUrl}/api/products/sku-1`, { headers: { authorization: bearer } })).status);
      return statuses;
    };
    const chaos = createChaosClient(lab.chaosAdminUrl);
    try {
      // The limit (2/s, burst 12) off: one client's 30 reads all pass.
      expect((await change({ rateLimit: { enabled: false } })).status).toBe(200);
      expect(new Set(await read('live-greedy', 30))).toEqual(new Set([200]));
      // On again with a burst of 1 at 0.1/s: a fresh client's second read is refused.
      expect((await change({ rateLimit: { enabled: true, burst: 1, ratePerSecond: 0.1 } })).status).toBe(200);
      expect(await read('live-fresh', 3)).toEqual([200, 429, 429]);
      // Shedding off: eight slow checkouts at once all get through a limit of 3 in flight.
      expect((await change({ rateLimit: { enabled: false }, loadShedding: { enabled: false } })).status).toBe(200);
      await chaos.addToxic('payment-bank', { name: 'slow-live-shedding', type: 'latency', stream: 'downstream', attributes: { latency: 300, jitter: 0 } });
      const users = await Promise.all(Array.from({ length: 8 }, (_, i) => issueToken(lab.authSecret, `live-crowd-${i}`)));
      const statuses = (await Promise.all(users.map((user) => checkout({ authorization: `Bearer ${user}` })))).map((response) => response.status);
      expect(statuses.filter((status) => status === 503)).toEqual([]);
      // A bad change is refused naming the field, and changes nothing.
      const bad = await change({ loadShedding: { maxInFlight: 0 } });
      expect(bad.status).toBe(400);
      expect(await bad.json()).toMatchObject({ errors: [{ field: 'loadShedding.maxInFlight' }] });
    } finally {
      await chaos.removeToxic('payment-bank', 'slow-live-shedding').catch(() => undefined);
      expect((await fetch(`${admission}/reset`, { method: 'POST' })).status).toBe(200);
    }
    const after = (await (await fetch(admission)).json()) as { admission: unknown; initial: unknown; history: Array<{ action: string }> };
    expect(after.admission).toEqual(after.initial);
    expect(after.admission).toEqual({ rateLimit: { enabled: true, ratePerSecond: 2, burst: 12 }, loadShedding: { enabled: true, maxInFlight: 3 } });
    expect(after.history.map((entry) => entry.action)).toEqual(['patch', 'patch', 'patch', 'reset']);
  });

  it('the bank charges once per idempotency key, refunds once, and has knobs for the fault timeline', async () => {
    const bank = lab.serviceUrl('bank');
    const charge = (key: string, amount = 500) =>
      fetch(`${bank}/charges`, { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': key }, body: JSON.stringify({ orderId: 'order-77', amount }) });
    const first = await charge('bank-key-0001');
    expect(first.status).toBe(201);
    const { chargeId } = (await first.json()) as { chargeId: string };
    const replay = await charge('bank-key-0001');
    expect(replay.status).toBe(200);
    expect(await replay.json()).toMatchObject({ chargeId, replayed: true });
    expect((await charge('bank-key-0001', 999)).status).toBe(409);
    const refund = () => fetch(`${bank}/refunds`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ chargeId }) });
    expect((await refund()).status).toBe(201);
    expect((await refund()).status).toBe(200);
    const books = (await (await fetch(`${bank}/charges`)).json()) as { charges: unknown[]; refunds: unknown[] };
    expect(books.refunds).toHaveLength(1);

    const knobs = (body: unknown) => fetch(`${lab.adminUrl('bank')}/admin/behaviour`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await knobs({ failureRate: '100%' })).status).toBe(200);
    try {
      expect((await charge('bank-key-0002')).status).toBe(503);
      expect((await checkout()).status).toBe(502);
    } finally {
      await knobs({});
    }
    expect((await knobs({ failureRate: 2 })).status).toBe(400);
    expect((await charge('bank-key-0003')).status).toBe(201);
  });

  it('compensates the saga when payment fails after the reservation: stock is released, nothing charged', async () => {
    const inventory = lab.serviceUrl('inventory');
    const available = async () => ((await (await fetch(`${inventory}/stock/sku-2`)).json()) as { available: number }).available;
    const before = await available();
    const bankAdmin = lab.adminUrl('bank');
    await fetch(`${bankAdmin}/admin/behaviour`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ failureRate: 1 }) });
    try {
      const failed = await checkout({ 'idempotency-key': 'saga-comp-0001' }, { ...order, items: [{ sku: 'sku-2', quantity: 3 }] });
      expect(failed.status).toBe(502);
    } finally {
      await fetch(`${bankAdmin}/admin/behaviour`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    }
    expect(await available()).toBe(before);
    const checkoutMetrics = await (await fetch(`${lab.serviceUrl('checkout')}/metrics`)).text();
    expect(checkoutMetrics).toMatch(/checkout_saga_steps_total\{step="release",result="ok"\} [1-9]/);
    expect(checkoutMetrics).toMatch(/checkout_orders_total\{state="compensated"\} [1-9]/);
  });

  it('never charges twice: retries against a slow bank, then a client replay, give one charge and the first answer', async () => {
    const bank = lab.serviceUrl('bank');
    // Slower than payment's 1 s timeout to the bank: payment answers 504, checkout retries with the same key.
    await fetch(`${lab.adminUrl('bank')}/admin/behaviour`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ latency: '1200ms' }) });
    let first: Response;
    try {
      first = await checkout({ 'idempotency-key': 'double-charge-01' });
    } finally {
      await fetch(`${lab.adminUrl('bank')}/admin/behaviour`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    }
    const firstBody = (await first.json()) as { orderId?: string };
    const replay = await checkout({ 'idempotency-key': 'double-charge-01' });
    expect(replay.status).toBe(first.status);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(await replay.json()).toEqual(firstBody);
    const conflict = await checkout({ 'idempotency-key': 'double-charge-01' }, { ...order, amount: 1 });
    expect(conflict.status).toBe(409);
    // The bank saw the charge under one key: at most one standing charge for the order.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const books = (await (await fetch(`${bank}/charges`)).json()) as { charges: Array<{ chargeId: string; idempotencyKey: string }>; refunds: Array<{ chargeId: string }> };
    const refunded = new Set(books.refunds.map((r) => r.chargeId));
    const standing = books.charges.filter((c) => c.idempotencyKey === 'double-charge-01' && !refunded.has(c.chargeId));
    expect(standing.length).toBeLessThanOrEqual(1);
    expect(standing.length).toBe(first.status === 201 ? 1 : 0);
  });

  it('serves the storefront through the gateway, and falls back to popular items when recommendation is down', async () => {
    const get = (path: string) => fetch(`${lab.gatewayUrl}${path}`, { headers: { authorization: `Bearer ${token}` } });
    const products = await get('/api/products?limit=3');
    expect(products.status).toBe(200);
    expect(((await products.json()) as { items: unknown[] }).items).toHaveLength(3);
    expect((await get('/api/products/sku-404')).status).toBe(404);
    const live = (await (await get('/api/recommendations?limit=2')).json()) as { fallback: boolean; items: unknown[] };
    expect(live).toMatchObject({ fallback: false });
    expect(live.items).toHaveLength(2);

    const recommendation = lab.processes().find((p) => p.name === 'recommendation')!;
    const gone = new Promise((resolve) => recommendation.child.once('exit', resolve));
    recommendation.child.kill('SIGKILL');
    await gone;
    const degraded = await get('/api/recommendations?limit=2');
    expect(degraded.status).toBe(200);
    expect(await degraded.json()).toMatchObject({ fallback: true, items: expect.any(Array) });
    expect(await (await fetch(`${lab.gatewayUrl}/metrics`)).text()).toMatch(/resilience_calls_total\{dependency="recommendation",outcome="fallback"\} [1-9]/);
  });

  it('fails over when one payment instance is killed mid-load: only requests caught at the kill fail', async () => {
    const users = await Promise.all(Array.from({ length: 40 }, (_, i) => issueToken(lab.authSecret, `failover-${i}`)));
    const victim = lab.processes().find((p) => p.name === 'payment-1')!;
    const results: Promise<number>[] = [];
    // At most two checkouts in flight: the gateway sheds beyond three (this lab's loadShedding), and on a
    // busy machine a fixed 60 ms spacing piled up enough slow checkouts to be shed, which is not failover.
    const inFlight = new Set<Promise<number>>();
    for (const [i, user] of users.entries()) {
      if (i === 15) victim.child.kill('SIGKILL');
      while (inFlight.size >= 2) await Promise.race(inFlight);
      const status = checkout({ authorization: `Bearer ${user}` }).then((response) => response.status);
      inFlight.add(status);
      void status.finally(() => inFlight.delete(status));
      results.push(status);
      await new Promise((resolve) => setTimeout(resolve, 60));
    }
    const statuses = await Promise.all(results);
    const failed = statuses.filter((status) => status !== 201).length;
    // Requests in flight at the kill, and retries that land on the dead instance before it is ejected
    // (5 failures in a row); the band is wide because a busy 2-core machine keeps more requests in flight.
    expect(failed).toBeLessThanOrEqual(10);
    expect(statuses.slice(-10).every((status) => status === 201)).toBe(true);
  });

  it('applies and removes an in-service fault the way a scenario timeline does', async () => {
    const target = serviceFaultTarget(lab);
    const fault = parseScenario(
      {
        name: 'block',
        description: 'event loop block',
        phases: [{ name: 'p', duration: '1s' }],
        load: { executor: 'constant-arrival-rate', journey: 'checkout', rate: 1, preAllocatedVUs: 1 },
        faults: [{ name: 'stall', type: 'event_loop_block', target: 'bank', attributes: { block: '600ms', every: '700ms' }, phase: 'p' }],
        expectations: [{ name: 'x', type: 'threshold', metric: 'http_req_failed', threshold: 'rate<1' }],
      },
      'test',
    ).faults[0]!;
    const healthz = async () => {
      const started = performance.now();
      await fetch(`${lab.serviceUrl('bank')}/healthz`);
      return performance.now() - started;
    };
    await target.apply(fault);
    try {
      await new Promise((resolve) => setTimeout(resolve, 100));
      const slowest = Math.max(await healthz(), await healthz(), await healthz());
      expect(slowest).toBeGreaterThan(200);
      expect(await (await fetch(`${lab.serviceUrl('bank')}/metrics`)).text()).toMatch(/chaos_fault_active\{fault="stall",target="bank"\} 1/);
    } finally {
      await target.remove(fault);
    }
    await new Promise((resolve) => setTimeout(resolve, 800));
    expect(await healthz()).toBeLessThan(200);
  });

  it('drains a request in flight on SIGTERM, then exits', async () => {
    const chaos = createChaosClient(lab.chaosAdminUrl);
    await chaos.addToxic('payment-bank', { name: 'slow-bank', type: 'latency', stream: 'downstream', attributes: { latency: 400, jitter: 0 } });
    const gateway = lab.processes().find((p) => p.name === 'gateway')!;
    const exited = new Promise<number | null>((resolve) => gateway.child.once('exit', (code) => resolve(code)));
    const inFlight = checkout();
    await new Promise((resolve) => setTimeout(resolve, 150));
    gateway.child.kill('SIGTERM');
    const response = await inFlight;
    expect(response.status).toBe(201);
    expect(await exited).toBe(0);
    await expect(fetch(`${lab.gatewayUrl}/healthz`)).rejects.toThrow();
  });
});
