import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPaymentService, type ChargeReply, type ChargeRequest } from '../payment/proto.ts';
import { TimeoutError, UpstreamStatusError } from '../resilience/errors.ts';
import { DependencyError } from './dependency-client.ts';
import { createBalancedGrpcClient, startGrpcServer, type GrpcCallContext, type GrpcServer } from './grpc.ts';
import { GrpcRefusedError } from './grpc-status.ts';
import { createLogger } from './logger.ts';
import { LATENCY_BUCKETS } from './conventions.ts';
import { createServiceMetrics } from './metrics.ts';
import { ProblemError } from './problem.ts';

const service = loadPaymentService();
const logger = createLogger('test', 'test', 'silent');
let server: GrpcServer;
const serverMetrics = createServiceMetrics({ defaultMetrics: false });
let resetting: Server;
const seen: Array<{ request: ChargeRequest; call: GrpcCallContext }> = [];

beforeAll(async () => {
  server = await startGrpcServer({
    host: '127.0.0.1',
    port: 0,
    service,
    logger,
    metrics: serverMetrics,
    retryAfterMs: () => 120,
    handlers: {
      Charge: async (request: ChargeRequest, call): Promise<ChargeReply> => {
        seen.push({ request, call });
        if (request.orderId === 'busy') throw new ProblemError({ title: 'payment busy', status: 429, detail: 'bulkhead full' });
        if (request.orderId === 'declined') throw new ProblemError({ title: 'Charge declined', status: 402, detail: 'bank answered 402' });
        if (request.orderId === 'crash') throw new Error('boom');
        if (request.orderId === 'slow') await new Promise((resolve) => setTimeout(resolve, 300));
        return { paymentId: 'p-1', orderId: request.orderId, chargeId: `c-${request.idempotencyKey}` };
      },
      Refund: async () => ({ refunded: false, refundId: '', reason: 'nothing' }),
    },
  });
  // A dead instance: accepts and at once resets every connection (a released port could be taken by anyone).
  resetting = createServer((socket) => socket.resetAndDestroy()).listen(0, '127.0.0.1');
  await once(resetting, 'listening');
});

afterAll(async () => {
  await server?.close(500);
  resetting?.close();
});

const charge = (orderId: string) => ({ orderId, amount: 100, currency: 'EUR', idempotencyKey: 'key-00000001' });

describe('gRPC client and server', () => {
  it('calls, propagates the deadline and metadata, and records the RPC durations with the conventions\' current attributes', async () => {
    const metrics = createServiceMetrics({ defaultMetrics: false });
    const client = createBalancedGrpcClient({ dependency: 'payment', urls: [`http://127.0.0.1:${server.port}`], service, metrics, logger, balancing: { strategy: 'round-robin', consecutiveFailures: 2, ejectionMs: 200 } });
    try {
      const deadline = Date.now() + 2_000;
      const reply = await client.unary<ChargeRequest, ChargeReply>({ method: 'Charge', request: charge('o-1'), deadline, metadata: { 'idempotency-key': 'key-00000001' } });
      expect(reply).toEqual({ paymentId: 'p-1', orderId: 'o-1', chargeId: 'c-key-00000001' });
      const last = seen.at(-1)!;
      expect(last.call.metadata('idempotency-key')).toBe('key-00000001');
      expect(Math.abs((last.call.deadline ?? 0) - deadline)).toBeLessThan(100);

      await expect(client.unary({ method: 'Charge', request: charge('busy'), deadline })).rejects.toSatisfy(
        (error) => error instanceof UpstreamStatusError && error.status === 429 && error.retryAfterMs === 120,
      );
      await expect(client.unary({ method: 'Charge', request: charge('declined'), deadline })).rejects.toSatisfy(
        (error) => error instanceof GrpcRefusedError && error.httpStatus === 402 && error.problemTitle === 'Charge declined',
      );
      await expect(client.unary({ method: 'Charge', request: charge('crash'), deadline })).rejects.toSatisfy(
        (error) => error instanceof DependencyError && /INTERNAL/.test(error.message),
      );
      await expect(client.unary({ method: 'Charge', request: charge('slow'), deadline: Date.now() + 50 })).rejects.toBeInstanceOf(TimeoutError);

      const text = await metrics.render(false);
      const attempt = `server_address="payment",server_port="${server.port}",rpc_system_name="grpc",rpc_method="faultline.payment.v1.Payment/Charge"`;
      const counts = [...text.matchAll(/^rpc_client_call_duration_seconds_count(\{[^}]*\}) (\d+)$/gm)].map((m) => `${m[1]} ${m[2]}`).sort();
      // rpc.status_code is the status name; every status but OK is also the error_type on a client.
      expect(counts).toEqual(
        [
          `{${attempt},rpc_status_code="OK"} 1`,
          `{${attempt},rpc_status_code="RESOURCE_EXHAUSTED",error_type="RESOURCE_EXHAUSTED"} 1`,
          `{${attempt},rpc_status_code="FAILED_PRECONDITION",error_type="FAILED_PRECONDITION"} 1`,
          `{${attempt},rpc_status_code="INTERNAL",error_type="INTERNAL"} 1`,
          `{${attempt},rpc_status_code="DEADLINE_EXCEEDED",error_type="DEADLINE_EXCEEDED"} 1`,
        ].sort(),
      );
      expect(text).not.toMatch(/rpc_system=|rpc_service=|rpc_grpc_status_code=/);
      const edges = [...text.matchAll(/^rpc_client_call_duration_seconds_bucket\{le="([^"]+)",[^}]*rpc_status_code="OK"/gm)].map((m) => m[1]);
      expect(edges).toEqual([...LATENCY_BUCKETS.map(String), '+Inf']);

      // The server's side of the same calls: error_type only on the codes that are the server's own errors.
      const served = await serverMetrics.render(false);
      const method = 'rpc_system_name="grpc",rpc_method="faultline.payment.v1.Payment/Charge"';
      expect(served).toMatch(new RegExp(`^rpc_server_call_duration_seconds_count\\{${method},rpc_status_code="OK"\\} [1-9]`, 'm'));
      expect(served).toMatch(new RegExp(`^rpc_server_call_duration_seconds_count\\{${method},rpc_status_code="RESOURCE_EXHAUSTED"\\} 1$`, 'm'));
      expect(served).toMatch(new RegExp(`^rpc_server_call_duration_seconds_count\\{${method},rpc_status_code="INTERNAL",error_type="INTERNAL"\\} 1$`, 'm'));
    } finally {
      client.close();
    }
  });

  it('cancels the call when the caller aborts, and the server sees it', async () => {
    const client = createBalancedGrpcClient({ dependency: 'payment', urls: [`http://127.0.0.1:${server.port}`], service, metrics: createServiceMetrics({ defaultMetrics: false }), logger, balancing: { strategy: 'round-robin', consecutiveFailures: 2, ejectionMs: 200 } });
    try {
      const pending = client.unary({ method: 'Charge', request: charge('slow'), deadline: Date.now() + 5_000, signal: AbortSignal.timeout(50) });
      await expect(pending).rejects.toSatisfy((error) => error instanceof DependencyError && error.code === 'FL_DEP_TIMEOUT');
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(seen.at(-1)!.call.signal.aborted).toBe(true);
    } finally {
      client.close();
    }
  });

  it('passes over and ejects an instance that keeps failing, shows it in a metric, and re-admits it', async () => {
    const metrics = createServiceMetrics({ defaultMetrics: false });
    const urls = [`http://127.0.0.1:${server.port}`, `http://127.0.0.1:${(resetting.address() as { port: number }).port}`];
    const client = createBalancedGrpcClient({ dependency: 'payment', urls, service, metrics, logger, balancing: { strategy: 'round-robin', consecutiveFailures: 2, ejectionMs: 300 } });
    try {
      const outcomes: string[] = [];
      for (let i = 0; i < 8; i += 1) {
        outcomes.push(await client.unary({ method: 'Charge', request: charge('o-2'), deadline: Date.now() + 1_000 }).then(() => 'ok', () => 'failed'));
      }
      // At most the calls made before its channel saw the resets fail; after that it is passed over, then ejected.
      expect(outcomes.filter((outcome) => outcome === 'failed').length).toBeLessThanOrEqual(2);
      expect(outcomes.slice(2).every((outcome) => outcome === 'ok'), String(outcomes)).toBe(true);
      expect(client.healthy()).toEqual(['payment-1']);
      const ejected = await metrics.render(false);
      expect(ejected).toContain('balancer_instance_ejected{dependency="payment",endpoint="payment-2"} 1');
      expect(ejected).toContain('balancer_instance_events_total{dependency="payment",endpoint="payment-2",event="ejected"} 1');

      await new Promise((resolve) => setTimeout(resolve, 350));
      expect(client.healthy()).toEqual(['payment-1', 'payment-2']);
      const readmitted = await metrics.render(false);
      expect(readmitted).toContain('balancer_instance_ejected{dependency="payment",endpoint="payment-2"} 0');
      expect(readmitted).toContain('balancer_instance_events_total{dependency="payment",endpoint="payment-2",event="readmitted"} 1');
    } finally {
      client.close();
    }
  });
});
