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
import { HEADER } from '../../demo-services/kit/conventions.ts';
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
      /rpc_client_call_duration_seconds_count\{server_address="payment",rpc_system="grpc",rpc_service="faultline.payment.v1.Payment",rpc_method="Charge",rpc_grpc_status_code="0"\} [1-9]/,
    );
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
    expect(await metricsOf('payment-1')).toMatch(/http_client_request_duration_seconds_count\{http_request_method="POST",server_address="bank",http_response_status_code="201"\} [1-9]/);
  });
});
