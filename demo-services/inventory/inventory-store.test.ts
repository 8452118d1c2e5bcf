import { describe, expect, it } from 'vitest';
import { InventoryError, openInventoryStore } from './inventory-store.ts';
import { checkInventoryInvariants } from './invariants.ts';

function store(initialStock: Record<string, number> = { 'sku-1': 10, 'sku-2': 5 }) {
  let t = 1_700_000_000_000;
  const inventory = openInventoryStore({ initialStock, now: () => t });
  return { inventory, advance: (ms: number) => void (t += ms), now: () => t };
}

const errorCode = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (error) {
    if (error instanceof InventoryError) return error.code;
    throw error;
  }
  return undefined;
};

describe('inventory store', () => {
  it('reserves, confirms and keeps the books balanced', () => {
    const { inventory, now } = store();
    const { reservation } = inventory.reserve({ orderId: 'o-1', items: [{ sku: 'sku-1', quantity: 3 }, { sku: 'sku-2', quantity: 2 }], ttlMs: 60_000 });
    expect(reservation.state).toBe('held');
    expect(inventory.stock('sku-1')).toEqual({ sku: 'sku-1', received: 10, onHand: 10, reserved: 3, available: 7 });
    expect(inventory.confirm(reservation.id)).toMatchObject({ replayed: false, reservation: { state: 'confirmed' } });
    expect(inventory.confirm(reservation.id)).toMatchObject({ replayed: true });
    expect(inventory.stock('sku-1')).toEqual({ sku: 'sku-1', received: 10, onHand: 7, reserved: 0, available: 7 });
    expect(errorCode(() => inventory.release(reservation.id))).toBe('FL_INV_NOT_HELD');
    expect(checkInventoryInvariants(inventory.db, { now: now() })).toMatchObject({ ok: true, violations: [] });
  });

  it('takes all items or none, and names the short SKU', () => {
    const { inventory } = store();
    let error: InventoryError | undefined;
    try {
      inventory.reserve({ orderId: 'o-2', items: [{ sku: 'sku-1', quantity: 4 }, { sku: 'sku-2', quantity: 6 }], ttlMs: 60_000 });
    } catch (caught) {
      error = caught as InventoryError;
    }
    expect(error).toMatchObject({ code: 'FL_INV_INSUFFICIENT', sku: 'sku-2', requested: 6, available: 5 });
    expect(inventory.stock('sku-1')?.reserved).toBe(0);
    expect(inventory.reservations()).toEqual([]);
    expect(errorCode(() => inventory.reserve({ orderId: 'o-3', items: [{ sku: 'sku-404', quantity: 1 }], ttlMs: 1_000 }))).toBe('FL_INV_UNKNOWN_SKU');
  });

  it('is idempotent per order id and per idempotency key, and refuses a reused one with other items', () => {
    const { inventory } = store();
    const first = inventory.reserve({ orderId: 'o-4', items: [{ sku: 'sku-1', quantity: 1 }, { sku: 'sku-2', quantity: 1 }], ttlMs: 60_000, idempotencyKey: 'key-00000004' });
    const again = inventory.reserve({ orderId: 'o-4', items: [{ sku: 'sku-2', quantity: 1 }, { sku: 'sku-1', quantity: 1 }], ttlMs: 60_000 });
    expect(again).toEqual({ reservation: first.reservation, replayed: true });
    expect(inventory.stock('sku-1')?.reserved).toBe(1);
    expect(errorCode(() => inventory.reserve({ orderId: 'o-4', items: [{ sku: 'sku-1', quantity: 2 }], ttlMs: 60_000 }))).toBe('FL_INV_IDEMPOTENCY_CONFLICT');
    expect(errorCode(() => inventory.reserve({ orderId: 'o-5', items: [{ sku: 'sku-1', quantity: 1 }], ttlMs: 60_000, idempotencyKey: 'key-00000004' }))).toBe(
      'FL_INV_IDEMPOTENCY_CONFLICT',
    );
  });

  it('merges repeated SKUs of one request', () => {
    const { inventory } = store();
    const { reservation } = inventory.reserve({ orderId: 'o-6', items: [{ sku: 'sku-1', quantity: 1 }, { sku: 'sku-1', quantity: 2 }], ttlMs: 60_000 });
    expect(reservation.items).toEqual([{ sku: 'sku-1', quantity: 3 }]);
  });

  it('releases once, and gives expired holds back through the sweeper or at confirmation', () => {
    const { inventory, advance, now } = store();
    const a = inventory.reserve({ orderId: 'o-7', items: [{ sku: 'sku-1', quantity: 2 }], ttlMs: 1_000 }).reservation;
    const b = inventory.reserve({ orderId: 'o-8', items: [{ sku: 'sku-1', quantity: 3 }], ttlMs: 1_000 }).reservation;
    const c = inventory.reserve({ orderId: 'o-9', items: [{ sku: 'sku-1', quantity: 4 }], ttlMs: 5_000 }).reservation;
    expect(inventory.release(a.id).replayed).toBe(false);
    expect(inventory.release(a.id).replayed).toBe(true);
    expect(inventory.stock('sku-1')?.reserved).toBe(7);
    advance(1_000);
    expect(inventory.expireDue()).toBe(1);
    expect(inventory.reservation(b.id)?.state).toBe('expired');
    expect(inventory.release(b.id)).toMatchObject({ replayed: true, reservation: { state: 'expired' } });
    advance(4_000);
    expect(errorCode(() => inventory.confirm(c.id))).toBe('FL_INV_EXPIRED');
    expect(inventory.reservation(c.id)?.state).toBe('expired');
    expect(inventory.stock('sku-1')).toMatchObject({ reserved: 0, available: 10 });
    expect(inventory.countByState()).toEqual({ held: 0, confirmed: 0, released: 1, expired: 2 });
    expect(checkInventoryInvariants(inventory.db, { now: now() }).ok).toBe(true);
  });

  it('cannot write negative stock: the CHECK constraints refuse it', () => {
    const { inventory } = store();
    expect(() => inventory.db.exec("UPDATE stock SET on_hand = -1 WHERE sku = 'sku-1'")).toThrow(/CHECK constraint failed/);
    expect(() => inventory.db.exec("UPDATE stock SET reserved = on_hand + 1 WHERE sku = 'sku-1'")).toThrow(/CHECK constraint failed/);
  });

  it('reports unknown reservations', () => {
    const { inventory } = store();
    expect(errorCode(() => inventory.confirm('nope'))).toBe('FL_INV_NOT_FOUND');
    expect(errorCode(() => inventory.release('nope'))).toBe('FL_INV_NOT_FOUND');
  });
});
