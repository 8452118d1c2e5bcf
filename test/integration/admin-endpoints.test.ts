// Admin and fault endpoints are never on a public port. Real service
// processes (the gateway, whose public port is the shop's front door, and the
// bank, which has knobs of its own), started the way the lab starts them.
// The public port is tried over a raw socket, so that no client normalises
// the path on the way: every spelling of /admin must be a 404 and must change
// nothing. The admin listener (announced as `admin` in the ready message)
// works for loopback callers, refuses a foreign Origin or Host, and wants its
// token when it has one; a service told to bind it off loopback without a
// token refuses to start.

import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVICE_CONFIG_ENV } from '../../demo-services/kit/config.ts';
import { PROBLEM_CONTENT_TYPE } from '../../demo-services/kit/conventions.ts';
import { createSupervisor, type ManagedProcess, type Supervisor } from '../../runner/supervisor.ts';

const TOKEN = 'admin-token-for-tests-0123456789';
const FAULT = JSON.stringify({ name: 'intruder', type: 'concurrency_limit', attributes: { maxInFlight: 0 } });

let workDir: string;
let supervisor: Supervisor;
const crashes: string[] = [];
const started: Record<string, ManagedProcess> = {};

async function startService(instance: string, name: string, policies: Record<string, unknown>): Promise<ManagedProcess> {
  const config = { name, instance, port: 0, telemetry: false, dependencies: {}, policies, logLevel: 'warn' };
  const managed = await supervisor.start({
    name: instance,
    entry: `demo-services/${name}/main.ts`,
    nodeArgs: ['--import', './demo-services/kit/instrument.ts'],
    env: { [SERVICE_CONFIG_ENV]: JSON.stringify(config) },
    readyTimeoutMs: 30_000,
  });
  started[instance] = managed;
  return managed;
}

/** One HTTP/1.1 request written byte for byte; the status and body of the answer. */
async function rawRequest(port: number, method: string, target: string, headers: Record<string, string> = {}, body = ''): Promise<{ status: number; headers: string; body: string }> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  const all = { host: `127.0.0.1:${port}`, connection: 'close', ...headers };
  const lines = [`${method} ${target} HTTP/1.1`, ...Object.entries(all).map(([k, v]) => `${k}: ${v}`)];
  if (body !== '') lines.push('content-type: application/json', `content-length: ${Buffer.byteLength(body)}`);
  socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`);
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  await once(socket, 'close');
  const text = Buffer.concat(chunks).toString('utf8');
  const [head = '', rest = ''] = text.split('\r\n\r\n', 2);
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0), headers: head.toLowerCase(), body: rest };
}

/** Spellings of /admin/faults a lenient server, proxy or client could take to mean it. */
const SPELLINGS = [
  '/admin/faults',
  '/admin/faults/',
  '/ADMIN/faults',
  '/Admin/Faults',
  '//admin/faults',
  '/./admin/faults',
  '/admin/./faults',
  '/api/products/../../admin/faults',
  '/api/../admin/faults',
  '/api/products/%2e%2e/%2e%2e/admin/faults',
  '/api/products/%2E%2E%2F%2E%2E%2Fadmin%2Ffaults',
  '/api/products/..%2F..%2Fadmin%2Ffaults',
  '/api/products/%252e%252e/%252e%252e/admin/faults',
  '/%61dmin/faults',
  '/%2Fadmin/faults',
  '/admin%2Ffaults',
  '/admin%2ffaults',
  '/api\\..\\..\\admin\\faults',
  '/api/products/..;/..;/admin/faults',
  '/admin;x=1/faults',
  '/admin',
  '/admin/behaviour',
  '/admin/books',
];

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'faultline-admin-'));
  supervisor = createSupervisor({ logDir: join(workDir, 'logs') });
  supervisor.onUnexpectedExit((name, code, signal) => crashes.push(`${name} exited (code ${code}, signal ${signal})`));
  await Promise.all([
    startService('gateway', 'gateway', { gateway: { auth: { secret: 'gateway-secret-0123456789abcdef' } } }),
    startService('bank', 'bank', {}),
    startService('bank-token', 'bank', { admin: { token: TOKEN } }),
  ]);
}, 60_000);

afterAll(async () => {
  await supervisor?.stopAll();
  if (workDir) await rm(workDir, { recursive: true, force: true });
  expect(crashes).toEqual([]);
});

const adminUrl = (instance: string) => `http://127.0.0.1:${(started[instance] as ManagedProcess).ports.admin}`;
const publicPort = (instance: string) => (started[instance] as ManagedProcess).ports.http as number;

describe('the public port', () => {
  it('announces a separate admin port', () => {
    for (const instance of ['gateway', 'bank']) {
      const { ports } = started[instance] as ManagedProcess;
      expect(ports.admin).toBeGreaterThan(0);
      expect(ports.admin).not.toBe(ports.http);
    }
  });

  for (const instance of ['gateway', 'bank']) {
    it(`${instance}: answers 404 problem+json to every spelling of /admin, and applies nothing`, async () => {
      const answers: string[] = [];
      for (const target of SPELLINGS) {
        for (const method of ['GET', 'POST', 'DELETE']) {
          const answer = await rawRequest(publicPort(instance), method, target, {}, method === 'POST' ? FAULT : '');
          answers.push(`${method} ${target} -> ${answer.status}`);
          if (answer.status === 404) expect(answer.headers).toContain(PROBLEM_CONTENT_TYPE);
        }
      }
      expect(answers.filter((answer) => !answer.endsWith('-> 404'))).toEqual([]);
      const faults = (await (await fetch(`${adminUrl(instance)}/admin/faults`)).json()) as { faults: unknown[] };
      expect(faults.faults).toEqual([]);
      // The public routes still work.
      expect((await rawRequest(publicPort(instance), 'GET', '/healthz')).status).toBe(200);
    });
  }

  it('bank: its knobs are on the admin listener only', async () => {
    const publicAttempt = await rawRequest(publicPort('bank'), 'POST', '/admin/behaviour', {}, JSON.stringify({ failureRate: 1 }));
    expect(publicAttempt.status).toBe(404);
    const knobs = (await (await fetch(`${adminUrl('bank')}/admin/behaviour`)).json()) as { failureRate: number };
    expect(knobs.failureRate).toBe(0);
  });
});

describe('the admin listener', () => {
  it('applies, lists and removes faults for a loopback caller; a bad body is a 400 naming the field', async () => {
    const base = adminUrl('gateway');
    const post = (body: string) => fetch(`${base}/admin/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect((await post(JSON.stringify({ name: 'cap', type: 'concurrency_limit', attributes: { maxInFlight: 500 } }))).status).toBe(201);
    const listed = (await (await fetch(`${base}/admin/faults`)).json()) as { faults: Array<{ name: string }> };
    expect(listed.faults.map((fault) => fault.name)).toEqual(['cap']);
    expect((await fetch(`${base}/admin/faults/cap`, { method: 'DELETE' })).status).toBe(204);
    const bad = await post(JSON.stringify({ name: 'x', type: 'cpu_burn', attributes: {} }));
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { detail: string }).detail).toContain('body.attributes.percent');
  });

  it('refuses a state-changing request from a foreign Origin, or a cross-site fetch, with 403', async () => {
    const port = (started.bank as ManagedProcess).ports.admin as number;
    const foreign: Array<Record<string, string>> = [{ origin: 'http://evil.example' }, { origin: 'null' }, { origin: `http://localhost:${port + 1}` }, { 'sec-fetch-site': 'cross-site' }];
    for (const headers of foreign) {
      const post = await rawRequest(port, 'POST', '/admin/faults', headers, FAULT);
      expect(post.status, JSON.stringify(headers)).toBe(403);
      expect(post.body).toMatch(/header\.(origin|sec-fetch-site)/);
      expect((await rawRequest(port, 'DELETE', '/admin/faults/intruder', headers)).status).toBe(403);
      expect((await rawRequest(port, 'POST', '/admin/behaviour', headers, JSON.stringify({ failureRate: 1 }))).status).toBe(403);
    }
    // Its own origin is fine.
    const same = await rawRequest(port, 'POST', '/admin/behaviour', { origin: `http://127.0.0.1:${port}` }, JSON.stringify({ latency: 0 }));
    expect(same.status).toBe(200);
    const faults = (await (await fetch(`http://127.0.0.1:${port}/admin/faults`)).json()) as { faults: unknown[] };
    expect(faults.faults).toEqual([]);
  });

  it('refuses a Host that is not loopback (DNS rebinding)', async () => {
    const port = (started.bank as ManagedProcess).ports.admin as number;
    for (const host of ['evil.example', `evil.example:${port}`, `127.0.0.1.evil.example:${port}`]) {
      const answer = await rawRequest(port, 'GET', '/admin/faults', { host });
      expect(answer.status, host).toBe(403);
      expect(answer.body).toContain('header.host');
    }
    expect((await rawRequest(port, 'GET', '/admin/faults', { host: `localhost:${port}` })).status).toBe(200);
  });

  it('with a token configured, wants it on every request', async () => {
    const base = adminUrl('bank-token');
    const bare = await fetch(`${base}/admin/faults`);
    expect(bare.status).toBe(401);
    expect(bare.headers.get('content-type')).toContain(PROBLEM_CONTENT_TYPE);
    expect((await fetch(`${base}/admin/faults`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await fetch(`${base}/admin/faults`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
  });

  it('a service told to bind its admin listener off loopback without a token refuses to start, naming the field', async () => {
    const failure = await startService('bank-open', 'bank', { admin: { host: '0.0.0.0' } }).then(
      () => undefined,
      (error: unknown) => error as Error,
    );
    expect(failure?.message).toMatch(/policies\.admin\.token: required/);
  });
});
