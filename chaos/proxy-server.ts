// One process's set of named fault proxies and the admin listener in front of
// them. It owns what spans proxies: the name table, each proxy's mode (http or
// tcp) and random seed (derived from the run seed and the proxy name, so every
// proxy has its own replayable stream), partitions (which cut several proxies
// at once), the Prometheus metrics, reset, and the admin API's binding rules
// (loopback by default; a bearer token required anywhere else).

import { createServer, type Server } from 'node:http';
import { isIP, type AddressInfo } from 'node:net';
import client from 'prom-client';
import { z } from 'zod';
import { LAB_METRIC, LABEL } from '../demo-services/kit/conventions.ts';
import { createAdminHandler } from './admin-api.ts';
import { ChaosError, ConflictError, InvalidSpecError, NotFoundError } from './errors.ts';
import { type ChaosEvent, type PartitionEvent, publishChaosEvent } from './events.ts';
import { PROXY_MODES, type ProxyMode } from './fault.ts';
import { type FaultProxy, ListenError } from './fault-proxy.ts';
import { expected, nameSchema, parseWith } from './fault-spec.ts';
import { createHttpProxy, formatListen, type ProxyOutcome, upstreamOrigin } from './http-proxy.ts';
import { effectiveCut, parsePartition, type PartitionSpec, proxiesCut } from './partitions.ts';
import { createTcpProxy, upstreamAddress } from './tcp-proxy.ts';
import { deriveSeed } from '../demo-services/kit/random.ts';

/** Toxiproxy's admin port, so its clients find us where they expect. */
export const DEFAULT_ADMIN_PORT = 8474;

const OUTCOMES: readonly ProxyOutcome[] = ['forwarded', 'injected_error', 'upstream_error'];

export interface ProxySpec {
  name: string;
  /** `http://host:port` or Toxiproxy's `host:port` (tcp mode also takes `tcp://host:port`). */
  upstream: string;
  /** http (default here and in the lab config; the admin API defaults to tcp, as Toxiproxy): HTTP/1.1 reverse proxy with per-request faults; tcp: byte-stream proxy (gRPC, anything over TCP). */
  mode?: ProxyMode;
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

/** A partition as the admin API shows it: its spec and the proxies it cuts now. */
export interface PartitionView extends PartitionSpec {
  proxies: string[];
}

/** What the admin API drives. */
export interface ProxyManager {
  /** The host new proxies listen on when their spec names none. */
  readonly host: string;
  /** The admin API listens beyond loopback (with a token); only then may proxies created through it listen beyond loopback too. */
  readonly exposed: boolean;
  listProxies(): FaultProxy[];
  /** The named proxy, or a NotFoundError. */
  getProxy(name: string): FaultProxy;
  createProxy(spec: ProxySpec): Promise<FaultProxy>;
  updateProxy(name: string, patch: ProxyPatch): Promise<FaultProxy>;
  deleteProxy(name: string): Promise<void>;
  /** Cut every proxy between two groups of services; a ConflictError when the name is taken, InvalidSpecError when it cuts nothing. */
  addPartition(input: unknown): Promise<PartitionView>;
  listPartitions(): PartitionView[];
  /** The named partition, or a NotFoundError. */
  getPartition(name: string): PartitionView;
  /** Heal a partition. */
  removePartition(name: string): Promise<void>;
  /** Remove every fault, heal every partition and re-enable every proxy (Toxiproxy's POST /reset). */
  reset(): Promise<void>;
  /**
   * Show a fault applied elsewhere (a process killed or paused, a fault inside
   * a service, a proxy taken down) as chaos_fault_active{fault,target} 1, so
   * every fault of a run is drawn from this one exposition. A ConflictError
   * when the name is taken.
   */
  addMarker(input: unknown): FaultMarker;
  listMarkers(): FaultMarker[];
  /** The marker's gauge goes back to 0; a NotFoundError for an unknown name. */
  removeMarker(name: string): void;
  /** Prometheus text exposition. */
  metrics(): Promise<{ contentType: string; body: string }>;
}

/** A fault the proxy does not apply itself but shows as active (see addMarker). */
export interface FaultMarker {
  name: string;
  target: string;
}

const markerSchema = z.strictObject({
  name: nameSchema,
  target: z.string(expected('a string')).min(1, { error: 'must not be empty' }).max(200, { error: 'must be at most 200 characters' }),
});

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
  mode: z.enum(PROXY_MODES, { error: `must be one of ${PROXY_MODES.join(', ')}` }).optional(),
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
  /**
   * Outcomes counted since the last scrape, per proxy: a request costs one
   * increment here, and the label hashing of prom-client's inc() happens once
   * per proxy and outcome at scrape time (collect), not on every request.
   */
  const pendingOutcomes = new Map<string, Record<ProxyOutcome, number>>();
  const proxyRequests: client.Counter = new client.Counter({
    name: LAB_METRIC.proxyRequests,
    collect() {
      for (const [proxy, counts] of pendingOutcomes) {
        for (const outcome of OUTCOMES) {
          if (counts[outcome] === 0) continue;
          proxyRequests.inc({ [LABEL.proxy]: proxy, [LABEL.outcome]: outcome }, counts[outcome]);
          counts[outcome] = 0;
        }
      }
    },
    help: 'Requests (http-mode proxies) or connections (tcp-mode proxies) through the fault proxies, by proxy and outcome.',
    labelNames: [LABEL.proxy, LABEL.outcome],
    registers: [registry],
  });

  const proxies = new Map<string, FaultProxy>();
  const partitions = new Map<string, PartitionSpec>();
  const markers = new Map<string, FaultMarker>();
  /** Per partition, every proxy it has cut (for the gauge, also proxies deleted since). */
  const cutBy = new Map<string, Set<string>>();
  const onEvent = (event: ChaosEvent): void => {
    if (event.kind === 'fault_applied' || event.kind === 'fault_updated') {
      faultActive.set({ [LABEL.fault]: event.fault.name, [LABEL.target]: event.proxy }, 1);
    } else if (event.kind === 'fault_removed') {
      faultActive.set({ [LABEL.fault]: event.fault.name, [LABEL.target]: event.proxy }, 0);
    }
    options.onEvent?.(event);
  };

  const getProxy = (name: string): FaultProxy => {
    const proxy = proxies.get(name);
    if (!proxy) throw new NotFoundError(`proxy not found: ${name}`);
    return proxy;
  };

  const setFaultActive = (partition: string, proxy: string, active: boolean): void => {
    faultActive.set({ [LABEL.fault]: partition, [LABEL.target]: proxy }, active ? 1 : 0);
  };
  const partitionEvents = (kind: PartitionEvent['kind'], partition: PartitionSpec, cut: readonly string[]): void => {
    const at = Date.now();
    for (const proxy of cut) {
      const event: PartitionEvent = { kind, proxy, partition: { ...partition, a: [...partition.a], b: [...partition.b] }, at };
      publishChaosEvent(event);
      onEvent(event);
    }
  };
  /** Bring one proxy's cut in line with the partitions in force. */
  const applyCut = async (proxy: FaultProxy): Promise<void> => {
    const cut = effectiveCut(partitions.values(), proxy.name);
    if (cut !== proxy.partition) {
      await proxy.setPartition(cut).catch((error: unknown) => {
        throw bindError(error, proxy.host, proxy.port);
      });
    }
  };

  const createProxy = async (input: ProxySpec): Promise<FaultProxy> => {
    const spec = parseWith(proxySpecSchema, input);
    const mode = spec.mode ?? 'http';
    if (mode === 'http') upstreamOrigin(spec.upstream);
    else upstreamAddress(spec.upstream);
    if (proxies.has(spec.name)) throw new ConflictError(`proxy already exists: ${spec.name}`);
    const listenHost = spec.listenHost ?? host;
    const listenPort = spec.listenPort ?? 0;
    for (const outcome of OUTCOMES) proxyRequests.inc({ [LABEL.proxy]: spec.name, [LABEL.outcome]: outcome }, 0);
    let pending = pendingOutcomes.get(spec.name);
    if (!pending) {
      pending = { forwarded: 0, injected_error: 0, upstream_error: 0 };
      pendingOutcomes.set(spec.name, pending);
    }
    const counts = pending;
    const proxyOptions = {
      name: spec.name,
      listenHost,
      listenPort,
      upstream: spec.upstream,
      seed: deriveSeed(seed, spec.name),
      ...(spec.enabled === undefined ? {} : { enabled: spec.enabled }),
      onEvent,
      onOutcome: (outcome: ProxyOutcome) => {
        counts[outcome] += 1;
      },
    };
    const proxy = await (mode === 'http' ? createHttpProxy(proxyOptions) : createTcpProxy(proxyOptions)).catch((error: unknown) => {
      throw bindError(error, listenHost, listenPort);
    });
    // Two creations of one name can race across the await; the first one wins.
    if (proxies.has(spec.name)) {
      await proxy.close();
      throw new ConflictError(`proxy already exists: ${spec.name}`);
    }
    proxies.set(spec.name, proxy);
    // A partition in force also cuts the proxies created after it.
    for (const [name, partition] of partitions) {
      if (effectiveCut([partition], spec.name) === undefined) continue;
      cutBy.get(name)?.add(spec.name);
      setFaultActive(name, spec.name, true);
      partitionEvents('partition_applied', partition, [spec.name]);
    }
    await applyCut(proxy);
    return proxy;
  };

  const partitionView = (partition: PartitionSpec): PartitionView => ({
    ...partition,
    a: [...partition.a],
    b: [...partition.b],
    proxies: [...proxies.keys()].filter((name) => effectiveCut([partition], name) !== undefined).sort(),
  });

  const healPartition = async (name: string): Promise<void> => {
    const partition = partitions.get(name);
    if (!partition) throw new NotFoundError(`partition not found: ${name}`);
    partitions.delete(name);
    const cut = [...(cutBy.get(name) ?? [])].sort();
    cutBy.delete(name);
    for (const proxy of cut) setFaultActive(name, proxy, false);
    await Promise.all(cut.flatMap((proxyName) => (proxies.has(proxyName) ? [applyCut(proxies.get(proxyName) as FaultProxy)] : [])));
    partitionEvents('partition_removed', partition, cut);
  };

  /** Re-opening a listener can find its port taken meanwhile; that is a conflict, not a crash. */
  const enable = (proxy: FaultProxy, enabled: boolean): Promise<void> =>
    proxy.setEnabled(enabled).catch((error: unknown) => {
      throw bindError(error, proxy.host, proxy.port);
    });

  const manager: ProxyManager = {
    host,
    exposed: !isLoopback(host),
    listProxies: () => [...proxies.values()],
    getProxy,
    createProxy,
    async updateProxy(name, patch) {
      const proxy = getProxy(name);
      const fields = parseWith(proxySpecSchema.omit({ name: true }).partial(), patch);
      if (fields.mode !== undefined && fields.mode !== proxy.mode) {
        throw new InvalidSpecError([{ field: 'mode', message: 'cannot be changed; delete and re-create the proxy' }]);
      }
      // Everything is checked before anything changes, and the one step that can fail
      // on the machine (binding a new address) goes first: a refused update leaves the proxy as it was.
      const upstreamChanges = fields.upstream !== undefined && fields.upstream !== proxy.upstream;
      if (upstreamChanges) {
        if (proxy.mode === 'http') upstreamOrigin(fields.upstream as string);
        else upstreamAddress(fields.upstream as string);
      }
      const nextHost = fields.listenHost ?? proxy.host;
      const nextPort = fields.listenPort ?? proxy.port;
      if (nextHost !== proxy.host || nextPort !== proxy.port) {
        const before = proxy.listen;
        await proxy.setListen(nextHost, nextPort).catch((error: unknown) => {
          const failure = bindError(error instanceof ListenError ? error.cause : error, nextHost, nextPort);
          if (!(error instanceof ListenError) || !(failure instanceof ChaosError)) throw failure;
          const state =
            error.outcome === 'unchanged'
              ? `proxy ${name} is unchanged${proxy.enabled ? ` and still listens on ${before}` : ''}`
              : `proxy ${name} could not listen on ${before} again either and is now disabled (enable it or POST /reset once the port is free)`;
          throw failure instanceof ConflictError ? new ConflictError(`${failure.message}; ${state}`) : new InvalidSpecError([{ field: 'listen', message: `${failure.message.replace(/^listen: /, '')}; ${state}` }]);
        });
      }
      if (upstreamChanges) await proxy.setUpstream(fields.upstream as string);
      if (fields.enabled !== undefined) await enable(proxy, fields.enabled);
      return proxy;
    },
    async deleteProxy(name) {
      const proxy = getProxy(name);
      proxies.delete(name);
      await proxy.close();
    },
    async addPartition(input) {
      const partition = parsePartition(input);
      if (partitions.has(partition.name)) throw new ConflictError(`partition already exists: ${partition.name}`);
      const cut = proxiesCut(partition, [...proxies.keys()]);
      partitions.set(partition.name, partition);
      cutBy.set(partition.name, new Set(cut));
      for (const proxy of cut) setFaultActive(partition.name, proxy, true);
      await Promise.all(cut.map((name) => applyCut(getProxy(name))));
      partitionEvents('partition_applied', partition, cut);
      return partitionView(partition);
    },
    listPartitions: () => [...partitions.values()].map(partitionView),
    getPartition(name) {
      const partition = partitions.get(name);
      if (!partition) throw new NotFoundError(`partition not found: ${name}`);
      return partitionView(partition);
    },
    removePartition: healPartition,
    addMarker(input) {
      const marker = parseWith(markerSchema, input);
      if (markers.has(marker.name)) throw new ConflictError(`marker already exists: ${marker.name}`);
      markers.set(marker.name, marker);
      setFaultActive(marker.name, marker.target, true);
      return { ...marker };
    },
    listMarkers: () => [...markers.values()].map((marker) => ({ ...marker })),
    removeMarker(name) {
      const marker = markers.get(name);
      if (!marker) throw new NotFoundError(`marker not found: ${name}`);
      markers.delete(name);
      setFaultActive(marker.name, marker.target, false);
    },
    async reset() {
      for (const name of [...markers.keys()]) manager.removeMarker(name);
      for (const name of [...partitions.keys()]) await healPartition(name);
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
