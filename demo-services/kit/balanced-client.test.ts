import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBalancedClient } from './balanced-client.ts';
import { createLogger } from './logger.ts';
import { createServiceMetrics } from './metrics.ts';

const logger = createLogger('test', 'test', 'silent');

/** A real replica on loopback: `failEvery` 2 fails every other request with a 500, 0 never fails. */
async function replica(failEvery: number): Promise<{ server: Server; url: string; served: () => number }> {
  let served = 0;
  const server = createServer((_req, res) => {
    served += 1;
    const fail = failEvery > 0 && served % failEvery === 0;
    res.writeHead(fail ? 500 : 200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: !fail }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, served: () => served };
}

describe('balanced HTTP client (real replicas on loopback)', () => {
  const replicas: Array<Awaited<ReturnType<typeof replica>>> = [];
  beforeAll(async () => {
    replicas.push(await replica(0), await replica(2));
  });
  afterAll(async () => {
    for (const { server } of replicas) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('ejects the replica that fails every other request by its failure share, and shows it in a metric', async () => {
    const metrics = createServiceMetrics({ defaultMetrics: false });
    const client = createBalancedClient('catalog', replicas.map((r) => r.url), { metrics, logger }, {
      strategy: 'round-robin',
      consecutiveFailures: 5,
      ejectionMs: 60_000,
      failurePercentage: 40,
      requestVolume: 6,
    });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 30; i += 1) statuses.push((await client.request({ method: 'GET', path: '/' })).status);
      // Six requests to the bad replica (three failed) judge it; after that every request goes to the good one.
      expect(statuses.filter((status) => status === 500)).toHaveLength(3);
      expect(client.healthy()).toEqual(['catalog-1']);
      const text = await metrics.render(false);
      expect(text).toContain('balancer_instance_ejected{dependency="catalog",endpoint="catalog-2"} 1');
      expect(text).toContain('balancer_instance_events_total{dependency="catalog",endpoint="catalog-2",event="ejected"} 1');
    } finally {
      await client.close();
    }
  });

  it('sends nothing to a replica whose readiness probe fails, and takes it back when it passes', async () => {
    let ready = false;
    let served = 0;
    const unready = createServer((req, res) => {
      if (req.url === '/readyz') {
        res.writeHead(ready ? 200 : 503).end();
        return;
      }
      served += 1;
      res.writeHead(200).end('{}');
    });
    unready.listen(0, '127.0.0.1');
    await once(unready, 'listening');
    const metrics = createServiceMetrics({ defaultMetrics: false });
    const client = createBalancedClient(
      'catalog',
      [replicas[0]!.url, `http://127.0.0.1:${(unready.address() as AddressInfo).port}`],
      { metrics, logger },
      { strategy: 'round-robin', consecutiveFailures: 5, ejectionMs: 1_000 },
      { path: '/readyz', intervalMs: 30, timeoutMs: 500 },
    );
    try {
      await expect.poll(() => client.healthy(), { timeout: 2_000, interval: 10 }).toEqual(['catalog-1']);
      for (let i = 0; i < 10; i += 1) await client.request({ method: 'GET', path: '/' });
      expect(served).toBe(0);
      expect(await metrics.render(false)).toContain('balancer_instance_events_total{dependency="catalog",endpoint="catalog-2",event="unready"} 1');
      ready = true;
      await expect.poll(() => client.healthy(), { timeout: 2_000, interval: 10 }).toEqual(['catalog-1', 'catalog-2']);
      for (let i = 0; i < 10; i += 1) await client.request({ method: 'GET', path: '/' });
      expect(served).toBe(5);
    } finally {
      await client.close();
      unready.closeAllConnections();
      await new Promise((resolve) => unready.close(resolve));
    }
  });

  it('with ejection off, keeps sending the bad replica its share', async () => {
    const metrics = createServiceMetrics({ defaultMetrics: false });
    const client = createBalancedClient('catalog', replicas.map((r) => r.url), { metrics, logger }, {
      strategy: 'round-robin',
      consecutiveFailures: 1,
      ejectionMs: 60_000,
      failurePercentage: 10,
      requestVolume: 2,
      ejection: false,
    });
    try {
      const before = replicas[1]!.served();
      for (let i = 0; i < 20; i += 1) await client.request({ method: 'GET', path: '/' });
      expect(replicas[1]!.served() - before).toBe(10);
      expect(client.healthy()).toEqual(['catalog-1', 'catalog-2']);
    } finally {
      await client.close();
    }
  });

  // A dead replica behind a fault proxy: the connection is closed without an answer.
  it('sends a retry to a replica not yet tried, and counts a closed connection toward ejection', async () => {
    const dead = createServer((req) => req.socket.destroy());
    dead.listen(0, '127.0.0.1');
    await once(dead, 'listening');
    const metrics = createServiceMetrics({ defaultMetrics: false });
    const client = createBalancedClient('catalog', [`http://127.0.0.1:${(dead.address() as AddressInfo).port}`, replicas[0]!.url], { metrics, logger }, {
      strategy: 'round-robin',
      consecutiveFailures: 2,
      ejectionMs: 60_000,
    });
    try {
      const tried = new Set<string>();
      await expect(client.request({ method: 'GET', path: '/', triedInstances: tried })).rejects.toMatchObject({ code: 'FL_DEP_RESET' });
      expect([...tried]).toEqual(['catalog-1']);
      // Round robin would come back to catalog-1 on the third pick; a retry of the same call never does.
      await client.request({ method: 'GET', path: '/' });
      expect((await client.request({ method: 'GET', path: '/', triedInstances: tried })).status).toBe(200);
      expect([...tried]).toEqual(['catalog-1', 'catalog-2']);
      await client.request({ method: 'GET', path: '/' });
      await expect(client.request({ method: 'GET', path: '/' })).rejects.toMatchObject({ code: 'FL_DEP_RESET' });
      // Two closed connections in a row: out of rotation.
      expect(client.healthy()).toEqual(['catalog-2']);
    } finally {
      await client.close();
      dead.closeAllConnections();
      await new Promise((resolve) => dead.close(resolve));
    }
  });

  it('tells the caller the replica picked, and takes one marked down out until its probe passes again', async () => {
    const metrics = createServiceMetrics({ defaultMetrics: false });
    const client = createBalancedClient('catalog', [replicas[0]!.url, replicas[0]!.url], { metrics, logger }, { strategy: 'round-robin', consecutiveFailures: 5, ejectionMs: 1_000 }, { path: '/readyz', intervalMs: 60_000, timeoutMs: 500 });
    try {
      const picked: string[] = [];
      for (let i = 0; i < 2; i += 1) await client.request({ method: 'GET', path: '/', onInstance: (instance) => picked.push(instance) });
      expect(picked.sort()).toEqual(['catalog-1', 'catalog-2']);
      client.markDown('catalog-2');
      expect(client.healthy()).toEqual(['catalog-1']);
    } finally {
      await client.close();
    }
  });
});
