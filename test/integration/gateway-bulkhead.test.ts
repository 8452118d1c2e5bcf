// The gateway's per-dependency bulkhead (policies.gateway.<dependency>) with
// real processes on loopback: a slow bank keeps checkouts in flight; beyond
// the bulkhead's two the gateway answers 503 bulkhead-full at once, with
// Retry-After, while product reads through the same gateway are untouched.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createChaosClient } from '../../chaos/admin-client.ts';
import { PROBLEM_CONTENT_TYPE } from '../../demo-services/kit/conventions.ts';
import { issueToken } from '../../demo-services/kit/jwt.ts';
import { startLab, type Lab } from '../../runner/lab.ts';

let lab: Lab;
let runDir: string;
const order = { userId: 'user-1', items: [{ sku: 'sku-1', quantity: 1 }], amount: 1_999 };
const noRetries = { timeout: { timeout: '5s' }, retry: { enabled: false }, circuitBreaker: { enabled: false } };

beforeAll(async () => {
  runDir = await mkdtemp(join(tmpdir(), 'faultline-gateway-bulkhead-'));
  lab = await startLab({
    runDir,
    seed: 5,
    services: ['checkout', 'catalog'],
    policies: {
      gateway: { checkout: { bulkhead: { enabled: true, maxConcurrent: 2, maxQueued: 0 } } },
      checkout: { payment: noRetries },
      payment: { bank: noRetries },
    },
    gateway: { rateLimit: { enabled: false } },
  });
}, 60_000);

afterAll(async () => {
  await lab?.stop();
  await rm(runDir, { recursive: true, force: true });
});

describe('a bulkhead on gateway->checkout', () => {
  it('answers checkouts beyond it 503 bulkhead-full at once while product reads go through', async () => {
    const chaos = createChaosClient(lab.chaosAdminUrl);
    const tokens = await Promise.all(Array.from({ length: 6 }, (_, i) => issueToken(lab.authSecret, `bulkhead-${i}`)));
    const post = (token: string) =>
      fetch(`${lab.gatewayUrl}/api/checkout`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(order) });
    await chaos.addToxic('payment-bank', { name: 'slow-bank', type: 'latency', stream: 'downstream', attributes: { latency: 1_500, jitter: 0 } });
    try {
      // Two slow checkouts take the bulkhead's two slots...
      const slow = tokens.slice(0, 2).map((token) => post(token));
      await new Promise((resolve) => setTimeout(resolve, 300));
      // ...so the next ones are refused at once, not after the bank's 1.5 s.
      const started = performance.now();
      const refused = await Promise.all(tokens.slice(2).map((token) => post(token)));
      const refusedMs = performance.now() - started;
      for (const response of refused) {
        expect(response.status).toBe(503);
        expect(response.headers.get('content-type')).toContain(PROBLEM_CONTENT_TYPE);
        expect(Number(response.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
        expect(await response.json()).toMatchObject({ type: expect.stringMatching(/\/bulkhead-full$/), status: 503, title: 'checkout busy' });
      }
      expect(refusedMs).toBeLessThan(1_200);
      // Product reads do not wait behind the checkouts.
      const products = await fetch(`${lab.gatewayUrl}/api/products?limit=3`, { headers: { authorization: `Bearer ${tokens[0]}` } });
      expect(products.status).toBe(200);
      expect((await Promise.all(slow)).map((response) => response.status)).toEqual([201, 201]);
    } finally {
      await chaos.removeToxic('payment-bank', 'slow-bank');
    }
    const metrics = await (await fetch(`${lab.gatewayUrl}/metrics`)).text();
    expect(metrics).toMatch(/resilience_calls_total\{dependency="checkout",outcome="rejected"\} [1-9]/);
    expect(metrics).toMatch(/resilience_bulkhead_in_flight\{dependency="checkout"\} 0/);
    // Once the slots are free, checkouts go through again.
    expect((await post(tokens[5] as string)).status).toBe(201);
  });
});
