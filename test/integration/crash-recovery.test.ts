// Crash recovery against real processes (startLab: checkout, inventory, two
// payments, the bank, the fault proxy, the collector). The bank is slowed so
// that sagas are caught mid-charge; checkout is SIGKILLed with orders in
// flight and started again on its own order log. With recovery on, it resumes
// them (same idempotency keys: no second reservation, no second charge) and
// the books balance; a client retrying with its key gets the recorded answer.
// With recovery off they stay pending, `faultline check` calls them "in
// flight", not "lost or doubled", and `faultline recover` finishes them.

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, describe, expect, it } from 'vitest';
import { HEADER, SHOP_HEADER } from '../../demo-services/kit/conventions.ts';
import { checkBooks } from '../../runner/books.ts';
import { startLab, type Lab } from '../../runner/lab.ts';
import { runCli } from '../e2e/cli.ts';
import { until } from '../until.ts';

let lab: Lab | undefined;
let runDir: string | undefined;

afterEach(async () => {
  await lab?.stop();
  lab = undefined;
  if (runDir) await rm(runDir, { recursive: true, force: true });
  runDir = undefined;
}, 60_000);

function orderRows(dir: string): Array<{ order_id: string; idempotency_key: string; state: string; reservation_id: string | null }> {
  const db = new DatabaseSync(join(dir, 'data', 'checkout.sqlite'), { readOnly: true });
  try {
    return db.prepare('SELECT order_id, idempotency_key, state, reservation_id FROM orders').all() as never;
  } finally {
    db.close();
  }
}

const ORDERS = 6;

/** A lab whose bank takes 700 ms a charge; checkout waits up to 3 s for one. */
async function startSlowBankLab(dir: string, recovery: boolean): Promise<Lab> {
  return startLab({
    runDir: dir,
    seed: 11,
    services: ['checkout'],
    policies: {
      bank: { behaviour: { latency: '700ms' } },
      checkout: {
        payment: { timeout: { timeout: '3s' }, retry: { maxAttempts: 2, baseDelay: '10ms' } },
        recovery: { enabled: recovery },
      },
    },
  });
}

/** Place ORDERS orders, SIGKILL checkout while at least half are mid-charge, start it again; the keys of the orders. */
async function crashMidSaga(started: Lab, dir: string): Promise<string[]> {
  const checkoutUrl = started.serviceUrl('checkout');
  const keys = Array.from({ length: ORDERS }, (_, i) => `crash-recovery-${i}-${Date.now()}`);
  const placed = keys.map((key, i) =>
    fetch(`${checkoutUrl}/checkout`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [HEADER.idempotencyKey]: key },
      body: JSON.stringify({ userId: `user-${i}`, items: [{ sku: 'sku-2', quantity: 1 }], amount: 1_500 }),
    }).then(
      (response) => response.status,
      () => 'cut',
    ),
  );
  // Reserved and charging: the bank holds each charge for 700 ms.
  await until('orders mid-charge', () => (orderRows(dir).filter((o) => o.state === 'pending' && o.reservation_id !== null).length >= ORDERS / 2 ? true : undefined), 15_000, 20);
  started.signalInstance('checkout', 'SIGKILL');
  const answers = await Promise.all(placed);
  expect(answers.filter((answer) => answer === 'cut').length).toBeGreaterThanOrEqual(ORDERS / 2);
  expect(orderRows(dir).filter((o) => o.state === 'pending').length).toBeGreaterThanOrEqual(ORDERS / 2);
  await until('checkout gone', () => (started.processes().some((p) => p.name === 'checkout') ? undefined : true));
  await started.restartInstance('checkout');
  return keys;
}

describe('checkout crash recovery', () => {
  it('resumes the sagas a SIGKILLed checkout left pending: the books balance, replays get the recorded answer', async () => {
    runDir = await mkdtemp(join(tmpdir(), 'faultline-recovery-'));
    const dir = runDir;
    lab = await startSlowBankLab(dir, true);
    const keys = await crashMidSaga(lab, dir);

    await until('no order pending', () => (orderRows(dir).some((o) => o.state === 'pending') ? undefined : true), 30_000, 200);
    const rows = orderRows(dir);
    expect(rows).toHaveLength(ORDERS);
    expect(rows.every((o) => o.state === 'confirmed')).toBe(true);

    // The client's retry with its key gets the answer the resumed saga recorded.
    const replay = await fetch(`${lab.serviceUrl('checkout')}/checkout`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [HEADER.idempotencyKey]: keys[0] as string },
      body: JSON.stringify({ userId: 'user-0', items: [{ sku: 'sku-2', quantity: 1 }], amount: 1_500 }),
    });
    expect(replay.status).toBe(201);
    expect(replay.headers.get(SHOP_HEADER.idempotentReplayed)).toBe('true');

    await lab.stop();
    lab = undefined;
    const books = checkBooks(dir);
    expect(books.violations).toEqual([]);
    // Exactly one charge per order: the resumed charges were replays of the first.
    expect(books).toMatchObject({ ok: true, orders: { confirmed: ORDERS, pending: 0 }, charges: { total: ORDERS, refunded: 0 } });
  }, 120_000);

  it('with recovery off the orders stay pending; check says "in flight", and `faultline recover` finishes them', async () => {
    runDir = await mkdtemp(join(tmpdir(), 'faultline-no-recovery-'));
    const dir = runDir;
    lab = await startSlowBankLab(dir, false);
    await crashMidSaga(lab, dir);
    await until('the restarted checkout to say recovery is off', async () =>
      (await readFile(join(dir, 'logs', 'checkout.jsonl'), 'utf8')).includes('stay pending: recovery is off') ? true : undefined,
    );
    const pending = orderRows(dir).filter((o) => o.state === 'pending').length;
    expect(pending).toBeGreaterThanOrEqual(ORDERS / 2);
    await lab.stop();
    lab = undefined;

    const books = checkBooks(dir);
    expect(books.ok).toBe(false);
    expect(books.orders.pending).toBe(pending);
    expect(books.counts['in-flight']).toBeGreaterThanOrEqual(pending);
    expect(books.counts['lost-or-doubled']).toBe(0);
    const check = await runCli(['check', dir]);
    expect(check.code).toBe(1);
    expect(check.stdout).toContain('IN FLIGHT order-pending');
    expect(check.stdout).toContain('0 lost or doubled');

    const recover = await runCli(['recover', dir], { timeoutMs: 120_000 });
    expect(recover.stderr).toBe('');
    expect(recover.code).toBe(0);
    expect(recover.stdout).toContain('the books balance');
    const after = checkBooks(dir);
    expect(after.violations).toEqual([]);
    expect(after.orders).toMatchObject({ pending: 0, compensating: 0 });
    expect((await runCli(['check', dir])).code).toBe(0);
  }, 180_000);
});
