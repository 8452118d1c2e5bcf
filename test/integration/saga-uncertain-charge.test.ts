// A charge whose answer comes too late is a charge that may have happened,
// even when the saga's last attempt was refused by the breaker. Against real
// processes: payment's answers to checkout are delayed past checkout's attempt
// timeout (the bank charges at once), the timed-out attempt opens the breaker,
// and the retry is short-circuited. The saga must refund under its key (the
// bank did charge), not trust the last error ("circuit open": nothing charged).

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createChaosClient } from '../../chaos/admin-client.ts';
import { HEADER } from '../../demo-services/kit/conventions.ts';
import { checkBooks } from '../../runner/books.ts';
import { startLab, type Lab } from '../../runner/lab.ts';
import { proxiesForEdge } from '../../runner/topology.ts';

let lab: Lab | undefined;
let runDir: string;

beforeAll(async () => {
  runDir = await mkdtemp(join(tmpdir(), 'faultline-uncertain-charge-'));
  lab = await startLab({
    runDir,
    seed: 9,
    services: ['checkout'],
    policies: {
      checkout: {
        payment: {
          timeout: { timeout: '400ms' },
          retry: { maxAttempts: 2, baseDelay: '10ms', maxDelay: '20ms' },
          // One failed call opens it: the retry is short-circuited.
          circuitBreaker: { failureRateThreshold: '50%', windowSize: 1, minimumCalls: 1, openDuration: '2s' },
        },
      },
    },
  });
}, 60_000);

afterAll(async () => {
  await lab?.stop();
  if (runDir) await rm(runDir, { recursive: true, force: true });
}, 30_000);

describe('a charge answered too late', () => {
  it('is refunded when the saga fails, although its last attempt was short-circuited', async () => {
    const started = lab as Lab;
    const chaos = createChaosClient(started.chaosAdminUrl);
    for (const proxy of proxiesForEdge('checkout->payment')) {
      await chaos.addToxic(proxy, { name: 'late-answers', type: 'latency', stream: 'downstream', toxicity: 1, attributes: { latency: 1_500, jitter: 0 } });
    }
    const response = await fetch(`${started.serviceUrl('checkout')}/checkout`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [HEADER.idempotencyKey]: 'uncertain-charge-0001' },
      body: JSON.stringify({ userId: 'user-1', items: [{ sku: 'sku-5', quantity: 1 }], amount: 3_100 }),
    });
    const problem = (await response.json()) as { type: string };
    expect(response.status).toBe(503);
    expect(problem.type).toContain('circuit-open');
    // The refund goes to payment through the breaker, still open: it is owed until the breaker lets it through
    // (a stop drains owed compensations, so stopping the lab now finishes it).
    for (const proxy of proxiesForEdge('checkout->payment')) await chaos.removeToxic(proxy, 'late-answers');
    await started.stop();
    lab = undefined;
    const books = checkBooks(runDir);
    // Charged once, by the attempt that timed out, and refunded once.
    expect(books.violations).toEqual([]);
    expect(books).toMatchObject({ ok: true, orders: { compensated: 1, confirmed: 0 }, charges: { total: 1, refunded: 1 } });
  }, 60_000);
});
