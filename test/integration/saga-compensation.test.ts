// A compensation that fails is retried until it is done, against real
// processes (startLab: gateway, checkout, inventory, two payments, the bank,
// the fault proxy and the collector). The inventory refuses to confirm, so the
// saga must undo the charge; the bank refuses refunds and the inventory
// releases: the order is left 'compensating', owing both. Healed one at a
// time, the sweeper finishes the release, then the refund: the order ends
// 'compensated', the charge has exactly one refund, and the books balance.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createChaosClient, type ChaosClient } from '../../chaos/admin-client.ts';
import { readSpans } from '../../collector/trace-query.ts';
import { CHECKOUT_METRIC, CHECKOUT_SPAN, HEADER, PROBLEM_CONTENT_TYPE, SHOP_LABEL, SPAN_ATTR } from '../../demo-services/kit/conventions.ts';
import { checkBooks } from '../../runner/books.ts';
import { startLab, type Lab } from '../../runner/lab.ts';
import { until } from '../until.ts';

let lab: Lab | undefined;
let runDir: string;
let chaos: ChaosClient;

const fail = (path: string) => ({ name: path.split('/').pop() as string, type: 'http_error', attributes: { status: 503, path } });

/** Read-only look at one row of checkout's books (the service keeps writing them: WAL allows it). */
function checkoutRow<T>(sql: string, ...params: string[]): T | undefined {
  const db = new DatabaseSync(join(runDir, 'data', 'checkout.sqlite'), { readOnly: true });
  try {
    return db.prepare(sql).get(...params) as T | undefined;
  } finally {
    db.close();
  }
}

async function metric(sample: string): Promise<number> {
  const text = await (await fetch(`${lab?.serviceUrl('checkout')}/metrics`)).text();
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${sample} `));
  return line ? Number(line.split(' ')[1]) : 0;
}

beforeAll(async () => {
  runDir = await mkdtemp(join(tmpdir(), 'faultline-saga-'));
  lab = await startLab({
    runDir,
    seed: 5,
    services: ['checkout'],
    policies: {
      checkout: {
        compensation: { sweepInterval: '100ms', baseDelay: '200ms', maxDelay: '800ms' },
        payment: { retry: { maxAttempts: 2, baseDelay: '10ms' }, circuitBreaker: { openDuration: '500ms' } },
        inventory: { retry: { maxAttempts: 2, baseDelay: '10ms' }, circuitBreaker: { enabled: false } },
      },
    },
  });
  chaos = createChaosClient(lab.chaosAdminUrl);
}, 60_000);

afterAll(async () => {
  await lab?.stop();
  if (runDir) await rm(runDir, { recursive: true, force: true });
}, 30_000);

describe('saga compensation', () => {
  it('keeps refunding and releasing a failed order until it is compensated, refunding once', async () => {
    const checkoutUrl = (lab as Lab).serviceUrl('checkout');
    await chaos.addHttpFault('checkout-inventory', fail('/reservations/*/confirm'));
    await chaos.addHttpFault('checkout-inventory', fail('/reservations/*/release'));
    await chaos.addHttpFault('payment-bank', fail('/refunds'));

    const key = 'saga-compensation-0001';
    const place = () =>
      fetch(`${checkoutUrl}/checkout`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', [HEADER.idempotencyKey]: key },
        body: JSON.stringify({ userId: 'user-1', items: [{ sku: 'sku-3', quantity: 2 }], amount: 4_200 }),
      });
    const response = await place();
    const answer = await response.json();
    // The client's answer is the confirm step's failure, as it always was.
    expect(response.status).toBeGreaterThanOrEqual(500);
    expect(response.headers.get('content-type')).toContain(PROBLEM_CONTENT_TYPE);
    expect(answer).toMatchObject({ instance: '/checkout', status: response.status });

    const order = checkoutRow<{ order_id: string; state: string; payment_id: string }>('SELECT order_id, state, payment_id FROM orders WHERE idempotency_key = ?', key);
    expect(order).toMatchObject({ state: 'compensating', payment_id: expect.any(String) });
    const orderId = (order as { order_id: string }).order_id;
    const owed = () => checkoutRow<{ refund_owed: number; release_owed: number; attempts: number }>('SELECT refund_owed, release_owed, attempts FROM compensations WHERE order_id = ?', orderId);
    expect(owed()).toMatchObject({ refund_owed: 1, release_owed: 1 });

    // While both still fail, the sweeper keeps trying, and says so.
    await until('two failed retries', async () => ((await metric(`${CHECKOUT_METRIC.compensationRetries}{${SHOP_LABEL.result}="failed"}`)) >= 2 ? true : undefined));
    expect(await metric(CHECKOUT_METRIC.compensationsOwed)).toBe(1);
    expect(owed()?.attempts).toBeGreaterThanOrEqual(3);
    // A replay still gets the first answer.
    const replay = await place();
    expect(replay.status).toBe(response.status);
    expect(await replay.json()).toEqual(answer);

    // The inventory heals first: the release is done, the refund still owed.
    await chaos.removeHttpFault('checkout-inventory', 'release');
    await until('the release', () => (owed()?.release_owed === 0 ? true : undefined));
    expect(owed()).toMatchObject({ refund_owed: 1 });
    expect(checkoutRow<{ state: string }>('SELECT state FROM orders WHERE order_id = ?', orderId)?.state).toBe('compensating');

    // Then the bank: the refund goes through, and the order is compensated.
    await chaos.removeHttpFault('payment-bank', 'refunds');
    await until('the order compensated', () => (checkoutRow<{ state: string }>('SELECT state FROM orders WHERE order_id = ?', orderId)?.state === 'compensated' ? true : undefined), 15_000);
    expect(owed()).toBeUndefined();
    expect(await metric(CHECKOUT_METRIC.compensationsOwed)).toBe(0);
    expect(await metric(`${CHECKOUT_METRIC.compensationRetries}{${SHOP_LABEL.result}="done"}`)).toBe(1);
    expect(await metric(`${CHECKOUT_METRIC.compensationRetries}{${SHOP_LABEL.result}="partial"}`)).toBe(1);

    // Exactly one charge for the order at the bank, and exactly one refund of it.
    const books = (await (await fetch(`${(lab as Lab).serviceUrl('bank')}/charges`)).json()) as {
      charges: Array<{ chargeId: string; orderId: string }>;
      refunds: Array<{ chargeId: string }>;
    };
    const charges = books.charges.filter((charge) => charge.orderId === orderId);
    expect(charges).toHaveLength(1);
    expect(books.refunds.filter((refund) => refund.chargeId === charges[0]?.chargeId)).toHaveLength(1);

    await chaos.removeHttpFault('checkout-inventory', 'confirm');
    const report = checkBooks(runDir);
    expect(report.violations).toEqual([]);
    expect(report).toMatchObject({ ok: true, orders: { compensated: 1, compensating: 0, failed: 0, pending: 0 }, charges: { total: 1, refunded: 1 } });

    // Stopping flushes every span: each retried compensation has its own, naming the order.
    await (lab as Lab).stop();
    lab = undefined;
    const retries = (await readSpans(join(runDir, 'traces.jsonl'))).filter((span) => span.name === CHECKOUT_SPAN.compensationRetry);
    expect(retries.length).toBeGreaterThanOrEqual(4);
    expect(retries.every((span) => span.attributes[SPAN_ATTR.orderId] === orderId)).toBe(true);
    expect(retries.filter((span) => span.status.code !== 2)).toHaveLength(1);
  }, 40_000);
});
