import { describe, expect, it } from 'vitest';
import { openInventoryStore } from './inventory-store.ts';
import { checkInventoryInvariants } from './invariants.ts';

const NOW = 1_700_000_000_000;

function books() {
  const inventory = openInventoryStore({ initialStock: { 'sku-1': 10, 'sku-2': 10 }, now: () => NOW });
  const held = inventory.reserve({ orderId: 'o-1', items: [{ sku: 'sku-1', quantity: 2 }], ttlMs: 60_000 }).reservation;
  const sold = inventory.reserve({ orderId: 'o-2', items: [{ sku: 'sku-2', quantity: 3 }], ttlMs: 60_000 }).reservation;
  inventory.confirm(sold.id);
  return { db: inventory.db, held, sold };
}

const codes = (db: ReturnType<typeof books>['db'], now = NOW) => checkInventoryInvariants(db, { now }).violations.map((v) => `${v.code}:${v.sku ?? v.reservationId}`);

describe('inventory invariants', () => {
  it('pass on books the store wrote', () => {
    expect(checkInventoryInvariants(books().db, { now: NOW })).toEqual({ ok: true, checkedAt: new Date(NOW).toISOString(), violations: [] });
  });

  it('find negative stock written past the CHECK constraints', () => {
    const { db } = books();
    db.exec("PRAGMA ignore_check_constraints = ON; UPDATE stock SET on_hand = -5, received = -5 WHERE sku = 'sku-1'; PRAGMA ignore_check_constraints = OFF");
    expect(codes(db)).toEqual(expect.arrayContaining(['negative-stock:sku-1', 'oversold:sku-1']));
  });

  it('find negative stock in a table recreated without its CHECK constraints', () => {
    const { db } = books();
    db.exec(`
      PRAGMA foreign_keys = OFF;
      CREATE TABLE stock_unchecked (sku TEXT PRIMARY KEY, received INTEGER, on_hand INTEGER, reserved INTEGER);
      INSERT INTO stock_unchecked SELECT sku, received, on_hand, reserved FROM stock;
      DROP TABLE stock;
      ALTER TABLE stock_unchecked RENAME TO stock;
      UPDATE stock SET on_hand = -3 WHERE sku = 'sku-2';
    `);
    const report = checkInventoryInvariants(db, { now: NOW });
    expect(report.ok).toBe(false);
    expect(report.violations.find((v) => v.code === 'negative-stock')).toMatchObject({ sku: 'sku-2', message: expect.stringContaining('on_hand -3') });
  });

  it('find reserved counts that disagree with the held reservations, and lost units', () => {
    const { db } = books();
    db.exec("UPDATE stock SET reserved = 1 WHERE sku = 'sku-1'; UPDATE stock SET on_hand = on_hand - 1 WHERE sku = 'sku-2'");
    expect(codes(db).sort()).toEqual(['reserved-mismatch:sku-1', 'units-unaccounted:sku-2']);
  });

  it('find a hold the sweeper left past its expiry (beyond the grace)', () => {
    const { db, held } = books();
    expect(codes(db, NOW + 60_000 + 4_000)).toEqual([]);
    expect(codes(db, NOW + 60_000 + 6_000)).toEqual([`overdue-hold:${held.id}`]);
  });

  it('find reservations without items, in unknown states, or holding unknown SKUs', () => {
    const { db, sold } = books();
    db.exec(`
      PRAGMA ignore_check_constraints = ON; PRAGMA foreign_keys = OFF;
      INSERT INTO reservations VALUES ('empty', 'o-9', NULL, '[]', 'held', ${NOW}, ${NOW + 1}, ${NOW});
      UPDATE reservations SET state = 'lost' WHERE id = '${sold.id}';
      INSERT INTO reservation_items VALUES ('empty-too', 'sku-99', 1);
    `);
    const found = checkInventoryInvariants(db, { now: NOW }).violations.filter((v) => v.code === 'bad-reservation').map((v) => v.message);
    expect(found).toEqual(
      expect.arrayContaining([
        'reservation empty has no items',
        `reservation ${sold.id} is in unknown state lost`,
        'reservation empty-too holds 1 units of sku-99',
        'reservation empty-too has items but no reservation row',
      ]),
    );
  });
});
