import { describe, expect, it } from 'vitest';
import { request } from 'node:http';
import { bandwidth } from './faults/bandwidth.ts';
import { limitData } from './faults/limit-data.ts';
import { resetPeer } from './faults/reset-peer.ts';
import { slicer } from './faults/slicer.ts';
import { slowClose } from './faults/slow-close.ts';
import { timeout } from './faults/timeout.ts';
import { createHttpProxy, type HttpProxy, type ProxyOutcome } from './http-proxy.ts';
import { pseudoRandomBytes, send, sha256, upstreamFixture, within } from './test-support.ts';

const fixture = upstreamFixture();

async function proxyFor(outcomes?: ProxyOutcome[]): Promise<HttpProxy> {
  const proxy = await createHttpProxy({
    name: 'payment-bank',
    upstream: fixture.upstream.url,
    seed: 5,
    ...(outcomes ? { onOutcome: (outcome: ProxyOutcome) => outcomes.push(outcome) } : {}),
  });
  return fixture.track(proxy);
}

interface RawOutcome {
  status?: number;
  bodyBytes: number;
  chunks: number;
  /** The error code (ECONNRESET, socket hang up as ECONNRESET) or 'aborted' for a body cut short. */
  error?: string;
  elapsedMs: number;
}

/** A request that reports how it ended instead of rejecting. */
function attempt(port: number, path: string, options: { method?: string; body?: Buffer } = {}): Promise<RawOutcome> {
  return new Promise((resolve) => {
    const started = performance.now();
    const outcome: RawOutcome = { bodyBytes: 0, chunks: 0, elapsedMs: 0 };
    const done = (): void => {
      outcome.elapsedMs = performance.now() - started;
      resolve(outcome);
    };
    const req = request({ host: '127.0.0.1', port, path, method: options.method ?? 'GET', agent: false }, (res) => {
      outcome.status = res.statusCode;
      res.on('data', (chunk: Buffer) => {
        outcome.bodyBytes += chunk.length;
        outcome.chunks += 1;
      });
      res.on('aborted', () => (outcome.error ??= 'aborted'));
      res.on('error', (error: NodeJS.ErrnoException) => (outcome.error ??= error.code ?? error.message));
      res.on('close', done);
    });
    req.on('error', (error: NodeJS.ErrnoException) => {
      outcome.error ??= error.code ?? error.message;
      done();
    });
    req.end(options.body);
  });
}

describe('TCP toxics on an http-mode proxy, per exchange', () => {
  it('bandwidth paces the answer body at its rate', async () => {
    const proxy = await proxyFor();
    // The same transfer unshaped, in this run: what the machine adds, however busy it is.
    const baseline = await send(proxy.port, { path: '/bytes/240000' });
    proxy.addFault(bandwidth({ rate: 400 }));
    const response = await send(proxy.port, { path: '/bytes/240000' });
    expect(response.status).toBe(200);
    expect(sha256(response.body)).toBe(response.headers['x-body-sha256']);
    // 240 KB at 400 KB/s is 600 ms: never faster than the rate (a 10% tolerance for timer
    // rounding), and paced rather than stalled (at most 2.5x the pacing on top of the baseline).
    const pacedMs = (240 / 400) * 1000;
    expect(response.elapsedMs).toBeGreaterThan(pacedMs * 0.9);
    expect(response.elapsedMs - baseline.elapsedMs).toBeLessThan(pacedMs * 2.5);
  });

  it('bandwidth upstream paces the request body on its way to the upstream', async () => {
    const proxy = await proxyFor();
    proxy.addFault(bandwidth({ rate: 400, stream: 'upstream' }));
    const body = pseudoRandomBytes(120_000);
    const response = await send(proxy.port, { method: 'POST', path: '/upload', body });
    expect(JSON.parse(response.body.toString())).toMatchObject({ bodyBytes: 120_000, bodySha256: sha256(body) });
    expect(response.elapsedMs).toBeGreaterThan(250);
  });

  it('slicer hands the body over in many pieces', async () => {
    const proxy = await proxyFor();
    proxy.addFault(slicer({ averageSize: 1_000, sizeVariation: 200, delay: 3_000 }));
    const outcome = await attempt(proxy.port, '/bytes/20000');
    expect(outcome).toMatchObject({ status: 200, bodyBytes: 20_000 });
    expect(outcome.error).toBeUndefined();
    expect(outcome.chunks).toBeGreaterThanOrEqual(8);
  });

  it('limit_data cuts the answer body after that many bytes and closes the connection', async () => {
    const outcomes: ProxyOutcome[] = [];
    const proxy = await proxyFor(outcomes);
    proxy.addFault(limitData({ bytes: 5_000 }));
    const outcome = await attempt(proxy.port, '/bytes/100000');
    expect(outcome.status).toBe(200);
    expect(outcome.bodyBytes).toBe(5_000);
    expect(outcome.error).toBeDefined();
  });

  it('timeout upstream swallows the request and closes the connection after timeout ms', async () => {
    const outcomes: ProxyOutcome[] = [];
    const proxy = await proxyFor(outcomes);
    proxy.addFault(timeout({ timeout: 250, stream: 'upstream' }));
    const outcome = await attempt(proxy.port, '/charge', { method: 'POST', body: Buffer.from('{}') });
    expect(outcome.status).toBeUndefined();
    expect(outcome.error).toBe('ECONNRESET');
    expect(outcome.elapsedMs).toBeGreaterThan(230);
    expect(outcome.elapsedMs).toBeLessThan(1_500);
    expect(fixture.upstream.seen).toHaveLength(0);
    expect(outcomes).toEqual(['injected_error']);
  });

  it('timeout 0 on the answer lets the upstream work and leaves the caller hanging', async () => {
    const proxy = await proxyFor();
    proxy.addFault(timeout({ timeout: 0 }));
    const pending = attempt(proxy.port, '/charge', { method: 'POST', body: Buffer.from('{}') });
    expect(await within(pending, 400)).toBe('timeout');
    expect(fixture.upstream.seen.map((seen) => seen.url)).toEqual(['/charge']);
    await proxy.close();
    expect(await within(pending, 2_000)).toMatchObject({ error: 'ECONNRESET' });
  });

  it('reset_peer resets the connection: ECONNRESET after timeout ms, the request never forwarded upstream', async () => {
    const proxy = await proxyFor();
    proxy.addFault(resetPeer({ timeout: 150, stream: 'upstream' }));
    const outcome = await attempt(proxy.port, '/charge');
    expect(outcome.error).toBe('ECONNRESET');
    expect(outcome.elapsedMs).toBeGreaterThan(130);
    expect(fixture.upstream.seen).toHaveLength(0);

    proxy.removeFault('reset_peer_upstream');
    proxy.addFault(resetPeer());
    const downstream = await attempt(proxy.port, '/charge');
    expect(downstream.error).toBe('ECONNRESET');
    expect(fixture.upstream.seen.map((seen) => seen.url)).toEqual(['/charge']);
  });

  it('refuses slow_close, which needs a tcp-mode proxy', async () => {
    const proxy = await proxyFor();
    expect(() => proxy.addFault(slowClose({ delay: 10 }))).toThrow(/type: slow_close works on tcp-mode proxies only; proxy payment-bank is in http mode/);
  });
});
