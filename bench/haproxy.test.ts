import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer } from 'node:net';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findHaproxy, HAPROXY_INSTALL, renderHaproxyConfig, startHaproxy, tryStartHaproxy } from './haproxy.ts';
import { cpuMicrosFromStat } from './process-cpu.ts';

const haproxy = await findHaproxy();
const skipNote = haproxy ? '' : ` (skipped: haproxy not installed; ${HAPROXY_INSTALL})`;

describe('renderHaproxyConfig', () => {
  const config = renderHaproxyConfig({ upstreamPort: 4000, threads: 2, ports: { ready: 4001, http: 4002, tcp: 4003 } });
  const section = (name: string): string => config.split('\n\n').find((block) => block.startsWith(name)) ?? '';

  it('runs the asked threads and never shares a port (a taken port must fail the start)', () => {
    expect(section('global')).toContain('nbthread 2');
    expect(section('global')).toContain('noreuseport');
  });

  it('splices in tcp mode and reuses upstream connections in http mode, both to the upstream', () => {
    expect(section('frontend tcp_in')).toMatch(/mode tcp[\s\S]*bind 127\.0\.0\.1:4003[\s\S]*option splice-auto/);
    expect(section('frontend http_in')).toMatch(/mode http[\s\S]*bind 127\.0\.0\.1:4002/);
    expect(section('backend http_up')).toMatch(/http-reuse always[\s\S]*server upstream 127\.0\.0\.1:4000/);
    expect(section('backend tcp_up')).toContain('server upstream 127.0.0.1:4000');
    expect(section('frontend ready')).toMatch(/bind 127\.0\.0\.1:4001[\s\S]*monitor-uri/);
  });
});

describe('cpuMicrosFromStat', () => {
  it('reads utime + stime after the command name, even one with spaces and parentheses', () => {
    const stat = '4242 (we (ird) name) S 1 4242 4242 0 -1 4194560 500 0 0 0 123 45 0 0 20 0 2 0 1000 0 0';
    expect(cpuMicrosFromStat(stat)).toBe((123 + 45) * 10_000);
  });

  it('rejects a line that is not a stat line', () => {
    expect(() => cpuMicrosFromStat('nonsense')).toThrow(/not a \/proc/);
  });
});

describe(`haproxy in front of a real upstream${skipNote}`, () => {
  let upstream: Server;
  let upstreamPort = 0;
  let dir = '';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'faultline-haproxy-test-'));
    upstream = createHttpServer((_req, res) => res.end('from upstream'));
    upstream.listen(0, '127.0.0.1');
    await once(upstream, 'listening');
    upstreamPort = (upstream.address() as AddressInfo).port;
  });

  afterAll(async () => {
    await new Promise((resolve) => upstream.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  it.skipIf(!haproxy)('forwards through both frontends, counts its CPU, and is gone after stop', async () => {
    const instance = await startHaproxy({ binary: haproxy?.binary as string, upstreamPort, threads: 1, dir });
    try {
      for (const port of [instance.ports.http, instance.ports.tcp]) {
        const response = await fetch(`http://127.0.0.1:${port}/`);
        expect(await response.text()).toBe('from upstream');
      }
      expect(await instance.cpuMicros()).toBeGreaterThanOrEqual(0);
    } finally {
      await instance.stop();
    }
    await expect(instance.cpuMicros()).rejects.toThrow(/ENOENT|ESRCH/);
  });

  it.skipIf(!haproxy)('fails to start, saying why, when one of its ports is taken', async () => {
    const listening = async (): Promise<TcpServer> => {
      const server = createTcpServer();
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      return server;
    };
    const [squatter, spare1, spare2] = [await listening(), await listening(), await listening()];
    const portOf = (server: TcpServer): number => (server.address() as AddressInfo).port;
    // The squatter keeps the tcp port; the other two are released for HAProxy to bind.
    const ports = { ready: portOf(spare1), http: portOf(spare2), tcp: portOf(squatter) };
    await Promise.all([spare1, spare2].map((server) => new Promise((resolve) => server.close(resolve))));
    try {
      const configFile = join(dir, 'taken.cfg');
      await writeFile(configFile, renderHaproxyConfig({ upstreamPort, threads: 1, ports }));
      const result = await tryStartHaproxy(haproxy?.binary as string, configFile, ports, 1);
      expect(result).toMatch(/^exited with [1-9]\d*: .*listeners/);
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
  });
});
