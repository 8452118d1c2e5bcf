// bank: the simulated third-party card processor, the thing that fails.
// Charges at most once per idempotency key: a replay returns the first charge.

import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { readServiceConfig } from '../kit/config.ts';
import { HEADER } from '../kit/conventions.ts';
import { ProblemError, problemType } from '../kit/problem.ts';
import { startService } from '../kit/service.ts';
import { parseOrProblem } from '../kit/validation.ts';

const chargeRequest = z.strictObject({
  orderId: z.string().min(1).max(100),
  amount: z.int().positive().max(100_000_000),
  currency: z.string().regex(/^[A-Z]{3}$/).default('EUR'),
});
const idempotencyHeader = z.string().min(8).max(200);

interface Charge {
  chargeId: string;
  orderId: string;
  amount: number;
  currency: string;
  createdAt: string;
}

await startService(readServiceConfig(), ({ app, logger }) => {
  const charges = new Map<string, Charge>();

  app.post('/charges', (req, res) => {
    const key = parseOrProblem(idempotencyHeader, req.get(HEADER.idempotencyKey), `header.${HEADER.idempotencyKey}`);
    const body = parseOrProblem(chargeRequest, req.body, 'body');
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

  app.get('/charges', (_req, res) => {
    res.json({ count: charges.size, charges: [...charges.values()] });
  });
});
