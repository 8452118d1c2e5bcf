// `up`'s helpers against real servers on port 0: the port check, the
// monitoring links chosen from what the servers answer, and the record of
// faults set by hand. test/e2e/up-session.test.ts drives the same through the CLI.

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkPortsFree, monitoringLinks, recordManualFaults } from './up.ts';

const servers: Array<Server | HttpServer> = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
});

async function http(routes: Record<string, () => { status: number; body?: unknown }>): Promise<string> {
  const server = createHttpServer((req, res) => {
    const route = routes[`${req.method} ${req.url}`];
    const answer = route ? route() : { status: 404, body: '404 page not found' };
    res.writeHead(answer.status, { 'content-type': typeof answer.body === 'string' ? 'text/plain' : 'application/json' });
    res.end(typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body ?? {}));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

describe('checkPortsFree', () => {
  it('names every fixed port in use and the flag that changes it; 0 is never checked', async () => {
    const busy = createServer();
    servers.push(busy);
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const port = (busy.address() as { port: number }).port;
    await expect(checkPortsFree([{ name: 'gateway', flag: '--gateway-port', port: 0 }])).resolves.toBeUndefined();
    await expect(checkPortsFree([{ name: 'gateway', flag: '--gateway-port', port: 0 }, { name: 'fault proxy admin', flag: '--chaos-port', port }])).rejects.toThrow(
      `fault proxy admin: port ${port} is already in use (change it with --chaos-port <port>, or --chaos-port 0 for any free port)`,
    );
  });
});

describe('monitoringLinks', () => {
  it("Prometheus 2.x (Debian's 2.42): the classic alerts page; an Alertmanager without web UI: its API, said so", async () => {
    const prometheusUrl = await http({ 'GET /api/v1/status/buildinfo': () => ({ status: 200, body: { status: 'success', data: { version: '2.42.0+ds' } } }) });
    const alertmanagerUrl = await http({ 'GET /api/v2/alerts': () => ({ status: 200, body: [] }) });
    const links = await monitoringLinks({ prometheusUrl, alertmanagerUrl, alertsFile: '/tmp/alerts.jsonl' });
    expect(links).toEqual([
      { name: 'prometheus 2.42.0+ds (SLO rules at lab scale)', url: `${prometheusUrl}/classic/alerts` },
      { name: 'alertmanager (API only: this build has no web UI)', url: `${alertmanagerUrl}/api/v2/alerts` },
      { name: 'alerts of this session', url: '/tmp/alerts.jsonl' },
    ]);
  });

  it('Prometheus 3 and an Alertmanager with its UI: the plain pages', async () => {
    const prometheusUrl = await http({ 'GET /api/v1/status/buildinfo': () => ({ status: 200, body: { status: 'success', data: { version: '3.5.0' } } }) });
    const alertmanagerUrl = await http({ 'GET /': () => ({ status: 200, body: '<html>' }) });
    const links = await monitoringLinks({ prometheusUrl, alertmanagerUrl, alertsFile: 'x' });
    expect(links.slice(0, 2)).toEqual([
      { name: 'prometheus 3.5.0 (SLO rules at lab scale)', url: `${prometheusUrl}/alerts` },
      { name: 'alertmanager', url: alertmanagerUrl },
    ]);
  });
});

describe('recordManualFaults', () => {
  it('writes each fault set and cleared through the admin APIs to faults.jsonl, and ends what is still active at stop', async () => {
    const runDir = await mkdtemp(join(tmpdir(), 'faultline-manual-faults-'));
    try {
      let toxics: Array<{ name: string; type: string }> = [];
      let inService: Array<{ name: string; type: string }> = [];
      const chaosAdminUrl = await http({
        'GET /proxies': () => ({ status: 200, body: { 'payment-bank-1': { enabled: true, toxics, http_faults: [] } } }),
        'GET /partitions': () => ({ status: 200, body: [] }),
      });
      const bankAdmin = await http({ 'GET /admin/faults': () => ({ status: 200, body: { faults: inService } }) });
      let clock = 1_000_000;
      const recorder = recordManualFaults(
        {
          runDir,
          chaosAdminUrl,
          processes: () => [{ name: 'bank', pid: 1, ports: { http: 1, admin: 2 } }] as never,
          adminUrl: (name) => {
            if (name !== 'bank') throw new Error(`no service named ${name}`);
            return bankAdmin;
          },
        },
        1_000_000,
        () => clock,
      );
      await recorder.poll();
      toxics = [{ name: 'slow', type: 'latency' }];
      clock += 100;
      await recorder.poll();
      toxics = [];
      inService = [{ name: 'burn', type: 'cpu_burn' }];
      clock += 100;
      await recorder.poll();
      clock += 100;
      await recorder.stop();
      const records = (await readFile(join(runDir, 'faults.jsonl'), 'utf8'))
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(records.map(({ action, fault, type, target, offsetMs }) => ({ action, fault, type, target, offsetMs }))).toEqual([
        { action: 'apply', fault: 'slow', type: 'latency', target: 'payment-bank-1', offsetMs: 100 },
        { action: 'apply', fault: 'burn', type: 'cpu_burn', target: 'bank', offsetMs: 200 },
        { action: 'remove', fault: 'slow', type: 'latency', target: 'payment-bank-1', offsetMs: 200 },
        { action: 'remove', fault: 'burn', type: 'cpu_burn', target: 'bank', offsetMs: 300 },
      ]);
      expect(records.every((record) => record.source === 'admin API' && record.ok === true)).toBe(true);
    } finally {
      await rm(runDir, { recursive: true, force: true });
    }
  });
});
