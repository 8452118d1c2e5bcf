// The bank's books in SQLite (node:sqlite): charges, unique per idempotency
// key (so the bank charges at most once per key whatever its callers retry),
// and refunds, at most one per charge. Kept in a file under the run, so the
// invariants check can read them after the lab has stopped.

import { randomUUID } from 'node:crypto';
import { DatabaseSync } from 'node:sqlite';
import { boundWal, closeCheckpointed } from '../kit/sqlite-close.ts';

export interface Charge {
  chargeId: string;
  idempotencyKey: string;
  orderId: string;
  amount: number;
  currency: string;
  createdAt: string;
}

export interface Refund {
  refundId: string;
  chargeId: string;
  createdAt: string;
}

export interface BankStore {
  /** The charge for this key: created, or the earlier one (`replayed`); `conflict` when the key was used for another order or amount. */
  charge(key: string, request: { orderId: string; amount: number; currency: string }): { charge: Charge; replayed: boolean } | { conflict: Charge };
  findCharge(by: { chargeId?: string; idempotencyKey?: string }): Charge | undefined;
  /** Refund a charge once; a second refund returns the first (`replayed`). */
  refund(chargeId: string): { refund: Refund; replayed: boolean };
  charges(): Charge[];
  refunds(): Refund[];
  close(): void;
}

const row = (value: Record<string, unknown>): Charge => ({
  chargeId: value.charge_id as string,
  idempotencyKey: value.idempotency_key as string,
  orderId: value.order_id as string,
  amount: value.amount as number,
  currency: value.currency as string,
  createdAt: value.created_at as string,
});

export function openBankStore(path = ':memory:'): BankStore {
  const db = new DatabaseSync(path, { timeout: 5_000 });
  db.exec(`
    PRAGMA journal_mode = WAL;
    CREATE TABLE IF NOT EXISTS charges (
      charge_id TEXT PRIMARY KEY,
      idempotency_key TEXT NOT NULL UNIQUE,
      order_id TEXT NOT NULL,
      amount INTEGER NOT NULL CHECK (amount > 0),
      currency TEXT NOT NULL,
      created_at TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS refunds (
      refund_id TEXT PRIMARY KEY,
      charge_id TEXT NOT NULL UNIQUE REFERENCES charges(charge_id),
      created_at TEXT NOT NULL
    );
  `);
  boundWal(db);
  const byKey = db.prepare('SELECT * FROM charges WHERE idempotency_key = ?');
  const byId = db.prepare('SELECT * FROM charges WHERE charge_id = ?');
  const insertCharge = db.prepare('INSERT INTO charges (charge_id, idempotency_key, order_id, amount, currency, created_at) VALUES (?, ?, ?, ?, ?, ?)');
  const refundOf = db.prepare('SELECT * FROM refunds WHERE charge_id = ?');
  const insertRefund = db.prepare('INSERT INTO refunds (refund_id, charge_id, created_at) VALUES (?, ?, ?)');
  const toRefund = (value: Record<string, unknown>): Refund => ({ refundId: value.refund_id as string, chargeId: value.charge_id as string, createdAt: value.created_at as string });

  return {
    charge(key, request) {
      const existing = byKey.get(key) as Record<string, unknown> | undefined;
      if (existing) {
        const charge = row(existing);
        return charge.orderId === request.orderId && charge.amount === request.amount ? { charge, replayed: true } : { conflict: charge };
      }
      const charge: Charge = { chargeId: randomUUID(), idempotencyKey: key, ...request, createdAt: new Date().toISOString() };
      insertCharge.run(charge.chargeId, key, charge.orderId, charge.amount, charge.currency, charge.createdAt);
      return { charge, replayed: false };
    },
    findCharge(by) {
      const found = by.chargeId ? byId.get(by.chargeId) : by.idempotencyKey ? byKey.get(by.idempotencyKey) : undefined;
      return found ? row(found as Record<string, unknown>) : undefined;
    },
    refund(chargeId) {
      const existing = refundOf.get(chargeId) as Record<string, unknown> | undefined;
      if (existing) return { refund: toRefund(existing), replayed: true };
      const refund: Refund = { refundId: randomUUID(), chargeId, createdAt: new Date().toISOString() };
      insertRefund.run(refund.refundId, chargeId, refund.createdAt);
      return { refund, replayed: false };
    },
    charges: () => (db.prepare('SELECT * FROM charges ORDER BY created_at').all() as Array<Record<string, unknown>>).map(row),
    refunds: () => (db.prepare('SELECT * FROM refunds ORDER BY created_at').all() as Array<Record<string, unknown>>).map(toRefund),
    close: () => closeCheckpointed(db),
  };
}
