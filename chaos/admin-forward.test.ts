// The token forwarder for stock clients (compose): a Toxiproxy client without a
// token drives a token-guarded admin API through it, the guarded API still
// refuses the same client directly, and the forwarder stays on loopback.

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Toxiproxy, ToxiproxyError } from 'toxiproxy-node-client';
import { type AdminForward, startAdminForward } from './admin-forward.ts';
import { ChaosError } from './errors.ts';
import { createProxyServer, type ProxyServer } from './proxy-server.ts';
import { openTcpClient, send, startEchoServer, type TestTcpServer } from './test-support.ts';

const TOKEN = 'compose-token';
let echo: TestTcpServer;
let server: ProxyServer;
let forward: AdminForward;

beforeAll(async () => {
  echo = await startEchoServer();
});
afterAll(async () => {
  await echo.close();
});
beforeEach(async () => {
  server = await createProxyServer({ adminPort: 0, token: TOKEN });
  forward = await startAdminForward({ target: server.adminUrl, token: TOKEN, port: 0 });
});
afterEach(async () => {
  await forward.close();
  await server.close();
});

describe('admin forwarder: the bearer token for clients that cannot send one', () => {
  it('lets toxiproxy-node-client drive a token-guarded admin API; the same client alone gets 401', async () => {
    await expect(new Toxiproxy(server.adminUrl).getAll()).rejects.toBeInstanceOf(ToxiproxyError);
    const toxiproxy = new Toxiproxy(forward.url);
    const proxy = await toxiproxy.createProxy({ name: 'redis', listen: '127.0.0.1:0', upstream: `127.0.0.1:${echo.port}` });
    await proxy.addToxic({ name: 'lag', type: 'latency', stream: 'downstream', toxicity: 1, attributes: { latency: 0, jitter: 0 } });
    expect(Object.keys(await toxiproxy.getAll())).toEqual(['redis']);
    const tcp = await openTcpClient(Number(proxy.listen.split(':')[1]));
    tcp.socket.write('hi');
    await tcp.receivedAtLeast(2);
    tcp.socket.destroy();
    await toxiproxy.reset();
    expect(server.getProxy('redis').listFaults()).toEqual([]);
  });

  it('passes a browser on to be refused there, and refuses a Host that is not a loopback name', async () => {
    const browser = await send(forward.port, { path: '/proxies', headers: { 'user-agent': 'Mozilla/5.0' } });
    expect(browser.status).toBe(403);
    expect(browser.body.toString()).toBe('User agent not allowed\n');
    const foreign = await send(forward.port, { method: 'POST', path: '/reset', headers: { origin: 'http://evil.example' } });
    expect(foreign.status).toBe(403);
    const rebound = await send(forward.port, { path: '/proxies', headers: { host: `evil.example:${forward.port}` } });
    expect(rebound.status).toBe(403);
  });

  it('answers 502 naming the target when the admin API is down', async () => {
    const down = await startAdminForward({ target: 'http://127.0.0.1:1', token: TOKEN, port: 0 });
    try {
      const answer = await send(down.port, { path: '/proxies' });
      expect(answer.status).toBe(502);
      expect(JSON.parse(answer.body.toString()).error).toMatch(/^the admin API at http:\/\/127\.0\.0\.1:1 is unreachable/);
    } finally {
      await down.close();
    }
  });

  it('refuses to listen beyond loopback, and its command wants the token from the environment', async () => {
    await expect(startAdminForward({ target: server.adminUrl, token: TOKEN, host: '0.0.0.0', port: 0 })).rejects.toBeInstanceOf(ChaosError);
    const env = { ...process.env };
    delete env.FAULTLINE_CHAOS_TOKEN;
    const run = spawnSync(process.execPath, [join(import.meta.dirname, 'admin-forward.ts'), '--port', '0'], { env, encoding: 'utf8', timeout: 20_000 });
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/^FAULTLINE_CHAOS_TOKEN: not set/);
  });
});
