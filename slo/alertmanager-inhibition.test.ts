// The generated Alertmanager configuration, run by a real Alertmanager
// (Debian's prometheus-alertmanager) on 127.0.0.1: a page and a ticket of the
// same SLO reach the webhook as the page only, the ticket being inhibited,
// while another SLO's ticket still goes through. Skipped with a message when
// the binary is missing.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderAlertmanagerConfig } from './alertmanager.ts';
import { LAB_TIME_SCALE } from './generate.ts';
import { findTool } from './tools.ts';

const binary = (await findTool('prometheus-alertmanager')) ?? (await findTool('alertmanager'));
if (binary === undefined) console.warn('SKIPPED: no prometheus-alertmanager or alertmanager on PATH (apt-get install prometheus-alertmanager); page-over-ticket inhibition is not exercised here.');

interface Notification {
  status: string;
  alerts: Array<{ status: string; labels: Record<string, string> }>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe.skipIf(binary === undefined)('Alertmanager with the generated configuration', () => {
  let dir: string;
  let hook: Server;
  let child: ChildProcess | undefined;
  let api: string;
  let output = '';
  const received: Notification[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'slo-alertmanager-'));
    hook = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        received.push(JSON.parse(body) as Notification);
        res.end();
      });
    });
    await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
    const hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/alerts`;
    await writeFile(join(dir, 'alertmanager.yaml'), renderAlertmanagerConfig({ webhookUrl: hookUrl, timeScale: LAB_TIME_SCALE }));
    const port = await freePort();
    api = `http://127.0.0.1:${port}`;
    child = spawn(
      binary as string,
      [`--config.file=${join(dir, 'alertmanager.yaml')}`, `--storage.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--cluster.listen-address='],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    await waitFor('Alertmanager to be ready', async () => ((await fetch(`${api}/-/ready`)).ok ? true : undefined), 15_000).catch((error: unknown) => {
      throw new Error(`${(error as Error).message}\n${output}`);
    });
  });

  afterAll(async () => {
    if (child !== undefined && child.exitCode === null) {
      const exited = new Promise((resolve) => child?.once('exit', resolve));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 3_000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    await new Promise((resolve) => hook.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  it('delivers the page, holds back the ticket of the same SLO, and lets another SLO ticket through', async () => {
    // The spec's own severity labels (Sloth's page_alert / ticket_alert: critical, warning) do not stop the inhibition.
    const alert = (id: string, severity: string) => ({
      labels: {
        alertname: 'BudgetBurn',
        sloth_id: id,
        sloth_service: id.split('-')[0],
        sloth_slo: 'availability',
        sloth_severity: severity,
        severity: severity === 'page' ? 'critical' : 'warning',
        slo_tier: `${severity}-x`,
      },
      annotations: { summary: `${id} ${severity}` },
      startsAt: new Date().toISOString(),
    });
    const posted = await fetch(`${api}/api/v2/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([alert('checkout-availability', 'page'), alert('checkout-availability', 'ticket'), alert('gateway-availability', 'ticket')]),
    });
    expect(posted.ok).toBe(true);
    const delivered = () => received.flatMap((n) => n.alerts.map((a) => `${a.labels.sloth_id}/${a.labels.sloth_severity}`));
    await waitFor('two notifications', async () => (delivered().length >= 2 ? true : undefined), 10_000);
    // Give the inhibited ticket every chance to arrive (group_wait is 300 ms at the lab scale).
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(delivered().sort()).toEqual(['checkout-availability/page', 'gateway-availability/ticket']);
    const alerts = (await (await fetch(`${api}/api/v2/alerts`)).json()) as Array<{ labels: Record<string, string>; status: { state: string; inhibitedBy: string[] } }>;
    const ticket = alerts.find((a) => a.labels.sloth_id === 'checkout-availability' && a.labels.sloth_severity === 'ticket');
    expect(ticket?.status.state).toBe('suppressed');
    expect(ticket?.status.inhibitedBy).toHaveLength(1);
  }, 20_000);
});
