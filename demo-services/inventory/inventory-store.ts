// The inventory's books in an embedded SQLite database (node:sqlite, built
// into Node 24): stock per SKU and reservations with their items. Every
// change is one IMMEDIATE transaction, so a reservation of several SKUs takes
// all of them or none, and CHECK constraints make negative stock impossible
// even if the code had a bug. A reservation is held for a TTL, then confirmed
// (the units leave the shelf), released (the saga's compensation) or expired
// (the sweeper gives the units back); reserving is idempotent per order id and
// per idempotency key, confirming and releasing are idempotent by nature.
//
// The books balance per SKU: `reserved` is the sum of the held reservations'
// units, and `received` (units ever stocked) is `on_hand` plus the confirmed
// units. invariants.ts checks exactly that.

import { randomUUID } from 'node:crypto';
import { DatabaseSync } from 'node:sqlite';
import { boundWal, closeCheckpointed } from '../kit/sqlite-close.ts';

export interface ReservationItem {
  sku: string;
  quantity: number;
}

export const RESERVATION_STATES = ['held', 'confirmed', 'released', 'expired'] as const;
export type ReservationState = (typeof RESERVATION_STATES)[number];

export interface Reservation {
  id: string;
  orderId: string;
  state: ReservationState;
  items: ReservationItem[];
  createdAt: string;
  expiresAt: string;
  updatedAt: string;
}

export interface StockLevel {
  sku: string;
  /** Units ever stocked. */
  received: number;
  /** Units on the shelf (not yet sold). */
  onHand: number;
  /** Units on the shelf held by reservations. */
  reserved: number;
  /** Units that can still be reserved. */
  available: number;
}

export type InventoryErrorCode =
  | 'FL_INV_INSUFFICIENT'
  | 'FL_INV_UNKNOWN_SKU'
  | 'FL_INV_NOT_FOUND'
  | 'FL_INV_NOT_HELD'
  | 'FL_INV_EXPIRED'
  | 'FL_INV_IDEMPOTENCY_CONFLICT';

export class InventoryError extends Error {
  readonly code: InventoryErrorCode;
  readonly sku: string | undefined;
  readonly requested: number | undefined;
  readonly available: number | undefined;
  readonly state: ReservationState | undefined;
  constructor(code: InventoryErrorCode, message: string, details: { sku?: string; requested?: number; available?: number; state?: ReservationState } = {}) {
    super(message);
    this.name = 'InventoryError';
    this.code = code;
    this.sku = details.sku;
    this.requested = details.requested;
    this.available = details.available;
    this.state = details.state;
  }
}

export interface InventoryStoreOptions {
  /** SQLite file; `:memory:` (the default) keeps the books in this process. */
  path?: string;
  /** Units each SKU starts with; SKUs already in the database keep theirs. */
  initialStock: Readonly<Record<string, number>>;
  /** Wall clock in epoch milliseconds; injectable for tests. */
  now?: () => number;
}

export interface ReserveRequest {
  orderId: string;
  items: readonly ReservationItem[];
  ttlMs: number;
  idempotencyKey?: string;
}

export interface Change {
  reservation: Reservation;
  /** True when nothing changed because the same request was already applied. */
  replayed: boolean;
}

export interface InventoryStore {
  readonly db: DatabaseSync;
  reserve(request: ReserveRequest): Change;
  confirm(id: string): Change;
  release(id: string): Change;
  /** Expire held reservations whose TTL has passed, giving their units back; returns how many. */
  expireDue(limit?: number): number;
  reservation(id: string): Reservation | undefined;
  reservations(options?: { state?: ReservationState; limit?: number }): Reservation[];
  countByState(): Record<ReservationState, number>;
  stock(sku: string): StockLevel | undefined;
  allStock(): StockLevel[];
  close(): void;
}

export const INVENTORY_SCHEMA = `
  CREATE TABLE IF NOT EXISTS stock (
    sku TEXT PRIMARY KEY,
    received INTEGER NOT NULL CHECK (received >= 0),
    on_hand INTEGER NOT NULL CHECK (on_hand >= 0),
    reserved INTEGER NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    CHECK (reserved <= on_hand)
  ) STRICT;
  CREATE TABLE IF NOT EXISTS reservations (
    id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL UNIQUE,
    idempotency_key TEXT UNIQUE,
    fingerprint TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('held', 'confirmed', 'released', 'expired')),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX IF NOT EXISTS reservations_held_by_expiry ON reservations (expires_at) WHERE state = 'held';
  CREATE TABLE IF NOT EXISTS reservation_items (
    reservation_id TEXT NOT NULL REFERENCES reservations (id),
    sku TEXT NOT NULL REFERENCES stock (sku),
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (reservation_id, sku)
  ) STRICT;
`;

interface ReservationRow {
  id: string;
  order_id: string;
  idempotency_key: string | null;
  fingerprint: string;
  state: ReservationState;
  created_at: number;
  expires_at: number;
  updated_at: number;
}

interface StockRow {
  sku: string;
  received: number;
  on_hand: number;
  reserved: number;
}

const toStock = (row: StockRow): StockLevel => ({
  sku: row.sku,
  received: row.received,
  onHand: row.on_hand,
  reserved: row.reserved,
  available: row.on_hand - row.reserved,
});

/** Items merged per SKU and sorted, so equal orders compare equal however they were written. */
export function normaliseItems(items: readonly ReservationItem[]): ReservationItem[] {
  const bySku = new Map<string, number>();
  for (const item of items) bySku.set(item.sku, (bySku.get(item.sku) ?? 0) + item.quantity);
  return [...bySku].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([sku, quantity]) => ({ sku, quantity }));
}

export function openInventoryStore(options: InventoryStoreOptions): InventoryStore {
  const now = options.now ?? Date.now;
  const db = new DatabaseSync(options.path ?? ':memory:', { timeout: 5_000 });
  if (options.path && options.path !== ':memory:') {
    db.exec('PRAGMA journal_mode = WAL');
    boundWal(db);
  }
  db.exec(INVENTORY_SCHEMA);

  const transaction = <T>(work: () => T): T => {
    db.exec('BEGIN IMMEDIATE');
    try {
      const result = work();
      db.exec('COMMIT');
      return result;
    } catch (error) {
      if (db.isTransaction) db.exec('ROLLBACK');
      throw error;
    }
  };

  const seed = db.prepare('INSERT OR IGNORE INTO stock (sku, received, on_hand) VALUES (?, ?, ?)');
  transaction(() => {
    for (const [sku, units] of Object.entries(options.initialStock)) seed.run(sku, units, units);
  });

  const q = {
    reservationById: db.prepare('SELECT * FROM reservations WHERE id = ?'),
    reservationByOrder: db.prepare('SELECT * FROM reservations WHERE order_id = ?'),
    reservationByKey: db.prepare('SELECT * FROM reservations WHERE idempotency_key = ?'),
    items: db.prepare('SELECT sku, quantity FROM reservation_items WHERE reservation_id = ? ORDER BY sku'),
    hold: db.prepare('UPDATE stock SET reserved = reserved + ? WHERE sku = ? AND on_hand - reserved >= ?'),
    unhold: db.prepare('UPDATE stock SET reserved = reserved - ? WHERE sku = ?'),
    ship: db.prepare('UPDATE stock SET on_hand = on_hand - ?, reserved = reserved - ? WHERE sku = ?'),
    stock: db.prepare('SELECT sku, received, on_hand, reserved FROM stock WHERE sku = ?'),
    allStock: db.prepare('SELECT sku, received, on_hand, reserved FROM stock ORDER BY length(sku), sku'),
    insertReservation: db.prepare(
      'INSERT INTO reservations (id, order_id, idempotency_key, fingerprint, state, created_at, expires_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    insertItem: db.prepare('INSERT INTO reservation_items (reservation_id, sku, quantity) VALUES (?, ?, ?)'),
    setState: db.prepare('UPDATE reservations SET state = ?, updated_at = ? WHERE id = ?'),
    due: db.prepare("SELECT * FROM reservations WHERE state = 'held' AND expires_at <= ? ORDER BY expires_at LIMIT ?"),
    list: db.prepare('SELECT * FROM reservations WHERE (?1 IS NULL OR state = ?1) ORDER BY created_at DESC, id LIMIT ?2'),
    countByState: db.prepare('SELECT state, COUNT(*) AS n FROM reservations GROUP BY state'),
  };

  const view = (row: ReservationRow): Reservation => ({
    id: row.id,
    orderId: row.order_id,
    state: row.state,
    items: q.items.all(row.id) as unknown as ReservationItem[],
    createdAt: new Date(row.created_at).toISOString(),
    expiresAt: new Date(row.expires_at).toISOString(),
    updatedAt: new Date(row.updated_at).toISOString(),
  });

  const row = (id: string): ReservationRow => {
    const found = q.reservationById.get(id) as ReservationRow | undefined;
    if (!found) throw new InventoryError('FL_INV_NOT_FOUND', `no reservation ${id}`);
    return found;
  };

  /** Give a held reservation's units back and move it to `state`. */
  const unhold = (reservation: ReservationRow, state: 'released' | 'expired', at: number): void => {
    for (const item of q.items.all(reservation.id) as unknown as ReservationItem[]) q.unhold.run(item.quantity, item.sku);
    q.setState.run(state, at, reservation.id);
  };

  const replayOf = (existing: ReservationRow, request: ReserveRequest, fingerprint: string): Change => {
    if (existing.order_id !== request.orderId || existing.fingerprint !== fingerprint) {
      const by = request.idempotencyKey !== undefined && existing.idempotency_key === request.idempotencyKey ? 'idempotency key' : 'order id';
      throw new InventoryError('FL_INV_IDEMPOTENCY_CONFLICT', `${by} already used by reservation ${existing.id} for order ${existing.order_id} with other items`);
    }
    return { reservation: view(existing), replayed: true };
  };

  return {
    db,
    reserve(request) {
      const items = normaliseItems(request.items);
      const fingerprint = JSON.stringify(items);
      return transaction(() => {
        const byKey = request.idempotencyKey === undefined ? undefined : (q.reservationByKey.get(request.idempotencyKey) as ReservationRow | undefined);
        if (byKey) return replayOf(byKey, request, fingerprint);
        const byOrder = q.reservationByOrder.get(request.orderId) as ReservationRow | undefined;
        if (byOrder) return replayOf(byOrder, request, fingerprint);
        for (const item of items) {
          if (Number(q.hold.run(item.quantity, item.sku, item.quantity).changes) === 1) continue;
          const level = q.stock.get(item.sku) as StockRow | undefined;
          if (!level) throw new InventoryError('FL_INV_UNKNOWN_SKU', `no stock kept for ${item.sku}`, { sku: item.sku });
          const available = level.on_hand - level.reserved;
          throw new InventoryError('FL_INV_INSUFFICIENT', `${item.sku}: requested ${item.quantity}, available ${available}`, {
            sku: item.sku,
            requested: item.quantity,
            available,
          });
        }
        const at = now();
        const id = randomUUID();
        q.insertReservation.run(id, request.orderId, request.idempotencyKey ?? null, fingerprint, 'held', at, at + request.ttlMs, at);
        for (const item of items) q.insertItem.run(id, item.sku, item.quantity);
        return { reservation: view(row(id)), replayed: false };
      });
    },

    confirm(id) {
      const outcome = transaction(() => {
        const current = row(id);
        if (current.state === 'confirmed') return { reservation: view(current), replayed: true };
        if (current.state !== 'held') {
          throw new InventoryError('FL_INV_NOT_HELD', `reservation ${id} is ${current.state}, it can no longer be confirmed`, { state: current.state });
        }
        const at = now();
        if (current.expires_at <= at) {
          // Expired but not yet swept: settle it now, so the units come back with this answer.
          unhold(current, 'expired', at);
          return 'expired' as const;
        }
        for (const item of q.items.all(id) as unknown as ReservationItem[]) q.ship.run(item.quantity, item.quantity, item.sku);
        q.setState.run('confirmed', at, id);
        return { reservation: view(row(id)), replayed: false };
      });
      if (outcome === 'expired') throw new InventoryError('FL_INV_EXPIRED', `reservation ${id} expired before it was confirmed`, { state: 'expired' });
      return outcome;
    },

    release(id) {
      return transaction(() => {
        const current = row(id);
        if (current.state === 'released' || current.state === 'expired') return { reservation: view(current), replayed: true };
        if (current.state === 'confirmed') {
          throw new InventoryError('FL_INV_NOT_HELD', `reservation ${id} is confirmed; its units are sold and cannot be released`, { state: 'confirmed' });
        }
        unhold(current, 'released', now());
        return { reservation: view(row(id)), replayed: false };
      });
    },

    expireDue(limit = 1_000) {
      return transaction(() => {
        const at = now();
        const due = q.due.all(at, limit) as unknown as ReservationRow[];
        for (const reservation of due) unhold(reservation, 'expired', at);
        return due.length;
      });
    },

    reservation(id) {
      const found = q.reservationById.get(id) as ReservationRow | undefined;
      return found ? view(found) : undefined;
    },
    reservations(listOptions = {}) {
      return (q.list.all(listOptions.state ?? null, listOptions.limit ?? 1_000) as unknown as ReservationRow[]).map(view);
    },
    countByState() {
      const counts = Object.fromEntries(RESERVATION_STATES.map((state) => [state, 0])) as Record<ReservationState, number>;
      for (const { state, n } of q.countByState.all() as unknown as Array<{ state: ReservationState; n: number }>) counts[state] = n;
      return counts;
    },
    stock(sku) {
      const found = q.stock.get(sku) as StockRow | undefined;
      return found ? toStock(found) : undefined;
    },
    allStock: () => (q.allStock.all() as unknown as StockRow[]).map(toStock),
    close: () => closeCheckpointed(db),
  };
}
