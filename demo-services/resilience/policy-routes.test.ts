import { request } from 'node:http';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { adminPolicySchema, createAdminApp, startAdminListener, type AdminListener } from '../kit/admin-listener.ts';
import { PROBLEM_CONTENT_TYPE } from '../kit/conventions.ts';
import { createServiceMetrics } from '../kit/metrics.ts';
import { UpstreamStatusError } from './errors.ts';
import { isTransient } from './http-failures.ts';
import { createPolicyRegistry, type LiveCall, type PolicyRegistry } from './live-policies.ts';
import { policyRoutes } from './policy-routes.ts';

const logger = pino({ level: 'silent' });

// The admin app as kit/service.ts builds it (guard, JSON bodies, problem handlers), on a real loopback listener.
let listener: AdminListener;
let policies: PolicyRegistry;
let payment: LiveCall;

beforeAll(async () => {
  policies = createPolicyRegistry({ metrics: createServiceMetrics({ defaultMetrics: false }).resilience, logger });
  payment = policies.register({ dependency: 'payment', policy: { retry: { maxAttempts: 3, baseDelay: 0, maxDelay: 0 } }, retryable: isTransient });
  policies.register({ dependency: 'inventory', policy: { circuitBreaker: { enabled: false } }, retryable: isTransient });
  const policy = adminPolicySchema.parse({});
  listener = await startAdminListener(policy, createAdminApp(policy, logger, (app) => app.use('/admin/policies', policyRoutes(policies))));
});
afterAll(async () => {
  await listener.close();
});
beforeEach(() => {
  policies.reset();
});

const send = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
  fetch(`${listener.url}${path}`, {
    method,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });

async function problem(response: Response, status: number): Promise<Record<string, unknown>> {
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toContain(PROBLEM_CONTENT_TYPE);
  return (await response.json()) as Record<string, unknown>;
}

describe('/admin/policies on the admin listener', () => {
  it('lists every dependency with its policy and the changes so far', async () => {
    const response = await send('GET', '/admin/policies');
    expect(response.status).toBe(200);
    const body = (await response.json()) as { policies: Record<string, unknown>; history: unknown[] };
    expect(Object.keys(body.policies)).toEqual(['payment', 'inventory']);
    expect(body.policies.payment).toMatchObject({ retry: { enabled: true, maxAttempts: 3 }, circuitBreaker: { enabled: true }, timeout: { timeout: 1_000 } });
    expect(Array.isArray(body.history)).toBe(true);
  });

  it('answers one dependency, and 404 naming the known ones for another', async () => {
    const one = await send('GET', '/admin/policies/inventory');
    expect(one.status).toBe(200);
    expect(await one.json()).toMatchObject({ dependency: 'inventory', policy: { circuitBreaker: { enabled: false } } });
    const unknown = await problem(await send('PATCH', '/admin/policies/bank', { retry: { maxAttempts: 1 } }), 404);
    expect(unknown).toMatchObject({ title: 'Unknown dependency', known: ['payment', 'inventory'] });
    expect(unknown.detail).toContain('known: payment, inventory');
  });

  it('PATCH merges a deep-partial policy, and the next call runs under it', async () => {
    const response = await send('PATCH', '/admin/policies/payment', { retry: { maxAttempts: 1 } });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { dependency: string; policy: { retry: { maxAttempts: number; baseDelay: number } }; change: { changed: string[]; before: unknown; after: unknown } };
    expect(body.policy.retry).toMatchObject({ maxAttempts: 1, baseDelay: 0 });
    expect(body.change).toMatchObject({ dependency: 'payment', action: 'patch', changed: ['retry.maxAttempts'] });

    let reached = 0;
    await expect(payment.execute(async () => {
      reached += 1;
      throw new UpstreamStatusError('payment', 503, {});
    })).rejects.toBeInstanceOf(UpstreamStatusError);
    expect(reached).toBe(1);

    const history = (await (await send('GET', '/admin/policies')).json()) as { history: Array<{ dependency: string; changed: string[] }> };
    expect(history.history.at(-1)).toMatchObject({ dependency: 'payment', changed: ['retry.maxAttempts'] });
  });

  it('PATCH takes application/merge-patch+json too, and null brings back a default', async () => {
    await send('PATCH', '/admin/policies/payment', { deadline: '3s' });
    expect(payment.policy.deadline).toBe(3_000);
    const response = await send('PATCH', '/admin/policies/payment', JSON.stringify({ deadline: null, circuitBreaker: { enabled: false } }), { 'content-type': 'application/merge-patch+json' });
    expect(response.status).toBe(200);
    expect(payment.policy.deadline).toBeUndefined();
    expect(payment.breaker).toBeUndefined();
  });

  it('PUT replaces the whole policy, defaults filled', async () => {
    const response = await send('PUT', '/admin/policies/payment', { retry: { enabled: false }, bulkhead: { enabled: true, maxConcurrent: 4 } });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { policy: unknown }).policy).toMatchObject({
      retry: { enabled: false, maxAttempts: 3, baseDelay: 50 },
      bulkhead: { enabled: true, maxConcurrent: 4, maxQueued: 64 },
      circuitBreaker: { enabled: true, windowSize: 20 },
    });
  });

  it('refuses invalid values with 400 naming each field path', async () => {
    const body = await problem(await send('PATCH', '/admin/policies/payment', { retry: { maxAttempts: 11 }, bulkhead: { maxQueued: -1 } }), 400);
    expect(body.detail).toBe('retry.maxAttempts: must be <= 10; bulkhead.maxQueued: must be >= 0');
    expect(body.errors).toEqual([
      { field: 'retry.maxAttempts', message: 'must be <= 10' },
      { field: 'bulkhead.maxQueued', message: 'must be >= 0' },
    ]);
    expect(payment.policy.retry.maxAttempts).toBe(3);

    const unknownField = await problem(await send('PUT', '/admin/policies/payment', { retries: 2 }), 400);
    expect(unknownField.detail).toMatch(/^retries: unknown field \(a policy has: timeout, retry, circuitBreaker, bulkhead, deadline\)$/);
  });

  it('refuses a body that is not a JSON object with 400', async () => {
    expect((await problem(await send('PATCH', '/admin/policies/payment', '{"retry":'), 400)).detail).toBe('body: not valid JSON');
    expect((await problem(await send('PATCH', '/admin/policies/payment', 'retry=1', { 'content-type': 'text/plain' }), 400)).detail).toMatch(/^body: must be a JSON object/);
    expect((await problem(await send('PUT', '/admin/policies/payment', [1]), 400)).detail).toBe('body: must be a JSON object');
  });

  it('POST /reset brings every policy back to what the service started with', async () => {
    const initial = policies.policies();
    await send('PATCH', '/admin/policies/payment', { retry: { maxAttempts: 1 } });
    await send('PATCH', '/admin/policies/inventory', { timeout: { timeout: '2s' } });
    const response = await send('POST', '/admin/policies/reset');
    expect(response.status).toBe(200);
    const body = (await response.json()) as { policies: unknown; changes: Array<{ dependency: string; action: string }> };
    expect(body.policies).toEqual(initial);
    expect(body.changes.map((change) => `${change.dependency}:${change.action}`)).toEqual(['payment:reset', 'inventory:reset']);
  });

  it('refuses a PATCH from a foreign Origin (the listener guard), and takes one from its own', async () => {
    const refused = await problem(await send('PATCH', '/admin/policies/payment', { retry: { maxAttempts: 1 } }, { origin: 'http://evil.example' }), 403);
    expect(refused.detail).toMatch(/^header\.origin: cross-origin PATCH from http:\/\/evil\.example refused/);
    const crossSite = await send('POST', '/admin/policies/reset', undefined, { 'sec-fetch-site': 'cross-site' });
    expect(crossSite.status).toBe(403);
    expect(payment.policy.retry.maxAttempts).toBe(3);

    const own = await send('PATCH', '/admin/policies/payment', { retry: { maxAttempts: 2 } }, { origin: listener.url });
    expect(own.status).toBe(200);
    expect(payment.policy.retry.maxAttempts).toBe(2);
  });

  it('refuses a foreign Host (DNS rebinding) even on a read', async () => {
    // fetch will not send another Host: node:http will.
    const status = await new Promise<number | undefined>((resolve, reject) => {
      const req = request(`${listener.url}/admin/policies`, { headers: { host: 'evil.example' } }, (res) => {
        res.resume();
        resolve(res.statusCode);
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(403);
  });
});
