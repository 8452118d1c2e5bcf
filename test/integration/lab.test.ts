// The skeleton's services as real processes on loopback: the checkout path
// works end to end, every service speaks the kit's conventions (metrics,
// health, problem+json), faults at the proxy reach the caller, and SIGTERM
// drains a request in flight before the process exits.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createChaosClient } from '../../chaos/admin-client.ts';
import { PROBLEM_CONTENT_TYPE } from '../../demo-services/kit/conventions.ts';
import { startLab, type Lab } from '../../runner/lab.ts';

let lab: Lab;
let runDir: string;

const order = { userId: 'user-1', items: [{ sku: 'sku-1', quantity: 1 }], amount: 1_999 };
const checkout = (headers: Record<string, string> = {}, body: unknown = order) =>
  fetch(`${lab.gatewayUrl}/api/checkout`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

beforeAll(async () => {
  runDir = await mkdtemp(join(tmpdir(), 'faultline-lab-'));
  lab = await startLab({ runDir, seed: 7, policies: { checkout: { payment: { retry: { maxAttempts: 2, baseDelay: '10ms' }, circuitBreaker: { minimumCalls: 50 } } } } });
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
    expect(gateway).toMatch(/http_server_request_duration_seconds_count\{http_request_method="POST",http_route="\/api\/checkout",http_response_status_code="201"\} \d+/);
    expect(gateway).toMatch(/http_client_request_duration_seconds_count\{http_request_method="POST",server_address="checkout",http_response_status_code="201"\}/);
    expect(gateway).toContain('nodejs_eventloop_lag_seconds');
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
