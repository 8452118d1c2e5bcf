// payment: charges an order through the bank. The bank is a third party
// behind a fault proxy; every attempt has a timeout, and the idempotency key
// travels with the charge so the bank never charges twice. Checkout calls it
// over gRPC (payment.proto, on its own port, announced as `grpc`); the same
// charge and refund are on the HTTP port too, for people and curl. Both speak
// the same problems: a gRPC failure carries the HTTP status of its problem.

import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { dependencyUrl, readServiceConfig } from '../kit/config.ts';
import { deadlineHeader } from '../kit/schema.ts';
import { GRPC_METADATA, HEADER } from '../kit/conventions.ts';
import { createDependencyClient } from '../kit/dependency-client.ts';
import { startGrpcServer, type GrpcCallContext } from '../kit/grpc.ts';
import { ProblemError, problemType } from '../kit/problem.ts';
import { startService } from '../kit/service.ts';
import { parseOrProblem } from '../kit/validation.ts';
import { BulkheadRejectedError } from '../resilience/bulkhead.ts';
import { isRefusalStatus, isTransient, problemForFailure, refusalFor, upstreamErrorFor } from '../resilience/http-failures.ts';
import { loadPaymentService, type ChargeReply, type ChargeRequest, type RefundReply, type RefundRequest } from './proto.ts';

const paymentRequest = z.strictObject({
  orderId: z.string().min(1).max(100),
  amount: z.int().positive().max(100_000_000),
  currency: z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code such as EUR').optional(),
});
const idempotencyKey = z.string().min(8).max(200);
const grpcPolicy = z.strictObject({ port: z.int().min(0).max(65_535).default(0) });

// The bank edge gets a timeout by default; retries and a breaker only when a scenario asks.
const BANK_POLICY_DEFAULT = { retry: { enabled: false }, circuitBreaker: { enabled: false } };
/** Less budget than this cannot cover a round trip to the bank: refuse rather than start a charge nobody waits for. */
const MIN_BANK_BUDGET_MS = 10;

const config = readServiceConfig();
await startService(config, async ({ app, metrics, logger, policies, onClose, announcePort }) => {
  const bank = createDependencyClient('bank', dependencyUrl(config, 'bank'), metrics);
  onClose(() => bank.close());
  // Live (/admin/policies): a charge reads the policy it starts under, as the guarded call does.
  const bankCall = policies.register({
    dependency: 'bank',
    policy: config.policies.bank ?? BANK_POLICY_DEFAULT,
    // Charges and refunds carry their idempotency key, so a transient failure may be retried; a refusal (4xx) never is,
    // nor does it count against a breaker (the default isFailure).
    retryable: isTransient,
  });

  /** The problem a failed bank call becomes; a full bulkhead is "too many requests", not "bank unreachable". */
  const bankProblem = (error: unknown): ProblemError => {
    if (error instanceof ProblemError) return error;
    if (error instanceof BulkheadRejectedError) {
      return new ProblemError({ type: problemType('bulkhead-full'), title: 'payment busy', status: 429, detail: error.message }, { 'retry-after': '1' });
    }
    return problemForFailure('bank', error);
  };

  const charge = async (body: z.infer<typeof paymentRequest>, key: string, callerDeadline: number | undefined, signal?: AbortSignal) => {
    if (callerDeadline !== undefined && callerDeadline - Date.now() < MIN_BANK_BUDGET_MS) {
      throw new ProblemError({ type: problemType('deadline-exceeded'), title: 'Deadline exceeded', status: 504, detail: 'the caller gave up before this charge could start; nothing was charged' });
    }
    const bankPolicy = bankCall.policy;
    const bankTimeoutMs = bankPolicy.timeout.enabled ? bankPolicy.timeout.timeout : 30_000;
    try {
      const charged = await bankCall.execute(async (attemptSignal) => {
        // The bank must not charge once nobody waits for the answer: the deadline travels with the request.
        const deadline = Math.min(callerDeadline ?? Infinity, Date.now() + bankTimeoutMs);
        const response = await bank.request<{ chargeId: string }>({
          method: 'POST',
          path: '/charges',
          body,
          headers: { [HEADER.idempotencyKey]: key, [HEADER.deadline]: String(Math.round(deadline)) },
          signal: attemptSignal,
        });
        // A refusal (a declined card, a reused key, a field the bank will not take) reaches the caller as the bank said it.
        if (isRefusalStatus(response.status)) throw refusalFor('bank', response.status, response.body);
        if (response.status >= 400) throw upstreamErrorFor('bank', response);
        return response.body;
      }, signal);
      return { paymentId: randomUUID(), orderId: body.orderId, chargeId: charged.chargeId };
    } catch (error) {
      throw bankProblem(error);
    }
  };

  // Compensation: undo whatever was charged under this idempotency key. Safe to
  // repeat, and safe when nothing was charged (a charge that timed out may or may not have happened).
  const refund = async (key: string, signal?: AbortSignal) => {
    try {
      const refunded = await bankCall.execute(async (attemptSignal) => {
        const response = await bank.request<{ refundId: string }>({ method: 'POST', path: '/refunds', body: { idempotencyKey: key }, signal: attemptSignal });
        if (response.status === 404) return undefined;
        if (isRefusalStatus(response.status)) throw refusalFor('bank', response.status, response.body);
        if (response.status >= 400) throw upstreamErrorFor('bank', response);
        return response.body;
      }, signal);
      return refunded ? { refunded: true, refundId: refunded.refundId } : { refunded: false, reason: 'nothing was charged under this key' };
    } catch (error) {
      throw bankProblem(error);
    }
  };

  app.post('/payments', async (req, res) => {
    const key = parseOrProblem(idempotencyKey, req.get(HEADER.idempotencyKey), `header.${HEADER.idempotencyKey}`);
    const body = parseOrProblem(paymentRequest, req.body, 'body');
    const callerDeadline = parseOrProblem(deadlineHeader, req.get(HEADER.deadline), `header.${HEADER.deadline}`);
    res.status(201).json(await charge(body, key, callerDeadline));
  });
  app.post('/refunds', async (req, res) => {
    const key = parseOrProblem(idempotencyKey, req.get(HEADER.idempotencyKey), `header.${HEADER.idempotencyKey}`);
    res.status(200).json(await refund(key));
  });

  // gRPC: the same operations; the caller's deadline is the gRPC deadline.
  const keyOf = (fromMessage: string, call: GrpcCallContext) =>
    parseOrProblem(idempotencyKey, fromMessage !== '' ? fromMessage : call.metadata(GRPC_METADATA.idempotencyKey), 'idempotency_key');
  const grpcPort = parseOrProblem(grpcPolicy, config.policies.grpc ?? {}, 'policies.grpc').port;
  const grpcServer = await startGrpcServer({
    host: config.host,
    port: grpcPort,
    service: loadPaymentService(),
    logger,
    metrics,
    // A retry hint travels with "busy" (about one queue wait) and "circuit open" (as Retry-After does on HTTP).
    retryAfterMs: (error) =>
      error.problem.type === problemType('bulkhead-full')
        ? bankCall.policy.bulkhead.queueTimeout
        : error.headers['retry-after']
          ? Number(error.headers['retry-after']) * 1_000
          : undefined,
    handlers: {
      Charge: async (request: ChargeRequest, call): Promise<ChargeReply> => {
        const key = keyOf(request.idempotencyKey, call);
        const body = parseOrProblem(
          paymentRequest,
          { orderId: request.orderId, amount: request.amount, ...(request.currency !== '' ? { currency: request.currency } : {}) },
          'charge',
        );
        return charge(body, key, call.deadline, call.signal);
      },
      Refund: async (request: RefundRequest, call): Promise<RefundReply> => {
        const refunded = await refund(keyOf(request.idempotencyKey, call), call.signal);
        return { refunded: refunded.refunded, refundId: refunded.refundId ?? '', reason: refunded.reason ?? '' };
      },
    },
  });
  announcePort('grpc', grpcServer.port);
  onClose(() => grpcServer.close());
  logger.info({ port: grpcServer.port }, 'gRPC listening');
});
