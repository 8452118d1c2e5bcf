import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startAlertWebhook, type AlertWebhook } from './alert-webhook.ts';

let dir: string;
let hook: AlertWebhook;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'alert-webhook-'));
  hook = await startAlertWebhook({ file: join(dir, 'alerts.jsonl'), now: () => 1_000 });
});

afterEach(async () => {
  await hook.close();
  await rm(dir, { recursive: true, force: true });
});

const post = (body: string) => fetch(hook.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

const notification = (status: 'firing' | 'resolved') => ({
  version: '4',
  receiver: 'faultline-webhook',
  status,
  groupKey: '{}:{alertname="X"}',
  alerts: [
    {
      status,
      labels: { alertname: 'CheckoutAvailabilityBudgetBurn', severity: 'page', sloth_id: 'checkout-availability' },
      annotations: { summary: 'burning' },
      startsAt: '2026-11-23T10:00:00.000Z',
      endsAt: status === 'resolved' ? '2026-11-23T10:00:30.000Z' : '0001-01-01T00:00:00Z',
      fingerprint: 'abc',
    },
  ],
});

describe('alert webhook', () => {
  it('listens on loopback and writes one line per alert, firing then resolved', async () => {
    expect(new URL(hook.url).hostname).toBe('127.0.0.1');
    expect((await post(JSON.stringify(notification('firing')))).status).toBe(200);
    expect((await post(JSON.stringify(notification('resolved')))).status).toBe(200);
    const lines = (await readFile(hook.file, 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines).toMatchObject([
      { status: 'firing', alertname: 'CheckoutAvailabilityBudgetBurn', startsAt: Date.parse('2026-11-23T10:00:00Z'), endsAt: null, receivedAt: 1_000 },
      { status: 'resolved', endsAt: Date.parse('2026-11-23T10:00:30Z'), fingerprint: 'abc' },
    ]);
    expect(hook.events()).toHaveLength(2);
  });

  it('answers 400 naming the problem for a body that is not the webhook JSON, and records nothing', async () => {
    const garbage = await post('{not json');
    expect(garbage.status).toBe(400);
    expect(await garbage.text()).toMatch(/^body: not JSON/);
    const wrong = await post(JSON.stringify({ ...notification('firing'), alerts: [{ status: 'burning' }] }));
    expect(wrong.status).toBe(400);
    expect(await wrong.text()).toContain('alerts.0.status');
    expect((await fetch(hook.url)).status).toBe(405);
    expect(hook.events()).toEqual([]);
  });

  it('refuses a body over 1 MiB with 413 and stays up', async () => {
    const huge = await post(`{"pad":"${'x'.repeat(1_100_000)}"}`);
    expect(huge.status).toBe(413);
    expect((await post(JSON.stringify(notification('firing')))).status).toBe(200);
  });
});
