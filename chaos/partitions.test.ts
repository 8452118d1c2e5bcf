import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { setTimeout as wait } from 'node:timers/promises';
import { ChaosClientError, createChaosClient, type ChaosClient } from './admin-client.ts';
import { type ChaosEvent, subscribeChaosEvents } from './events.ts';
import { cutsProxy, effectiveCut, parsePartition } from './partitions.ts';
import { createProxyServer, type ProxyServer } from './proxy-server.ts';
import { openTcpClient, refused, send, startEchoServer, startUpstream, type TestTcpServer, type TestUpstream, within } from './test-support.ts';

let httpUpstream: TestUpstream;
let echo: TestTcpServer;
let server: ProxyServer;
let client: ChaosClient;

function metricValue(text: string, sample: string): number | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${sample} `));
  return line === undefined ? undefined : Number(line.slice(sample.length + 1));
}

async function metrics(): Promise<string> {
  return (await fetch(`${server.adminUrl}/metrics`)).text();
}

/** An HTTP request through a proxy, abandoned after `timeoutMs` like a caller with a timeout. */
async function callWithTimeout(port: number, timeoutMs: number): Promise<{ status?: number; error?: string; elapsedMs: number }> {
  const started = performance.now();
  try {
    const response = await fetch(`http://127.0.0.1:${port}/charge`, { signal: AbortSignal.timeout(timeoutMs) });
    await response.arrayBuffer();
    return { status: response.status, elapsedMs: performance.now() - started };
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    return { error: cause ?? (error as Error).name, elapsedMs: performance.now() - started };
  }
}

beforeAll(async () => {
  httpUpstream = await startUpstream();
  echo = await startEchoServer();
});
afterAll(async () => {
  await httpUpstream.close();
  await echo.close();
});
beforeEach(async () => {
  server = await createProxyServer({
    adminPort: 0,
    proxies: [
      { name: 'payment-bank', upstream: httpUpstream.url },
      { name: 'checkout-payment', upstream: `127.0.0.1:${echo.port}`, mode: 'tcp' },
      { name: 'gateway-checkout', upstream: httpUpstream.url },
    ],
  });
  client = createChaosClient(server.adminUrl);
});
afterEach(async () => {
  await server.close();
});

describe('partition specs', () => {
  it('cuts every proxy between the groups, in both directions, and nothing else', () => {
    const partition = parsePartition({ name: 'split', a: ['payment'], b: ['bank', 'checkout'] });
    expect(partition.mode).toBe('blackhole');
    expect(cutsProxy(partition, 'payment-bank')).toBe(true);
    expect(cutsProxy(partition, 'checkout-payment')).toBe(true);
    expect(cutsProxy(partition, 'checkout-payment.2')).toBe(true);
    expect(cutsProxy(partition, 'gateway-checkout')).toBe(false);
    expect(cutsProxy(partition, 'gateway-checkout.1')).toBe(false);
    expect(cutsProxy(partition, 'bank-checkout')).toBe(false);
    const refuse = parsePartition({ name: 'r', a: ['payment'], b: ['bank'], mode: 'refuse' });
    expect(effectiveCut([partition, refuse], 'payment-bank')).toBe('refuse');
    expect(effectiveCut([partition, refuse], 'checkout-payment')).toBe('blackhole');
    expect(effectiveCut([refuse], 'checkout-payment')).toBeUndefined();
  });

  it('names every bad field', () => {
    expect(() => parsePartition({ name: 'x', a: [], b: ['bank', 'Bank'], mode: 'drop' })).toThrow(
      'a: must name at least one service; b.1: must be a service name (lowercase letters, digits and dashes); mode: must be one of blackhole, refuse',
    );
    expect(() => parsePartition({ name: 'x', a: ['bank'], b: ['bank'] })).toThrow('b: bank cannot be on both sides');
    expect(() => parsePartition({ a: ['x'], b: ['y'], extra: 1 })).toThrow('name: required; extra: unknown field');
  });
});

describe('partitions through the admin API', () => {
  it('blackhole: HTTP requests hang until the caller gives up, bytes are held, and both flow again once healed', async () => {
    const bank = server.getProxy('payment-bank').port;
    const payment = server.getProxy('checkout-payment').port;
    const tcp = await openTcpClient(payment);

    const created = await client.addPartition({ name: 'bank-away', a: ['checkout', 'payment'], b: ['bank', 'bank'] });
    expect(created).toEqual({ name: 'bank-away', a: ['checkout', 'payment'], b: ['bank'], mode: 'blackhole', proxies: ['payment-bank'] });
    const split = await client.addPartition({ name: 'checkout-away', a: ['checkout'], b: ['payment'] });
    expect(split.proxies).toEqual(['checkout-payment']);

    const abandoned = await callWithTimeout(bank, 300);
    expect(abandoned.error).toBe('TimeoutError');
    expect(abandoned.elapsedMs).toBeGreaterThan(280);
    tcp.socket.write('held');
    const waiting = callWithTimeout(bank, 5_000);
    await wait(300);
    expect(tcp.received().length).toBe(0);
    expect(httpUpstream.seen).toHaveLength(0);
    // The edge that crosses no partition is untouched.
    expect((await send(server.getProxy('gateway-checkout').port)).status).toBe(200);

    await client.removePartition('bank-away');
    await client.removePartition('checkout-away');
    expect(await waiting).toMatchObject({ status: 200 });
    await tcp.receivedAtLeast(4);
    expect(tcp.received().toString()).toBe('held');
    tcp.socket.destroy();
    expect(await client.listPartitions()).toEqual([]);
  });

  it('refuse: connections are refused and open ones dropped, until healed', async () => {
    const payment = server.getProxy('checkout-payment');
    const tcp = await openTcpClient(payment.port);
    await client.addPartition({ name: 'down', a: ['payment'], b: ['checkout', 'bank'], mode: 'refuse' });
    expect(await within(tcp.closed, 2_000)).not.toBe('timeout');
    expect(await refused(payment.port)).toBe(true);
    expect(await refused(server.getProxy('payment-bank').port)).toBe(true);
    expect((await callWithTimeout(server.getProxy('payment-bank').port, 2_000)).error).toBe('ECONNREFUSED');
    // The proxy itself stays enabled: healing, not re-enabling, brings it back.
    expect((await client.getProxy('checkout-payment')).enabled).toBe(true);

    await client.removePartition('down');
    expect(await refused(payment.port)).toBe(false);
    expect((await callWithTimeout(server.getProxy('payment-bank').port, 2_000)).status).toBe(200);
  });

  it('shows chaos_fault_active per cut proxy, publishes one event per proxy, and heals on reset', async () => {
    const events: ChaosEvent[] = [];
    const unsubscribe = subscribeChaosEvents((event) => events.push(event));
    try {
      await client.addPartition({ name: 'p1', a: ['payment'], b: ['bank', 'checkout'] });
      let text = await metrics();
      expect(metricValue(text, 'chaos_fault_active{fault="p1",target="payment-bank"}')).toBe(1);
      expect(metricValue(text, 'chaos_fault_active{fault="p1",target="checkout-payment"}')).toBe(1);
      expect(metricValue(text, 'chaos_fault_active{fault="p1",target="gateway-checkout"}')).toBeUndefined();
      await client.reset();
      text = await metrics();
      expect(metricValue(text, 'chaos_fault_active{fault="p1",target="payment-bank"}')).toBe(0);
      expect(await client.listPartitions()).toEqual([]);
      expect((await callWithTimeout(server.getProxy('payment-bank').port, 2_000)).status).toBe(200);
      expect(events.filter((event) => event.kind.startsWith('partition_')).map((event) => [event.kind, event.proxy])).toEqual([
        ['partition_applied', 'checkout-payment'],
        ['partition_applied', 'payment-bank'],
        ['partition_removed', 'checkout-payment'],
        ['partition_removed', 'payment-bank'],
      ]);
    } finally {
      unsubscribe();
    }
  });

  it('also cuts proxies created while it is in force', async () => {
    await client.addPartition({ name: 'p', a: ['payment'], b: ['bank'], mode: 'refuse' });
    await server.deleteProxy('payment-bank');
    const recreated = await client.createProxy({ name: 'payment-bank', upstream: httpUpstream.url });
    expect(await refused(Number(recreated.listen.split(':')[1]))).toBe(true);
    expect((await client.listPartitions())[0]?.proxies).toEqual(['payment-bank']);
  });

  it('answers 400 naming the field, 404 and 409', async () => {
    const rejected = async (promise: Promise<unknown>): Promise<ChaosClientError> => {
      const error = await promise.then(
        () => undefined,
        (reason: unknown) => reason,
      );
      expect(error).toBeInstanceOf(ChaosClientError);
      return error as ChaosClientError;
    };
    expect(await rejected(client.addPartition({ name: 'x', a: ['gateway'], b: ['bank'] }))).toMatchObject({
      status: 400,
      serverMessage: expect.stringMatching(/^b: no proxy connects a service of a \(gateway\) with one of b \(bank\); proxies are named <caller>-<dependency> \(known: checkout-payment, gateway-checkout, payment-bank\)$/),
    });
    await client.addPartition({ name: 'x', a: ['payment'], b: ['bank'] });
    expect(await rejected(client.addPartition({ name: 'x', a: ['payment'], b: ['bank'] }))).toMatchObject({ status: 409, serverMessage: 'partition already exists: x' });
    expect(await rejected(client.removePartition('nope'))).toMatchObject({ status: 404, serverMessage: 'partition not found: nope' });
    const direct = await fetch(`${server.adminUrl}/partitions/x`);
    expect(await direct.json()).toEqual({ name: 'x', a: ['payment'], b: ['bank'], mode: 'blackhole', proxies: ['payment-bank'] });
  });
});
