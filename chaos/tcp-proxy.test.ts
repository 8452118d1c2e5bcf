import { afterEach, describe, expect, it } from 'vitest';
import { setTimeout as wait } from 'node:timers/promises';
import { credentials, makeGenericClientConstructor, Server, ServerCredentials, type ServiceError, status } from '@grpc/grpc-js';
import { bandwidth } from './faults/bandwidth.ts';
import { latency } from './faults/latency.ts';
import { limitData } from './faults/limit-data.ts';
import { resetPeer } from './faults/reset-peer.ts';
import { slicer } from './faults/slicer.ts';
import { slowClose } from './faults/slow-close.ts';
import { timeout } from './faults/timeout.ts';
import { httpError } from './faults/http-error.ts';
import type { FaultProxy } from './fault-proxy.ts';
import type { ProxyOutcome } from './http-proxy.ts';
import { createTcpProxy, upstreamAddress } from './tcp-proxy.ts';
import {
  openTcpClient,
  pseudoRandomBytes,
  refused,
  sha256,
  startEchoServer,
  startTcpServer,
  type TestTcpServer,
  within,
} from './test-support.ts';

const servers: TestTcpServer[] = [];
const proxies: FaultProxy[] = [];

async function upstreamOf(server: Promise<TestTcpServer>): Promise<TestTcpServer> {
  const started = await server;
  servers.push(started);
  return started;
}

async function proxyTo(server: TestTcpServer, seed = 1, outcomes?: ProxyOutcome[]): Promise<FaultProxy> {
  const proxy = await createTcpProxy({
    name: 'payment-bank',
    upstream: `127.0.0.1:${server.port}`,
    seed,
    ...(outcomes ? { onOutcome: (outcome: ProxyOutcome) => outcomes.push(outcome) } : {}),
  });
  proxies.push(proxy);
  return proxy;
}

/** Round trip of `message` through an echo upstream, in milliseconds. */
async function roundTrip(port: number, message = 'ping'): Promise<number> {
  const client = await openTcpClient(port);
  const started = performance.now();
  client.socket.write(message);
  await client.receivedAtLeast(message.length);
  const elapsed = performance.now() - started;
  client.socket.destroy();
  return elapsed;
}

afterEach(async () => {
  await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

describe('tcp proxy without toxics', () => {
  it('carries bytes both ways intact and passes half-closes on', async () => {
    const upstream = await upstreamOf(startEchoServer());
    const outcomes: ProxyOutcome[] = [];
    const proxy = await proxyTo(upstream, 1, outcomes);
    expect(proxy.mode).toBe('tcp');
    const client = await openTcpClient(proxy.port);
    const data = pseudoRandomBytes(3 * 1024 * 1024);
    client.socket.end(data);
    const closed = await client.closed;
    expect(closed.how).toBe('end');
    expect(sha256(client.received())).toBe(sha256(data));
    expect(outcomes).toEqual(['forwarded']);
  });

  it('accepts host:port, tcp:// and http:// upstreams and names the field when one is bad', () => {
    expect(upstreamAddress('bank:9000')).toEqual({ host: 'bank', port: 9000 });
    expect(upstreamAddress('tcp://127.0.0.1:1')).toEqual({ host: '127.0.0.1', port: 1 });
    expect(upstreamAddress('http://[::1]:8080')).toEqual({ host: '::1', port: 8080 });
    expect(() => upstreamAddress('bank')).toThrow(/^upstream: "bank" is not host:port/);
    expect(() => upstreamAddress('bank:0')).toThrow(/port 1\.\.65535/);
  });

  it('closes the client connection when the upstream refuses, counting an upstream error', async () => {
    const gone = await upstreamOf(startEchoServer());
    const port = gone.port;
    await gone.close();
    servers.length = 0;
    const outcomes: ProxyOutcome[] = [];
    const proxy = await createTcpProxy({ name: 'x', upstream: `127.0.0.1:${port}`, onOutcome: (outcome) => outcomes.push(outcome) });
    proxies.push(proxy);
    const client = await openTcpClient(proxy.port);
    expect(await within(client.closed, 5_000)).not.toBe('timeout');
    expect(outcomes).toEqual(['upstream_error']);
  });

  it('refuses HTTP faults, which need an http-mode proxy', async () => {
    const proxy = await proxyTo(await upstreamOf(startEchoServer()));
    expect(() => proxy.addFault(httpError())).toThrow(/type: http_error is an HTTP fault; proxy payment-bank is in tcp mode/);
  });
});

describe('tcp toxics', () => {
  it('latency delays each direction by latency ± jitter, on connections already open too', async () => {
    const upstream = await upstreamOf(startEchoServer());
    const proxy = await proxyTo(upstream);
    const baseline = await roundTrip(proxy.port);
    expect(baseline).toBeLessThan(100);

    const client = await openTcpClient(proxy.port);
    proxy.addFault(latency({ latency: 120, jitter: 20, stream: 'upstream' }));
    proxy.addFault(latency({ latency: 80, name: 'back' }));
    const started = performance.now();
    client.socket.write('live');
    await client.receivedAtLeast(4);
    const elapsed = performance.now() - started;
    // 120±20 up plus 80 down: 180..220 ms, with room for a loaded machine.
    expect(elapsed).toBeGreaterThan(170);
    expect(elapsed).toBeLessThan(600);
    client.socket.destroy();
  });

  it('applies an update to open connections, and a removal releases held data at once', async () => {
    const upstream = await upstreamOf(startEchoServer());
    const proxy = await proxyTo(upstream);
    proxy.addFault(latency({ latency: 0, name: 'lag' }));
    const client = await openTcpClient(proxy.port);
    proxy.updateFault('lag', { attributes: { latency: 150 } });
    let started = performance.now();
    client.socket.write('one');
    await client.receivedAtLeast(3);
    expect(performance.now() - started).toBeGreaterThan(140);

    proxy.updateFault('lag', { attributes: { latency: 5_000 } });
    started = performance.now();
    client.socket.write('two');
    await wait(100);
    proxy.removeFault('lag');
    await client.receivedAtLeast(6);
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(client.received().toString()).toBe('onetwo');
    client.socket.destroy();
  });

  it('latency keeps a stream flowing: throughput is not cut to one chunk per delay', async () => {
    const upstream = await upstreamOf(startTcpServer((socket) => socket.end(pseudoRandomBytes(2 * 1024 * 1024))));
    const proxy = await proxyTo(upstream);
    proxy.addFault(latency({ latency: 100 }));
    const client = await openTcpClient(proxy.port);
    const started = performance.now();
    const closed = await client.closed;
    expect(client.received().length).toBe(2 * 1024 * 1024);
    expect(closed.at - started).toBeGreaterThan(95);
    expect(closed.at - started).toBeLessThan(1_000);
  });

  it('bandwidth limits a stream to its rate in KB/s', async () => {
    const size = 300_000;
    const upstream = await upstreamOf(startTcpServer((socket) => socket.end(pseudoRandomBytes(size))));
    const proxy = await proxyTo(upstream);
    proxy.addFault(bandwidth({ rate: 500 }));
    const client = await openTcpClient(proxy.port);
    const started = performance.now();
    await client.closed;
    const seconds = (performance.now() - started) / 1000;
    expect(client.received().length).toBe(size);
    const kbPerSecond = size / 1000 / seconds;
    // 500 KB/s nominal: 0.6 s for 300 KB; timers only ever make it slower.
    expect(kbPerSecond).toBeGreaterThan(300);
    expect(kbPerSecond).toBeLessThan(560);
  });

  it('slicer delivers one write as many small pieces, intact', async () => {
    const data = pseudoRandomBytes(6_000);
    const upstream = await upstreamOf(startTcpServer((socket) => socket.end(data)));
    const proxy = await proxyTo(upstream);
    proxy.addFault(slicer({ averageSize: 500, sizeVariation: 100, delay: 5_000 }));
    const client = await openTcpClient(proxy.port);
    const started = performance.now();
    await client.closed;
    expect(sha256(client.received())).toBe(sha256(data));
    expect(client.chunks.length).toBeGreaterThanOrEqual(6);
    for (const chunk of client.chunks.slice(0, -1)) expect(chunk.data.length).toBeLessThanOrEqual(1_200);
    // About 11 gaps of 5 ms.
    expect(performance.now() - started).toBeGreaterThan(40);
  });

  it('limit_data closes the connection after exactly that many bytes', async () => {
    const upstream = await upstreamOf(startTcpServer((socket) => socket.write(pseudoRandomBytes(5_000))));
    const outcomes: ProxyOutcome[] = [];
    const proxy = await proxyTo(upstream, 1, outcomes);
    proxy.addFault(limitData({ bytes: 1_234 }));
    const client = await openTcpClient(proxy.port);
    const closed = await within(client.closed, 5_000);
    expect(closed).toMatchObject({ how: 'end' });
    expect(client.received()).toEqual(pseudoRandomBytes(5_000).subarray(0, 1_234));
    expect(outcomes).toEqual(['forwarded', 'injected_error']);
  });

  it('reset_peer resets the connection (ECONNRESET) timeout ms after the first data', async () => {
    const upstream = await upstreamOf(startEchoServer());
    const proxy = await proxyTo(upstream);
    proxy.addFault(resetPeer({ timeout: 150, stream: 'upstream' }));
    const client = await openTcpClient(proxy.port);
    await wait(100);
    const started = performance.now();
    client.socket.write('hello?');
    const closed = await within(client.closed, 5_000);
    expect(closed).toMatchObject({ how: 'error', code: 'ECONNRESET' });
    expect((closed as { at: number }).at - started).toBeGreaterThan(130);
    expect(client.received().length).toBe(0);
  });

  it('timeout swallows the data and closes the connection after timeout ms', async () => {
    const upstream = await upstreamOf(startEchoServer());
    const proxy = await proxyTo(upstream);
    proxy.addFault(timeout({ timeout: 300 }));
    const client = await openTcpClient(proxy.port);
    const started = performance.now();
    client.socket.write('anyone?');
    const closed = await within(client.closed, 5_000);
    expect(closed).toMatchObject({ how: 'end' });
    const elapsed = (closed as { at: number }).at - started;
    expect(elapsed).toBeGreaterThan(280);
    expect(elapsed).toBeLessThan(1_500);
    expect(client.received().length).toBe(0);
  });

  it('timeout 0 hangs until the toxic is removed, which closes the connection', async () => {
    const upstream = await upstreamOf(startEchoServer());
    const proxy = await proxyTo(upstream);
    proxy.addFault(timeout({ timeout: 0, name: 'hole' }));
    const client = await openTcpClient(proxy.port);
    client.socket.write('anyone?');
    expect(await within(client.closed, 400)).toBe('timeout');
    expect(client.received().length).toBe(0);
    proxy.removeFault('hole');
    expect(await within(client.closed, 2_000)).toMatchObject({ how: 'end' });
  });

  it('slow_close delays the upstream close reaching the client', async () => {
    const upstream = await upstreamOf(startTcpServer((socket) => socket.end('bye')));
    const proxy = await proxyTo(upstream);
    proxy.addFault(slowClose({ delay: 300 }));
    const client = await openTcpClient(proxy.port);
    await client.receivedAtLeast(3);
    const dataAt = client.chunks[0]?.at ?? 0;
    const closed = await within(client.closed, 5_000);
    expect(closed).toMatchObject({ how: 'end' });
    const late = (closed as { at: number }).at - dataAt;
    expect(late).toBeGreaterThan(270);
    expect(late).toBeLessThan(1_500);
  });

  it('draws toxicity per connection, replayably for a given seed', async () => {
    const upstream = await upstreamOf(startEchoServer());
    const runs: boolean[][] = [];
    for (const seed of [7, 7, 8]) {
      const proxy = await proxyTo(upstream, seed);
      // A selected connection gets 2 of the 4 bytes it sent back, then is closed.
      proxy.addFault(limitData({ bytes: 2, toxicity: 0.5 }));
      const cut: boolean[] = [];
      for (let i = 0; i < 24; i += 1) {
        const client = await openTcpClient(proxy.port);
        client.socket.write('ping');
        await client.receivedAtLeast(2);
        if (client.received().length < 4) await within(client.closed, 1_000);
        cut.push(client.received().toString() === 'pi');
        client.socket.destroy();
      }
      runs.push(cut);
      await proxy.close();
    }
    const [first, replay, other] = runs as [boolean[], boolean[], boolean[]];
    expect(replay).toEqual(first);
    expect(other).not.toEqual(first);
    const share = first.filter(Boolean).length / first.length;
    expect(share).toBeGreaterThan(0.15);
    expect(share).toBeLessThan(0.85);
  });
});

describe('gRPC through a tcp-mode proxy', () => {
  const identity = (data: Buffer): Buffer => data;
  const echoService = {
    echo: {
      path: '/faultline.test.Echo/Echo',
      requestStream: false,
      responseStream: false,
      requestSerialize: identity,
      requestDeserialize: identity,
      responseSerialize: identity,
      responseDeserialize: identity,
    },
  };
  type EchoClient = { echo(request: Buffer, done: (error: ServiceError | null, reply?: Buffer) => void): void; close(): void };

  it('carries HTTP/2 calls, delays them with latency and fails them with reset_peer', async () => {
    const grpcServer = new Server();
    grpcServer.addService(echoService, { echo: (call: { request: Buffer }, done: (error: null, reply: Buffer) => void) => done(null, call.request) });
    const grpcPort = await new Promise<number>((resolve, reject) =>
      grpcServer.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, port) => (error ? reject(error) : resolve(port))),
    );
    const proxy = await createTcpProxy({ name: 'checkout-payment', upstream: `http://127.0.0.1:${grpcPort}` });
    proxies.push(proxy);
    const Client = makeGenericClientConstructor(echoService, 'Echo');
    const client = new Client(`127.0.0.1:${proxy.port}`, credentials.createInsecure()) as unknown as EchoClient;
    const call = (text: string): Promise<{ reply?: string; code?: number; ms: number }> =>
      new Promise((resolve) => {
        const started = performance.now();
        client.echo(Buffer.from(text), (error, reply) =>
          resolve(error ? { code: error.code, ms: performance.now() - started } : { reply: reply?.toString() ?? '', ms: performance.now() - started }),
        );
      });
    try {
      expect(await call('charge')).toMatchObject({ reply: 'charge' });
      proxy.addFault(latency({ latency: 150, name: 'slow' }));
      const slow = await call('slow charge');
      expect(slow.reply).toBe('slow charge');
      expect(slow.ms).toBeGreaterThan(140);
      proxy.removeFault('slow');
      proxy.addFault(resetPeer({ stream: 'upstream' }));
      expect(await call('doomed')).toMatchObject({ code: status.UNAVAILABLE });
    } finally {
      client.close();
      grpcServer.forceShutdown();
    }
  });
});

describe('tcp proxy state', () => {
  it('refuses connections while disabled and drops the open ones', async () => {
    const upstream = await upstreamOf(startEchoServer());
    const proxy = await proxyTo(upstream);
    const client = await openTcpClient(proxy.port);
    await proxy.setEnabled(false);
    expect(await within(client.closed, 2_000)).not.toBe('timeout');
    expect(await refused(proxy.port)).toBe(true);
    await proxy.setEnabled(true);
    expect(await roundTrip(proxy.port)).toBeLessThan(500);
  });
});
