// Checkout's orders in SQLite (node:sqlite): one row per order, unique per
// idempotency key, with the saga's progress (reservation, payment) and the
// answer given to the client, so a replayed request gets the first answer
// and the invariants check can compare orders with the bank's charges.
// An order whose compensation did not finish (a refund or release failed) is
// 'compensating' and has a row in `compensations` saying what it still owes,
// so the sweeper (compensation-sweeper.ts) keeps undoing it until it is done.
// The table is also the saga's durable log: an order is written 'pending'
// with its items before the first step, and each step's result (reservation,
// payment) as it comes, so a checkout that died mid-saga can resume it at
// its next start (see recoverPendingOrders in main.ts).

import { createHash } from 'node:crypto';
import { DatabaseSync } from 'node:sqlite';
import { boundWal, closeCheckpointed } from '../kit/sqlite-close.ts';

export const ORDER_STATES = ['pending', 'confirmed', 'failed', 'compensating', 'compensated'] as const;
export type OrderState = (typeof ORDER_STATES)[number];

export interface OrderItem {
  sku: string;
  quantity: number;
}

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
  /** What was ordered, kept so a saga can be resumed (replaying the reservation); absent on orders written before it was kept. */
  items?: OrderItem[];
  createdAt: string;
  updatedAt: string;
}

/** What a 'compensating' order still owes, and when the sweeper tries again. */
export interface OwedCompensation {
  orderId: string;
  /** The key the saga used: the refund reuses it, the release reuses `<key>:release`, so a retry never undoes twice. */
  idempotencyKey: string;
  reservationId: string;
  /** The charge (or a charge whose outcome is unknown) is still to be refunded. */
  refund: boolean;
  /** The reservation is still to be released. */
  release: boolean;
  /** Attempts so far, the saga's own first one included. */
  attempts: number;
  /** Epoch milliseconds before which no retry starts. */
  nextAttemptAt: number;
  lastError?: string;
}

/** What is left after a compensation attempt; when neither is left, the order is 'compensated' (or 'failed' if a part was refused). */
export interface CompensationProgress {
  refund: boolean;
  release: boolean;
  /** A part was refused for good (the units were already sold, say): it is not retried, and the order cannot end 'compensated'. */
  refused?: boolean;
  /** When to try again, if something is left. */
  nextAttemptAt: number;
  error?: string;
}

export interface OrderStore {
  /** The order for this key, if any. */
  byKey(key: string): Order | undefined;
  /** Create a pending order; undefined when the key already exists (a concurrent replay). */
  create(order: Pick<Order, 'orderId' | 'idempotencyKey' | 'requestHash' | 'userId' | 'amount' | 'items'>): Order | undefined;
  update(orderId: string, change: Partial<Pick<Order, 'state' | 'reservationId' | 'paymentId' | 'failure' | 'response'>>): void;
  all(): Order[];
  /** Orders whose saga has not ended ('pending'), oldest first: what a restart must resume. */
  pending(): Order[];
  /** Mark the order 'compensating' and record what it owes (the saga's attempt counts as the first). */
  oweCompensation(owed: Omit<OwedCompensation, 'attempts'> & { refused?: boolean }): void;
  /** Every owed compensation, the most overdue first. */
  owedCompensations(): OwedCompensation[];
  /** Orders owing compensation. */
  owedCount(): number;
  /** Record one more attempt: what is still owed, or, when nothing is, the order becomes 'compensated' ('failed' if any part was ever refused). */
  recordCompensationAttempt(orderId: string, progress: CompensationProgress): void;
  /** False once closed. */
  isOpen(): boolean;
  close(): void;
}

export function requestHash(body: unknown): string {
  return createHash('sha256').update(JSON.stringify(body)).digest('hex');
}

const ORDERS_COLUMNS = `
      order_id TEXT PRIMARY KEY,
      idempotency_key TEXT NOT NULL UNIQUE,
      request_hash TEXT NOT NULL,
      user_id TEXT NOT NULL,
      amount INTEGER NOT NULL CHECK (amount > 0),
      state TEXT NOT NULL CHECK (state IN (${ORDER_STATES.map((state) => `'${state}'`).join(', ')})),
      reservation_id TEXT,
      payment_id TEXT,
      failure TEXT,
      response TEXT,
      created_at TEXT NOT NULL,
      updated_at TEXT NOT NULL,
      items TEXT
    `;

/** A database written before items were kept gets the column (last, as in ORDERS_COLUMNS; empty on old rows). */
function migrateOrderItems(db: DatabaseSync): void {
  const columns = db.prepare("SELECT name FROM pragma_table_info('orders')").all() as Array<{ name: string }>;
  if (columns.length > 0 && !columns.some((column) => column.name === 'items')) db.exec('ALTER TABLE orders ADD COLUMN items TEXT');
}

/**
 * A database written before 'compensating' existed has a CHECK that refuses
 * it, and SQLite cannot alter a CHECK: rebuild the table under the new one,
 * keeping every row (same columns, same order).
 */
function migrateOrderStates(db: DatabaseSync): void {
  const table = db.prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'orders'").get() as { sql: string } | undefined;
  if (!table || ORDER_STATES.every((state) => table.sql.includes(`'${state}'`))) return;
  inTransaction(db, () =>
    db.exec(`
      ALTER TABLE orders RENAME TO orders_before_migration;
      CREATE TABLE orders (${ORDERS_COLUMNS});
      INSERT INTO orders SELECT * FROM orders_before_migration;
      DROP TABLE orders_before_migration;
    `),
  );
}

function inTransaction(db: DatabaseSync, work: () => void): void {
  db.exec('BEGIN IMMEDIATE');
  try {
    work();
    db.exec('COMMIT');
  } catch (error) {
    db.exec('ROLLBACK');
    throw error;
  }
}

export function openOrderStore(path = ':memory:'): OrderStore {
  const db = new DatabaseSync(path, { timeout: 5_000 });
  db.exec('PRAGMA journal_mode = WAL;');
  boundWal(db);
  migrateOrderItems(db);
  migrateOrderStates(db);
  db.exec(`
    CREATE TABLE IF NOT EXISTS orders (${ORDERS_COLUMNS});
    CREATE TABLE IF NOT EXISTS compensations (
      order_id TEXT PRIMARY KEY,
      idempotency_key TEXT NOT NULL,
      reservation_id TEXT NOT NULL,
      refund_owed INTEGER NOT NULL CHECK (refund_owed IN (0, 1)),
      release_owed INTEGER NOT NULL CHECK (release_owed IN (0, 1)),
      attempts INTEGER NOT NULL CHECK (attempts >= 1),
      refused INTEGER NOT NULL DEFAULT 0 CHECK (refused IN (0, 1)),
      next_attempt_at INTEGER NOT NULL,
      last_error TEXT,
      updated_at TEXT NOT NULL
    );
  `);
  const transaction = (work: () => void): void => inTransaction(db, work);
  const setState = db.prepare('UPDATE orders SET state = ?, updated_at = ? WHERE order_id = ?');
  const insertOwed = db.prepare(
    `INSERT INTO compensations (order_id, idempotency_key, reservation_id, refund_owed, release_owed, attempts, refused, next_attempt_at, last_error, updated_at)
     VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?, ?)
     ON CONFLICT (order_id) DO UPDATE SET refund_owed = excluded.refund_owed, release_owed = excluded.release_owed, refused = max(refused, excluded.refused),
       next_attempt_at = excluded.next_attempt_at, last_error = excluded.last_error, updated_at = excluded.updated_at`,
  );
  const updateOwed = db.prepare(
    'UPDATE compensations SET refund_owed = ?, release_owed = ?, attempts = attempts + 1, refused = max(refused, ?), next_attempt_at = ?, last_error = ?, updated_at = ? WHERE order_id = ?',
  );
  const refusedOf = db.prepare('SELECT refused FROM compensations WHERE order_id = ?');
  const deleteOwed = db.prepare('DELETE FROM compensations WHERE order_id = ?');
  const countOwed = db.prepare('SELECT count(*) AS owed FROM compensations');
  const toOwed = (row: Record<string, unknown>): OwedCompensation => ({
    orderId: row.order_id as string,
    idempotencyKey: row.idempotency_key as string,
    reservationId: row.reservation_id as string,
    refund: row.refund_owed === 1,
    release: row.release_owed === 1,
    attempts: row.attempts as number,
    nextAttemptAt: row.next_attempt_at as number,
    ...(row.last_error ? { lastError: row.last_error as string } : {}),
  });
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
    ...(row.items ? { items: JSON.parse(row.items as string) as OrderItem[] } : {}),
    createdAt: row.created_at as string,
    updatedAt: row.updated_at as string,
  });
  const byKey = db.prepare('SELECT * FROM orders WHERE idempotency_key = ?');
  const insert = db.prepare(
    "INSERT INTO orders (order_id, idempotency_key, request_hash, user_id, amount, state, created_at, updated_at, items) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING",
  );
  return {
    byKey: (key) => {
      const row = byKey.get(key) as Record<string, unknown> | undefined;
      return row ? toOrder(row) : undefined;
    },
    create(order) {
      const now = new Date().toISOString();
      const { changes } = insert.run(order.orderId, order.idempotencyKey, order.requestHash, order.userId, order.amount, now, now, order.items ? JSON.stringify(order.items) : null);
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
    pending: () => (db.prepare("SELECT * FROM orders WHERE state = 'pending' ORDER BY created_at").all() as Array<Record<string, unknown>>).map(toOrder),
    oweCompensation(owed) {
      const now = new Date().toISOString();
      transaction(() => {
        setState.run('compensating', now, owed.orderId);
        insertOwed.run(
          owed.orderId,
          owed.idempotencyKey,
          owed.reservationId,
          owed.refund ? 1 : 0,
          owed.release ? 1 : 0,
          owed.refused ? 1 : 0,
          Math.round(owed.nextAttemptAt),
          owed.lastError ?? null,
          now,
        );
      });
    },
    owedCompensations: () => (db.prepare('SELECT * FROM compensations ORDER BY next_attempt_at, order_id').all() as Array<Record<string, unknown>>).map(toOwed),
    owedCount: () => (countOwed.get() as { owed: number }).owed,
    recordCompensationAttempt(orderId, progress) {
      const now = new Date().toISOString();
      transaction(() => {
        if (!progress.refund && !progress.release) {
          const refused = progress.refused === true || (refusedOf.get(orderId) as { refused: number } | undefined)?.refused === 1;
          deleteOwed.run(orderId);
          setState.run(refused ? 'failed' : 'compensated', now, orderId);
          return;
        }
        updateOwed.run(progress.refund ? 1 : 0, progress.release ? 1 : 0, progress.refused ? 1 : 0, Math.round(progress.nextAttemptAt), progress.error ?? null, now, orderId);
      });
    },
    isOpen: () => db.isOpen,
    close: () => closeCheckpointed(db),
  };
}
