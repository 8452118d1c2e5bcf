// Scenario faults on a real lab (services and the fault proxy as processes),
// applied the way a run applies them (runner/chaos-target.ts): a partition
// as a black hole makes checkout's calls to inventory time out, as refused
// connections makes them fail at once, and healing restores them; an edge
// taken down refuses connections; and faults the proxy does not apply itself
// (a process killed, an edge down) still show as chaos_fault_active.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueToken } from '../../demo-services/kit/jwt.ts';
import { chaosFaultTarget, labFaultTarget, processFaultTarget, serviceFaultTarget } from '../../runner/chaos-target.ts';
import { startLab, type Lab } from '../../runner/lab.ts';
import { parseScenario, type FaultSpec } from '../../runner/scenario.ts';

const INVENTORY_TIMEOUT_MS = 300;

let lab: Lab;
let runDir: string;
let token: string;

const faults = parseScenario(
  {
    name: 'partitions',
    description: 'faults for the test',
    phases: [{ name: 'all', duration: '60s' }],
    load: { executor: 'constant-arrival-rate', journey: 'checkout', rate: 1, preAllocatedVUs: 1 },
    faults: [
      { name: 'cut-blackhole', type: 'partition', a: ['checkout'], b: ['inventory'], mode: 'blackhole', phase: 'all' },
      { name: 'cut-refused', type: 'partition', a: ['checkout'], b: ['inventory'], mode: 'refuse', phase: 'all' },
      { name: 'bank-down', type: 'down', edge: 'payment->bank', phase: 'all' },
      { name: 'crash', type: 'process', target: 'payment-2', action: 'kill', phase: 'all' },
    ],
    expectations: [{ name: 'x', type: 'threshold', metric: 'http_req_failed', threshold: 'rate<1' }],
  },
  'test',
).faults;
const fault = (name: string): FaultSpec => faults.find((f) => f.name === name) as FaultSpec;

/** How a call ended and how long it took. */
async function timed(call: () => Promise<Response>): Promise<{ ms: number; status?: number; error?: string }> {
  const started = performance.now();
  try {
    const response = await call();
    await response.arrayBuffer();
    return { ms: performance.now() - started, status: response.status };
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    return { ms: performance.now() - started, error: cause ?? (error as Error).name };
  }
}

const inventoryViaProxy = (timeoutMs = 1_000) => timed(() => fetch(`http://127.0.0.1:${lab.proxyPort('checkout-inventory')}/healthz`, { signal: AbortSignal.timeout(timeoutMs) }));
const checkout = (key: string) =>
  timed(() =>
    fetch(`${lab.gatewayUrl}/api/checkout`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'idempotency-key': key },
      body: JSON.stringify({ userId: 'user-1', items: [{ sku: 'sku-1', quantity: 1 }], amount: 1_999 }),
      signal: AbortSignal.timeout(5_000),
    }),
  );
const active = async (name: string, target: string): Promise<number | undefined> => {
  const text = await (await fetch(`${lab.chaosAdminUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`chaos_fault_active{fault="${name}",target="${target}"}`));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
};

beforeAll(async () => {
  runDir = await mkdtemp(join(tmpdir(), 'faultline-partitions-'));
  lab = await startLab({
    runDir,
    services: ['checkout'],
    policies: { checkout: { inventory: { timeout: { timeout: `${INVENTORY_TIMEOUT_MS}ms` }, retry: { enabled: false }, circuitBreaker: { enabled: false } } } },
  });
  token = await issueToken(lab.authSecret, 'user-1');
}, 60_000);

afterAll(async () => {
  await lab?.stop();
  await rm(runDir, { recursive: true, force: true });
});

describe('partitions between real processes', () => {
  it('black hole: calls hang until the caller times out; checkout fails within its inventory timeout; healing restores', { timeout: 30_000 }, async () => {
    const network = chaosFaultTarget(lab.chaosAdminUrl);
    expect((await inventoryViaProxy()).status).toBe(200);
    await network.apply(fault('cut-blackhole'));
    try {
      expect(await active('cut-blackhole', 'checkout-inventory')).toBe(1);
      const hung = await inventoryViaProxy(500);
      expect(hung.error).toBe('TimeoutError');
      expect(hung.ms).toBeGreaterThan(450);
      const failed = await checkout('partition-blackhole-1');
      expect(failed.status).toBeGreaterThanOrEqual(500);
      // Bounded by checkout's inventory timeout, far from the client's 5 s.
      expect(failed.ms).toBeGreaterThan(INVENTORY_TIMEOUT_MS * 0.8);
      expect(failed.ms).toBeLessThan(INVENTORY_TIMEOUT_MS + 1_500);
    } finally {
      await network.remove(fault('cut-blackhole'));
    }
    expect(await active('cut-blackhole', 'checkout-inventory')).toBe(0);
    expect((await inventoryViaProxy()).status).toBe(200);
    expect((await checkout('partition-healed-1')).status).toBe(201);
  });

  it('refused: calls fail at once, well inside the timeout; healing restores', { timeout: 30_000 }, async () => {
    const network = chaosFaultTarget(lab.chaosAdminUrl);
    await network.apply(fault('cut-refused'));
    try {
      const refused = await inventoryViaProxy();
      expect(refused.error).toBe('ECONNREFUSED');
      expect(refused.ms).toBeLessThan(250);
      // Three checkouts in a row, judged by the median, so one slow scheduling tick on a busy machine does not decide.
      const failed = [await checkout('partition-refused-1'), await checkout('partition-refused-2'), await checkout('partition-refused-3')];
      for (const attempt of failed) expect(attempt.status).toBeGreaterThanOrEqual(500);
      const median = failed.map((attempt) => attempt.ms).sort((x, y) => x - y)[1] as number;
      expect(median).toBeLessThan(INVENTORY_TIMEOUT_MS);
    } finally {
      await network.remove(fault('cut-refused'));
    }
    expect((await inventoryViaProxy()).status).toBe(200);
    expect((await checkout('partition-healed-2')).status).toBe(201);
  });

  it('an edge down refuses connections, and it and a killed process show as chaos_fault_active while they last', { timeout: 30_000 }, async () => {
    const network = chaosFaultTarget(lab.chaosAdminUrl);
    const target = labFaultTarget(network, processFaultTarget(lab), serviceFaultTarget(lab));
    const bankProxy = () => timed(() => fetch(`http://127.0.0.1:${lab.proxyPort('payment-bank')}/healthz`, { signal: AbortSignal.timeout(1_000) }));
    await target.apply(fault('bank-down'));
    await target.apply(fault('crash'));
    try {
      expect((await bankProxy()).error).toBe('ECONNREFUSED');
      expect(await active('bank-down', 'payment->bank')).toBe(1);
      expect(await active('crash', 'payment-2')).toBe(1);
    } finally {
      await target.remove(fault('crash'));
      await target.remove(fault('bank-down'));
    }
    expect((await bankProxy()).status).toBe(200);
    expect(await active('bank-down', 'payment->bank')).toBe(0);
    expect(await active('crash', 'payment-2')).toBe(0);
    expect((await fetch(`${lab.serviceUrl('payment-2')}/healthz`)).status).toBe(200);
  });
});
