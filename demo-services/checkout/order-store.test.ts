// The order store's compensation books: an order that owes a refund or a
// release is 'compensating' until every part is done, and a database written
// before that state existed is migrated in place, rows kept.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, describe, expect, it } from 'vitest';
import { openOrderStore } from './order-store.ts';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

describe('owed compensations', () => {
  it('records what is owed, keeps partial progress, and makes the order compensated when nothing is left', () => {
    const store = openOrderStore();
    store.create({ orderId: 'o-1', idempotencyKey: 'key-0000001', requestHash: 'h', userId: 'u', amount: 10 });
    store.create({ orderId: 'o-2', idempotencyKey: 'key-0000002', requestHash: 'h', userId: 'u', amount: 10 });
    store.oweCompensation({ orderId: 'o-1', idempotencyKey: 'key-0000001', reservationId: 'r-1', refund: true, release: true, nextAttemptAt: 2_000, lastError: 'refund: down' });
    store.oweCompensation({ orderId: 'o-2', idempotencyKey: 'key-0000002', reservationId: 'r-2', refund: false, release: true, nextAttemptAt: 1_000 });
    expect(store.byKey('key-0000001')?.state).toBe('compensating');
    expect(store.owedCount()).toBe(2);
    expect(store.owedCompensations().map((o) => o.orderId)).toEqual(['o-2', 'o-1']);
    expect(store.owedCompensations()[1]).toEqual({
      orderId: 'o-1',
      idempotencyKey: 'key-0000001',
      reservationId: 'r-1',
      refund: true,
      release: true,
      attempts: 1,
      nextAttemptAt: 2_000,
      lastError: 'refund: down',
    });

    store.recordCompensationAttempt('o-1', { refund: true, release: false, nextAttemptAt: 5_000, error: 'refund: still down' });
    expect(store.owedCompensations().find((o) => o.orderId === 'o-1')).toMatchObject({ refund: true, release: false, attempts: 2, nextAttemptAt: 5_000, lastError: 'refund: still down' });
    expect(store.byKey('key-0000001')?.state).toBe('compensating');

    store.recordCompensationAttempt('o-1', { refund: false, release: false, nextAttemptAt: 9_000 });
    expect(store.byKey('key-0000001')?.state).toBe('compensated');
    expect(store.owedCount()).toBe(1);
    store.close();
  });

  it('an order with a part refused for good ends failed, not compensated, even when the refusal came first', () => {
    const store = openOrderStore();
    store.create({ orderId: 'o-3', idempotencyKey: 'key-0000003', requestHash: 'h', userId: 'u', amount: 10 });
    // The saga: the release was refused (the units were sold), the refund failed and is owed.
    store.oweCompensation({ orderId: 'o-3', idempotencyKey: 'key-0000003', reservationId: 'r-3', refund: true, release: false, refused: true, nextAttemptAt: 0 });
    store.recordCompensationAttempt('o-3', { refund: true, release: false, nextAttemptAt: 100 });
    expect(store.byKey('key-0000003')?.state).toBe('compensating');
    store.recordCompensationAttempt('o-3', { refund: false, release: false, nextAttemptAt: 200 });
    expect(store.byKey('key-0000003')?.state).toBe('failed');
    expect(store.owedCount()).toBe(0);
    store.close();
  });
});

describe('the saga log', () => {
  it("keeps each order's items, and lists the orders still pending, oldest first, for a restart to resume", () => {
    const store = openOrderStore();
    const items = [{ sku: 'sku-1', quantity: 2 }];
    store.create({ orderId: 'o-1', idempotencyKey: 'key-0000001', requestHash: 'h', userId: 'u', amount: 10, items });
    store.create({ orderId: 'o-2', idempotencyKey: 'key-0000002', requestHash: 'h', userId: 'u', amount: 10, items });
    store.create({ orderId: 'o-3', idempotencyKey: 'key-0000003', requestHash: 'h', userId: 'u', amount: 10, items });
    store.update('o-1', { reservationId: 'r-1', paymentId: 'p-1' });
    store.update('o-2', { state: 'confirmed', response: { status: 201, body: {} } });
    expect(store.pending().map((o) => [o.orderId, o.reservationId, o.paymentId])).toEqual([
      ['o-1', 'r-1', 'p-1'],
      ['o-3', undefined, undefined],
    ]);
    expect(store.pending()[0]?.items).toEqual(items);
    expect(store.isOpen()).toBe(true);
    store.close();
    expect(store.isOpen()).toBe(false);
  });
});

describe('migration', () => {
  it("opens a database whose CHECK predates 'compensating', keeping its orders", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'faultline-orders-'));
    dirs.push(dir);
    const path = join(dir, 'checkout.sqlite');
    const old = new DatabaseSync(path);
    old.exec(`
      CREATE TABLE orders (
        order_id TEXT PRIMARY KEY, idempotency_key TEXT NOT NULL UNIQUE, request_hash TEXT NOT NULL, user_id TEXT NOT NULL,
        amount INTEGER NOT NULL CHECK (amount > 0),
        state TEXT NOT NULL CHECK (state IN ('pending', 'confirmed', 'failed', 'compensated')),
        reservation_id TEXT, payment_id TEXT, failure TEXT, response TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL
      );
      INSERT INTO orders VALUES ('old-1', 'key-old-0001', 'h', 'u', 7, 'confirmed', 'r-9', 'p-9', NULL, '{"status":201,"body":{}}', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z');
    `);
    expect(() => old.exec("UPDATE orders SET state = 'compensating'")).toThrow(/CHECK/);
    old.close();

    const store = openOrderStore(path);
    expect(store.byKey('key-old-0001')).toMatchObject({ orderId: 'old-1', state: 'confirmed', reservationId: 'r-9', paymentId: 'p-9', response: { status: 201 } });
    // Items were not kept then: the column is added, empty on the old row.
    expect(store.byKey('key-old-0001')?.items).toBeUndefined();
    store.create({ orderId: 'new-1', idempotencyKey: 'key-new-0001', requestHash: 'h', userId: 'u', amount: 3 });
    store.oweCompensation({ orderId: 'new-1', idempotencyKey: 'key-new-0001', reservationId: 'r-1', refund: true, release: false, nextAttemptAt: 0 });
    expect(store.byKey('key-new-0001')?.state).toBe('compensating');
    store.close();
    // Opening again finds nothing left to migrate.
    const again = openOrderStore(path);
    expect(again.all().map((o) => o.state)).toEqual(['confirmed', 'compensating']);
    again.close();
  });
});
