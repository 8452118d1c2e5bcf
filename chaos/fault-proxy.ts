// What every fault proxy is, whatever its mode, and the part they share: the
// name, the listen address, the enabled flag, the partition cut, the fault
// set, and the serialised transitions of the listener. The listener is open
// exactly when the proxy is enabled, not cut by a refusing partition, and not
// closed; every change of one of those goes through one queue, so a disable
// racing a partition never leaves the port in a state neither asked for.
// http-proxy.ts and tcp-proxy.ts supply the server and the forwarding.

import type { Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { ChaosEvent } from './events.ts';
import { publishChaosEvent } from './events.ts';
import type { Fault, FaultCollection, ProxyMode } from './fault.ts';
import { createFaultSet, type FaultSet } from './fault-set.ts';
import type { Gate } from './gate.ts';

/** How the proxy handled one request (http mode) or connection (tcp mode): label `outcome` of chaos_proxy_requests_total. */
export type ProxyOutcome = 'forwarded' | 'injected_error' | 'upstream_error';

/** What creates a proxy of either mode. */
export interface ProxyOptions {
  name: string;
  /** Default 127.0.0.1. */
  listenHost?: string;
  /** Default 0 (a free port, reported as `port`). */
  listenPort?: number;
  /** http mode: `http://host:port` (Toxiproxy's bare `host:port` too); tcp mode: also `tcp://host:port`, carried as bytes. */
  upstream: string;
  /** Seed of this proxy's random stream; equal seeds and request orders give equal fault sequences. Default 0. */
  seed?: number;
  /** Start listening; false creates the proxy switched off. Default true. */
  enabled?: boolean;
  /** Called for every chaos event of this proxy (also published on the diagnostics channel). */
  onEvent?: (event: ChaosEvent) => void;
  /**
   * Called once per request (http mode; one the client abandoned before it was forwarded is not counted)
   * or per connection (tcp mode) with how it was handled.
   */
  onOutcome?: (outcome: ProxyOutcome) => void;
}

/** How a partition cuts a proxy: traffic held in a black hole, or connections refused. */
export type PartitionMode = 'blackhole' | 'refuse';

export interface FaultProxy {
  readonly name: string;
  readonly mode: ProxyMode;
  readonly host: string;
  /** The bound port (the configured one while not listening). */
  readonly port: number;
  /** `host:port`, as Toxiproxy shows `listen`. */
  readonly listen: string;
  /** The upstream as it was given. */
  readonly upstream: string;
  /** False while switched off: connections are refused, as with Toxiproxy's enabled=false. */
  readonly enabled: boolean;
  /** The partition cut in force on this proxy, if any. */
  readonly partition: PartitionMode | undefined;
  setEnabled(enabled: boolean): Promise<void>;
  /** Move the listener to another address (Toxiproxy's listen update). */
  setListen(host: string, port: number): Promise<void>;
  /** Point the proxy at another upstream; exchanges in flight finish on the old one. */
  setUpstream(upstream: string): Promise<void>;
  /** Cut the proxy for a partition (blackhole: everything held; refuse: listener closed, connections dropped), or heal it. */
  setPartition(cut: PartitionMode | undefined): Promise<void>;
  /** Add a fault, from a typed factory or an admin API body; a name in use is a ConflictError. */
  addFault(fault: unknown, collection?: FaultCollection): Fault;
  /** Update toxicity and attributes of a fault (Toxiproxy's update semantics). */
  updateFault(name: string, patch: unknown): Fault;
  removeFault(name: string): Fault;
  getFault(name: string): Fault | undefined;
  listFaults(collection?: FaultCollection): Fault[];
  /** Remove every fault. */
  clearFaults(): void;
  /** Stop listening, drop connections, remove the faults. */
  close(): Promise<void>;
}

/**
 * A listen change that could not bind the new address. `unchanged`: the proxy
 * is back on its old address; `disabled`: the old address was taken meanwhile,
 * so the proxy is switched off (enable it, or POST /reset, to listen again).
 */
export class ListenError extends Error {
  override readonly cause: unknown;
  readonly code: string | undefined;
  readonly outcome: 'unchanged' | 'disabled';
  constructor(cause: unknown, outcome: 'unchanged' | 'disabled') {
    super((cause as Error).message);
    this.name = 'ListenError';
    this.cause = cause;
    this.code = (cause as { code?: string }).code;
    this.outcome = outcome;
  }
}

/** `host:port`, with IPv6 hosts bracketed. */
export function formatListen(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export interface ProxyCoreOptions {
  name: string;
  mode: ProxyMode;
  host: string;
  port: number;
  upstream: string;
  /** Start listening; false creates the proxy switched off. Default true. */
  enabled?: boolean;
  server: Server;
  /** The gate a black-hole partition shuts; the mode's forwarding waits on it. */
  gate: Gate;
  /** Drop every open client connection (on disable, refuse and close). */
  dropConnections: () => void;
  onEvent?: (event: ChaosEvent) => void;
  /** After every change of the fault list. */
  onFaultsChanged?: (faults: readonly Fault[]) => void;
  /** Validate and switch to another upstream. */
  switchUpstream: (upstream: string) => Promise<void>;
  /** Release what the mode holds (a connection pool) once the listener is closed. */
  dispose: () => Promise<void>;
}

export interface ProxyCore {
  proxy: FaultProxy;
  faults: FaultSet;
}

export async function createProxyCore(options: ProxyCoreOptions): Promise<ProxyCore> {
  const { name, mode, server } = options;
  let host = options.host;
  let port = options.port;
  let upstream = options.upstream;
  let enabled = false;
  let listening = false;
  let cut: PartitionMode | undefined;
  let closed = false;
  let closing: Promise<void> | undefined;
  const gate = options.gate;

  const emit = (event: ChaosEvent): void => {
    publishChaosEvent(event);
    options.onEvent?.(event);
  };
  const faults = createFaultSet({
    proxy: name,
    mode,
    emit,
    ...(options.onFaultsChanged ? { onChange: options.onFaultsChanged } : {}),
  });

  const listen = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const onError = (error: Error): void => reject(error);
      server.once('error', onError);
      server.listen(port, host, () => {
        server.off('error', onError);
        port = (server.address() as AddressInfo).port;
        resolve();
      });
    });
  const stopListening = (): Promise<void> =>
    new Promise((resolve) => {
      server.close(() => resolve());
      options.dropConnections();
    });
  const sync = async (): Promise<void> => {
    const wanted = enabled && cut !== 'refuse' && !closed;
    if (wanted === listening) return;
    if (wanted) await listen();
    else await stopListening();
    listening = wanted;
  };

  let transition: Promise<void> = Promise.resolve();
  const queue = (step: () => Promise<void>): Promise<void> => {
    transition = transition.catch(() => undefined).then(step);
    return transition;
  };

  const setEnabled = (wanted: boolean): Promise<void> =>
    queue(async () => {
      // Enabling an enabled proxy re-opens a listener that was lost (a failed move), which is what /reset relies on.
      if (wanted === enabled) {
        if (wanted) await sync();
        return;
      }
      if (wanted && closed) throw new Error(`proxy ${name} is closed`);
      enabled = wanted;
      try {
        await sync();
      } catch (error) {
        enabled = !wanted;
        throw error;
      }
      emit({ kind: wanted ? 'proxy_enabled' : 'proxy_disabled', proxy: name, at: Date.now() });
    });

  if (options.enabled !== false) await setEnabled(true);

  const proxy: FaultProxy = {
    name,
    mode,
    get host() {
      return host;
    },
    get port() {
      return port;
    },
    get listen() {
      return formatListen(host, port);
    },
    get upstream() {
      return upstream;
    },
    get enabled() {
      return enabled;
    },
    get partition() {
      return cut;
    },
    setEnabled,
    setListen: (nextHost, nextPort) =>
      queue(async () => {
        const previous = { host, port, listening };
        if (listening) {
          await stopListening();
          listening = false;
        }
        host = nextHost;
        port = nextPort;
        try {
          await sync();
        } catch (error) {
          // The new address cannot be bound: back to the old one, which this proxy held a moment ago.
          host = previous.host;
          port = previous.port;
          if (!previous.listening) throw new ListenError(error, 'unchanged');
          try {
            await sync();
          } catch {
            // Someone took the old port in between: say so, and show the proxy as what it is (not listening).
            enabled = false;
            emit({ kind: 'proxy_disabled', proxy: name, at: Date.now() });
            throw new ListenError(error, 'disabled');
          }
          throw new ListenError(error, 'unchanged');
        }
      }),
    async setUpstream(next) {
      await options.switchUpstream(next);
      upstream = next;
    },
    setPartition: (next) =>
      queue(async () => {
        cut = next;
        if (next === 'blackhole') gate.shut();
        else gate.release();
        await sync();
      }),
    addFault: (fault, collection) => faults.add(fault, collection),
    updateFault: (faultName, patch) => faults.update(faultName, patch),
    removeFault: (faultName) => faults.remove(faultName),
    getFault: (faultName) => faults.get(faultName),
    listFaults: (collection) => faults.list(collection),
    clearFaults: () => faults.clear(),
    close() {
      closing ??= (async () => {
        faults.clear();
        await queue(async () => {
          closed = true;
          const wasEnabled = enabled;
          enabled = false;
          await sync();
          if (wasEnabled) emit({ kind: 'proxy_disabled', proxy: name, at: Date.now() });
        });
        await options.dispose();
      })();
      return closing;
    },
  };
  return { proxy, faults };
}
