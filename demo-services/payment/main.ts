// payment: charges an order through the bank. The bank is a third party
// behind a fault proxy; every attempt has a timeout, and the idempotency key
// travels with the charge so the bank never charges twice.

import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { dependencyUrl, readServiceConfig } from '../kit/config.ts';
import { HEADER } from '../kit/conventions.ts';
import { createDependencyClient } from '../kit/dependency-client.ts';
import { ProblemError, problemType } from '../kit/problem.ts';
import { startService } from '../kit/service.ts';
import { parseOrProblem } from '../kit/validation.ts';
import { problemForFailure, upstreamErrorFor } from '../resilience/http-failures.ts';
import { dependencyPolicySchema } from '../resilience/policy-config.ts';
import { createResilientCall } from '../resilience/resilient-call.ts';

const paymentRequest = z.strictObject({
  orderId: z.string().min(1).max(100),
  amount: z.int().positive().max(100_000_000),
});
const idempotencyHeader = z.string().min(8).max(200);
const deadlineHeader = z.coerce.number().int().positive().optional();

// The bank edge gets a timeout by default; retries and a breaker only when a scenario asks.
const BANK_POLICY_DEFAULT = { retry: { enabled: false }, circuitBreaker: { enabled: false } };

const config = readServiceConfig();
await startService(config, ({ app, metrics, logger, onClose }) => {
  const bank = createDependencyClient('bank', dependencyUrl(config, 'bank'), metrics);
  onClose(() => bank.close());
  const bankPolicy = dependencyPolicySchema.parse(config.policies.bank ?? BANK_POLICY_DEFAULT);
  const bankTimeoutMs = bankPolicy.timeout.enabled ? bankPolicy.timeout.timeout : 30_000;
  const bankCall = createResilientCall({
    dependency: 'bank',
    policy: bankPolicy,
    metrics: metrics.resilience,
    logger,
    retryable: () => true,
  });

  app.post('/payments', async (req, res) => {
    const key = parseOrProblem(idempotencyHeader, req.get(HEADER.idempotencyKey), `header.${HEADER.idempotencyKey}`);
    const body = parseOrProblem(paymentRequest, req.body, 'body');
    const callerDeadline = parseOrProblem(deadlineHeader, req.get(HEADER.deadline), `header.${HEADER.deadline}`);
    if (callerDeadline !== undefined && Date.now() > callerDeadline) {
      throw new ProblemError({ type: problemType('deadline-exceeded'), title: 'Deadline exceeded', status: 504, detail: 'the caller gave up before this charge could start; nothing was charged' });
    }
    try {
      const charge = await bankCall.execute(async (signal) => {
        // The bank must not charge once nobody waits for the answer: the deadline travels with the request.
        const deadline = Math.min(callerDeadline ?? Infinity, Date.now() + bankTimeoutMs);
        const response = await bank.request<{ chargeId: string }>({
          method: 'POST',
          path: '/charges',
          body,
          headers: { [HEADER.idempotencyKey]: key, [HEADER.deadline]: String(Math.round(deadline)) },
          signal,
        });
        if (response.status >= 500 || response.status === 429) throw upstreamErrorFor('bank', response);
        if (response.status >= 400) {
          throw new ProblemError({ type: problemType('charge-declined'), title: 'Charge declined', status: 402, detail: `bank answered ${response.status}` });
        }
        return response.body;
      });
      res.status(201).json({ paymentId: randomUUID(), orderId: body.orderId, chargeId: charge.chargeId });
    } catch (error) {
      if (error instanceof ProblemError) throw error;
      throw problemForFailure('bank', error);
    }
  });

  // Compensation: undo whatever was charged under this idempotency key. Safe to
  // repeat, and safe when nothing was charged (a charge that timed out may or may not have happened).
  app.post('/refunds', async (req, res) => {
    const key = parseOrProblem(idempotencyHeader, req.get(HEADER.idempotencyKey), `header.${HEADER.idempotencyKey}`);
    try {
      const refunded = await bankCall.execute(async (signal) => {
        const response = await bank.request<{ refundId: string }>({ method: 'POST', path: '/refunds', body: { idempotencyKey: key }, signal });
        if (response.status === 404) return undefined;
        if (response.status >= 500 || response.status === 429) throw upstreamErrorFor('bank', response);
        if (response.status >= 400) throw new ProblemError({ title: 'Refund refused', status: 502, detail: `bank answered ${response.status}` });
        return response.body;
      });
      res.status(200).json(refunded ? { refunded: true, refundId: refunded.refundId } : { refunded: false, reason: 'nothing was charged under this key' });
    } catch (error) {
      if (error instanceof ProblemError) throw error;
      throw problemForFailure('bank', error);
    }
  });
});
