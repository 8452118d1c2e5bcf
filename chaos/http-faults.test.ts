import { describe, expect, it } from 'vitest';
import { HEADER } from '../demo-services/kit/conventions.ts';
import { delay } from './faults/delay.ts';
import { httpError } from './faults/http-error.ts';
import { slowBody } from './faults/slow-body.ts';
import { createFault, toSpec } from './fault.ts';
import { createHttpProxy, type HttpProxy } from './http-proxy.ts';
import { send, upstreamFixture } from './test-support.ts';

const fixture = upstreamFixture();

async function proxyFor(seed = 3): Promise<HttpProxy> {
  const proxy = await createHttpProxy({ name: 'payment-bank', upstream: fixture.upstream.url, seed });
  return fixture.track(proxy);
}

describe('delay', () => {
  it('holds matching requests before they reach the upstream, and only those', async () => {
    const proxy = await proxyFor();
    proxy.addFault(delay({ delay: 500, path: '/charges', method: 'POST' }));
    const slow = await send(proxy.port, { method: 'POST', path: '/charges/1?x=1', body: Buffer.from('{}') });
    expect(slow.status).toBe(200);
    expect(slow.elapsedMs).toBeGreaterThan(480);
    expect(slow.elapsedMs).toBeLessThan(1_500);
    const otherMethod = await send(proxy.port, { path: '/charges/1' });
    const otherPath = await send(proxy.port, { method: 'POST', path: '/chargesheet', body: Buffer.from('{}') });
    expect(otherMethod.elapsedMs).toBeLessThan(400);
    expect(otherPath.elapsedMs).toBeLessThan(400);
  });

  it('draws jitter per request', async () => {
    const proxy = await proxyFor();
    proxy.addFault(delay({ delay: 100, jitter: 60 }));
    const times: number[] = [];
    for (let i = 0; i < 8; i += 1) times.push((await send(proxy.port)).elapsedMs);
    expect(Math.min(...times)).toBeGreaterThan(35);
    expect(Math.max(...times) - Math.min(...times)).toBeGreaterThan(15);
  });
});

describe('slow_body', () => {
  it('sends the head at once and dribbles the body at its rate', async () => {
    const proxy = await proxyFor();
    proxy.addFault(slowBody({ bytesPerSecond: 8_000, chunkSize: 400 }));
    const started = performance.now();
    const chunks: number[] = [];
    const response = await fetch(`http://127.0.0.1:${proxy.port}/bytes/4000`);
    const headAt = performance.now() - started;
    const reader = response.body?.getReader();
    for (;;) {
      const read = await reader?.read();
      if (!read || read.done) break;
      chunks.push(read.value.length);
    }
    const elapsed = performance.now() - started;
    expect(response.status).toBe(200);
    expect(chunks.reduce((sum, size) => sum + size, 0)).toBe(4_000);
    expect(headAt).toBeLessThan(200);
    // 4000 bytes at 8000 B/s: 0.5 s, in about ten 400-byte writes.
    expect(elapsed).toBeGreaterThan(450);
    expect(elapsed).toBeLessThan(2_000);
    expect(chunks.length).toBeGreaterThanOrEqual(5);
  });
});

describe('matching', () => {
  it('aborts only requests that match path glob, method and header', async () => {
    const proxy = await proxyFor();
    proxy.addFault(httpError({ name: 'acme-charges', status: 502, path: '/tenants/*/charges/**', method: 'post,put', header: 'x-tenant: acme' }));
    const hit = await send(proxy.port, { method: 'PUT', path: '/tenants/7/charges/a/b', headers: { 'x-tenant': 'acme' } });
    expect(hit.status).toBe(502);
    expect(hit.headers[HEADER.faultInjected]).toBe('acme-charges');
    const misses = await Promise.all([
      send(proxy.port, { method: 'PUT', path: '/tenants/7/charges/a', headers: { 'x-tenant': 'other' } }),
      send(proxy.port, { method: 'GET', path: '/tenants/7/charges/a', headers: { 'x-tenant': 'acme' } }),
      send(proxy.port, { method: 'PUT', path: '/tenants/7/8/charges/a', headers: { 'x-tenant': 'acme' } }),
      send(proxy.port, { method: 'PUT', path: '/tenants/7/charges/a' }),
    ]);
    expect(misses.map((miss) => miss.status)).toEqual([200, 200, 200, 200]);
  });

  it('shows the match in the fault JSON, and names a bad match field', () => {
    expect(toSpec(createFault({ type: 'http_error', attributes: { status: 500, path: '/charges', header: 'x-canary' } }))).toMatchObject({
      attributes: { status: 500, path: '/charges', header: 'x-canary' },
    });
    expect(() => createFault({ type: 'delay', attributes: { delay: 1, path: 'charges' } })).toThrow(
      'attributes.path: must start with / and hold no spaces, query or fragment',
    );
    expect(() => createFault({ type: 'delay', attributes: { delay: 1, method: 'PO ST' } })).toThrow(/^attributes\.method: must be an HTTP method/);
    expect(() => createFault({ type: 'slow_body', attributes: { bytes_per_second: 0 } })).toThrow('attributes.bytes_per_second: must be > 0 (bytes per second)');
    expect(() => createFault({ type: 'delay', attributes: { delay: 1, header: ': x' } })).toThrow(/^attributes\.header: must be a header name/);
  });

  it('a fault that does not match consumes no random draw, so the others keep their sequence', async () => {
    const sequences: boolean[][] = [];
    for (const withDecoy of [false, true]) {
      const proxy = await proxyFor(11);
      if (withDecoy) proxy.addFault(httpError({ name: 'decoy', path: '/never', toxicity: 0.5 }));
      proxy.addFault(httpError({ name: 'flaky', toxicity: 0.5 }));
      const failed: boolean[] = [];
      for (let i = 0; i < 40; i += 1) failed.push((await send(proxy.port, { path: '/charge' })).status === 503);
      sequences.push(failed);
      await proxy.close();
    }
    expect(sequences[1]).toEqual(sequences[0]);
  });
});
