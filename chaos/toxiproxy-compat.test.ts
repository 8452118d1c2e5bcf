// Toxiproxy compatibility, proven with the real Node client (toxiproxy-node-client)
// against our admin API: what an existing Toxiproxy user's code does must work.

import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type ICreateProxyBody, type Latency, Toxiproxy, ToxiproxyError } from 'toxiproxy-node-client';
import { createProxyServer, type ProxyServer } from './proxy-server.ts';
import { openTcpClient, refused, send, startEchoServer, startUpstream, type TestTcpServer, type TestUpstream, within } from './test-support.ts';

let echo: TestTcpServer;
let httpUpstream: TestUpstream;
let server: ProxyServer;
let toxiproxy: Toxiproxy;

const portOf = (listen: string): number => Number(listen.slice(listen.lastIndexOf(':') + 1));

async function roundTrip(port: number): Promise<number> {
  const client = await openTcpClient(port);
  const started = performance.now();
  client.socket.write('ping');
  await client.receivedAtLeast(4);
  client.socket.destroy();
  return performance.now() - started;
}

interface ToxicJsonView {
  name: string;
  type: string;
  stream: string;
  toxicity: number;
  attributes: Record<string, number>;
}

beforeAll(async () => {
  echo = await startEchoServer();
  httpUpstream = await startUpstream();
});
afterAll(async () => {
  await echo.close();
  await httpUpstream.close();
});
beforeEach(async () => {
  server = await createProxyServer({ adminPort: 0 });
  toxiproxy = new Toxiproxy(server.adminUrl);
});
afterEach(async () => {
  await server.close();
});

describe('toxiproxy-node-client against the admin API', () => {
  it('creates a tcp proxy, adds, reads, updates and removes toxics of every type, lists, disables and resets', async () => {
    expect(await toxiproxy.getVersion()).toContain('version');
    // Exactly what a stock client sends: no `mode`, so a byte-stream proxy, as Toxiproxy's are.
    const body: ICreateProxyBody = { name: 'payment', listen: '127.0.0.1:0', upstream: `127.0.0.1:${echo.port}` };
    const proxy = await toxiproxy.createProxy(body);
    expect(proxy).toMatchObject({ name: 'payment', upstream: `127.0.0.1:${echo.port}`, enabled: true });
    const port = portOf(proxy.listen);
    expect(port).toBeGreaterThan(0);
    expect(await roundTrip(port)).toBeLessThan(500);

    const lag = await proxy.addToxic<Latency>({ name: 'lag', type: 'latency', stream: 'downstream', toxicity: 1, attributes: { latency: 150, jitter: 0 } });
    expect(lag.toJson()).toEqual({ name: 'lag', type: 'latency', stream: 'downstream', toxicity: 1, attributes: { latency: 150, jitter: 0 } });
    expect(await roundTrip(port)).toBeGreaterThan(140);

    const updated = await lag.update({ ...lag.toJson(), toxicity: 1, attributes: { latency: 0, jitter: 0 } });
    expect(updated.attributes).toEqual({ latency: 0, jitter: 0 });
    expect((await proxy.getToxic<Latency>('lag')).attributes.latency).toBe(0);

    const others: Array<[string, Record<string, number>]> = [
      ['bandwidth', { rate: 1000 }],
      ['slow_close', { delay: 10 }],
      ['timeout', { timeout: 5000 }],
      ['reset_peer', { timeout: 5000 }],
      ['slicer', { average_size: 64, size_variation: 8, delay: 10 }],
      ['limit_data', { bytes: 100000 }],
    ];
    for (const [type, attributes] of others) {
      const toxic = await proxy.addToxic({ name: `t-${type}`, type: type as 'latency', stream: 'upstream', toxicity: 0, attributes });
      expect(toxic.toJson()).toEqual({ name: `t-${type}`, type, stream: 'upstream', toxicity: 0, attributes });
    }
    const listed = (await toxiproxy.getApi().get<ToxicJsonView[]>(`${proxy.getPath()}/toxics`)).data;
    // Toxiproxy lists the upstream chain first.
    expect(listed.map((toxic) => toxic.name)).toEqual([...others.map(([type]) => `t-${type}`), 'lag']);
    // Toxicity 0: present, drawn per connection, never selected.
    expect(await roundTrip(port)).toBeLessThan(500);

    await (await proxy.getToxic('t-timeout')).remove();
    await expect(proxy.getToxic('t-timeout')).rejects.toBeInstanceOf(ToxiproxyError);

    const all = await toxiproxy.getAll();
    expect(Object.keys(all)).toEqual(['payment']);
    const disabled = await proxy.update({ enabled: false, listen: proxy.listen, upstream: proxy.upstream });
    expect(disabled.enabled).toBe(false);
    expect(await refused(port)).toBe(true);

    await toxiproxy.reset();
    const reset = await toxiproxy.get('payment');
    expect(reset.enabled).toBe(true);
    expect((await toxiproxy.getApi().get<ToxicJsonView[]>(`${reset.getPath()}/toxics`)).data).toEqual([]);
    expect(await roundTrip(portOf(reset.listen))).toBeLessThan(500);

    await reset.remove();
    await expect(toxiproxy.get('payment')).rejects.toBeInstanceOf(ToxiproxyError);
  });

  it('drives an http-mode proxy (when asked for) and populates proxies', async () => {
    // `mode` is our extension; the client's types know Toxiproxy's fields only, so it travels as plain JSON.
    const populated = await toxiproxy.populate([
      { name: 'payment-bank', listen: '127.0.0.1:0', upstream: httpUpstream.url, mode: 'http' } as ICreateProxyBody,
      { name: 'checkout-payment', listen: '127.0.0.1:0', upstream: `127.0.0.1:${echo.port}` },
    ]);
    expect(Object.keys(populated).sort()).toEqual(['checkout-payment', 'payment-bank']);
    const bank = populated['payment-bank'];
    if (!bank) throw new Error('populate lost payment-bank');
    const toxic = await bank.addToxic<Latency>({ name: 'slow-bank', type: 'latency', stream: 'downstream', toxicity: 1, attributes: { latency: 120, jitter: 0 } });
    const answer = await send(portOf(bank.listen), { path: '/charge' });
    expect(answer.status).toBe(200);
    expect(answer.elapsedMs).toBeGreaterThan(110);
    const timeoutToxic = await bank.addToxic({ name: 'hole', type: 'timeout', stream: 'upstream', toxicity: 1, attributes: { timeout: 100 } });
    await expect(within(send(portOf(bank.listen), { path: '/charge' }), 3_000)).rejects.toThrow();
    await timeoutToxic.remove();
    await toxic.remove();
    expect((await send(portOf(bank.listen), { path: '/charge' })).elapsedMs).toBeLessThan(400);
    // An HTTP-mode proxy refuses what only a byte-stream proxy can do, and the client reports it.
    await expect(bank.addToxic({ name: 'sc', type: 'slow_close', stream: 'downstream', toxicity: 1, attributes: { delay: 1 } })).rejects.toBeInstanceOf(
      ToxiproxyError,
    );
    expect((await toxiproxy.get('checkout-payment')).toJson()).toMatchObject({ name: 'checkout-payment' });
    expect((await toxiproxy.getApi().get<{ mode: string }>(`${server.adminUrl}/proxies/checkout-payment`)).data.mode).toBe('tcp');
  });

  it("populating the same list twice leaves the proxies alone (a test suite's setup run again keeps its ports and toxics)", async () => {
    const config: ICreateProxyBody[] = [{ name: 'redis', listen: '127.0.0.1:0', upstream: `127.0.0.1:${echo.port}` }];
    const first = (await toxiproxy.populate(config)).redis;
    if (!first) throw new Error('populate lost redis');
    await first.addToxic({ name: 'lag', type: 'latency', stream: 'downstream', toxicity: 0, attributes: { latency: 100, jitter: 0 } });
    const again = (await toxiproxy.populate([{ ...config[0], listen: first.listen } as ICreateProxyBody])).redis;
    expect(again?.listen).toBe(first.listen);
    expect((await again?.getToxic('lag'))?.toJson()).toMatchObject({ name: 'lag', toxicity: 0 });
    expect(await roundTrip(portOf(first.listen))).toBeLessThan(500);
  });

  it("adds a toxic with no attributes (Toxiproxy's defaults) and reports a browser's refusal", async () => {
    const proxy = await toxiproxy.createProxy({ name: 'redis', listen: '127.0.0.1:0', upstream: `127.0.0.1:${echo.port}` });
    const toxic = await proxy.addToxic({ type: 'latency' } as unknown as Parameters<typeof proxy.addToxic>[0]);
    expect(toxic.toJson()).toEqual({ name: 'latency_downstream', type: 'latency', stream: 'downstream', toxicity: 1, attributes: { latency: 0, jitter: 0 } });
    expect(await roundTrip(portOf(proxy.listen))).toBeLessThan(500);
    // A too-long latency is refused, not turned into 1 ms.
    await expect(proxy.addToxic<Latency>({ name: 'forever', type: 'latency', stream: 'upstream', toxicity: 1, attributes: { latency: 3e9, jitter: 0 } })).rejects.toBeInstanceOf(
      ToxiproxyError,
    );
  });
});
