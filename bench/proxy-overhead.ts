// What a fault proxy costs when it injects nothing, in both modes, against a
// direct connection measured in the same run (DESIGN goals: under 0.2 ms
// added at p50 per hop, at least 0.8 of direct throughput).
//
// Three processes, as in the lab: an upstream HTTP server, the chaos process
// (one http-mode and one tcp-mode proxy in front of that upstream, no
// faults), and this one as the client. Measured:
// - latency: sequential GETs on one keep-alive connection, the three paths
//   interleaved in rounds so drift hits all of them alike; p50 and p99 of
//   each, and what the proxy adds to the direct path's;
// - request throughput: autocannon, closed loop, N connections, small answers,
//   in interleaved rounds (the ratio to direct is taken round by round);
// - bulk throughput: MB/s of large answers streamed one after another;
// - CPU per request in the throughput runs, per process (client, upstream,
//   proxy), from each process's own process.cpuUsage(): on a machine with
//   few cores the proxy competes with the client and the upstream for CPU,
//   so its cost per request, not its own speed, sets the throughput ratio.
//
// - the same for HAProxy (bench/haproxy.ts), a C proxy and the industry
//   reference, in tcp mode (kernel splicing on) and http mode (keep-alive to
//   the upstream), with one thread like our proxy's one event loop and with
//   two: what any userspace proxy reaches on this machine, measured in the
//   same interleaved rounds. Its CPU comes from /proc/<pid>/stat. The rows
//   are added whenever the haproxy binary is found (--reference auto, the
//   default); --reference haproxy makes a missing binary an error, --reference
//   none leaves them out. When it is missing, one line says so and how to
//   install it, and the rest is measured as before.
//
//   node bench/proxy-overhead.ts [--rounds 10] [--per-round 2000] [--duration 5] [--connections 32] [--transfers 40] [--throughput-rounds 3] [--reference auto|haproxy|none]
//
// Prints a markdown table with the command line and the machine.

import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { Client } from 'undici';
import { createProxyServer } from '../chaos/proxy-server.ts';
import { findHaproxy, HAPROXY_INSTALL, startHaproxy, type HaproxyInstance } from './haproxy.ts';
import { median } from './stats.ts';

const SMALL_BODY = Buffer.from(JSON.stringify({ id: 'ch_0001', status: 'approved', amount: 4200, currency: 'EUR' }));
const BULK_BYTES = 8 * 1024 * 1024;

interface Ports {
  upstream?: number;
  http?: number;
  tcp?: number;
}

/** A child answers 'cpu' with its process.cpuUsage() (user + system, µs). */
interface CpuAnswer {
  cpu: number;
}

function answerCpuQueries(): void {
  process.on('message', (message) => {
    if (message === 'cpu') {
      const { user, system } = process.cpuUsage();
      process.send?.({ cpu: user + system } satisfies CpuAnswer);
    }
  });
}

function cpuOf(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    const onMessage = (message: unknown): void => {
      if (typeof message === 'object' && message !== null && 'cpu' in message) {
        child.off('message', onMessage);
        resolve((message as CpuAnswer).cpu);
      }
    };
    child.on('message', onMessage);
    child.send('cpu');
  });
}

function ownCpu(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

async function runUpstream(): Promise<void> {
  const bulk = Buffer.alloc(BULK_BYTES, 7);
  const server = createServer((req, res) => {
    if (req.url === '/bulk') {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bulk.length });
      res.end(bulk);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': SMALL_BODY.length });
    res.end(SMALL_BODY);
  });
  server.keepAliveTimeout = 60_000;
  answerCpuQueries();
  server.listen(0, '127.0.0.1', () => process.send?.({ upstream: (server.address() as AddressInfo).port } satisfies Ports));
  process.on('disconnect', () => process.exit(0));
}

async function runProxies(upstreamPort: number): Promise<void> {
  const upstream = `http://127.0.0.1:${upstreamPort}`;
  const server = await createProxyServer({
    adminPort: 0,
    proxies: [
      { name: 'bench-http', upstream, mode: 'http' },
      { name: 'bench-tcp', upstream, mode: 'tcp' },
    ],
  });
  answerCpuQueries();
  process.send?.({ http: server.getProxy('bench-http').port, tcp: server.getProxy('bench-tcp').port } satisfies Ports);
  process.on('disconnect', () => {
    void server.close().finally(() => process.exit(0));
  });
}

function start(role: string, ...args: string[]): { child: ChildProcess; ports: Promise<Ports> } {
  const child = fork(new URL(import.meta.url).pathname, ['--role', role, ...args], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ports = new Promise<Ports>((resolve, reject) => {
    child.once('message', (message) => resolve(message as Ports));
    child.once('exit', (code) => reject(new Error(`${role} exited with ${code} before it was ready`)));
  });
  return { child, ports };
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

async function oneRequest(client: Client, path: string): Promise<number> {
  const started = performance.now();
  const { statusCode, body } = await client.request({ method: 'GET', path });
  await body.dump();
  if (statusCode !== 200) throw new Error(`GET ${path}: ${statusCode}`);
  return performance.now() - started;
}

interface PathResult {
  name: string;
  port: number;
  latencies: number[];
  /** CPU µs used so far by the proxy process on this path (absent for direct). */
  proxyCpu?: () => Promise<number>;
  /** Median req/s over the throughput rounds, and the median of its per-round ratios to direct. */
  rps?: number;
  rpsRatio?: number;
  mbps?: number;
  /** CPU µs per request in the throughput run: client, upstream, proxy process. */
  cpuPerRequest?: [number, number, number];
}

async function measureLatency(paths: PathResult[], rounds: number, perRound: number): Promise<void> {
  const clients = new Map(paths.map((path) => [path.name, new Client(`http://127.0.0.1:${path.port}`, { pipelining: 1 })]));
  try {
    for (const path of paths) for (let i = 0; i < 500; i += 1) await oneRequest(clients.get(path.name) as Client, '/small');
    for (let round = 0; round < rounds; round += 1) {
      // Rotate the order each round so no path is always measured first.
      const order = paths.map((_, i) => paths[(i + round) % paths.length] as PathResult);
      for (const path of order) {
        const client = clients.get(path.name) as Client;
        for (let i = 0; i < perRound; i += 1) path.latencies.push(await oneRequest(client, '/small'));
      }
    }
  } finally {
    await Promise.all([...clients.values()].map((client) => client.close()));
  }
}

async function measureBulk(path: PathResult, transfers: number): Promise<void> {
  const client = new Client(`http://127.0.0.1:${path.port}`);
  try {
    await oneRequest(client, '/bulk');
    const started = performance.now();
    for (let i = 0; i < transfers; i += 1) await oneRequest(client, '/bulk');
    path.mbps = (transfers * BULK_BYTES) / 1e6 / ((performance.now() - started) / 1000);
  } finally {
    await client.close();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      role: { type: 'string' },
      upstream: { type: 'string' },
      rounds: { type: 'string', default: '10' },
      'per-round': { type: 'string', default: '2000' },
      duration: { type: 'string', default: '5' },
      connections: { type: 'string', default: '32' },
      transfers: { type: 'string', default: '40' },
      'throughput-rounds': { type: 'string', default: '3' },
      reference: { type: 'string', default: 'auto' },
    },
  });
  if (!['auto', 'haproxy', 'none'].includes(values.reference)) throw new Error(`--reference must be auto, haproxy or none, not ${values.reference}`);
  if (values.role === 'upstream') return runUpstream();
  if (values.role === 'proxies') return runProxies(Number(values.upstream));

  const rounds = Number(values.rounds);
  const perRound = Number(values['per-round']);
  const duration = Number(values.duration);
  const connections = Number(values.connections);
  const transfers = Number(values.transfers);
  const throughputRounds = Number(values['throughput-rounds']);
  const loadBefore = loadavg()[0] as number;
  const upstream = start('upstream');
  const upstreamPort = (await upstream.ports).upstream as number;
  const proxies = start('proxies', '--upstream', String(upstreamPort));
  const proxyPorts = await proxies.ports;
  const haproxyDir = await mkdtemp(join(tmpdir(), 'faultline-proxy-overhead-'));
  const haproxies: HaproxyInstance[] = [];
  try {
    const ourProxyCpu = (): Promise<number> => cpuOf(proxies.child);
    const paths: PathResult[] = [
      { name: 'direct', port: upstreamPort, latencies: [] },
      { name: 'http-mode proxy', port: proxyPorts.http as number, latencies: [], proxyCpu: ourProxyCpu },
      { name: 'tcp-mode proxy', port: proxyPorts.tcp as number, latencies: [], proxyCpu: ourProxyCpu },
    ];
    const haproxy = values.reference === 'none' ? undefined : await findHaproxy();
    if (values.reference !== 'none' && !haproxy) {
      if (values.reference === 'haproxy') throw new Error(`haproxy not found; install it with: ${HAPROXY_INSTALL}`);
      process.stdout.write(`haproxy not installed: no reference rows (install it with: ${HAPROXY_INSTALL})\n`);
    }
    if (haproxy) {
      for (const threads of [1, 2]) {
        const instance = await startHaproxy({ binary: haproxy.binary, upstreamPort, threads, dir: haproxyDir });
        haproxies.push(instance);
        const label = `${threads} thread${threads === 1 ? '' : 's'}`;
        paths.push({ name: `haproxy http mode, ${label}`, port: instance.ports.http, latencies: [], proxyCpu: () => instance.cpuMicros() });
        paths.push({ name: `haproxy tcp mode, ${label}`, port: instance.ports.tcp, latencies: [], proxyCpu: () => instance.cpuMicros() });
      }
    }
    await measureLatency(paths, rounds, perRound);
    for (const path of paths) await autocannon({ url: `http://127.0.0.1:${path.port}/small`, connections, duration: 1 });
    const cpu = new Map(paths.map((path) => [path.name, { used: [0, 0, 0], requests: 0, rps: [] as number[] }]));
    for (let round = 0; round < throughputRounds; round += 1) {
      // Same rotation as the latency rounds: load that comes and goes on the machine hits every path alike.
      for (let i = 0; i < paths.length; i += 1) {
        const path = paths[(i + round) % paths.length] as PathResult;
        const tally = cpu.get(path.name) as { used: number[]; requests: number; rps: number[] };
        const proxyCpu = path.proxyCpu ?? (() => Promise.resolve(0));
        const before = [ownCpu(), await cpuOf(upstream.child), await proxyCpu()];
        const result = await autocannon({ url: `http://127.0.0.1:${path.port}/small`, connections, duration });
        const after = [ownCpu(), await cpuOf(upstream.child), await proxyCpu()];
        if (result.errors > 0 || result.non2xx > 0) throw new Error(`${path.name}: ${result.errors} errors, ${result.non2xx} non-2xx answers`);
        tally.rps[round] = result.requests.average;
        tally.requests += result.requests.total;
        for (let j = 0; j < 3; j += 1) (tally.used[j] as number) += (after[j] as number) - (before[j] as number);
      }
    }
    const directRps = (cpu.get(paths[0]?.name as string) as { rps: number[] }).rps;
    for (const path of paths) {
      const tally = cpu.get(path.name) as { used: number[]; requests: number; rps: number[] };
      path.rps = median(tally.rps);
      path.rpsRatio = median(tally.rps.map((rps, round) => rps / (directRps[round] as number)));
      path.cpuPerRequest = [0, 1, 2].map((j) => (tally.used[j] as number) / tally.requests) as [number, number, number];
    }
    for (const path of paths) await measureBulk(path, transfers);
    const reference = haproxy ? `${haproxy.version.replace(/ - https?:\S+$/, '')} (${haproxy.binary})` : undefined;
    process.stdout.write(
      render(paths, { rounds, perRound, duration, connections, transfers, throughputRounds, reference: values.reference, haproxy: reference, loadBefore, loadAfter: loadavg()[0] as number }),
    );
  } finally {
    await Promise.all(haproxies.map((instance) => instance.stop()));
    await rm(haproxyDir, { recursive: true, force: true });
    proxies.child.disconnect();
    upstream.child.disconnect();
    await Promise.all([once(proxies.child, 'exit'), once(upstream.child, 'exit')]);
  }
}

function render(
  paths: PathResult[],
  settings: {
    rounds: number;
    perRound: number;
    duration: number;
    connections: number;
    transfers: number;
    throughputRounds: number;
    reference: string;
    /** The HAProxy version measured, when its rows are in the table. */
    haproxy: string | undefined;
    loadBefore: number;
    loadAfter: number;
  },
): string {
  const direct = paths[0] as PathResult;
  const sortedDirect = [...direct.latencies].sort((a, b) => a - b);
  const ms = (value: number): string => value.toFixed(3);
  const ratio = (value: number | undefined, base: number | undefined): string => (value === undefined || !base ? '-' : (value / base).toFixed(2));
  const cpu = (path: PathResult): string => {
    if (!path.cpuPerRequest) return '-';
    const [client, upstream, proxy] = path.cpuPerRequest;
    return `${client.toFixed(1)} / ${upstream.toFixed(1)} / ${path === direct ? '-' : proxy.toFixed(1)}`;
  };
  const rows = paths.map((path) => {
    const sorted = [...path.latencies].sort((a, b) => a - b);
    const p50 = percentile(sorted, 50);
    const p99 = percentile(sorted, 99);
    const added = path === direct ? ['-', '-'] : [ms(p50 - percentile(sortedDirect, 50)), ms(p99 - percentile(sortedDirect, 99))];
    return `| ${path.name} | ${ms(p50)} | ${ms(p99)} | ${added[0]} | ${added[1]} | ${Math.round(path.rps ?? 0)} | ${path === direct ? '1.00' : (path.rpsRatio ?? 0).toFixed(2)} | ${(path.mbps ?? 0).toFixed(0)} | ${ratio(path.mbps, direct.mbps)} | ${cpu(path)} |`;
  });
  const command = `node bench/proxy-overhead.ts --rounds ${settings.rounds} --per-round ${settings.perRound} --duration ${settings.duration} --connections ${settings.connections} --transfers ${settings.transfers} --throughput-rounds ${settings.throughputRounds} --reference ${settings.reference}`;
  return [
    `Command: \`${command}\``,
    `Machine: ${availableParallelism()} CPUs (${cpus()[0]?.model.trim() ?? 'unknown'}), Node ${process.version}; upstream, proxies and client in three processes${settings.haproxy ? `; reference: ${settings.haproxy}, its own process per thread count (tcp mode with option splice-auto, http mode with http-reuse always)` : ''}.`,
    '',
    `| path | p50 ms | p99 ms | added p50 ms | added p99 ms | req/s (${settings.connections} conns, median of ${settings.throughputRounds} x ${settings.duration}s) | vs direct | MB/s (8 MiB answers) | vs direct | CPU µs/req client / upstream / proxy |`,
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows,
    '',
    `Load average (1 min) ${settings.loadBefore.toFixed(2)} before, ${settings.loadAfter.toFixed(2)} after (this bench alone adds about 2).`,
    `Throughput: ${settings.throughputRounds} interleaved rounds of ${settings.duration} s per path; vs direct is the median of the per-round ratios; CPU per request is each process's own CPU time over all rounds divided by the requests answered.`,
    `Latency: ${settings.rounds} rounds x ${settings.perRound} sequential GETs per path on one keep-alive connection, paths interleaved; 64-byte JSON answers.`,
    '',
  ].join('\n');
}

await main();
