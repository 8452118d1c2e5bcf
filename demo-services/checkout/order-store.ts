// Checkout's orders in SQLite (node:sqlite): one row per order, unique per
// idempotency key, with the saga's progress (reservation, payment) and the
// answer given to the client, so a replayed request gets the first answer
// and the invariants check can compare orders with the bank's charges.

import { createHash } from 'node:crypto';
import { DatabaseSync } from 'node:sqlite';

export const ORDER_STATES = ['pending', 'confirmed', 'failed', 'compensated'] as const;
export type OrderState = (typeof ORDER_STATES)[number];

export interface Order {
  orderId: string;
  idempotencyKey: string;
  requestHash: string;
  userId: string;
  amount: number;
  state: OrderState;
  reservationId?: string;
  paymentId?: string;
  failure?: string;
  response?: { status: number; body: unknown };
  createdAt: string;
  updatedAt: string;
}

export interface OrderStore {
  /** The order for this key, if any. */
  byKey(key: string): Order | undefined;
  /** Create a pending order; undefined when the key already exists (a concurrent replay). */
  create(order: Pick<Order, 'orderId' | 'idempotencyKey' | 'requestHash' | 'userId' | 'amount'>): Order | undefined;
  update(orderId: string, change: Partial<Pick<Order, 'state' | 'reservationId' | 'paymentId' | 'failure' | 'response'>>): void;
  all(): Order[];
  close(): void;
}

export function requestHash(body: unknown): string {
  return createHash('sha256').update(JSON.stringify(body)).digest('hex');
}

export function openOrderStore(path = ':memory:'): OrderStore {
  const db = new DatabaseSync(path, { timeout: 5_000 });
  db.exec(`
    PRAGMA journal_mode = WAL;
    CREATE TABLE IF NOT EXISTS orders (
      order_id TEXT PRIMARY KEY,
      idempotency_key TEXT NOT NULL UNIQUE,
      request_hash TEXT NOT NULL,
      user_id TEXT NOT NULL,
      amount INTEGER NOT NULL CHECK (amount > 0),
      state TEXT NOT NULL CHECK (state IN ('pending', 'confirmed', 'failed', 'compensated')),
      reservation_id TEXT,
      payment_id TEXT,
      failure TEXT,
      response TEXT,
      created_at TEXT NOT NULL,
      updated_at TEXT NOT NULL
    );
  `);
  const toOrder = (row: Record<string, unknown>): Order => ({
    orderId: row.order_id as string,
    idempotencyKey: row.idempotency_key as string,
    requestHash: row.request_hash as string,
    userId: row.user_id as string,
    amount: row.amount as number,
    state: row.state as OrderState,
    ...(row.reservation_id ? { reservationId: row.reservation_id as string } : {}),
    ...(row.payment_id ? { paymentId: row.payment_id as string } : {}),
    ...(row.failure ? { failure: row.failure as string } : {}),
    ...(row.response ? { response: JSON.parse(row.response as string) as Order['response'] } : {}),
    createdAt: row.created_at as string,
    updatedAt: row.updated_at as string,
  });
  const byKey = db.prepare('SELECT * FROM orders WHERE idempotency_key = ?');
  const insert = db.prepare(
    "INSERT INTO orders (order_id, idempotency_key, request_hash, user_id, amount, state, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?) ON CONFLICT (idempotency_key) DO NOTHING",
  );
  return {
    byKey: (key) => {
      const row = byKey.get(key) as Record<string, unknown> | undefined;
      return row ? toOrder(row) : undefined;
    },
    create(order) {
      const now = new Date().toISOString();
      const { changes } = insert.run(order.orderId, order.idempotencyKey, order.requestHash, order.userId, order.amount, now, now);
      return changes === 0 ? undefined : { ...order, state: 'pending', createdAt: now, updatedAt: now };
    },
    update(orderId, change) {
      const columns: Record<string, string | number | null> = {};
      if (change.state) columns.state = change.state;
      if (change.reservationId) columns.reservation_id = change.reservationId;
      if (change.paymentId) columns.payment_id = change.paymentId;
      if (change.failure) columns.failure = change.failure;
      if (change.response) columns.response = JSON.stringify(change.response);
      columns.updated_at = new Date().toISOString();
      const names = Object.keys(columns);
      db.prepare(`UPDATE orders SET ${names.map((name) => `${name} = ?`).join(', ')} WHERE order_id = ?`).run(...Object.values(columns), orderId);
    },
    all: () => (db.prepare('SELECT * FROM orders ORDER BY created_at').all() as Array<Record<string, unknown>>).map(toOrder),
    close: () => db.close(),
  };
}
