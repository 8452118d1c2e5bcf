// A service's admin and fault endpoints (process faults, the bank's knobs, the
// inventory's books) on a listener of their own, never on the public port:
// the gateway's public port is the shop's front door, and anything mounted
// there is reachable by whoever can reach the shop. The listener binds
// 127.0.0.1 on a free port unless `policies.admin` says otherwise, and is
// announced to the supervisor as `admin`. Bound anywhere else it requires a
// bearer token. A state-changing request from a foreign Origin is refused,
// and so is a Host that is not loopback when no token guards it, so a web
// page the operator has open cannot drive it (CSRF, DNS rebinding).
//
// publicAdminGuard is the other half: the public app answers 404 for /admin
// in any spelling (percent-encoded, dot segments, doubled slashes, case,
// backslashes), whatever a client or proxy in front may normalise it to.

import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { posix } from 'node:path';
import type expressModule from 'express';
import type { Express, NextFunction, Request, Response } from 'express';
import { z } from 'zod';
import type { Logger } from './logger.ts';
import { ProblemError, problemType, sendProblem, useProblemHandlers } from './problem.ts';
import { isLoopbackAddress } from './process-faults.ts';

const require = createRequire(import.meta.url);
const express = require('express') as typeof expressModule;

/** `policies.admin`: where the admin listener binds, and the token it then wants. */
export const adminPolicySchema = z.strictObject({
  host: z.string().min(1).default('127.0.0.1'),
  port: z.int().min(0).max(65_535).default(0),
  /** Required on every request as `Authorization: Bearer <token>` when set; mandatory off loopback. */
  token: z.string().min(16, 'must be at least 16 characters').optional(),
});
export type AdminPolicy = z.output<typeof adminPolicySchema>;

/** True for a host name or address that only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || isLoopbackAddress(host);
}

/** Why a policy cannot be used, or undefined: a listener off loopback without a token would be open to the network. */
export function adminPolicyProblem(policy: AdminPolicy): string | undefined {
  if (!isLoopbackHost(policy.host) && policy.token === undefined) {
    return `policies.admin.token: required when the admin listener binds ${policy.host}, which is not a loopback address`;
  }
  return undefined;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const MAX_DECODE_ROUNDS = 4;

/** The host part of a Host header (`127.0.0.1:9000`, `[::1]:9000`, `localhost`). */
function hostName(header: string): string {
  if (header.startsWith('[')) return header.slice(1, header.indexOf(']'));
  const colon = header.lastIndexOf(':');
  return colon === -1 ? header : header.slice(0, colon);
}

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

/** The guard in front of every admin route: token, loopback, same origin. */
export function adminGuard(policy: AdminPolicy): (req: Request, res: Response, next: NextFunction) => void {
  const tokenDigest = policy.token === undefined ? undefined : digest(`Bearer ${policy.token}`);
  return (req, _res, next) => {
    const forbidden = (detail: string) => new ProblemError({ type: problemType('forbidden'), title: 'Forbidden', status: 403, detail });
    if (tokenDigest !== undefined) {
      // Hashing both sides makes the comparison constant-time whatever the lengths.
      if (!timingSafeEqual(digest(req.get('authorization') ?? ''), tokenDigest)) {
        throw new ProblemError(
          { type: problemType('unauthorized'), title: 'Unauthorized', status: 401, detail: 'header.authorization: a valid bearer token is required' },
          { 'www-authenticate': 'Bearer realm="faultline-admin"' },
        );
      }
    } else {
      if (!isLoopbackAddress(req.socket.remoteAddress)) throw forbidden('admin endpoints answer loopback callers only');
      // A page on another site that resolves its own name to 127.0.0.1 (DNS rebinding) sends its own Host.
      const host = req.get('host') ?? '';
      if (!isLoopbackHost(hostName(host))) throw forbidden(`header.host: ${host || '(none)'} is not a loopback name`);
    }
    if (!SAFE_METHODS.has(req.method)) {
      const origin = req.get('origin');
      if (origin !== undefined && origin !== `http://${req.get('host') ?? ''}`) {
        throw forbidden(`header.origin: cross-origin ${req.method} from ${origin} refused`);
      }
      const site = req.get('sec-fetch-site');
      if (site !== undefined && site !== 'same-origin' && site !== 'none') throw forbidden(`header.sec-fetch-site: ${site} ${req.method} refused`);
    }
    next();
  };
}

/**
 * The path a lenient server or proxy could take a request target to mean:
 * percent-decoded (repeatedly, for double encoding), backslashes as slashes,
 * doubled slashes merged, dot segments resolved, lower case.
 */
export function canonicalPath(target: string): string {
  let path = target.split(/[?#]/, 1)[0] ?? '';
  for (let round = 0; round < MAX_DECODE_ROUNDS && path.includes('%'); round++) {
    try {
      path = decodeURIComponent(path);
    } catch {
      // Malformed escapes: decode what can be decoded, keep the rest.
      path = path.replace(/%[0-9a-f]{2}/gi, (escape) => String.fromCharCode(Number.parseInt(escape.slice(1), 16)));
    }
  }
  path = path.replace(/\\/g, '/').replace(/;[^/]*/g, '');
  return posix.normalize(`/${path}`).replace(/\/+/g, '/').toLowerCase();
}

/** Whether a request target names the admin API in any spelling. */
export function isAdminPath(target: string): boolean {
  const path = canonicalPath(target);
  return path === '/admin' || path.startsWith('/admin/');
}

/** Public-app middleware: /admin in any spelling is not found here. */
export function publicAdminGuard(req: Request, res: Response, next: NextFunction): void {
  if (!isAdminPath(req.originalUrl)) {
    next();
    return;
  }
  sendProblem(res, { type: problemType('not-found'), title: 'Not found', status: 404, detail: 'no such route on this port' });
}

export interface AdminListener {
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

/**
 * The admin app: JSON bodies, the guard, then `mount` adds its routes
 * (process faults, the service's own). Unknown routes 404; errors are
 * problem+json, as on the public port.
 */
export function createAdminApp(policy: AdminPolicy, logger: Logger, mount: (app: Express) => void): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(adminGuard(policy));
  app.use(express.json({ limit: '64kb' }));
  mount(app);
  useProblemHandlers(app, logger, 'unhandled admin error');
  return app;
}

/** Serve the admin app on its own listener. */
export async function startAdminListener(policy: AdminPolicy, app: Express): Promise<AdminListener> {
  const server: Server = createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', () => resolve());
    server.once('error', reject);
    server.listen(policy.port, policy.host);
  });
  const port = (server.address() as AddressInfo).port;
  const host = policy.host.includes(':') ? `[${policy.host}]` : policy.host;
  let closing: Promise<void> | undefined;
  return {
    port,
    url: `http://${host}:${port}`,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
