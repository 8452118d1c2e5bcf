// checkout: places an order by charging it through payment. The payment call
// is where the lab's resilience policies live: a per-attempt timeout, retries
// with capped exponential backoff and jitter (safe because the idempotency key
// makes the charge idempotent), and a circuit breaker that fails fast while
// payment is down.

import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { dependencyUrls, readServiceConfig } from '../kit/config.ts';
import { HEADER, SPAN_ATTR } from '../kit/conventions.ts';
import { createBalancedClient } from '../kit/balanced-client.ts';
import { ProblemError, problemType } from '../kit/problem.ts';
import { startService } from '../kit/service.ts';
import { parseOrProblem } from '../kit/validation.ts';
import { trace } from '@opentelemetry/api';
import { isTransient, problemForFailure, upstreamErrorFor } from '../resilience/http-failures.ts';
import { dependencyPolicySchema } from '../resilience/policy-config.ts';
import { createResilientCall } from '../resilience/resilient-call.ts';

const checkoutRequest = z.strictObject({
  userId: z.string().min(1).max(100),
  items: z
    .array(z.strictObject({ sku: z.string().min(1).max(64), quantity: z.int().min(1).max(100) }))
    .min(1)
    .max(50),
  amount: z.int().positive().max(100_000_000),
});
const idempotencyHeader = z.string().min(8).max(200).optional();

const config = readServiceConfig();
await startService(config, ({ app, metrics, logger, onClose }) => {
  // Payment runs as several instances: the balancer spreads calls and ejects one that keeps failing.
  const payment = createBalancedClient('payment', dependencyUrls(config, 'payment'), { metrics, logger });
  onClose(() => payment.close());
  const paymentCall = createResilientCall({
    dependency: 'payment',
    policy: dependencyPolicySchema.parse(config.policies.payment ?? {}),
    metrics: metrics.resilience,
    logger,
    retryable: isTransient,
    // A declined charge is an answer, not a sign that payment is unhealthy.
    isFailure: (error) => !(error instanceof ProblemError),
    seed: Number(process.env.FAULTLINE_SEED ?? 1),
  });

  app.post('/checkout', async (req, res) => {
    const key = parseOrProblem(idempotencyHeader, req.get(HEADER.idempotencyKey), `header.${HEADER.idempotencyKey}`);
    const order = parseOrProblem(checkoutRequest, req.body, 'body');
    const orderId = randomUUID();
    const paymentKey = key ?? `order-${orderId}`;
    trace.getActiveSpan()?.setAttributes({ [SPAN_ATTR.orderId]: orderId, [SPAN_ATTR.idempotencyKey]: paymentKey });
    try {
      const paid = await paymentCall.execute(async (signal) => {
        const response = await payment.request<{ paymentId: string }>({
          method: 'POST',
          path: '/payments',
          body: { orderId, amount: order.amount },
          headers: { [HEADER.idempotencyKey]: paymentKey },
          signal,
        });
        if (response.status >= 500 || response.status === 429) throw upstreamErrorFor('payment', response);
        if (response.status >= 400) {
          throw new ProblemError({ type: problemType('payment-declined'), title: 'Payment declined', status: 402, detail: `payment answered ${response.status}` });
        }
        return response.body;
      });
      logger.info({ orderId, paymentId: paid.paymentId }, 'order confirmed');
      res.status(201).json({ orderId, status: 'confirmed', paymentId: paid.paymentId });
    } catch (error) {
      if (error instanceof ProblemError) throw error;
      logger.warn({ orderId, err: (error as Error).message }, 'order failed');
      throw problemForFailure('payment', error);
    }
  });
});
