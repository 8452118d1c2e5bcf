import { describe, expect, it } from 'vitest';
import { HEADER, PROBLEM_CONTENT_TYPE } from '../demo-services/kit/conventions.ts';
import { InvalidSpecError } from './errors.ts';
import { type ChaosEvent, subscribeChaosEvents } from './events.ts';
import { httpError } from './faults/http-error.ts';
import { latency } from './faults/latency.ts';
import { createHttpProxy, type HttpProxy, type ProxyOutcome, upstreamOrigin } from './http-proxy.ts';
import { oneConnectionAgent, pseudoRandomBytes, refused, send, sha256, startUpstream, upstreamFixture } from './test-support.ts';

const TRACE_HEADERS = {
  traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
  tracestate: 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7',
  baggage: 'userId=alice,serverNode=DF%2028',
};

const fixture = upstreamFixture();

async function proxyFor(seed = 1, outcomes?: ProxyOutcome[]): Promise<HttpProxy> {
  const proxy = await createHttpProxy({
    name: 'bank',
    upstream: fixture.upstream.url,
    seed,
    ...(outcomes ? { onOutcome: (outcome: ProxyOutcome) => outcomes.push(outcome) } : {}),
  });
  return fixture.track(proxy);
}

describe('http proxy without faults', () => {
  it('passes method, path, status, headers and trace context through unchanged', async () => {
    const outcomes: ProxyOutcome[] = [];
    const proxy = await proxyFor(1, outcomes);
    const response = await send(proxy.port, {
      method: 'PUT',
      path: '/charges/42?currency=EUR',
      headers: { ...TRACE_HEADERS, 'x-custom': 'kept', 'X-Mixed-Case': 'Kept', 'content-type': 'application/json' },
      body: Buffer.from('{"amount":10}'),
    });
    expect(response.status).toBe(200);
    expect(response.headers['x-upstream']).toBe('yes');
    expect(response.headers['set-cookie']).toEqual(['a=1; Path=/', 'b=2; Path=/']);
    expect(JSON.parse(response.body.toString())).toMatchObject({ method: 'PUT', url: '/charges/42?currency=EUR', bodyBytes: 13 });
    const seen = fixture.upstream.seen[0];
    expect(seen?.headers).toMatchObject({ ...TRACE_HEADERS, 'x-custom': 'kept', 'x-mixed-case': 'Kept' });
    expect(seen?.rawHeaders).toContain('X-Mixed-Case');
    expect(seen?.headers.host).toBe(`127.0.0.1:${proxy.port}`);
    expect(outcomes).toEqual(['forwarded']);

    const missing = await send(proxy.port, { path: '/status/404' });
    expect(missing.status).toBe(404);
  });

  it('drops hop-by-hop headers, including those the Connection header names', async () => {
    const proxy = await proxyFor();
    await send(proxy.port, {
      headers: { connection: 'keep-alive, x-hop', 'keep-alive': 'timeout=5', 'x-hop': 'secret', 'proxy-authorization': 'Basic eA==', 'x-end': '1' },
    });
    const headers = fixture.upstream.seen[0]?.headers ?? {};
    expect(headers['x-end']).toBe('1');
    expect(headers['x-hop']).toBeUndefined();
    expect(headers['keep-alive']).toBeUndefined();
    expect(headers['proxy-authorization']).toBeUndefined();
  });

  it('streams large bodies both ways intact', async () => {
    const proxy = await proxyFor();
    const size = 8 * 1024 * 1024;
    const download = await send(proxy.port, { path: `/bytes/${size}` });
    expect(download.status).toBe(200);
    expect(download.body.length).toBe(size);
    expect(sha256(download.body)).toBe(download.headers['x-body-sha256']);

    const upload = pseudoRandomBytes(6 * 1024 * 1024 + 17);
    const chunks = Array.from({ length: Math.ceil(upload.length / 65_536) }, (_, i) => upload.subarray(i * 65_536, (i + 1) * 65_536));
    const echoed = await send(proxy.port, { method: 'POST', path: '/upload', body: chunks });
    expect(JSON.parse(echoed.body.toString())).toMatchObject({ bodyBytes: upload.length, bodySha256: sha256(upload) });
    expect(fixture.upstream.seen.at(-1)?.headers['transfer-encoding']).toBe('chunked');
  });

  // As Toxiproxy does when it cannot dial its upstream: no answer of the proxy's own, which the
  // caller would take for the service's, but a closed connection, as the network would give it.
  it('closes the client connection without an answer when the upstream is unreachable', async () => {
    const down = await startUpstream();
    await down.close();
    const outcomes: ProxyOutcome[] = [];
    const proxy = fixture.track(await createHttpProxy({ name: 'gone', upstream: down.url, onOutcome: (outcome) => outcomes.push(outcome) }));
    const closed = { code: expect.stringMatching(/^(ECONNRESET|EPIPE)$/) };
    await expect(send(proxy.port, { path: '/pay', headers: TRACE_HEADERS })).rejects.toMatchObject(closed);
    await expect(send(proxy.port, { method: 'POST', path: '/pay', body: Buffer.from('{}') })).rejects.toMatchObject(closed);
    // The same with a fault in place (the path that plans each request).
    proxy.addFault(latency({ name: 'slow', latency: 1 }));
    await expect(send(proxy.port, { path: '/pay' })).rejects.toMatchObject(closed);
    await expect(send(proxy.port, { method: 'POST', path: '/pay', body: Buffer.from('{}') })).rejects.toMatchObject(closed);
    expect(outcomes).toEqual(['upstream_error', 'upstream_error', 'upstream_error', 'upstream_error']);
  });

  it('accepts Toxiproxy-style host:port upstreams and rejects what it cannot proxy', () => {
    expect(upstreamOrigin('127.0.0.1:8080')).toBe('http://127.0.0.1:8080');
    expect(upstreamOrigin('http://localhost:9/')).toBe('http://localhost:9');
    expect(() => upstreamOrigin('https://bank:443')).toThrow(InvalidSpecError);
    expect(() => upstreamOrigin('http://bank:80/api')).toThrow(/upstream: .*without path/);
  });
});

describe('latency', () => {
  it('adds latency ± jitter to each request, spread by the jitter', async () => {
    const proxy = await proxyFor(7);
    const baseline = await send(proxy.port);
    proxy.addFault(latency({ latency: 200, jitter: 50 }));
    const responses = await Promise.all(Array.from({ length: 10 }, () => send(proxy.port)));
    const added = responses.map((response) => response.elapsedMs - baseline.elapsedMs);
    for (const ms of added) {
      expect(ms).toBeGreaterThan(130);
      expect(ms).toBeLessThan(350);
    }
    expect(Math.max(...added) - Math.min(...added)).toBeGreaterThan(20);
  });

  it('delays the request on the upstream stream and the answer on the downstream stream', async () => {
    const proxy = await proxyFor();
    proxy.addFault(latency({ latency: 150, stream: 'upstream' }));
    let sent = performance.now();
    await send(proxy.port);
    expect((fixture.upstream.seen[0]?.at ?? 0) - sent).toBeGreaterThan(130);

    proxy.removeFault('latency_upstream');
    proxy.addFault(latency({ latency: 150 }));
    sent = performance.now();
    const response = await send(proxy.port);
    expect((fixture.upstream.seen[1]?.at ?? Infinity) - sent).toBeLessThan(100);
    expect(response.elapsedMs).toBeGreaterThan(130);
  });
});

describe('http_error', () => {
  it('answers every request itself with problem+json when toxicity is 1, never reaching the upstream', async () => {
    const outcomes: ProxyOutcome[] = [];
    const proxy = await proxyFor(1, outcomes);
    proxy.addFault(httpError({ name: 'bank-down', status: 503, retryAfter: 2 }));
    const agent = oneConnectionAgent();
    for (let i = 0; i < 5; i += 1) {
      const response = await send(proxy.port, { method: 'POST', path: `/charges/${i}`, headers: TRACE_HEADERS, body: Buffer.from('{}'), agent });
      expect(response.status).toBe(503);
      expect(response.headers['content-type']).toBe(PROBLEM_CONTENT_TYPE);
      expect(response.headers[HEADER.faultInjected]).toBe('bank-down');
      expect(response.headers['retry-after']).toBe('2');
      expect(JSON.parse(response.body.toString())).toEqual({
        type: 'https://faultline.dev/problems/fault-injected',
        title: 'Fault injected',
        status: 503,
        detail: 'fault "bank-down" answered 503 without forwarding the request',
        instance: `/charges/${i}`,
        trace_id: '4bf92f3577b34da6a3ce929d0e0e4736',
      });
    }
    agent.destroy();
    expect(fixture.upstream.seen).toHaveLength(0);
    expect(outcomes).toEqual(Array(5).fill('injected_error'));
  });

  it('on the downstream stream lets the upstream do the work and replaces its answer', async () => {
    const proxy = await proxyFor();
    proxy.addFault(httpError({ status: 500, stream: 'downstream' }));
    const response = await send(proxy.port, { path: '/charge' });
    expect(response.status).toBe(500);
    expect(response.headers[HEADER.faultInjected]).toBe('http_error_downstream');
    expect(fixture.upstream.seen).toHaveLength(1);
  });

  it('samples toxicity per request on one keep-alive connection, replayably for a given seed', async () => {
    const runs: boolean[][] = [];
    for (const _ of [1, 2]) {
      const proxy = await proxyFor(42);
      proxy.addFault(httpError({ toxicity: 0.3 }));
      const agent = oneConnectionAgent();
      const sockets = new Set<unknown>();
      const failed: boolean[] = [];
      for (let i = 0; i < 400; i += 1) {
        const response = await send(proxy.port, { agent });
        sockets.add(response.socket);
        failed.push(response.status === 503);
      }
      agent.destroy();
      expect(sockets.size).toBe(1);
      const share = failed.filter(Boolean).length / failed.length;
      expect(share).toBeGreaterThanOrEqual(0.22);
      expect(share).toBeLessThanOrEqual(0.38);
      runs.push(failed);
    }
    expect(runs[1]).toEqual(runs[0]);

    const other = await proxyFor(43);
    other.addFault(httpError({ toxicity: 0.3 }));
    const differentSeed: boolean[] = [];
    for (let i = 0; i < 100; i += 1) differentSeed.push((await send(other.port)).status === 503);
    expect(differentSeed).not.toEqual(runs[0]?.slice(0, 100));
  });
});

describe('proxy state', () => {
  it('refuses connections while disabled and serves again on the same port when re-enabled', async () => {
    const proxy = await proxyFor();
    const port = proxy.port;
    const agent = oneConnectionAgent();
    expect((await send(port, { agent })).status).toBe(200);
    await proxy.setEnabled(false);
    expect(proxy.enabled).toBe(false);
    expect(await refused(port)).toBe(true);
    await proxy.setEnabled(true);
    expect(proxy.port).toBe(port);
    expect((await send(port, { agent })).status).toBe(200);
    agent.destroy();
  });

  it('manages faults by name and publishes each change on the diagnostics channel', async () => {
    const events: ChaosEvent[] = [];
    const unsubscribe = subscribeChaosEvents((event) => events.push(event));
    try {
      const proxy = await proxyFor();
      proxy.addFault({ type: 'latency', attributes: { latency: 10 } }, 'toxics');
      expect(() => proxy.addFault(latency({ latency: 5 }))).toThrow(/already exists: latency_downstream/);
      expect(() => proxy.addFault({ type: 'http_error' }, 'toxics')).toThrow(/type: unknown toxic type "http_error"/);
      const updated = proxy.updateFault('latency_downstream', { attributes: { jitter: 4 } });
      expect(updated.attributes).toEqual({ latency: 10, jitter: 4 });
      expect(proxy.listFaults().map((fault) => fault.name)).toEqual(['latency_downstream']);
      expect(() => proxy.removeFault('nope')).toThrow(/fault not found: nope/);
      await proxy.close();
      expect(events.filter((event) => event.proxy === 'bank').map((event) => event.kind)).toEqual([
        'proxy_enabled',
        'fault_applied',
        'fault_updated',
        'fault_removed',
        'proxy_disabled',
      ]);
    } finally {
      unsubscribe();
    }
  });
});
