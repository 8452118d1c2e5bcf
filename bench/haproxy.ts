// HAProxy as the reference proxy in bench/proxy-overhead.ts. Issue 4 asks the
// fault proxy with no toxic for 0.8 of direct throughput; on a 2-core machine
// shared by client, proxy and upstream, a C proxy built for this job shows what
// any userspace proxy can reach there, so our ratio is judged against a
// measurement, not an argument.
//
// HAProxy (Debian's `haproxy`) runs as a child of the bench, in the foreground
// (`-db`), never as a system service, under `setpriv --pdeathsig TERM` (as
// runner/monitoring.ts starts Prometheus) so it dies with the bench even on
// SIGKILL. One instance has three frontends on 127.0.0.1: `mode tcp` with
// `option splice-auto` (kernel splicing is off by default in HAProxy; on means
// the bulk answers can move socket to socket without a copy to userspace),
// `mode http` with keep-alive to the upstream (`http-reuse always`), and a
// `monitor-uri` frontend that says when it is up.
//
// Ports: HAProxy cannot report a port it got by binding 0, so the bench
// reserves free ports by binding 0 itself, closes them and writes them into
// the configuration. Another process can take one in between; `noreuseport`
// makes HAProxy's bind fail then (instead of sharing the port), it exits at
// start, and the start is retried with fresh ports. HAProxy binds every
// listener before it serves any, so once the monitor frontend answers, all
// three ports are its own.

import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { findTool } from '../slo/tools.ts';
import { cpuMicrosOf } from './process-cpu.ts';

export const HAPROXY_INSTALL = 'apt-get install -y haproxy';

/** Debian installs haproxy in /usr/sbin, which is not on every user's PATH. */
const CANDIDATES = ['haproxy', '/usr/sbin/haproxy'];
const START_ATTEMPTS = 5;
const READY_TIMEOUT_MS = 5_000;
const STOP_GRACE_MS = 3_000;
const READY_URI = '/haproxy-ready';

export interface HaproxyBinary {
  binary: string;
  /** The first line of `haproxy -v`, e.g. "HAProxy version 2.6.12-1+deb12u4 2026/10/17 - https://haproxy.org/". */
  version: string;
}

/** The haproxy binary and its version, or undefined when it is not installed. */
export async function findHaproxy(): Promise<HaproxyBinary | undefined> {
  for (const binary of CANDIDATES) {
    const version = await new Promise<string | undefined>((resolve) => {
      execFile(binary, ['-v'], { timeout: 5_000 }, (error, stdout) => resolve(error === null ? (stdout.split('\n')[0] ?? '').trim() : undefined));
    });
    if (version !== undefined) return { binary, version };
  }
  return undefined;
}

export interface HaproxyPorts {
  ready: number;
  http: number;
  tcp: number;
}

/** The configuration of one instance: pure, so its shape can be tested without a binary. */
export function renderHaproxyConfig(options: { upstreamPort: number; threads: number; ports: HaproxyPorts }): string {
  const { upstreamPort, threads, ports } = options;
  return [
    'global',
    `  nbthread ${threads}`,
    '  maxconn 4096',
    '  noreuseport',
    '',
    'defaults',
    '  timeout connect 5s',
    '  timeout client 60s',
    '  timeout server 60s',
    '  timeout http-keep-alive 60s',
    '',
    'frontend ready',
    '  mode http',
    `  bind 127.0.0.1:${ports.ready}`,
    `  monitor-uri ${READY_URI}`,
    '',
    'frontend tcp_in',
    '  mode tcp',
    `  bind 127.0.0.1:${ports.tcp}`,
    '  option splice-auto',
    '  default_backend tcp_up',
    '',
    'backend tcp_up',
    '  mode tcp',
    `  server upstream 127.0.0.1:${upstreamPort}`,
    '',
    'frontend http_in',
    '  mode http',
    `  bind 127.0.0.1:${ports.http}`,
    '  option http-keep-alive',
    '  default_backend http_up',
    '',
    'backend http_up',
    '  mode http',
    '  http-reuse always',
    `  server upstream 127.0.0.1:${upstreamPort}`,
    '',
  ].join('\n');
}

/** Free ports on 127.0.0.1, held open together so they differ, then released. */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, async () => {
      const server = createServer();
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      return server;
    }),
  );
  const ports = servers.map((server) => (server.address() as AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

export interface HaproxyInstance {
  /** HAProxy's own pid (setpriv execs into it). */
  pid: number;
  threads: number;
  ports: HaproxyPorts;
  /** Its CPU time so far, µs. */
  cpuMicros(): Promise<number>;
  stop(): Promise<void>;
}

async function isReady(port: number): Promise<boolean> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}${READY_URI}`, { signal: AbortSignal.timeout(1_000) });
    // HAProxy's monitor page, not some other server that took the port.
    return response.ok && (await response.text()).includes('Service ready');
  } catch {
    return false;
  }
}

/** One start on the given configuration: the running instance, or why it did not come up (its exit and last log line). */
export async function tryStartHaproxy(binary: string, configFile: string, ports: HaproxyPorts, threads: number): Promise<HaproxyInstance | string> {
  const setpriv = await findTool('setpriv');
  const haproxyArgs = ['-f', configFile, '-db'];
  const [command, args] = setpriv ? [setpriv, ['--pdeathsig', 'TERM', '--', binary, ...haproxyArgs]] : [binary, haproxyArgs];
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-4_096);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = once(child, 'exit').then(() => undefined);
  let gone = false;
  void exited.then(() => (gone = true));
  const stop = async (): Promise<void> => {
    if (!gone) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(timer);
    }
  };
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!gone && Date.now() < deadline) {
    if (await isReady(ports.ready)) {
      if (gone) break;
      const pid = child.pid as number;
      return { pid, threads, ports, cpuMicros: () => cpuMicrosOf(pid), stop };
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await stop();
  const lastLine = output.trim().split('\n').at(-1) ?? '';
  return gone && child.exitCode !== null ? `exited with ${child.exitCode}: ${lastLine}` : `not ready within ${READY_TIMEOUT_MS} ms: ${lastLine}`;
}

/** Start one instance in front of the upstream; retried with fresh ports when a port was taken meanwhile. */
export async function startHaproxy(options: { binary: string; upstreamPort: number; threads: number; dir: string }): Promise<HaproxyInstance> {
  const failures: string[] = [];
  for (let attempt = 0; attempt < START_ATTEMPTS; attempt += 1) {
    const [ready, http, tcp] = (await freePorts(3)) as [number, number, number];
    const ports = { ready, http, tcp };
    const configFile = join(options.dir, `haproxy-${options.threads}t.cfg`);
    await writeFile(configFile, renderHaproxyConfig({ upstreamPort: options.upstreamPort, threads: options.threads, ports }));
    const started = await tryStartHaproxy(options.binary, configFile, ports, options.threads);
    if (typeof started !== 'string') return started;
    failures.push(started);
  }
  throw new Error(`haproxy (${options.threads} threads) did not start in ${START_ATTEMPTS} attempts: ${failures.join('; ')}`);
}
