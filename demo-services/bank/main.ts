// bank: the simulated third-party card processor, the thing that fails.
// Charges at most once per idempotency key: a replay returns the first charge.
// Refunds undo a charge once. Its own latency and failure knobs (set at start
// from policies.behaviour, or at run time through a loopback-only admin
// endpoint) let a fault timeline make the bank itself slow or flaky.

import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { readServiceConfig } from '../kit/config.ts';
import { HEADER } from '../kit/conventions.ts';
import { ProblemError, problemType } from '../kit/problem.ts';
import { startService } from '../kit/service.ts';
import { parseOrProblem } from '../kit/validation.ts';
import { durationMs, ratio } from '../kit/schema.ts';
import { deriveSeed, mulberry32 } from '../kit/random.ts';
import { sleep } from '../resilience/retry.ts';

const chargeRequest = z.strictObject({
  orderId: z.string().min(1).max(100),
  amount: z.int().positive().max(100_000_000),
  currency: z.string().regex(/^[A-Z]{3}$/).default('EUR'),
});
const idempotencyHeader = z.string().min(8).max(200);
const refundRequest = z.strictObject({ chargeId: z.uuid() });
const behaviourSchema = z.strictObject({
  latency: durationMs.default(0),
  jitter: durationMs.default(0),
  /** Share of charges answered 503 (before anything is charged). */
  failureRate: ratio.default(0),
});

interface Charge {
  chargeId: string;
  orderId: string;
  amount: number;
  currency: string;
  createdAt: string;
}

const config = readServiceConfig();
await startService(config, ({ app, logger }) => {
  const charges = new Map<string, Charge>();
  const refunds = new Map<string, { refundId: string; chargeId: string; createdAt: string }>();
  let behaviour = parseOrProblem(behaviourSchema, config.policies.behaviour ?? {}, 'policies.behaviour');
  const random = mulberry32(deriveSeed(Number(process.env.FAULTLINE_SEED ?? 1), config.instance));

  // Knobs for the fault timeline; loopback callers only, whatever the bind address.
  app.post('/admin/behaviour', (req, res) => {
    if (!['127.0.0.1', '::1', '::ffff:127.0.0.1'].includes(req.socket.remoteAddress ?? '')) {
      throw new ProblemError({ type: problemType('forbidden'), title: 'Forbidden', status: 403, detail: 'admin endpoints answer loopback callers only' });
    }
    behaviour = parseOrProblem(behaviourSchema, req.body, 'body');
    logger.warn({ behaviour }, 'bank behaviour changed');
    res.json(behaviour);
  });
  app.get('/admin/behaviour', (_req, res) => {
    res.json(behaviour);
  });

  app.post('/charges', async (req, res) => {
    const key = parseOrProblem(idempotencyHeader, req.get(HEADER.idempotencyKey), `header.${HEADER.idempotencyKey}`);
    const body = parseOrProblem(chargeRequest, req.body, 'body');
    const delay = behaviour.latency + (behaviour.jitter ? (random() * 2 - 1) * behaviour.jitter : 0);
    if (delay > 0) await sleep(delay);
    if (behaviour.failureRate > 0 && random() < behaviour.failureRate) {
      throw new ProblemError({ type: problemType('bank-unavailable'), title: 'Bank unavailable', status: 503, detail: 'the bank failed this charge (failure knob)' }, { 'retry-after': '1' });
    }
    const existing = charges.get(key);
    if (existing) {
      if (existing.orderId !== body.orderId || existing.amount !== body.amount) {
        throw new ProblemError({
          type: problemType('idempotency-conflict'),
          title: 'Idempotency key reused',
          status: 409,
          detail: `idempotency key already used for order ${existing.orderId}`,
        });
      }
      res.status(200).json({ ...existing, replayed: true });
      return;
    }
    const charge: Charge = { chargeId: randomUUID(), ...body, createdAt: new Date().toISOString() };
    charges.set(key, charge);
    logger.info({ chargeId: charge.chargeId, orderId: charge.orderId, amount: charge.amount }, 'charged');
    res.status(201).json(charge);
  });

  app.post('/refunds', (req, res) => {
    const { chargeId } = parseOrProblem(refundRequest, req.body, 'body');
    const charge = [...charges.values()].find((candidate) => candidate.chargeId === chargeId);
    if (!charge) throw new ProblemError({ type: problemType('unknown-charge'), title: 'Unknown charge', status: 404, detail: `no charge ${chargeId}` });
    const existing = refunds.get(chargeId);
    if (existing) {
      res.status(200).json({ ...existing, replayed: true });
      return;
    }
    const refund = { refundId: randomUUID(), chargeId, createdAt: new Date().toISOString() };
    refunds.set(chargeId, refund);
    logger.info({ chargeId, orderId: charge.orderId }, 'refunded');
    res.status(201).json(refund);
  });

  // The books, for the invariants check: every charge and refund.
  app.get('/charges', (_req, res) => {
    res.json({ count: charges.size, charges: [...charges.values()], refunds: [...refunds.values()] });
  });
});
