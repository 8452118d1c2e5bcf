// bank: the simulated third-party card processor, the thing that fails.
// Charges at most once per idempotency key: a replay returns the first charge.
// Refunds undo a charge once. Its own latency and failure knobs (set at start
// from policies.behaviour, or at run time through /admin/behaviour on the
// admin listener, never the public port) let a fault timeline make the bank
// itself slow or flaky. Its rate limit (behaviour.rateLimit, a token bucket)
// admits so many charges a second: one more is answered 429 with Retry-After.

import { z } from 'zod';
import { readServiceConfig } from '../kit/config.ts';
import { HEADER } from '../kit/conventions.ts';
import { ProblemError, problemType } from '../kit/problem.ts';
import { startService } from '../kit/service.ts';
import { parseOrProblem } from '../kit/validation.ts';
import { deadlineHeader } from '../kit/schema.ts';
import { deriveSeed, mulberry32 } from '../kit/random.ts';
import { sleep } from '../resilience/retry.ts';
import { openBankStore } from './bank-store.ts';
import { bankBehaviourSchema as behaviourSchema, createChargeAdmission } from './behaviour.ts';

const chargeRequest = z.strictObject({
  orderId: z.string().min(1).max(100),
  amount: z.int().positive().max(100_000_000),
  currency: z.string().regex(/^[A-Z]{3}$/).default('EUR'),
});
const idempotencyHeader = z.string().min(8).max(200);
// Refund by charge id, or by the idempotency key of the charge (a caller whose charge timed out does not know the id).
const refundRequest = z.union([z.strictObject({ chargeId: z.uuid() }), z.strictObject({ idempotencyKey: z.string().min(8).max(200) })]);
const databasePolicy = z.object({ path: z.string().min(1).optional() }).loose();

const config = readServiceConfig();
await startService(config, ({ app, admin, logger, onClose }) => {
  const store = openBankStore(parseOrProblem(databasePolicy, config.policies.database ?? {}, 'policies.database').path);
  onClose(() => store.close());
  let behaviour = parseOrProblem(behaviourSchema, config.policies.behaviour ?? {}, 'policies.behaviour');
  const random = mulberry32(deriveSeed(Number(process.env.FAULTLINE_SEED ?? 1), config.instance));
  const admission = createChargeAdmission();

  // Knobs for the fault timeline, on the admin listener (loopback, or a token).
  admin.post('/behaviour', (req, res) => {
    behaviour = parseOrProblem(behaviourSchema, req.body, 'body');
    logger.warn({ behaviour }, 'bank behaviour changed');
    res.json(behaviour);
  });
  admin.get('/behaviour', (_req, res) => {
    res.json(behaviour);
  });

  app.post('/charges', async (req, res) => {
    // Refused at the door, before anything is read or charged, as an API gateway in front of a processor would.
    const wait = admission.refuse(behaviour.rateLimit);
    if (wait !== undefined) {
      throw new ProblemError(
        { type: problemType('rate-limited'), title: 'Too many charges', status: 429, detail: 'the bank admits so many charges a second; nothing was charged' },
        { 'retry-after': String(Math.max(1, Math.ceil(wait / 1_000))) },
      );
    }
    const key = parseOrProblem(idempotencyHeader, req.get(HEADER.idempotencyKey), `header.${HEADER.idempotencyKey}`);
    const body = parseOrProblem(chargeRequest, req.body, 'body');
    const deadline = parseOrProblem(deadlineHeader, req.get(HEADER.deadline), `header.${HEADER.deadline}`);
    const delay = behaviour.latency + (behaviour.jitter ? (random() * 2 - 1) * behaviour.jitter : 0);
    if (delay > 0) await sleep(delay);
    // A request that waited (the bank was frozen, or slow) past its caller's deadline is refused, not charged:
    // the caller has given up and may already be compensating.
    if (deadline !== undefined && Date.now() > deadline) {
      throw new ProblemError({ type: problemType('deadline-exceeded'), title: 'Deadline exceeded', status: 504, detail: `the caller's deadline passed ${Date.now() - deadline} ms before the charge could be made; nothing was charged` });
    }
    if (behaviour.failureRate > 0 && random() < behaviour.failureRate) {
      throw new ProblemError({ type: problemType('bank-unavailable'), title: 'Bank unavailable', status: 503, detail: 'the bank failed this charge (failure knob)' }, { 'retry-after': '1' });
    }
    const result = store.charge(key, body);
    if ('conflict' in result) {
      throw new ProblemError({
        type: problemType('idempotency-conflict'),
        title: 'Idempotency key reused',
        status: 409,
        detail: `idempotency key already used for order ${result.conflict.orderId}`,
      });
    }
    if (result.replayed) {
      res.status(200).json({ ...result.charge, replayed: true });
      return;
    }
    logger.info({ chargeId: result.charge.chargeId, orderId: result.charge.orderId, amount: result.charge.amount }, 'charged');
    res.status(201).json(result.charge);
  });

  app.post('/refunds', (req, res) => {
    const body = parseOrProblem(refundRequest, req.body, 'body');
    const charge = store.findCharge(body);
    if (!charge) throw new ProblemError({ type: problemType('unknown-charge'), title: 'Unknown charge', status: 404, detail: 'no such charge' });
    const result = store.refund(charge.chargeId);
    if (result.replayed) {
      res.status(200).json({ ...result.refund, replayed: true });
      return;
    }
    logger.info({ chargeId: charge.chargeId, orderId: charge.orderId }, 'refunded');
    res.status(201).json(result.refund);
  });

  // The books, for the invariants check: every charge and refund.
  app.get('/charges', (_req, res) => {
    const charges = store.charges();
    res.json({ count: charges.length, charges, refunds: store.refunds() });
  });
});
