// One process's set of named fault proxies and the admin listener in front of
// them. It owns what spans proxies: the name table, each proxy's random seed
// (derived from the run seed and the proxy name, so every proxy has its own
// replayable stream), the Prometheus metrics, reset, and the admin API's
// binding rules (loopback by default; a bearer token required anywhere else).

import { createServer, type Server } from 'node:http';
import { isIP, type AddressInfo } from 'node:net';
import client from 'prom-client';
import { z } from 'zod';
import { LAB_METRIC, LABEL } from '../demo-services/kit/conventions.ts';
import { createAdminHandler } from './admin-api.ts';
import { ChaosError, ConflictError, InvalidSpecError, NotFoundError } from './errors.ts';
import type { ChaosEvent } from './events.ts';
import { expected, nameSchema, parseWith } from './fault-spec.ts';
import { createHttpProxy, formatListen, type HttpProxy, type ProxyOutcome, upstreamOrigin } from './http-proxy.ts';
import { deriveSeed } from '../demo-services/kit/random.ts';

/** Toxiproxy's admin port, so its clients find us where they expect. */
export const DEFAULT_ADMIN_PORT = 8474;

const OUTCOMES: readonly ProxyOutcome[] = ['forwarded', 'injected_error', 'upstream_error'];

export interface ProxySpec {
  name: string;
  /** `http://host:port` or Toxiproxy's `host:port`. */
  upstream: string;
  /** Default: the server's host. */
  listenHost?: string;
  /** Default 0 (a free port). */
  listenPort?: number;
  /** Default true. */
  enabled?: boolean;
}

export interface ProxyPatch {
  upstream?: string;
  listenHost?: string;
  listenPort?: number;
  enabled?: boolean;
}

export interface ProxyServerOptions {
  /** Host of the admin API and default host of the proxies; default 127.0.0.1. */
  host?: string;
  /** Default 8474; 0 picks a free port. */
  adminPort?: number;
  /** Run seed; each proxy's stream is seeded from it and the proxy's name. Default 0. */
  seed?: number;
  /** Bearer token required on every admin request; mandatory when `host` is not a loopback address. */
  token?: string;
  /** Proxies to create before the admin API opens. */
  proxies?: ProxySpec[];
  /** Every chaos event of this server's proxies (they also go to the diagnostics channel). */
  onEvent?: (event: ChaosEvent) => void;
  /** Unexpected errors inside the admin API (answered 500 without details). */
  onError?: (error: unknown) => void;
}

/** What the admin API drives. */
export interface ProxyManager {
  /** The host new proxies listen on when their spec names none. */
  readonly host: string;
  listProxies(): HttpProxy[];
  /** The named proxy, or a NotFoundError. */
  getProxy(name: string): HttpProxy;
  createProxy(spec: ProxySpec): Promise<HttpProxy>;
  updateProxy(name: string, patch: ProxyPatch): Promise<HttpProxy>;
  deleteProxy(name: string): Promise<void>;
  /** Remove every fault and re-enable every proxy (Toxiproxy's POST /reset). */
  reset(): Promise<void>;
  /** Prometheus text exposition. */
  metrics(): Promise<{ contentType: string; body: string }>;
}

export interface ProxyServer extends ProxyManager {
  readonly adminPort: number;
  /** `http://host:port` of the admin API. */
  readonly adminUrl: string;
  /** Close the admin API and every proxy; all faults end with it. */
  close(): Promise<void>;
}

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1' || host === '0:0:0:0:0:0:0:1';
}

const proxySpecSchema = z.strictObject({
  name: nameSchema,
  upstream: z.string(expected('a string')),
  listenHost: z.string(expected('a string')).optional(),
  listenPort: z.int(expected('an integer port')).min(0, { error: 'must be 0..65535' }).max(65535, { error: 'must be 0..65535' }).optional(),
  enabled: z.boolean(expected('a boolean')).optional(),
});

function bindError(error: unknown, host: string, port: number): Error {
  const code = (error as { code?: string }).code;
  if (code === 'EADDRINUSE') return new ConflictError(`listen: address ${formatListen(host, port)} already in use`);
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EACCES') {
    return new InvalidSpecError([{ field: 'listen', message: `cannot bind ${formatListen(host, port)} (${code})` }]);
  }
  return error as Error;
}

export async function createProxyServer(options: ProxyServerOptions = {}): Promise<ProxyServer> {
  const host = options.host ?? '127.0.0.1';
  const seed = options.seed ?? 0;
  if (!isLoopback(host) && !options.token) {
    throw new ChaosError('CHAOS_CONFIG', `token: required when the admin API binds ${host}, which is not a loopback address`);
  }

  const registry = new client.Registry();
  const faultActive = new client.Gauge({
    name: LAB_METRIC.chaosFaultActive,
    help: 'Fault injection state: 1 while the fault is active on the target, 0 after removal.',
    labelNames: [LABEL.fault, LABEL.target],
    registers: [registry],
  });
  const proxyRequests = new client.Counter({
    name: LAB_METRIC.proxyRequests,
    help: 'Requests through the fault proxies, by proxy and outcome.',
    labelNames: [LABEL.proxy, LABEL.outcome],
    registers: [registry],
  });

  const proxies = new Map<string, HttpProxy>();
  const onEvent = (event: ChaosEvent): void => {
    if (event.kind === 'fault_applied' || event.kind === 'fault_updated') {
      faultActive.set({ [LABEL.fault]: event.fault.name, [LABEL.target]: event.proxy }, 1);
    } else if (event.kind === 'fault_removed') {
      faultActive.set({ [LABEL.fault]: event.fault.name, [LABEL.target]: event.proxy }, 0);
    }
    options.onEvent?.(event);
  };

  const getProxy = (name: string): HttpProxy => {
    const proxy = proxies.get(name);
    if (!proxy) throw new NotFoundError(`proxy not found: ${name}`);
    return proxy;
  };

  const createProxy = async (input: ProxySpec): Promise<HttpProxy> => {
    const spec = parseWith(proxySpecSchema, input);
    upstreamOrigin(spec.upstream);
    if (proxies.has(spec.name)) throw new ConflictError(`proxy already exists: ${spec.name}`);
    const listenHost = spec.listenHost ?? host;
    const listenPort = spec.listenPort ?? 0;
    for (const outcome of OUTCOMES) proxyRequests.inc({ [LABEL.proxy]: spec.name, [LABEL.outcome]: outcome }, 0);
    const proxy = await createHttpProxy({
      name: spec.name,
      listenHost,
      listenPort,
      upstream: spec.upstream,
      seed: deriveSeed(seed, spec.name),
      ...(spec.enabled === undefined ? {} : { enabled: spec.enabled }),
      onEvent,
      onOutcome: (outcome) => proxyRequests.inc({ [LABEL.proxy]: spec.name, [LABEL.outcome]: outcome }),
    }).catch((error: unknown) => {
      throw bindError(error, listenHost, listenPort);
    });
    // Two creations of one name can race across the await; the first one wins.
    if (proxies.has(spec.name)) {
      await proxy.close();
      throw new ConflictError(`proxy already exists: ${spec.name}`);
    }
    proxies.set(spec.name, proxy);
    return proxy;
  };

  /** Re-opening a listener can find its port taken meanwhile; that is a conflict, not a crash. */
  const enable = (proxy: HttpProxy, enabled: boolean): Promise<void> =>
    proxy.setEnabled(enabled).catch((error: unknown) => {
      throw bindError(error, proxy.host, proxy.port);
    });

  const manager: ProxyManager = {
    host,
    listProxies: () => [...proxies.values()],
    getProxy,
    createProxy,
    async updateProxy(name, patch) {
      const proxy = getProxy(name);
      const fields = parseWith(proxySpecSchema.omit({ name: true }).partial(), patch);
      if (fields.upstream !== undefined && fields.upstream !== proxy.upstream) await proxy.setUpstream(fields.upstream);
      const nextHost = fields.listenHost ?? proxy.host;
      const nextPort = fields.listenPort ?? proxy.port;
      if (nextHost !== proxy.host || nextPort !== proxy.port) {
        await proxy.setListen(nextHost, nextPort).catch((error: unknown) => {
          throw bindError(error, nextHost, nextPort);
        });
      }
      if (fields.enabled !== undefined) await enable(proxy, fields.enabled);
      return proxy;
    },
    async deleteProxy(name) {
      const proxy = getProxy(name);
      proxies.delete(name);
      await proxy.close();
    },
    async reset() {
      for (const proxy of proxies.values()) {
        proxy.clearFaults();
        await enable(proxy, true);
      }
    },
    async metrics() {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };

  for (const spec of options.proxies ?? []) {
    try {
      await createProxy(spec);
    } catch (error) {
      await Promise.all([...proxies.values()].map((proxy) => proxy.close()));
      throw error;
    }
  }

  const handler = createAdminHandler(manager, {
    ...(options.token ? { token: options.token } : {}),
    ...(options.onError ? { onError: options.onError } : {}),
  });
  const admin: Server = createServer((req, res) => handler(req, res));
  try {
    await new Promise<void>((resolve, reject) => {
      admin.once('error', reject);
      admin.listen(options.adminPort ?? DEFAULT_ADMIN_PORT, host, () => {
        admin.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    await Promise.all([...proxies.values()].map((proxy) => proxy.close()));
    throw error;
  }
  const adminPort = (admin.address() as AddressInfo).port;

  return {
    ...manager,
    adminPort,
    adminUrl: `http://${formatListen(host, adminPort)}`,
    async close() {
      await new Promise<void>((resolve) => {
        admin.close(() => resolve());
        admin.closeAllConnections();
      });
      const all = [...proxies.values()];
      proxies.clear();
      await Promise.all(all.map((proxy) => proxy.close()));
    },
  };
}
