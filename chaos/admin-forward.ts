// A loopback forwarder that adds the bearer token, for stock Toxiproxy clients
// (toxiproxy-cli, the Go and Node clients) that cannot send one. In compose the
// fault proxy's admin API binds every interface of its container, so it
// requires FAULTLINE_CHAOS_TOKEN; this forwarder listens on the host's
// loopback only, where the lab's local admin API lives without a token too,
// and passes every request on with `Authorization: Bearer <token>`.
//
//   FAULTLINE_CHAOS_TOKEN=... node chaos/admin-forward.ts [--target http://127.0.0.1:8474] [--port 8475]
//   toxiproxy-cli -h 127.0.0.1:8475 list
//
// The token comes from the environment, never the command line (where `ps`
// shows it). The forwarder checks nothing the admin API checks itself: a
// browser's User-Agent and Origin are passed on and refused there; it only
// refuses a Host that is not a loopback name, as the tokenless admin API does.

import { createServer, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ChaosError } from './errors.ts';
import { isLoopback } from './proxy-server.ts';

export const CHAOS_TOKEN_ENV = 'FAULTLINE_CHAOS_TOKEN';
/** Where the compose file publishes the admin API on the host. */
export const DEFAULT_FORWARD_TARGET = 'http://127.0.0.1:8474';
export const DEFAULT_FORWARD_PORT = 8475;

export interface AdminForwardOptions {
  /** The admin API, `http://host:port`. */
  target: string;
  token: string;
  /** Loopback only; default 127.0.0.1. */
  host?: string;
  /** Default 8475; 0 picks a free port. */
  port?: number;
}

export interface AdminForward {
  /** `http://host:port` to give a stock client. */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

function hostName(header: string): string {
  if (header.startsWith('[')) return header.slice(1, header.indexOf(']'));
  const colon = header.lastIndexOf(':');
  return colon === -1 ? header : header.slice(0, colon);
}

function sendError(res: ServerResponse, status: number, error: string): void {
  const body = JSON.stringify({ error, status });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
}

export async function startAdminForward(options: AdminForwardOptions): Promise<AdminForward> {
  const host = options.host ?? '127.0.0.1';
  if (!isLoopback(host)) throw new ChaosError('CHAOS_CONFIG', `host: the forwarder adds the token for anyone who reaches it, so it listens on loopback only (got ${host})`);
  if (options.token === '') throw new ChaosError('CHAOS_CONFIG', `token: empty (set ${CHAOS_TOKEN_ENV})`);
  let target: URL;
  try {
    target = new URL(options.target);
  } catch {
    throw new ChaosError('CHAOS_CONFIG', `target: "${options.target}" is not a URL such as ${DEFAULT_FORWARD_TARGET}`);
  }
  if (target.protocol !== 'http:') throw new ChaosError('CHAOS_CONFIG', `target: must be http://host:port (got ${target.protocol})`);
  const authorization = `Bearer ${options.token}`;

  const server: Server = createServer((req, res) => {
    if (!isLoopback(hostName(req.headers.host ?? ''))) {
      sendError(res, 403, `header.host: ${req.headers.host ?? '(none)'} is not a loopback name`);
      return;
    }
    const headers = { ...req.headers, host: target.host, authorization };
    const upstream = request(
      { protocol: target.protocol, hostname: target.hostname, port: target.port, method: req.method, path: req.url, headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', (error: NodeJS.ErrnoException) => {
      if (res.headersSent) res.destroy();
      else sendError(res, 502, `the admin API at ${target.origin} is unreachable (${error.code ?? error.message})`);
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? DEFAULT_FORWARD_PORT, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function main(): Promise<void> {
  let values: { target?: string; port?: string };
  try {
    ({ values } = parseArgs({ options: { target: { type: 'string' }, port: { type: 'string' } }, strict: true }));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\nusage: ${CHAOS_TOKEN_ENV}=... node chaos/admin-forward.ts [--target ${DEFAULT_FORWARD_TARGET}] [--port ${DEFAULT_FORWARD_PORT}]\n`);
    process.exitCode = 2;
    return;
  }
  const token = process.env[CHAOS_TOKEN_ENV];
  const port = values.port === undefined ? DEFAULT_FORWARD_PORT : Number(values.port);
  if (!token) {
    process.stderr.write(`${CHAOS_TOKEN_ENV}: not set (the compose default is faultline-local-chaos-token)\n`);
    process.exitCode = 2;
    return;
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`--port: must be 0..65535 (got ${values.port})\n`);
    process.exitCode = 2;
    return;
  }
  try {
    const forward = await startAdminForward({ target: values.target ?? DEFAULT_FORWARD_TARGET, token, port });
    process.stdout.write(`forwarding ${forward.url} -> ${values.target ?? DEFAULT_FORWARD_TARGET} with the bearer token (Ctrl-C stops)\n`);
    const stop = (): void => void forward.close().then(() => process.exit(0));
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  } catch (error) {
    const code = (error as { code?: string }).code;
    process.stderr.write(code === 'EADDRINUSE' ? `--port: ${port} already in use\n` : `${(error as Error).message}\n`);
    process.exitCode = code === 'EADDRINUSE' || error instanceof ChaosError ? 2 : 1;
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
