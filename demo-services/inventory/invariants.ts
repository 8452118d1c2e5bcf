// Whether the inventory's books balance, checked straight from the database
// with SQL rather than through the store, so it finds damage the store's code
// would never make: rows written by hand, CHECK constraints bypassed, a bug in
// a transaction. A scenario calls it (through GET /admin/books, or on the
// database file after a run) to assert "never oversold, nothing lost".

import type { DatabaseSync } from 'node:sqlite';

export type InvariantCode =
  | 'negative-stock'
  | 'oversold'
  | 'reserved-mismatch'
  | 'units-unaccounted'
  | 'overdue-hold'
  | 'bad-reservation';

export interface InvariantViolation {
  code: InvariantCode;
  message: string;
  sku?: string;
  reservationId?: string;
}

export interface InvariantReport {
  ok: boolean;
  checkedAt: string;
  violations: InvariantViolation[];
}

export interface InvariantOptions {
  /** Epoch milliseconds; default now. */
  now?: number;
  /** A held reservation may outlive its expiry by this much before it counts (sweeper period plus slack). */
  expiryGraceMs?: number;
  /** Stop after this many violations per check. */
  maxViolationsPerCheck?: number;
}

interface Check {
  code: InvariantCode;
  sql: string;
  message: (row: Record<string, unknown>) => string;
}

const CHECKS: readonly Check[] = [
  {
    code: 'negative-stock',
    sql: 'SELECT sku, on_hand, reserved FROM stock WHERE on_hand < 0 OR reserved < 0 OR received < 0',
    message: (r) => `${r.sku}: negative stock (on_hand ${r.on_hand}, reserved ${r.reserved})`,
  },
  {
    code: 'oversold',
    sql: 'SELECT sku, on_hand, reserved FROM stock WHERE reserved > on_hand',
    message: (r) => `${r.sku}: ${r.reserved} units reserved but only ${r.on_hand} on hand`,
  },
  {
    code: 'reserved-mismatch',
    sql: `
      SELECT s.sku, s.reserved, COALESCE(h.units, 0) AS held
      FROM stock s
      LEFT JOIN (
        SELECT i.sku, SUM(i.quantity) AS units FROM reservation_items i
        JOIN reservations r ON r.id = i.reservation_id WHERE r.state = 'held' GROUP BY i.sku
      ) h ON h.sku = s.sku
      WHERE s.reserved <> COALESCE(h.units, 0)`,
    message: (r) => `${r.sku}: stock says ${r.reserved} units reserved, held reservations hold ${r.held}`,
  },
  {
    code: 'units-unaccounted',
    sql: `
      SELECT s.sku, s.received, s.on_hand, COALESCE(c.units, 0) AS sold
      FROM stock s
      LEFT JOIN (
        SELECT i.sku, SUM(i.quantity) AS units FROM reservation_items i
        JOIN reservations r ON r.id = i.reservation_id WHERE r.state = 'confirmed' GROUP BY i.sku
      ) c ON c.sku = s.sku
      WHERE s.received <> s.on_hand + COALESCE(c.units, 0)`,
    message: (r) => `${r.sku}: received ${r.received} units, but on hand ${r.on_hand} + sold ${r.sold} differ`,
  },
  {
    code: 'overdue-hold',
    sql: "SELECT id AS reservation_id, expires_at FROM reservations WHERE state = 'held' AND expires_at < :deadline ORDER BY expires_at",
    message: (r) => `reservation ${r.reservation_id} still held ${new Date(Number(r.expires_at)).toISOString()} past its expiry`,
  },
  {
    code: 'bad-reservation',
    sql: `
      SELECT r.id AS reservation_id, 'has no items' AS problem FROM reservations r
        WHERE NOT EXISTS (SELECT 1 FROM reservation_items i WHERE i.reservation_id = r.id)
      UNION ALL
      SELECT i.reservation_id, 'holds ' || i.quantity || ' units of ' || i.sku FROM reservation_items i
        WHERE i.quantity <= 0 OR NOT EXISTS (SELECT 1 FROM stock s WHERE s.sku = i.sku)
      UNION ALL
      SELECT i.reservation_id, 'has items but no reservation row' FROM reservation_items i
        WHERE NOT EXISTS (SELECT 1 FROM reservations r WHERE r.id = i.reservation_id)
      UNION ALL
      SELECT id, 'is in unknown state ' || state FROM reservations WHERE state NOT IN ('held', 'confirmed', 'released', 'expired')`,
    message: (r) => `reservation ${r.reservation_id} ${r.problem}`,
  },
];

/** Every way the books fail to balance; `ok` when there is none. Read-only. */
export function checkInventoryInvariants(db: DatabaseSync, options: InvariantOptions = {}): InvariantReport {
  const now = options.now ?? Date.now();
  const limit = options.maxViolationsPerCheck ?? 100;
  const deadline = now - (options.expiryGraceMs ?? 5_000);
  const violations: InvariantViolation[] = [];
  for (const check of CHECKS) {
    const statement = db.prepare(`${check.sql} LIMIT ${limit}`);
    const rows = (check.code === 'overdue-hold' ? statement.all({ deadline }) : statement.all()) as Array<Record<string, unknown>>;
    for (const row of rows) {
      violations.push({
        code: check.code,
        message: check.message(row),
        ...(typeof row.sku === 'string' ? { sku: row.sku } : {}),
        ...(typeof row.reservation_id === 'string' ? { reservationId: row.reservation_id } : {}),
      });
    }
  }
  return { ok: violations.length === 0, checkedAt: new Date(now).toISOString(), violations };
}
