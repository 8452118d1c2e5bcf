import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { adminPolicySchema, createAdminApp, startAdminListener, type AdminListener } from '../kit/admin-listener.ts';
import { PROBLEM_CONTENT_TYPE } from '../kit/conventions.ts';
import { admissionRoutes, AdmissionValidationError, createLiveAdmission, type AdmissionSettings, type LiveAdmission } from './live-admission.ts';

const logger = pino({ level: 'silent' });
const START: AdmissionSettings = { rateLimit: { enabled: true, ratePerSecond: 1, burst: 2 }, loadShedding: { enabled: true, maxInFlight: 3 } };

describe('live admission (pure, on a fake clock)', () => {
  it('applies a change to the next request: the rate limit off, then on with a new rate', () => {
    let clock = 0;
    const admission = createLiveAdmission(START, logger, () => clock);
    expect([1, 2, 3].map(() => admission.admit('alice').allowed)).toEqual([true, true, false]);
    admission.patch({ rateLimit: { enabled: false } });
    expect(Array.from({ length: 50 }, () => admission.admit('alice').allowed).every(Boolean)).toBe(true);
    const change = admission.patch({ rateLimit: { enabled: true, ratePerSecond: 100 } });
    expect(change?.changed.sort()).toEqual(['rateLimit.enabled', 'rateLimit.ratePerSecond']);
    // The bucket was empty when the limit went off; at 100 a second one token comes back in 10 ms.
    expect(admission.admit('alice').allowed).toBe(false);
    clock = 10;
    expect(admission.admit('alice').allowed).toBe(true);
  });

  it('sheds by the current in-flight limit, and not at all when shedding is off', () => {
    const admission = createLiveAdmission(START, logger);
    expect([2, 3].map((n) => admission.sheds(n))).toEqual([false, true]);
    admission.patch({ loadShedding: { maxInFlight: 1 } });
    expect(admission.sheds(1)).toBe(true);
    admission.patch({ loadShedding: { enabled: false } });
    expect(admission.sheds(10_000)).toBe(false);
  });

  it('refuses a bad change whole, naming every bad field, and keeps the settings', () => {
    const admission = createLiveAdmission(START, logger);
    let error: unknown;
    try {
      admission.patch({ rateLimit: { ratePerSecond: -1, burst: 1.5 }, loadShedding: { maxInflight: 3 } });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(AdmissionValidationError);
    const fields = (error as AdmissionValidationError).issues.map((issue) => issue.field).sort();
    expect(fields).toEqual(['loadShedding.maxInflight', 'rateLimit.burst', 'rateLimit.ratePerSecond']);
    expect((error as AdmissionValidationError).issues.find((issue) => issue.field === 'loadShedding.maxInflight')?.message).toMatch(/unknown field.*maxInFlight/);
    expect(admission.settings()).toEqual(START);
    expect(admission.history()).toEqual([]);
  });

  it('keeps each change (before, after, what changed); null and reset go back to how the gateway started', () => {
    const admission = createLiveAdmission(START, logger);
    admission.patch({ loadShedding: { maxInFlight: 50 } });
    expect(admission.patch({ loadShedding: { maxInFlight: 50 } })).toBeUndefined();
    admission.patch({ loadShedding: { maxInFlight: null } });
    expect(admission.settings().loadShedding.maxInFlight).toBe(3);
    admission.replace({ rateLimit: { enabled: false } });
    expect(admission.settings()).toEqual({ rateLimit: { enabled: false, ratePerSecond: 20, burst: 40 }, loadShedding: { enabled: true, maxInFlight: 256 } });
    const reset = admission.reset();
    expect(reset?.after).toEqual(START);
    // As at the start: a client that spent its burst under a smaller one has its whole burst again.
    admission.patch({ rateLimit: { burst: 1 } });
    expect([1, 2].map(() => admission.admit('carol').allowed)).toEqual([true, false]);
    admission.reset();
    expect([1, 2, 3].map(() => admission.admit('carol').allowed)).toEqual([true, true, false]);
    expect(admission.history().map((change) => change.action)).toEqual(['patch', 'patch', 'replace', 'reset', 'patch', 'reset']);
    expect(admission.history()[0]).toMatchObject({ changed: ['loadShedding.maxInFlight'], before: START, after: { loadShedding: { maxInFlight: 50 } } });
  });
});

describe('/admin/admission on a real admin listener', () => {
  let listener: AdminListener;
  let admission: LiveAdmission;
  beforeAll(async () => {
    admission = createLiveAdmission(START, logger);
    const policy = adminPolicySchema.parse({});
    listener = await startAdminListener(policy, createAdminApp(policy, logger, (app) => app.use('/admin/admission', admissionRoutes(admission))));
  });
  afterAll(async () => {
    await listener.close();
  });
  beforeEach(() => {
    admission.reset();
  });
  const send = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    fetch(`${listener.url}${path}`, {
      method,
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });

  it('reads, patches, replaces and resets', async () => {
    expect(await (await send('GET', '/admin/admission')).json()).toMatchObject({ admission: START, initial: START, history: [] });
    const patched = await send('PATCH', '/admin/admission', { rateLimit: { enabled: false } });
    expect(patched.status).toBe(200);
    expect(await patched.json()).toMatchObject({ admission: { rateLimit: { enabled: false } }, change: { changed: ['rateLimit.enabled'] } });
    const replaced = await send('PUT', '/admin/admission', { loadShedding: { maxInFlight: 9 } });
    expect(await replaced.json()).toMatchObject({ admission: { rateLimit: { enabled: true, ratePerSecond: 20 }, loadShedding: { maxInFlight: 9 } } });
    const reset = await send('POST', '/admin/admission/reset');
    expect(await reset.json()).toMatchObject({ admission: START });
  });

  it('answers a bad change with a 400 problem naming the field', async () => {
    const response = await send('PATCH', '/admin/admission', { loadShedding: { maxInFlight: 0 } });
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toContain(PROBLEM_CONTENT_TYPE);
    expect(await response.json()).toMatchObject({ errors: [{ field: 'loadShedding.maxInFlight', message: 'must be >= 1' }] });
    const notObject = await send('PATCH', '/admin/admission', [1]);
    expect(notObject.status).toBe(400);
    expect(admission.settings()).toEqual(START);
  });

  it('refuses a change from a foreign Origin', async () => {
    const response = await send('PATCH', '/admin/admission', { rateLimit: { enabled: false } }, { origin: 'https://evil.example' });
    expect(response.status).toBe(403);
    expect(admission.settings()).toEqual(START);
  });
});
