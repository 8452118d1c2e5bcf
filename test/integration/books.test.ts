// The invariants check on real databases written by the services' own stores:
// balanced books pass, and deliberately corrupted ones are caught, through the
// module and through `faultline check`.

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openBankStore } from '../../demo-services/bank/bank-store.ts';
import { openOrderStore } from '../../demo-services/checkout/order-store.ts';
import { openInventoryStore } from '../../demo-services/inventory/inventory-store.ts';
import { checkBooks } from '../../runner/books.ts';
import { runCli } from '../e2e/cli.ts';

let runDir: string;

/** Books of a small, honest run: two confirmed orders and one compensated (charged, then refunded). */
async function writeHonestBooks(): Promise<void> {
  const data = join(runDir, 'data');
  await mkdir(data, { recursive: true });
  const orders = openOrderStore(join(data, 'checkout.sqlite'));
  const bank = openBankStore(join(data, 'bank.sqlite'));
  const inventory = openInventoryStore({ path: join(data, 'inventory.sqlite'), initialStock: { 'sku-1': 10 } });
  for (const [i, outcome] of ['confirmed', 'confirmed', 'compensated'].entries()) {
    const order = orders.create({ orderId: `order-${i}`, idempotencyKey: `key-000000${i}`, requestHash: 'h', userId: 'u', amount: 100 })!;
    const { reservation } = inventory.reserve({ orderId: order.orderId, items: [{ sku: 'sku-1', quantity: 1 }], ttlMs: 60_000 });
    const { charge } = bank.charge(order.idempotencyKey, { orderId: order.orderId, amount: 100, currency: 'EUR' }) as { charge: { chargeId: string } };
    if (outcome === 'confirmed') inventory.confirm(reservation.id);
    else {
      bank.refund(charge.chargeId);
      inventory.release(reservation.id);
    }
    orders.update(order.orderId, { state: outcome as 'confirmed' | 'compensated', reservationId: reservation.id });
  }
  orders.close();
  bank.close();
  inventory.close();
}

beforeEach(async () => {
  runDir = await mkdtemp(join(tmpdir(), 'faultline-books-'));
  await writeHonestBooks();
});
afterEach(async () => {
  await rm(runDir, { recursive: true, force: true });
});

describe('books check', () => {
  it('balanced books pass', () => {
    const report = checkBooks(runDir);
    expect(report.violations).toEqual([]);
    expect(report).toMatchObject({ ok: true, orders: { confirmed: 2, compensated: 1 }, charges: { total: 3, refunded: 1 }, missing: [] });
  });

  it('catches a double charge, a stray charge and negative stock written behind the services backs', async () => {
    const bank = new DatabaseSync(join(runDir, 'data', 'bank.sqlite'));
    bank.exec(`INSERT INTO charges VALUES ('c-dup', 'key-dup-0001', 'order-0', 100, 'EUR', '2026-01-01T00:00:00Z')`);
    bank.exec(`INSERT INTO charges VALUES ('c-stray', 'key-stray-001', 'order-nobody', 100, 'EUR', '2026-01-01T00:00:00Z')`);
    bank.close();
    const inventory = new DatabaseSync(join(runDir, 'data', 'inventory.sqlite'));
    inventory.exec('PRAGMA ignore_check_constraints = ON');
    inventory.exec(`UPDATE stock SET on_hand = -3 WHERE sku = 'sku-1'`);
    inventory.close();
    const report = checkBooks(runDir);
    expect(report.ok).toBe(false);
    const codes = report.violations.map((v) => v.code);
    // Damage no resumption undoes: nothing here was in flight.
    expect(report.counts['in-flight']).toBe(0);
    expect(report.counts['lost-or-doubled']).toBeGreaterThanOrEqual(3);
    expect(report.violations.every((v) => v.kind === 'lost-or-doubled')).toBe(true);
    expect(codes).toContain('charged-twice');
    expect(codes).toContain('charge-without-order');
    expect(codes).toContain('inventory-negative-stock');

    await writeFile(join(runDir, 'summary.json'), JSON.stringify({ endedAt: new Date().toISOString() }));
    const cli = await runCli(['check', runDir]);
    expect(cli.code).toBe(1);
    expect(cli.stdout).toContain('VIOLATION charged-twice');
    expect(cli.stdout).toContain('the books do not balance');
  });

  it('an order still owing its compensation at the end of a run is counted and reported, with what it owes', async () => {
    const data = join(runDir, 'data');
    const orders = openOrderStore(join(data, 'checkout.sqlite'));
    const bank = openBankStore(join(data, 'bank.sqlite'));
    orders.create({ orderId: 'order-owing', idempotencyKey: 'key-owing-01', requestHash: 'h', userId: 'u', amount: 100 });
    bank.charge('key-owing-01', { orderId: 'order-owing', amount: 100, currency: 'EUR' });
    orders.oweCompensation({ orderId: 'order-owing', idempotencyKey: 'key-owing-01', reservationId: 'r-x', refund: true, release: false, nextAttemptAt: 0, lastError: 'refund: payment unavailable' });
    orders.recordCompensationAttempt('order-owing', { refund: true, release: false, nextAttemptAt: 0, error: 'refund: payment unavailable' });
    orders.close();
    bank.close();
    const report = checkBooks(runDir);
    expect(report.ok).toBe(false);
    expect(report.orders).toMatchObject({ confirmed: 2, compensated: 1, compensating: 1 });
    expect(report.violations).toContainEqual({ code: 'compensation-owed', message: 'order order-owing still owes a refund after 2 attempts (last: refund: payment unavailable)', kind: 'in-flight' });
    // The charge it still owes is a standing charge for an order that was not confirmed.
    expect(report.violations.map((v) => v.code)).toContain('charge-without-order');

    await writeFile(join(runDir, 'summary.json'), JSON.stringify({ endedAt: new Date().toISOString() }));
    const cli = await runCli(['check', runDir]);
    expect(cli.code).toBe(1);
    expect(cli.stdout).toContain('1 still compensating');
    expect(cli.stdout).toContain('IN FLIGHT compensation-owed: order order-owing still owes a refund after 2 attempts');
    // Owing a refund is unfinished work, not damage: recovering the run finishes it.
    expect(report.counts).toEqual({ 'in-flight': 2, 'lost-or-doubled': 0 });
    expect(cli.stdout).toContain('the books do not balance: 2 in flight when the lab stopped (`faultline recover <run>` finishes them), 0 lost or doubled');
  });

  it('a confirmed order without a charge, and an order left pending, are violations', () => {
    const orders = openOrderStore(join(runDir, 'data', 'checkout.sqlite'));
    orders.create({ orderId: 'order-ghost', idempotencyKey: 'key-ghost-01', requestHash: 'h', userId: 'u', amount: 5 });
    orders.create({ orderId: 'order-free', idempotencyKey: 'key-free-001', requestHash: 'h', userId: 'u', amount: 5 });
    orders.update('order-free', { state: 'confirmed' });
    orders.close();
    const report = checkBooks(runDir);
    expect(report.violations.map((v) => [v.code, v.kind])).toEqual(
      expect.arrayContaining([
        ['order-pending', 'in-flight'],
        ['confirmed-not-charged', 'lost-or-doubled'],
      ]),
    );
  });
});
