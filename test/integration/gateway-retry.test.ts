// The gateway's retry of reads (policies.gateway.<dependency>.retry) with real
// processes on loopback: catalog-2 is killed, its fault proxy closes the
// gateway's connection without an answer (as the network would), and every
// product read that met it is sent again to catalog-1, so none fails. Health
// checks are off, so only the retry stands between the dead instance and the
// shopper; the passive check still ejects it after its failed attempts.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueToken } from '../../demo-services/kit/jwt.ts';
import { startLab, type Lab } from '../../runner/lab.ts';

let lab: Lab;
let runDir: string;

beforeAll(async () => {
  runDir = await mkdtemp(join(tmpdir(), 'faultline-gateway-retry-'));
  lab = await startLab({
    runDir,
    seed: 7,
    services: ['catalog'],
    policies: { gateway: { catalog: { retry: { maxAttempts: 2, baseDelay: '5ms', maxDelay: '20ms' } } } },
    gateway: { rateLimit: { enabled: false }, healthChecks: { enabled: false }, balancing: { strategy: 'round-robin' } },
  });
}, 90_000);

afterAll(async () => {
  await lab?.stop();
  await rm(runDir, { recursive: true, force: true });
});

describe('a retry on gateway->catalog', () => {
  it('sends a read that met a dead instance to the other one, so no shopper sees the crash', async () => {
    const token = await issueToken(lab.authSecret, 'retry-1');
    const read = () => fetch(`${lab.gatewayUrl}/api/products/sku-1`, { headers: { authorization: `Bearer ${token}` } });
    expect((await read()).status).toBe(200);
    lab.signalInstance('catalog-2', 'SIGKILL');
    const statuses: number[] = [];
    for (let i = 0; i < 12; i += 1) statuses.push((await read()).status);
    expect(statuses).toEqual(Array(12).fill(200));
    const metrics = await (await fetch(`${lab.gatewayUrl}/metrics`)).text();
    expect(metrics).toMatch(/resilience_retries_total\{dependency="catalog"\} [1-9]/);
    expect(metrics).toMatch(/balancer_instance_ejected\{dependency="catalog",endpoint="catalog-2"\} 1/);
  }, 60_000);
});
