// Where the admin API must speak Toxiproxy's dialect exactly (its api.go,
// toxic_collection.go and proxy_collection.go are the reference), and the
// guards it shares with Toxiproxy against web pages: each case here is a
// difference a stock client or a browser would hit. Real proxies on 127.0.0.1,
// port 0.

import { createServer as createNetServer, type Server } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ProxyJson } from './admin-api.ts';
import { resolveListen } from './admin-api.ts';
import { createChaosClient, type ChaosClient } from './admin-client.ts';
import { createProxyServer, type ProxyServer } from './proxy-server.ts';
import { callAdmin, openTcpClient, refused, send, startEchoServer, startUpstream, type TestTcpServer, type TestUpstream, type AdminAnswer } from './test-support.ts';

let echo: TestTcpServer;
let upstream: TestUpstream;
let server: ProxyServer;
let client: ChaosClient;

const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<AdminAnswer> => callAdmin(server.adminUrl, method, path, body, headers);

const portOf = (listen: string): number => Number(listen.slice(listen.lastIndexOf(':') + 1));

/** Bytes through a proxy to the echo server and back: what any TCP client (a database driver, Redis) does. */
async function echoes(port: number): Promise<string> {
  const tcp = await openTcpClient(port);
  tcp.socket.write('PING\r\n');
  await tcp.receivedAtLeast(6);
  tcp.socket.destroy();
  return tcp.received().toString();
}

/** A port someone else holds. */
async function holdPort(): Promise<{ port: number; close(): Promise<void> }> {
  const holder: Server = createNetServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', () => resolve()));
  const address = holder.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { port, close: () => new Promise<void>((resolve) => holder.close(() => resolve())) };
}

beforeAll(async () => {
  echo = await startEchoServer();
  upstream = await startUpstream();
});
afterAll(async () => {
  await echo.close();
  await upstream.close();
});
beforeEach(async () => {
  server = await createProxyServer({ adminPort: 0 });
  client = createChaosClient(server.adminUrl);
});
afterEach(async () => {
  await server.close();
});

describe("Toxiproxy's dialect: proxies", () => {
  it('creates a tcp proxy when the body names no mode, as every Toxiproxy proxy is; http when asked', async () => {
    const created = await call('POST', '/proxies', { name: 'redis', listen: '127.0.0.1:0', upstream: `127.0.0.1:${echo.port}` });
    expect(created).toMatchObject({ status: 201, body: { name: 'redis', mode: 'tcp', enabled: true } });
    // An http-mode proxy answers these bytes "400 Bad Request"; a byte stream passes them on.
    expect(await echoes(portOf((created.body as ProxyJson).listen))).toBe('PING\r\n');

    const http = await call('POST', '/proxies', { name: 'bank', listen: '127.0.0.1:0', upstream: upstream.url, mode: 'http' });
    expect(http).toMatchObject({ status: 201, body: { mode: 'http' } });
    expect(await call('POST', '/proxies/bank/http_faults', { type: 'http_error', attributes: { status: 502 } })).toMatchObject({ status: 200 });
    expect((await send(portOf((http.body as ProxyJson).listen))).status).toBe(502);
  });

  it('updates a proxy and a toxic with PATCH (Toxiproxy 2.x and its CLI), and still with POST', async () => {
    const proxy = (await call('POST', '/proxies', { name: 'redis', listen: '127.0.0.1:0', upstream: `127.0.0.1:${echo.port}` })).body as ProxyJson;
    const port = portOf(proxy.listen);
    expect(await call('PATCH', '/proxies/redis', { enabled: false })).toMatchObject({ status: 200, body: { enabled: false } });
    expect(await refused(port)).toBe(true);
    expect(await call('POST', '/proxies/redis', { enabled: true })).toMatchObject({ status: 200, body: { enabled: true } });

    await call('POST', '/proxies/redis/toxics', { name: 'lag', type: 'latency', attributes: { latency: 10 } });
    expect(await call('PATCH', '/proxies/redis/toxics/lag', { toxicity: 0.5, attributes: { jitter: 5 } })).toMatchObject({
      status: 200,
      body: { name: 'lag', toxicity: 0.5, attributes: { latency: 10, jitter: 5 } },
    });
    expect(await call('POST', '/proxies/redis/toxics/lag', { attributes: { latency: 20 } })).toMatchObject({ status: 200, body: { attributes: { latency: 20, jitter: 5 } } });
    const wrong = await call('PUT', '/proxies/redis/toxics/lag', {});
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('GET, PATCH, POST, DELETE');
  });

  it("gives a toxic posted without attributes Toxiproxy's defaults, and lists toxics upstream first", async () => {
    await call('POST', '/proxies', { name: 'redis', listen: '127.0.0.1:0', upstream: `127.0.0.1:${echo.port}` });
    expect(await call('POST', '/proxies/redis/toxics', { type: 'latency' })).toMatchObject({
      status: 200,
      body: { name: 'latency_downstream', type: 'latency', stream: 'downstream', toxicity: 1, attributes: { latency: 0, jitter: 0 } },
    });
    expect(await call('POST', '/proxies/redis/toxics', { type: 'timeout', stream: 'upstream', attributes: null })).toMatchObject({
      status: 200,
      body: { name: 'timeout_upstream', attributes: { timeout: 0 } },
    });
    await call('POST', '/proxies/redis/toxics', { type: 'slicer', stream: 'upstream', toxicity: 0 });
    // Toxiproxy keeps one chain per direction and lists the upstream chain first, each in the order added.
    const names = ['timeout_upstream', 'slicer_upstream', 'latency_downstream'];
    expect(((await call('GET', '/proxies/redis/toxics')).body as Array<{ name: string }>).map((toxic) => toxic.name)).toEqual(names);
    expect(((await call('GET', '/proxies/redis')).body as ProxyJson).toxics.map((toxic) => toxic.name)).toEqual(names);
  });

  it('refuses durations a Node timer cannot hold and non-integer milliseconds with a 400 naming the field', async () => {
    await call('POST', '/proxies', { name: 'redis', listen: '127.0.0.1:0', upstream: `127.0.0.1:${echo.port}` });
    expect(await call('POST', '/proxies/redis/toxics', { type: 'latency', attributes: { latency: 3e9 } })).toMatchObject({
      status: 400,
      body: { error: 'attributes.latency: must be at most 2147483647 (milliseconds; the longest a timer can wait, about 24.8 days)', status: 400 },
    });
    expect(await call('POST', '/proxies/redis/toxics', { type: 'timeout', attributes: { timeout: 1.5 } })).toMatchObject({
      status: 400,
      body: { error: 'attributes.timeout: must be an integer number of milliseconds' },
    });
    await call('POST', '/proxies/redis/toxics', { name: 'lag', type: 'latency', attributes: { latency: 10 } });
    expect(await call('PATCH', '/proxies/redis/toxics/lag', { attributes: { jitter: 2 ** 31 } })).toMatchObject({
      status: 400,
      body: { error: expect.stringMatching(/^attributes\.jitter: must be at most 2147483647/) },
    });
    expect((await client.listProxies()).redis?.toxics).toEqual([{ name: 'lag', type: 'latency', stream: 'downstream', toxicity: 1, attributes: { latency: 10, jitter: 0 } }]);
  });
});

describe("Toxiproxy's dialect: populate", () => {
  it('leaves an identical proxy alone and replaces, toxics and all, one whose upstream changed', async () => {
    const other = await startEchoServer();
    try {
      const first = await call('POST', '/populate', [{ name: 'redis', listen: '127.0.0.1:0', upstream: `127.0.0.1:${echo.port}` }]);
      expect(first.status).toBe(201);
      const listen = ((first.body as { proxies: ProxyJson[] }).proxies[0] as ProxyJson).listen;
      await call('POST', '/proxies/redis/toxics', { name: 'lag', type: 'latency', toxicity: 0, attributes: { latency: 5 } });
      await call('PATCH', '/proxies/redis', { enabled: false });

      const same = await call('POST', '/populate', [{ name: 'redis', listen, upstream: `127.0.0.1:${echo.port}` }]);
      expect(same).toMatchObject({ status: 201, body: { proxies: [{ name: 'redis', listen, enabled: false, toxics: [{ name: 'lag' }] }] } });

      const moved = await call('POST', '/populate', [{ name: 'redis', listen, upstream: `127.0.0.1:${other.port}` }]);
      expect(moved).toMatchObject({ status: 201, body: { proxies: [{ name: 'redis', listen, upstream: `127.0.0.1:${other.port}`, enabled: true, toxics: [] }] } });
      expect(await echoes(portOf(listen))).toBe('PING\r\n');
      expect(other.sockets).toHaveLength(1);
    } finally {
      await other.close();
    }
  });

  it('puts a replaced proxy back as it was when its replacement cannot listen, and says so', async () => {
    const held = await holdPort();
    try {
      await call('POST', '/populate', [{ name: 'redis', listen: '127.0.0.1:0', upstream: `127.0.0.1:${echo.port}` }]);
      await call('POST', '/proxies/redis/toxics', { name: 'lag', type: 'latency', toxicity: 0, attributes: { latency: 5 } });
      const before = (await client.getProxy('redis')).listen;
      const answer = await call('POST', '/populate', [{ name: 'redis', listen: `127.0.0.1:${held.port}`, upstream: `127.0.0.1:${echo.port}` }]);
      expect(answer).toMatchObject({ status: 409, body: { status: 409, proxies: [], error: `listen: address 127.0.0.1:${held.port} already in use; proxy redis is unchanged` } });
      expect(await client.getProxy('redis')).toMatchObject({ listen: before, enabled: true, toxics: [{ name: 'lag' }] });
      expect(await echoes(portOf(before))).toBe('PING\r\n');
    } finally {
      await held.close();
    }
  });
});

describe("Toxiproxy's dialect: a listen change that fails", () => {
  it('leaves the proxy listening where it was, says so, and /reset finds it whole', async () => {
    const held = await holdPort();
    try {
      const proxy = (await call('POST', '/proxies', { name: 'redis', listen: '127.0.0.1:0', upstream: `127.0.0.1:${echo.port}` })).body as ProxyJson;
      const answer = await call('POST', '/proxies/redis', { listen: `127.0.0.1:${held.port}`, upstream: `127.0.0.1:${upstream.port}` });
      expect(answer).toMatchObject({
        status: 409,
        body: { error: `listen: address 127.0.0.1:${held.port} already in use; proxy redis is unchanged and still listens on ${proxy.listen}` },
      });
      // Nothing of the update applied: not the listen, not the upstream that came with it.
      expect(await client.getProxy('redis')).toMatchObject({ listen: proxy.listen, upstream: `127.0.0.1:${echo.port}`, enabled: true });
      expect(await echoes(portOf(proxy.listen))).toBe('PING\r\n');
      await client.reset();
      expect(await echoes(portOf(proxy.listen))).toBe('PING\r\n');
    } finally {
      await held.close();
    }
  });
});

describe("Toxiproxy's guards: browsers and other origins", () => {
  it('answers a browser User-Agent 403 "User agent not allowed", as Toxiproxy does', async () => {
    const browser = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36';
    const answer = await call('GET', '/proxies', undefined, { 'user-agent': browser });
    expect(answer.status).toBe(403);
    expect(answer.body).toBe('User agent not allowed\n');
    expect((await call('POST', '/reset', undefined, { 'user-agent': browser })).status).toBe(403);
    expect((await call('GET', '/proxies', undefined, { 'user-agent': 'toxiproxy-cli/2.12.0' })).status).toBe(200);
  });

  it('refuses a state-changing request from a foreign Origin: a web page cannot create a toxic', async () => {
    await call('POST', '/proxies', { name: 'redis', listen: '127.0.0.1:0', upstream: `127.0.0.1:${echo.port}` });
    // What any page can send without a preflight: a text/plain POST (its browser adds Origin).
    const port = server.adminPort;
    const attack = await send(port, {
      method: 'POST',
      path: '/proxies/redis/toxics',
      headers: { 'content-type': 'text/plain', origin: 'http://evil.example', host: `127.0.0.1:${port}` },
      body: Buffer.from(JSON.stringify({ type: 'timeout', attributes: { timeout: 0 } })),
    });
    expect(attack.status).toBe(403);
    expect(JSON.parse(attack.body.toString())).toEqual({ error: 'header.origin: cross-origin POST from http://evil.example refused', status: 403 });
    const sneaky = await send(port, { method: 'DELETE', path: '/proxies/redis', headers: { 'sec-fetch-site': 'cross-site' } });
    expect(sneaky.status).toBe(403);
    expect((await client.getProxy('redis')).toxics).toEqual([]);
    // The same page's own origin, and clients that send no Origin (Go, curl, Node), are served.
    const own = await send(port, {
      method: 'POST',
      path: '/proxies/redis/toxics',
      headers: { 'content-type': 'text/plain', origin: `http://127.0.0.1:${port}` },
      body: Buffer.from(JSON.stringify({ type: 'latency' })),
    });
    expect(own.status).toBe(200);
    // Reading is harmless from anywhere that is not a browser.
    expect((await send(port, { path: '/proxies', headers: { origin: 'http://evil.example' } })).status).toBe(200);
  });

  it('without a token, answers only loopback Host names (a page that rebinds its name to 127.0.0.1 sends its own)', async () => {
    const port = server.adminPort;
    const rebound = await send(port, { path: '/proxies', headers: { host: `evil.example:${port}` } });
    expect(rebound.status).toBe(403);
    expect(JSON.parse(rebound.body.toString())).toMatchObject({ error: `header.host: evil.example:${port} is not a loopback name` });
    expect((await send(port, { path: '/proxies', headers: { host: `localhost:${port}` } })).status).toBe(200);
  });
});

describe('proxies created through the API listen on loopback unless the admin API is exposed', () => {
  it('puts a wildcard listen on loopback and refuses another address, naming the field', async () => {
    const created = await call('POST', '/proxies', { name: 'redis', listen: '0.0.0.0:0', upstream: `127.0.0.1:${echo.port}` });
    expect(created.status).toBe(201);
    expect((created.body as ProxyJson).listen).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(await call('POST', '/proxies', { name: 'other', listen: '192.0.2.10:0', upstream: `127.0.0.1:${echo.port}` })).toMatchObject({
      status: 400,
      body: { error: expect.stringMatching(/^listen: 192\.0\.2\.10 is not a loopback address; the admin API listens on 127\.0\.0\.1/) },
    });
    expect(await call('PATCH', '/proxies/redis', { listen: '[::]:0' })).toMatchObject({ status: 200, body: { listen: expect.stringMatching(/^127\.0\.0\.1:\d+$/) } });
  });

  it('keeps what was asked when the admin API itself was started exposed', () => {
    expect(resolveListen('0.0.0.0:5000', { host: '0.0.0.0', exposed: true })).toEqual({ host: '0.0.0.0', port: 5000 });
    expect(resolveListen('10.1.2.3:5000', { host: '0.0.0.0', exposed: true })).toEqual({ host: '10.1.2.3', port: 5000 });
    expect(resolveListen(':5000', { host: '127.0.0.1', exposed: false })).toEqual({ host: '127.0.0.1', port: 5000 });
    expect(resolveListen('localhost:5000', { host: '127.0.0.1', exposed: false })).toEqual({ host: 'localhost', port: 5000 });
  });
});
