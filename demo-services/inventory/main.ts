// inventory: reserves stock for orders, the checkout saga's compensation
// target. The books are an embedded SQLite database (inventory-store.ts):
// reservations are all-or-nothing transactions, idempotent per order id and
// Idempotency-Key, held for a TTL and expired by a sweeper when the saga never
// confirms or releases them. GET /admin/books, on the admin listener (never the
// public port), shows the books and whether they balance (invariants.ts), for a
// scenario's invariant checks.
// Work whose caller has given up is not done: a reservation, confirmation or
// release that arrives (or gets its turn) after the caller's deadline
// (HEADER.deadline, epoch ms, as checkout sends it) is refused with a 504
// deadline-exceeded problem before it touches the books, counted in
// resilience_deadline_dropped_total{operation} and marked on the span.

import { trace } from '@opentelemetry/api';
import type { Request, Response } from 'express';
import { z } from 'zod';
import { readServiceConfig } from '../kit/config.ts';
import client from 'prom-client';
import { HEADER, METRIC, SHOP_HEADER, SHOP_LABEL, SHOP_SPAN_ATTR, SPAN_ATTR, SPAN_EVENT } from '../kit/conventions.ts';
import { failStartup } from '../kit/lifecycle.ts';
import { ProblemError, problemType } from '../kit/problem.ts';
import { deadlineHeader, durationMs, formatIssues } from '../kit/schema.ts';
import { startService } from '../kit/service.ts';
import { parseOrProblem } from '../kit/validation.ts';
import { SEED_PRODUCTS, skuSchema } from '../catalog/product.ts';
import { inventoryPolicySchema } from './inventory-policy.ts';
import { createInventoryMetrics, type InventoryOperation, type InventoryMetrics } from './inventory-metrics.ts';
import { InventoryError, RESERVATION_STATES, openInventoryStore, type Change } from './inventory-store.ts';
import { checkInventoryInvariants } from './invariants.ts';

const reserveBody = z.strictObject({
  orderId: z.string().regex(/^[A-Za-z0-9._:-]{1,100}$/, 'must be 1-100 letters, digits or ._:-'),
  items: z
    .array(z.strictObject({ sku: skuSchema, quantity: z.int().min(1).max(10_000) }))
    .min(1)
    .max(50)
    .superRefine((items, ctx) => {
      const seen = new Set<string>();
      items.forEach((item, index) => {
        if (seen.has(item.sku)) ctx.addIssue({ code: 'custom', path: [index, 'sku'], message: `${item.sku} appears twice; list each sku once` });
        seen.add(item.sku);
      });
    }),
  /** How long to hold the units, e.g. '30s'; the policy's default when absent. */
  ttl: durationMs.pipe(z.number().min(1).max(86_400_000)).optional(),
});
const idempotencyHeader = z.string().min(8).max(200).optional();
/**
 * Work is refused when less than this is left before the caller's deadline: a change takes about
 * a millisecond, and its answer must still reach a caller that is about to stop waiting.
 */
const MIN_WORK_BUDGET_MS = 5;
const reservationParams = z.strictObject({ id: z.uuid() });
/** confirm and release take no body; an empty JSON object is tolerated. */
const emptyBody = z.union([z.undefined(), z.strictObject({})]);
const stockParams = z.strictObject({ sku: skuSchema });
const booksQuery = z.strictObject({
  state: z.enum(RESERVATION_STATES).optional(),
  limit: z
    .string()
    .regex(/^\d{1,6}$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.int().min(0).max(10_000))
    .default(1_000),
});

const config = readServiceConfig();
const parsed = inventoryPolicySchema.safeParse({
  database: config.policies.database,
  stock: config.policies.stock,
  reservations: config.policies.reservations,
});
if (!parsed.success) failStartup(config.instance, new Error(formatIssues(parsed.error, 'policies').join('; ')));
const policy = parsed.data;
/** A hold may outlive its expiry by a few sweeps (more under load) before the books call it overdue. */
const expiryGraceMs = Math.max(2_000, policy.reservations.sweepInterval * 5);

/** How an InventoryError reads to a client. */
function problemFor(error: InventoryError, items?: ReadonlyArray<{ sku: string }>): ProblemError {
  switch (error.code) {
    case 'FL_INV_INSUFFICIENT':
      return new ProblemError({
        type: problemType('insufficient-stock'),
        title: 'Insufficient stock',
        status: 409,
        detail: error.message,
        sku: error.sku,
        requested: error.requested,
        available: error.available,
      });
    case 'FL_INV_UNKNOWN_SKU': {
      const field = `body.items.${Math.max(0, items?.findIndex((item) => item.sku === error.sku) ?? 0)}.sku`;
      return new ProblemError({
        type: problemType('unknown-product'),
        title: 'Unknown product',
        status: 422,
        detail: `${field}: ${error.message}`,
        errors: [{ field, message: error.message }],
        sku: error.sku,
      });
    }
    case 'FL_INV_NOT_FOUND':
      return new ProblemError({ type: problemType('unknown-reservation'), title: 'Unknown reservation', status: 404, detail: error.message });
    case 'FL_INV_NOT_HELD':
    case 'FL_INV_EXPIRED':
      return new ProblemError({
        type: problemType(error.code === 'FL_INV_EXPIRED' ? 'reservation-expired' : 'reservation-not-held'),
        title: error.code === 'FL_INV_EXPIRED' ? 'Reservation expired' : 'Reservation not held',
        status: 409,
        detail: error.message,
        state: error.state,
      });
    case 'FL_INV_IDEMPOTENCY_CONFLICT':
      return new ProblemError({ type: problemType('idempotency-conflict'), title: 'Idempotency key reused', status: 409, detail: error.message });
  }
}

/** Run a store operation, count its result, and turn its errors into problems. */
function applyOperation(metrics: InventoryMetrics, operation: InventoryOperation, work: () => Change, items?: ReadonlyArray<{ sku: string }>): Change {
  try {
    const change = work();
    metrics.operation(operation, change.replayed ? 'replayed' : 'ok');
    trace.getActiveSpan()?.setAttributes({
      [SHOP_SPAN_ATTR.reservationId]: change.reservation.id,
      [SHOP_SPAN_ATTR.reservationState]: change.reservation.state,
      [SPAN_ATTR.orderId]: change.reservation.orderId,
    });
    return change;
  } catch (error) {
    if (!(error instanceof InventoryError)) throw error;
    metrics.operation(operation, error.code.replace(/^FL_INV_/, '').toLowerCase());
    throw problemFor(error, items);
  }
}

await startService(config, ({ app, admin, metrics, logger, onClose }) => {
  const initialStock = Object.fromEntries(SEED_PRODUCTS.map((product) => [product.sku, policy.stock.initial]));
  Object.assign(initialStock, policy.stock.overrides);
  const store = openInventoryStore({ ...(policy.database.path ? { path: policy.database.path } : {}), initialStock });
  const books = createInventoryMetrics(metrics.registry, () => store.allStock());
  const dropped = new client.Counter({
    name: METRIC.deadlineDropped,
    help: "Requests refused without doing their work because the caller's deadline had passed, by operation.",
    labelNames: [SHOP_LABEL.operation],
    registers: [metrics.registry],
  });
  /** Refuse a change whose caller no longer waits (its deadline passed, or too little is left): nothing is done for nobody. */
  const refuseIfLate = (req: Request, operation: InventoryOperation): void => {
    const deadline = parseOrProblem(deadlineHeader, req.get(HEADER.deadline), `header.${HEADER.deadline}`);
    if (deadline === undefined) return;
    const left = deadline - Date.now();
    if (left >= MIN_WORK_BUDGET_MS) return;
    dropped.inc({ [SHOP_LABEL.operation]: operation });
    books.operation(operation, 'deadline_exceeded');
    trace.getActiveSpan()?.addEvent(SPAN_EVENT.deadlineExceeded, { [SPAN_ATTR.deadlineLateMs]: -left });
    const when = left < 0 ? `passed ${-left} ms before` : `left ${left} ms, too little, when`;
    throw new ProblemError({ type: problemType('deadline-exceeded'), title: 'Deadline exceeded', status: 504, detail: `the caller's deadline ${when} the ${operation} could start; nothing was changed` });
  };

  const startup = checkInventoryInvariants(store.db, { expiryGraceMs });
  if (!startup.ok) logger.error({ violations: startup.violations.slice(0, 20) }, 'inventory books do not balance at start');
  logger.info({ database: policy.database.path ?? ':memory:', skus: Object.keys(initialStock).length, reservations: policy.reservations }, 'inventory ready');

  const sweeper = setInterval(() => {
    try {
      const expired = store.expireDue();
      if (expired > 0) {
        books.operation('expire', 'ok', expired);
        logger.info({ expired }, 'expired reservations released their stock');
      }
    } catch (error) {
      logger.error({ err: error }, 'reservation sweep failed');
    }
  }, policy.reservations.sweepInterval);
  sweeper.unref();
  onClose(() => {
    clearInterval(sweeper);
    store.close();
  });

  const answer = (res: Response, change: Change, created = false): void => {
    if (change.replayed) res.setHeader(SHOP_HEADER.idempotentReplayed, 'true');
    res.status(created && !change.replayed ? 201 : 200).json(change.reservation);
  };

  app.post('/reservations', (req, res) => {
    const key = parseOrProblem(idempotencyHeader, req.get(HEADER.idempotencyKey), `header.${HEADER.idempotencyKey}`);
    const body = parseOrProblem(reserveBody, req.body, 'body');
    if (key) trace.getActiveSpan()?.setAttribute(SPAN_ATTR.idempotencyKey, key);
    refuseIfLate(req, 'reserve');
    const change = applyOperation(
      books,
      'reserve',
      () => store.reserve({ orderId: body.orderId, items: body.items, ttlMs: body.ttl ?? policy.reservations.ttl, ...(key ? { idempotencyKey: key } : {}) }),
      body.items,
    );
    answer(res, change, true);
  });

  app.get('/reservations/:id', (req, res) => {
    const { id } = parseOrProblem(reservationParams, req.params, 'path');
    const reservation = store.reservation(id);
    if (!reservation) throw problemFor(new InventoryError('FL_INV_NOT_FOUND', `no reservation ${id}`));
    res.json(reservation);
  });

  app.post('/reservations/:id/confirm', (req, res) => {
    const { id } = parseOrProblem(reservationParams, req.params, 'path');
    parseOrProblem(emptyBody, req.body, 'body');
    refuseIfLate(req, 'confirm');
    answer(res, applyOperation(books, 'confirm', () => store.confirm(id)));
  });

  app.post('/reservations/:id/release', (req, res) => {
    const { id } = parseOrProblem(reservationParams, req.params, 'path');
    parseOrProblem(emptyBody, req.body, 'body');
    refuseIfLate(req, 'release');
    answer(res, applyOperation(books, 'release', () => store.release(id)));
  });

  app.get('/stock/:sku', (req, res) => {
    const { sku } = parseOrProblem(stockParams, req.params, 'path');
    trace.getActiveSpan()?.setAttribute(SHOP_SPAN_ATTR.sku, sku);
    const level = store.stock(sku);
    if (!level) throw new ProblemError({ type: problemType('unknown-product'), title: 'Unknown product', status: 404, detail: `no stock kept for ${sku}` });
    res.json(level);
  });

  admin.get('/books', (req, res) => {
    const { state, limit } = parseOrProblem(booksQuery, req.query, 'query');
    res.json({
      stock: store.allStock(),
      reservationCounts: store.countByState(),
      reservations: store.reservations({ ...(state ? { state } : {}), limit }),
      invariants: checkInventoryInvariants(store.db, { expiryGraceMs }),
    });
  });
});
