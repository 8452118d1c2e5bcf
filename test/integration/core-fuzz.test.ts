// Thousands of generated bad requests at the checkout path's services (gateway,
// checkout, payment, bank), as real processes: every answer is a 4xx
// problem+json naming what is wrong, never a 5xx, a crash or a stack trace.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HEADER } from '../../demo-services/kit/conventions.ts';
import { issueToken } from '../../demo-services/kit/jwt.ts';
import type { Random } from '../../demo-services/kit/random.ts';
import { startLab, type Lab } from '../../runner/lab.ts';
import { BAD_NUMBERS, BAD_QUERY_INTS, BAD_STRINGS, badBodies, fuzz, json, type BadRequest, type Generator } from '../fuzz.ts';

let lab: Lab;
let runDir: string;
let token: string;

beforeAll(async () => {
  runDir = await mkdtemp(join(tmpdir(), 'faultline-fuzz-'));
  lab = await startLab({ runDir, services: ['checkout'], gateway: { rateLimit: { enabled: false } } });
  token = await issueToken(lab.authSecret, 'fuzz-user');
}, 60_000);
afterAll(async () => {
  await lab?.stop();
  await rm(runDir, { recursive: true, force: true });
});

const BAD_KEYS = ['', 'short', 'k'.repeat(201)];
/** Bad strings an HTTP client can put in a header at all (no control characters, no non-Latin-1). */
const HEADER_SAFE_BAD_STRINGS = BAD_STRINGS.filter((value) => /^[\x20-\x7e]*$/.test(value));
const BAD_DEADLINES = ['soon', '-5', '1.5', '0', ''];
const key = (random: Random) => `fuzz-key-${random.int(1, 1e9)}`;
/** A bad body for `path`, with a fresh idempotency key so only the body is wrong. */
const badWithKey = (random: Random, path: string, valid: () => Record<string, unknown>, fields: Parameters<typeof badBodies>[2]): BadRequest => {
  const bad = badBodies(random, valid, fields);
  return { method: 'POST', path, ...bad, headers: { ...bad.headers, [HEADER.idempotencyKey]: key(random) } };
};
const order = { userId: 'u', items: [{ sku: 'sku-1', quantity: 1 }], amount: 100 };
const orderFields = {
  userId: { type: 'string' as const, bad: ['', 'a'.repeat(101), 42], required: true },
  items: { type: 'array' as const, bad: [[], [{ sku: '', quantity: 1 }], [{ sku: 'sku-1', quantity: 0 }], [{ sku: 'sku-1', quantity: 1, x: 1 }], Array.from({ length: 51 }, () => ({ sku: 'sku-1', quantity: 1 }))], required: true },
  amount: { type: 'number' as const, bad: [0, -1, 1.5, 1e9, ...BAD_NUMBERS.filter((n) => !(Number.isInteger(n) && n > 0 && n <= 1e8))], required: true },
};
const chargeFields = {
  orderId: { type: 'string' as const, bad: ['', 'a'.repeat(101)], required: true },
  amount: orderFields.amount,
};

const GENERATORS: Record<string, Generator> = {
  bank: (random): BadRequest => {
    switch (random.int(0, 4)) {
      case 0:
        return badWithKey(random, '/charges', () => ({ orderId: 'o-1', amount: 100 }), chargeFields);
      case 1:
        return { method: 'POST', path: '/charges', ...json({ orderId: 'o-1', amount: 100 }), headers: { 'content-type': 'application/json', [HEADER.idempotencyKey]: random.pick(BAD_KEYS) } };
      case 2:
        return { method: 'POST', path: '/charges', ...json({ orderId: 'o-1', amount: 100 }), headers: { 'content-type': 'application/json', [HEADER.idempotencyKey]: key(random), [HEADER.deadline]: random.pick(BAD_DEADLINES) } };
      case 3:
        return { method: 'POST', path: '/refunds', ...json(random.pick([{}, { chargeId: 'not-a-uuid' }, { idempotencyKey: 'x' }, { chargeId: crypto.randomUUID(), idempotencyKey: 'both-given-1' }, { chargeId: crypto.randomUUID() }])) };
      default:
        // The knobs are on the admin listener: on the public port, a 404.
        return { method: 'POST', path: '/admin/behaviour', ...json(random.pick([{ failureRate: 2 }, { latency: 'soon' }, { jitter: -1 }, { extra: true }, { failureRate: '150%' }])) };
    }
  },
  payment: (random): BadRequest =>
    random.next() < 0.7
      ? badWithKey(random, '/payments', () => ({ orderId: 'o-1', amount: 100 }), chargeFields)
      : { method: 'POST', path: random.pick(['/payments', '/refunds']), ...json({ orderId: 'o-1', amount: 100 }), headers: { 'content-type': 'application/json', [HEADER.idempotencyKey]: random.pick(BAD_KEYS) } },
  checkout: (random): BadRequest =>
    random.next() < 0.8
      ? { method: 'POST', path: '/checkout', ...badBodies(random, () => structuredClone(order), orderFields) }
      : { method: 'POST', path: '/checkout', ...json(order), headers: { 'content-type': 'application/json', [HEADER.idempotencyKey]: random.pick(BAD_KEYS) } },
  gateway: (random): BadRequest => {
    const auth = { authorization: `Bearer ${token}` };
    switch (random.int(0, 3)) {
      case 0: {
        const bad = badBodies(random, () => structuredClone(order), orderFields);
        return { method: 'POST', path: '/api/checkout', ...bad, headers: { ...bad.headers, ...auth } };
      }
      case 1:
        return { method: 'POST', path: '/api/checkout', ...json(order), headers: { 'content-type': 'application/json', authorization: random.pick(['', 'Bearer', 'Bearer a.b.c', `Basic ${token}`, `Bearer ${token}x`, ...HEADER_SAFE_BAD_STRINGS]) } };
      case 2:
        return { method: 'GET', path: `/api/recommendations?limit=${random.pick(BAD_QUERY_INTS.filter((v) => v !== ''))}`, headers: auth };
      default:
        return { method: random.pick(['GET', 'PUT', 'DELETE']), path: random.pick(['/api/checkout', '/api/nothing', '/api/products']), headers: auth };
    }
  },
};

describe('fuzzing the checkout path with bad requests', () => {
  for (const service of ['bank', 'payment', 'checkout', 'gateway']) {
    it(`${service}: every bad request gets a 4xx problem+json, and the service stays up`, async () => {
      const base = lab.serviceUrl(service === 'payment' ? 'payment-1' : service);
      // A count of requests, not a rate: 400 bad requests, however long a busy machine takes (up to 20 s).
      const result = await fuzz(base, GENERATORS[service] as Generator, 7_000 + service.length, { maxRequests: 400, budgetMs: 20_000, concurrency: 16 });
      expect(result.failures).toEqual([]);
      expect(result.sent).toBeGreaterThan(300);
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
    }, 40_000);
  }
});
