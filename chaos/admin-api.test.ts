import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HEADER } from '../demo-services/kit/conventions.ts';
import type { ProxyJson } from './admin-api.ts';
import { ChaosClientError, createChaosClient, type ChaosClient } from './admin-client.ts';
import { ChaosError } from './errors.ts';
import { createProxyServer, type ProxyServer } from './proxy-server.ts';
import { callAdmin, refused, send, startUpstream, type TestUpstream, type AdminAnswer } from './test-support.ts';

let upstream: TestUpstream;
let server: ProxyServer;
let client: ChaosClient;

const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<AdminAnswer> => callAdmin(server.adminUrl, method, path, body, headers);

async function rejection(promise: Promise<unknown>): Promise<ChaosClientError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(ChaosClientError);
  return error as ChaosClientError;
}


function metricValue(text: string, sample: string): number | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${sample} `));
  return line === undefined ? undefined : Number(line.slice(sample.length + 1));
}

beforeAll(async () => {
  upstream = await startUpstream();
});
afterAll(async () => {
  await upstream.close();
});
beforeEach(async () => {
  server = await createProxyServer({ adminPort: 0, seed: 3, proxies: [{ name: 'bank', upstream: upstream.url }] });
  client = createChaosClient(server.adminUrl);
});
afterEach(async () => {
  await server.close();
});

describe('admin API: proxies', () => {
  it('serves /version and lists configured proxies keyed by name', async () => {
    expect(await client.version()).toMatch(/^\d+\.\d+\.\d+/);
    const proxies = await client.listProxies();
    const bank = server.getProxy('bank');
    expect(proxies).toEqual({
      bank: { name: 'bank', mode: 'http', listen: `127.0.0.1:${bank.port}`, upstream: upstream.url, enabled: true, toxics: [], http_faults: [] },
    });
  });

  it('creates, reads, updates and deletes a proxy', async () => {
    const created = await call('POST', '/proxies', { name: 'catalog', listen: '127.0.0.1:0', upstream: `127.0.0.1:${upstream.port}` });
    expect(created.status).toBe(201);
    const proxy = created.body as ProxyJson;
    expect(proxy).toMatchObject({ name: 'catalog', upstream: `127.0.0.1:${upstream.port}`, enabled: true, toxics: [] });
    const port = Number(proxy.listen.split(':')[1]);
    expect(port).toBeGreaterThan(0);
    expect((await send(port, { path: '/items' })).status).toBe(200);

    expect((await call('GET', '/proxies/catalog')).body).toEqual(proxy);
    // Toxiproxy clients post the whole proxy back on update.
    const disabled = await call('POST', '/proxies/catalog', { ...proxy, enabled: false });
    expect(disabled.status).toBe(200);
    expect(disabled.body).toMatchObject({ enabled: false });
    expect(await refused(port)).toBe(true);
    expect(await client.setEnabled('catalog', true)).toMatchObject({ enabled: true, listen: proxy.listen });
    expect((await send(port)).status).toBe(200);

    expect((await call('DELETE', '/proxies/catalog')).status).toBe(204);
    expect(await refused(port)).toBe(true);
    expect(await call('GET', '/proxies/catalog')).toMatchObject({ status: 404, body: { error: 'proxy not found: catalog', status: 404 } });
  });

  it('moves a proxy to another upstream', async () => {
    const other = await startUpstream();
    try {
      await call('POST', '/proxies/bank', { upstream: other.url });
      await send(server.getProxy('bank').port, { path: '/moved' });
      expect(other.seen.map((seen) => seen.url)).toEqual(['/moved']);
    } finally {
      await other.close();
    }
  });

  it('answers 400 naming the field, 404 and 409 as Toxiproxy does', async () => {
    expect(await call('POST', '/proxies', { name: 'bank', upstream: upstream.url })).toMatchObject({
      status: 409,
      body: { error: 'proxy already exists: bank', status: 409 },
    });
    expect(await call('POST', '/proxies', '{"name": "x",')).toMatchObject({ status: 400, body: { status: 400 } });
    expect(((await call('POST', '/proxies', '{"name": "x",')).body as { error: string }).error).toMatch(/^body: not valid JSON/);
    expect(await call('POST', '/proxies', { name: 'x' })).toMatchObject({ status: 400, body: { error: 'upstream: required' } });
    expect(await call('POST', '/proxies', { name: 'x', upstream: upstream.url, listen: 'nowhere' })).toMatchObject({
      status: 400,
      body: { error: 'listen: "nowhere" is not host:port (port 0..65535)' },
    });
    expect(await call('POST', '/proxies', { name: 'x', upstream: 'ftp://bank:21', mode: 'http' })).toMatchObject({
      status: 400,
      body: { error: 'upstream: scheme ftp: is not supported; use http://host:port' },
    });
    expect(await call('POST', '/proxies', { name: 'x', upstream: upstream.url, enabled: 'yes' })).toMatchObject({
      status: 400,
      body: { error: 'enabled: must be a boolean' },
    });
    expect(await call('POST', '/proxies', { name: 'x', upstream: upstream.url, colour: 'red' })).toMatchObject({
      status: 400,
      body: { error: 'colour: unknown field' },
    });
    const taken = `127.0.0.1:${server.getProxy('bank').port}`;
    expect(await call('POST', '/proxies', { name: 'y', upstream: upstream.url, listen: taken })).toMatchObject({
      status: 409,
      body: { error: `listen: address ${taken} already in use` },
    });
    expect(await call('POST', '/proxies/bank', { name: 'renamed' })).toMatchObject({ status: 400, body: { error: 'name: cannot be changed; delete and re-create the proxy' } });
    expect(await call('DELETE', '/proxies/nope')).toMatchObject({ status: 404 });
    expect(await call('GET', '/nowhere')).toMatchObject({ status: 404, body: { error: 'not found: /nowhere' } });
    const wrongMethod = await call('PUT', '/proxies');
    expect(wrongMethod).toMatchObject({ status: 405, body: { status: 405 } });
    expect(wrongMethod.headers.get('allow')).toBe('GET, POST');
    expect(Object.keys(await client.listProxies())).toEqual(['bank']);
  });

  it('populates a set of proxies: creates new names, leaves an identical proxy alone', async () => {
    await client.addToxic('bank', { name: 'slow', type: 'latency', attributes: { latency: 1 } });
    const before = server.getProxy('bank');
    const answer = await call('POST', '/populate', [
      // As it is (Toxiproxy compares upstream and listen): left alone, enabled, toxics and all.
      { name: 'bank', upstream: upstream.url, enabled: false },
      { name: 'users', upstream: upstream.url, listen: ':0' },
    ]);
    expect(answer.status).toBe(201);
    const proxies = (answer.body as { proxies: ProxyJson[] }).proxies;
    expect(proxies.map((proxy) => [proxy.name, proxy.enabled, proxy.toxics.map((toxic) => toxic.name)])).toEqual([
      ['bank', true, ['slow']],
      ['users', true, []],
    ]);
    expect(server.getProxy('bank')).toBe(before);
    expect(proxies[1]?.listen).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(await call('POST', '/populate', { name: 'bank' })).toMatchObject({ status: 400, body: { error: '(body): must be an array of proxies' } });
    expect(await call('POST', '/populate', [{ name: 'a', upstream: upstream.url }, { name: 'a', upstream: upstream.url }])).toMatchObject({
      status: 400,
      body: { error: '[1].name: duplicate proxy name a' },
    });
    // Checked whole before anything changes: a bad second entry leaves the first uncreated.
    expect(await call('POST', '/populate', [{ name: 'b', upstream: upstream.url }, { name: 'c', upstream: 'nowhere' }])).toMatchObject({ status: 400 });
    expect(Object.keys(await client.listProxies()).sort()).toEqual(['bank', 'users']);
  });
});

describe('admin API: toxics and HTTP faults', () => {
  it('adds, reads, updates and removes a toxic', async () => {
    const created = await call('POST', '/proxies/bank/toxics', { type: 'latency', attributes: { latency: 120, jitter: 10 } });
    expect(created).toMatchObject({
      status: 200,
      body: { name: 'latency_downstream', type: 'latency', stream: 'downstream', toxicity: 1, attributes: { latency: 120, jitter: 10 } },
    });
    expect((await call('GET', '/proxies/bank/toxics')).body).toEqual([created.body]);
    expect((await call('GET', '/proxies/bank/toxics/latency_downstream')).body).toEqual(created.body);
    expect(((await client.getProxy('bank')).toxics)).toEqual([created.body]);
    expect((await send(server.getProxy('bank').port)).elapsedMs).toBeGreaterThan(100);

    const updated = await client.updateToxic('bank', 'latency_downstream', { toxicity: 0.5, attributes: { latency: 10 } });
    expect(updated).toMatchObject({ toxicity: 0.5, attributes: { latency: 10, jitter: 10 } });

    await client.removeToxic('bank', 'latency_downstream');
    expect((await call('GET', '/proxies/bank/toxics')).body).toEqual([]);
    expect(await call('DELETE', '/proxies/bank/toxics/latency_downstream')).toMatchObject({
      status: 404,
      body: { error: 'toxic not found: latency_downstream on proxy bank', status: 404 },
    });
  });

  it('rejects bad toxics with 400 naming the field, and duplicates with 409', async () => {
    const cases: Array<[unknown, string]> = [
      [
        { type: 'slow_dance', attributes: {} },
        'type: unknown toxic type "slow_dance"; known: latency, bandwidth, slow_close, timeout, reset_peer, slicer, limit_data',
      ],
      [{ type: 'latency', toxicity: 2, attributes: { latency: 1 } }, 'toxicity: must be between 0 and 1'],
      [{ type: 'latency', attributes: { latency: -5 } }, 'attributes.latency: must be >= 0 (milliseconds)'],
      [{ attributes: { latency: 5 } }, 'type: required'],
    ];
    for (const [body, error] of cases) {
      expect(await call('POST', '/proxies/bank/toxics', body)).toMatchObject({ status: 400, body: { error, status: 400 } });
    }
    expect(((await call('POST', '/proxies/bank/toxics', '{oops')).body as { error: string }).error).toMatch(/^body: not valid JSON/);
    expect(((await call('POST', '/proxies/bank/toxics', { type: 'http_error' })).body as { error: string }).error).toContain(
      'POST it to /proxies/{proxy}/http_faults',
    );
    await client.addToxic('bank', { name: 'slow', type: 'latency', attributes: { latency: 1 } });
    const duplicate = await rejection(client.addToxic('bank', { name: 'slow', type: 'latency', attributes: { latency: 2 } }));
    expect(duplicate).toMatchObject({ status: 409, code: 'CHAOS_ADMIN_REJECTED', serverMessage: 'fault already exists: slow on proxy bank' });
    expect(await rejection(client.addToxic('nope', { type: 'latency', attributes: { latency: 1 } }))).toMatchObject({
      status: 404,
      serverMessage: 'proxy not found: nope',
    });
  });

  it('injects HTTP errors through the http_faults collection', async () => {
    const fault = await client.addHttpFault('bank', { name: 'bank-503', type: 'http_error', attributes: { status: 503 } });
    expect(fault).toEqual({ name: 'bank-503', type: 'http_error', stream: 'upstream', toxicity: 1, attributes: { status: 503 } });
    expect((await call('GET', '/proxies/bank/http_faults')).body).toEqual([fault]);
    expect((await call('GET', '/proxies/bank/http_faults/bank-503')).body).toEqual(fault);
    expect((await call('GET', '/proxies/bank/toxics/bank-503')).status).toBe(404);
    expect(await call('POST', '/proxies/bank/http_faults/bank-503', { attributes: { status: 42 } })).toMatchObject({
      status: 400,
      body: { error: 'attributes.status: must be an HTTP error status (400..599)' },
    });
    expect((await call('POST', '/proxies/bank/http_faults', { type: 'latency', attributes: { latency: 1 } })).body).toMatchObject({
      error: expect.stringMatching(/^type: unknown HTTP fault type "latency"/),
    });

    const answer = await send(server.getProxy('bank').port, { path: '/charge' });
    expect(answer.status).toBe(503);
    expect(answer.headers[HEADER.faultInjected]).toBe('bank-503');

    await client.removeHttpFault('bank', 'bank-503');
    expect((await send(server.getProxy('bank').port)).status).toBe(200);
    expect((await rejection(client.removeHttpFault('bank', 'bank-503'))).status).toBe(404);
  });

  it('resets: every fault removed, every proxy enabled', async () => {
    await client.addToxic('bank', { type: 'latency', attributes: { latency: 500 } });
    await client.addHttpFault('bank', { type: 'http_error', attributes: { status: 500 } });
    await client.setEnabled('bank', false);
    await client.reset();
    const bank = (await client.listProxies()).bank;
    expect(bank).toMatchObject({ enabled: true, toxics: [], http_faults: [] });
    const answer = await send(server.getProxy('bank').port);
    expect(answer.status).toBe(200);
    expect(answer.elapsedMs).toBeLessThan(400);
  });
});

describe('admin API: metrics and access', () => {
  it('shows chaos_fault_active 1 while a fault is active, 0 after removal, and counts outcomes', async () => {
    const active = `chaos_fault_active{fault="bank-500",target="bank"}`;
    await client.addHttpFault('bank', { name: 'bank-500', type: 'http_error', attributes: { status: 500 } });
    await send(server.getProxy('bank').port);
    let metrics = await call('GET', '/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(metricValue(metrics.body as string, active)).toBe(1);
    expect(metricValue(metrics.body as string, `chaos_proxy_requests_total{proxy="bank",outcome="injected_error"}`)).toBe(1);

    await client.removeHttpFault('bank', 'bank-500');
    await send(server.getProxy('bank').port);
    metrics = await call('GET', '/metrics');
    expect(metricValue(metrics.body as string, active)).toBe(0);
    expect(metricValue(metrics.body as string, `chaos_proxy_requests_total{proxy="bank",outcome="forwarded"}`)).toBe(1);
    expect(metricValue(metrics.body as string, `chaos_proxy_requests_total{proxy="bank",outcome="upstream_error"}`)).toBe(0);
  });

  it('shows a fault applied elsewhere as a marker: 1 while marked, 0 once removed or reset, with field-naming errors', async () => {
    const active = 'chaos_fault_active{fault="crash",target="payment-1"}';
    expect(await client.addMarker({ name: 'crash', target: 'payment-1' })).toEqual({ name: 'crash', target: 'payment-1' });
    expect(await client.listMarkers()).toEqual([{ name: 'crash', target: 'payment-1' }]);
    expect(metricValue((await call('GET', '/metrics')).body as string, active)).toBe(1);
    expect(await rejection(client.addMarker({ name: 'crash', target: 'payment-2' }))).toMatchObject({ status: 409 });
    const bad = await call('POST', '/markers', { name: 'x', target: 7 });
    expect(bad.status).toBe(400);
    expect((bad.body as { error: string }).error).toMatch(/target/);
    await client.removeMarker('crash');
    expect(metricValue((await call('GET', '/metrics')).body as string, active)).toBe(0);
    expect(await rejection(client.removeMarker('crash'))).toMatchObject({ status: 404 });
    await client.addMarker({ name: 'frozen', target: 'bank' });
    await client.reset();
    expect(await client.listMarkers()).toEqual([]);
    expect(metricValue((await call('GET', '/metrics')).body as string, 'chaos_fault_active{fault="frozen",target="bank"}')).toBe(0);
  });

  it('requires the bearer token on every request when one is configured', async () => {
    const guarded = await createProxyServer({ adminPort: 0, token: 's3cret' });
    try {
      const bare = await fetch(`${guarded.adminUrl}/proxies`);
      expect(bare.status).toBe(401);
      expect(await bare.json()).toEqual({ error: 'authorization: a valid bearer token is required', status: 401 });
      expect((await fetch(`${guarded.adminUrl}/metrics`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
      expect(await rejection(createChaosClient(guarded.adminUrl).listProxies())).toMatchObject({ status: 401 });
      expect(await createChaosClient(guarded.adminUrl, 's3cret').listProxies()).toEqual({});
    } finally {
      await guarded.close();
    }
  });

  it('refuses to open a non-loopback admin API without a token', async () => {
    const error = await createProxyServer({ host: '0.0.0.0', adminPort: 0 }).then(
      () => undefined,
      (reason: unknown) => reason,
    );
    expect(error).toBeInstanceOf(ChaosError);
    expect(error).toMatchObject({ code: 'CHAOS_CONFIG', message: expect.stringMatching(/^token: required/) });
  });

  it('reports an unreachable admin API as a client error with status 0', async () => {
    const closed = await createProxyServer({ adminPort: 0 });
    const url = closed.adminUrl;
    await closed.close();
    expect(await rejection(createChaosClient(url).reset())).toMatchObject({ status: 0, code: 'CHAOS_ADMIN_UNREACHABLE' });
  });
});

describe('admin API: proxy modes', () => {
  it('creates tcp-mode proxies, shows the mode, and refuses to change it or to put HTTP faults on them', async () => {
    const created = await call('POST', '/proxies', { name: 'grpc', upstream: `127.0.0.1:${upstream.port}`, mode: 'tcp' });
    expect(created).toMatchObject({ status: 201, body: { name: 'grpc', mode: 'tcp', enabled: true } });
    const port = Number((created.body as ProxyJson).listen.split(':')[1]);
    // A byte-stream proxy carries HTTP/1.1 as well as anything else.
    expect((await send(port, { path: '/through' })).status).toBe(200);
    expect(await call('POST', '/proxies/grpc', { mode: 'http' })).toMatchObject({
      status: 400,
      body: { error: 'mode: cannot be changed; delete and re-create the proxy' },
    });
    expect(await call('POST', '/proxies/grpc/http_faults', { type: 'http_error' })).toMatchObject({
      status: 400,
      body: { error: expect.stringMatching(/^type: http_error is an HTTP fault; proxy grpc is in tcp mode/) },
    });
    expect(await call('POST', '/proxies', { name: 'x', upstream: upstream.url, mode: 'udp' })).toMatchObject({
      status: 400,
      body: { error: 'mode: must be one of http, tcp' },
    });
    expect(await call('POST', '/proxies', { name: 'x', upstream: 'nowhere', mode: 'tcp' })).toMatchObject({
      status: 400,
      body: { error: expect.stringMatching(/^upstream: "nowhere" is not host:port/) },
    });
    const toxic = await client.addToxic('grpc', { type: 'slow_close', attributes: { delay: 5 } });
    expect(toxic).toEqual({ name: 'slow_close_downstream', type: 'slow_close', stream: 'downstream', toxicity: 1, attributes: { delay: 5 } });
    const active = 'chaos_fault_active{fault="slow_close_downstream",target="grpc"}';
    expect(metricValue((await call('GET', '/metrics')).body as string, active)).toBe(1);
    await client.removeToxic('grpc', 'slow_close_downstream');
    expect(metricValue((await call('GET', '/metrics')).body as string, active)).toBe(0);
  });

  it('adds, updates and removes the new HTTP faults through the client', async () => {
    const fault = await client.addHttpFault('bank', { name: 'slow-charges', type: 'delay', attributes: { delay: 150, path: '/charges' } });
    expect(fault).toEqual({ name: 'slow-charges', type: 'delay', stream: 'upstream', toxicity: 1, attributes: { delay: 150, jitter: 0, path: '/charges' } });
    expect((await send(server.getProxy('bank').port, { path: '/charges/1' })).elapsedMs).toBeGreaterThan(130);
    const updated = await client.updateHttpFault('bank', 'slow-charges', { attributes: { path: '/refunds' } });
    expect(updated.attributes).toEqual({ delay: 150, jitter: 0, path: '/refunds' });
    expect((await send(server.getProxy('bank').port, { path: '/charges/1' })).elapsedMs).toBeLessThan(130);
    await client.removeHttpFault('bank', 'slow-charges');
    expect(await client.listProxies()).toMatchObject({ bank: { http_faults: [] } });
  });
});

describe('admin API: populate across modes', () => {
  it('replaces a proxy whose mode changes; a new one is tcp unless it asks for http', async () => {
    const answer = await call('POST', '/populate', [
      { name: 'bank', upstream: `127.0.0.1:${upstream.port}`, mode: 'tcp' },
      { name: 'users', upstream: upstream.url },
      { name: 'orders', upstream: upstream.url, mode: 'http' },
    ]);
    expect(answer.status).toBe(201);
    const proxies = await client.listProxies();
    expect(proxies.bank).toMatchObject({ mode: 'tcp', enabled: true });
    expect(proxies.users).toMatchObject({ mode: 'tcp' });
    expect(proxies.orders).toMatchObject({ mode: 'http' });
    expect((await send(server.getProxy('bank').port, { path: '/still-works' })).status).toBe(200);
  });
});
