// Every SQLite store of the shop leaves no WAL behind when it closes, even
// while another connection (a `faultline check` reading the books) has the
// file open: SQLite only checkpoints by itself when the last connection closes.
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openBankStore } from '../bank/bank-store.ts';
import { openOrderStore } from '../checkout/order-store.ts';
import { openInventoryStore } from '../inventory/inventory-store.ts';
import { closeCheckpointed } from './sqlite-close.ts';

const walBytes = (path: string): number => (existsSync(`${path}-wal`) ? statSync(`${path}-wal`).size : 0);

describe('SQLite stores checkpoint on close', () => {
  let dir: string;
  let reader: DatabaseSync | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'faultline-wal-'));
  });

  afterEach(async () => {
    reader?.close();
    reader = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  /** A second connection that has read the books and sits idle, as a checker would. */
  const openReader = (path: string, table: string): void => {
    reader = new DatabaseSync(path, { readOnly: true });
    reader.prepare(`SELECT count(*) AS n FROM ${table}`).get();
  };

  it('bank', () => {
    const path = join(dir, 'bank.sqlite');
    const store = openBankStore(path);
    for (let i = 0; i < 50; i++) store.charge(`key-${i}`, { orderId: `order-${i}`, amount: 1999, currency: 'EUR' });
    openReader(path, 'charges');
    expect(walBytes(path)).toBeGreaterThan(0);
    store.close();
    expect(walBytes(path)).toBe(0);
    expect(reader?.prepare('SELECT count(*) AS n FROM charges').get()).toEqual({ n: 50 });
  });

  it('inventory', () => {
    const path = join(dir, 'inventory.sqlite');
    const store = openInventoryStore({ path, initialStock: { 'sku-1': 1_000 } });
    for (let i = 0; i < 50; i++) store.reserve({ orderId: `order-${i}`, items: [{ sku: 'sku-1', quantity: 1 }], ttlMs: 60_000 });
    openReader(path, 'reservations');
    expect(walBytes(path)).toBeGreaterThan(0);
    store.close();
    expect(walBytes(path)).toBe(0);
  });

  it('checkout orders', () => {
    const path = join(dir, 'checkout.sqlite');
    const store = openOrderStore(path);
    for (let i = 0; i < 50; i++) store.create({ orderId: `order-${i}`, idempotencyKey: `key-${i}`, requestHash: 'h', userId: 'user-1', amount: 1999 });
    openReader(path, 'orders');
    expect(walBytes(path)).toBeGreaterThan(0);
    store.close();
    expect(walBytes(path)).toBe(0);
  });

  it('closing twice is harmless', () => {
    const db = new DatabaseSync(join(dir, 'x.sqlite'));
    closeCheckpointed(db);
    expect(() => closeCheckpointed(db)).not.toThrow();
  });
});

describe('SQLite stores bound their WAL while open', () => {
  it('a store written to for long keeps its -wal file near 1 MiB, not SQLite default 4 MiB, so a kill leaves little', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'faultline-wal-'));
    try {
      const path = join(dir, 'bank.sqlite');
      const store = openBankStore(path);
      let largest = 0;
      // Each charge commits a few pages; 1500 of them pass several checkpoints.
      for (let i = 0; i < 1500; i++) {
        store.charge(`key-${i}`, { orderId: `order-${i}`, amount: 1999, currency: 'EUR' });
        largest = Math.max(largest, walBytes(path));
      }
      expect(largest).toBeGreaterThan(0);
      expect(largest).toBeLessThan(1.5 * 1024 * 1024);
      store.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
