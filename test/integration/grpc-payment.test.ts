// The checkout -> payment hop over gRPC, against real processes: it crosses the
// fault proxy in tcp mode, one trace runs gateway -> checkout -> payment -> bank,
// the caller's remaining budget becomes the gRPC deadline (a nearly expired one
// is refused before the bank is called), bad messages get INVALID_ARGUMENT
// naming the field, and a killed instance is ejected, then re-admitted.

import { createRequire } from 'node:module';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as grpcTypes from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createChaosClient } from '../../chaos/admin-client.ts';
import { HEADER, LATENCY_BUCKETS } from '../../demo-services/kit/conventions.ts';
import { createBalancedGrpcClient } from '../../demo-services/kit/grpc.ts';
import { GRPC_CODE, GrpcRefusedError } from '../../demo-services/kit/grpc-status.ts';
import { issueToken } from '../../demo-services/kit/jwt.ts';
import { createLogger } from '../../demo-services/kit/logger.ts';
import { createServiceMetrics } from '../../demo-services/kit/metrics.ts';
import { loadPaymentService } from '../../demo-services/payment/proto.ts';
import { TimeoutError, UpstreamStatusError } from '../../demo-services/resilience/errors.ts';
import { startLab, type Lab } from '../../runner/lab.ts';

const grpc = createRequire(import.meta.url)('@grpc/grpc-js') as typeof grpcTypes;
const service = loadPaymentService();
const logger = createLogger('test', 'test', 'silent');

let lab: Lab;
let runDir: string;
let token: string;

const checkout = (headers: Record<string, string> = {}) =>
  fetch(`${lab.gatewayUrl}/api/checkout`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...headers },
    body: JSON.stringify({ userId: 'user-1', items: [{ sku: 'sku-1', quantity: 1 }], amount: 1_999 }),
  });

/** A gRPC client straight to one payment instance's gRPC port (no proxy). */
const direct = (instance: string) => {
  const port = lab.processes().find((p) => p.name === instance)?.ports.grpc;
  return createBalancedGrpcClient({
    dependency: 'payment',
    urls: [`http://127.0.0.1:${port}`],
    service,
    metrics: createServiceMetrics({ defaultMetrics: false }),
    logger,
    balancing: { strategy: 'round-robin', consecutiveFailures: 5, ejectionMs: 1_000 },
  });
};

const bankCharges = async () => ((await (await fetch(`${lab.serviceUrl('bank')}/charges`)).json()) as { count: number }).count;
const metricsOf = async (name: string) => (await fetch(`${lab.serviceUrl(name)}/metrics`)).text();

/** The label sets of a histogram's _count series in a scrape, as objects. */
function countLabels(text: string, histogram: string): Array<Record<string, string>> {
  return [...text.matchAll(new RegExp(`^${histogram}_count\\{([^}]*)\\} \\d+`, 'gm'))].map((m) =>
    Object.fromEntries([...(m[1] as string).matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]])),
  );
}

/** The distinct bucket edges (le) of a histogram in a scrape. */
function edges(text: string, histogram: string): string[] {
  return [...new Set([...text.matchAll(new RegExp(`^${histogram}_bucket\\{le="([^"]+)"`, 'gm'))].map((m) => m[1] as string))];
}

const RECOMMENDED_EDGES = ['0.005', '0.01', '0.025', '0.05', '0.075', '0.1', '0.25', '0.5', '0.75', '1', '2.5', '5', '7.5', '10', '+Inf'];

beforeAll(async () => {
  runDir = await mkdtemp(join(tmpdir(), 'faultline-grpc-'));
  lab = await startLab({
    runDir,
    seed: 11,
    services: ['checkout'],
    policies: { checkout: { payment: { timeout: { timeout: '800ms' }, retry: { maxAttempts: 3, baseDelay: '10ms' }, circuitBreaker: { enabled: false } } } },
  });
  token = await issueToken(lab.authSecret, 'user-1');
}, 60_000);

afterAll(async () => {
  await lab?.stop();
  await rm(runDir, { recursive: true, force: true });
});

describe('checkout -> payment over gRPC', () => {
  it('charges through the tcp-mode fault proxy and records the RPC by method and status code', async () => {
    const response = await checkout();
    expect(response.status).toBe(201);
    const payments = lab.processes().filter((p) => p.name.startsWith('payment-'));
    expect(payments.map((p) => typeof p.ports.grpc)).toEqual(['number', 'number']);
    const proxy = await createChaosClient(lab.chaosAdminUrl).getProxy('checkout-payment.1');
    expect(proxy).toMatchObject({ mode: 'tcp' });
    expect(await metricsOf('checkout')).toMatch(
      /rpc_client_call_duration_seconds_count\{server_address="payment",server_port="\d+",rpc_system_name="grpc",rpc_method="faultline.payment.v1.Payment\/Charge",rpc_status_code="OK"\} [1-9]/,
    );
  });

  it("exposes the semantic conventions' label sets and recommended buckets on every duration histogram, in the services' own /metrics", async () => {
    expect(LATENCY_BUCKETS.map(String).concat('+Inf')).toEqual(RECOMMENDED_EDGES);
    expect((await checkout()).status).toBe(201);
    const proxies = createChaosClient(lab.chaosAdminUrl);
    const proxyPorts = await Promise.all(['checkout-payment.1', 'checkout-payment.2'].map(async (name) => (await proxies.getProxy(name)).listen.split(':').pop()));
    const checkoutText = await metricsOf('checkout');
    const paymentText = (await Promise.all(['payment-1', 'payment-2'].map(metricsOf))).join('\n');

    // http.server.request.duration: method, url_scheme, route, status; error_type only on failures.
    const served = countLabels(checkoutText, 'http_server_request_duration_seconds').find((l) => l.http_route === '/checkout');
    expect(served).toEqual({ http_request_method: 'POST', url_scheme: 'http', http_route: '/checkout', http_response_status_code: '201' });
    // http.client.request.duration: method, server_address, server_port (required), status.
    const toBank = countLabels(paymentText, 'http_client_request_duration_seconds').find((l) => l.server_address === 'bank');
    expect(Object.keys(toBank ?? {}).sort()).toEqual(['http_request_method', 'http_response_status_code', 'server_address', 'server_port']);
    expect(toBank?.server_port).toMatch(/^\d+$/);
    // rpc.client.call.duration: the current attributes, the status as its name, the port of the proxy it called.
    const attempts = countLabels(checkoutText, 'rpc_client_call_duration_seconds').filter((l) => l.rpc_status_code === 'OK');
    expect(attempts.length).toBeGreaterThan(0);
    for (const labels of attempts) {
      expect(labels).toEqual({ server_address: 'payment', server_port: labels.server_port, rpc_system_name: 'grpc', rpc_method: 'faultline.payment.v1.Payment/Charge', rpc_status_code: 'OK' });
      expect(proxyPorts).toContain(labels.server_port);
    }
    // rpc.server.call.duration on payment's gRPC server.
    expect(countLabels(paymentText, 'rpc_server_call_duration_seconds')).toContainEqual({ rpc_system_name: 'grpc', rpc_method: 'faultline.payment.v1.Payment/Charge', rpc_status_code: 'OK' });
    // The deprecated attributes are gone.
    for (const text of [checkoutText, paymentText]) expect(text).not.toMatch(/\b(rpc_system|rpc_service|rpc_grpc_status_code)=/);

    const histograms: Array<[string, string]> = [
      [checkoutText, 'http_server_request_duration_seconds'],
      [checkoutText, 'http_client_request_duration_seconds'],
      [checkoutText, 'rpc_client_call_duration_seconds'],
      [paymentText, 'rpc_server_call_duration_seconds'],
      [paymentText, 'http_client_request_duration_seconds'],
    ];
    for (const [text, histogram] of histograms) expect(edges(text, histogram), histogram).toEqual(RECOMMENDED_EDGES);
  });

  it('turns a nearly expired budget into DEADLINE_EXCEEDED without calling the bank', async () => {
    const before = await bankCharges();
    const client = direct('payment-1');
    try {
      for (const budgetMs of [2, 8]) {
        const failure = await client
          .unary({ method: 'Charge', request: { orderId: `late-${budgetMs}`, amount: 100, currency: 'EUR', idempotencyKey: `late-key-${budgetMs}` }, deadline: Date.now() + budgetMs })
          .then(() => undefined, (error: unknown) => error);
        // Either our own deadline passed first, or payment answered DEADLINE_EXCEEDED (its 504) itself.
        expect(failure instanceof TimeoutError || (failure instanceof UpstreamStatusError && failure.status === 504), String(failure)).toBe(true);
      }
      // Through checkout: the caller's deadline header is the budget; past it, payment is not charged.
      const late = await fetch(`${lab.serviceUrl('checkout')}/checkout`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', [HEADER.deadline]: String(Date.now() + 1) },
        body: JSON.stringify({ userId: 'user-1', items: [{ sku: 'sku-1', quantity: 1 }], amount: 1_999 }),
      });
      expect(late.status).toBe(504);
      expect(await late.json()).toMatchObject({ title: 'payment timed out' });
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(await bankCharges()).toBe(before);
    } finally {
      client.close();
    }
  });

  it('answers a bad message with INVALID_ARGUMENT naming the field, and undecodable bytes without falling over', async () => {
    const client = direct('payment-2');
    try {
      const bad = await client
        .unary({ method: 'Charge', request: { orderId: '', amount: -5, currency: 'euro', idempotencyKey: 'short' }, deadline: Date.now() + 2_000 })
        .then(() => undefined, (error: unknown) => error);
      expect(bad).toBeInstanceOf(GrpcRefusedError);
      expect(bad).toMatchObject({ grpcCode: GRPC_CODE.INVALID_ARGUMENT, httpStatus: 400 });
      expect((bad as GrpcRefusedError).details).toMatch(/^idempotency_key: /);
      const fields = await client
        .unary({ method: 'Charge', request: { orderId: '', amount: -5, currency: 'euro', idempotencyKey: 'key-00000042' }, deadline: Date.now() + 2_000 })
        .then(() => undefined, (error: unknown) => error as GrpcRefusedError);
      expect(fields?.details).toMatch(/charge\.orderId: .*charge\.amount: .*charge\.currency: must be an ISO 4217 code/);
    } finally {
      client.close();
    }

    // Garbage on the wire: a raw client that sends bytes no ChargeRequest decodes from.
    const port = lab.processes().find((p) => p.name === 'payment-2')?.ports.grpc;
    const Raw = grpc.makeGenericClientConstructor(
      { Charge: { path: '/faultline.payment.v1.Payment/Charge', requestStream: false, responseStream: false, requestSerialize: (b: Buffer) => b, requestDeserialize: (b: Buffer) => b, responseSerialize: (b: Buffer) => b, responseDeserialize: (b: Buffer) => b } },
      'Raw',
    );
    const raw = new Raw(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    try {
      const code = await new Promise<number>((resolve) => {
        (raw as unknown as { Charge: (req: Buffer, opts: object, cb: (e: grpcTypes.ServiceError | null) => void) => void }).Charge(Buffer.from([0xff, 0xff, 0xff, 0x07]), { deadline: Date.now() + 2_000 }, (error) => resolve(error?.code ?? 0));
      });
      expect([GRPC_CODE.INTERNAL, GRPC_CODE.INVALID_ARGUMENT]).toContain(code);
    } finally {
      raw.close();
    }
    expect((await fetch(`${lab.serviceUrl('payment-2')}/healthz`)).status).toBe(200);
  });

  it('ejects a killed payment instance, fails over, and re-admits it once it is back', { timeout: 30_000 }, async () => {
    lab.signalInstance('payment-1', 'SIGKILL');
    const statuses: number[] = [];
    for (let i = 0; i < 12; i += 1) statuses.push((await checkout()).status);
    // Retries land on the live instance: no checkout fails.
    expect(statuses.every((status) => status === 201), String(statuses)).toBe(true);
    const ejected = await metricsOf('checkout');
    expect(ejected).toContain('balancer_instance_ejected{dependency="payment",endpoint="payment-1"} 1');
    expect(ejected).toMatch(/balancer_instance_events_total\{dependency="payment",endpoint="payment-1",event="ejected"\} 1/);

    await lab.restartInstance('payment-1');
    // The balancer ejects for 5 s (kit/balanced-client.ts DEFAULT_BALANCING); then payment-1 gets traffic again.
    await new Promise((resolve) => setTimeout(resolve, 5_200));
    for (let i = 0; i < 6; i += 1) expect((await checkout()).status).toBe(201);
    const readmitted = await metricsOf('checkout');
    expect(readmitted).toContain('balancer_instance_ejected{dependency="payment",endpoint="payment-1"} 0');
    expect(readmitted).toMatch(/balancer_instance_events_total\{dependency="payment",endpoint="payment-1",event="readmitted"\} 1/);
    expect(await metricsOf('payment-1')).toMatch(/http_client_request_duration_seconds_count\{http_request_method="POST",server_address="bank",server_port="\d+",http_response_status_code="201"\} [1-9]/);
  });
});
