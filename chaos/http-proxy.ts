// A fault-injecting HTTP reverse proxy for one edge (e.g. payment -> bank).
// It forwards method, path, end-to-end headers and streamed bodies over a
// keep-alive undici Pool, and on each request draws from its own seeded random
// stream which of its faults apply, so a run with the same seed and the same
// request order injects the same faults. Faults are decided per request, not
// per connection as in Toxiproxy: clients keep connections alive, so
// per-connection sampling would make an error rate meaningless.
//
// The set of active faults is an immutable array replaced on every change, so
// a request sees one consistent set and the hot path does no locking.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import { HEADER } from '../demo-services/kit/conventions.ts';
import { ConflictError, InvalidSpecError, NotFoundError } from './errors.ts';
import { createFault, type Fault, type FaultCollection, type FaultEffect, toSpec, updateFault } from './fault.ts';
import { type ChaosEvent, type FaultEvent, publishChaosEvent } from './events.ts';
import { requestHeadersToForward, responseHeadersToForward } from './hop-by-hop.ts';
import { problemType, sendProblem } from './problem.ts';
import { mulberry32 } from '../demo-services/kit/random.ts';

/** How the proxy handled one request (label `outcome` of chaos_proxy_requests_total). */
export type ProxyOutcome = 'forwarded' | 'injected_error' | 'upstream_error';

export interface HttpProxyOptions {
  name: string;
  /** Default 127.0.0.1. */
  listenHost?: string;
  /** Default 0 (a free port, reported as `port`). */
  listenPort?: number;
  /** `http://host:port`; Toxiproxy's bare `host:port` is accepted too. */
  upstream: string;
  /** Seed of this proxy's random stream; equal seeds and request orders give equal fault sequences. Default 0. */
  seed?: number;
  /** Start listening; false creates the proxy switched off. Default true. */
  enabled?: boolean;
  /** Called for every chaos event of this proxy (also published on the diagnostics channel). */
  onEvent?: (event: ChaosEvent) => void;
  /** Called once per request with how it was handled; a request the client abandoned before it was forwarded is not counted. */
  onOutcome?: (outcome: ProxyOutcome) => void;
}

export interface HttpProxy {
  readonly name: string;
  readonly host: string;
  /** The bound port (the configured one while disabled). */
  readonly port: number;
  /** `host:port`, as Toxiproxy shows `listen`. */
  readonly listen: string;
  /** The upstream as it was given. */
  readonly upstream: string;
  /** False while the listener is closed: connections are refused, as with Toxiproxy's enabled=false. */
  readonly enabled: boolean;
  setEnabled(enabled: boolean): Promise<void>;
  /** Move the listener to another address (Toxiproxy's listen update): closed, then reopened there when enabled. */
  setListen(host: string, port: number): Promise<void>;
  /** Point the proxy at another upstream; requests in flight finish on the old one. */
  setUpstream(upstream: string): Promise<void>;
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

/** The origin (`http://host:port`) of an upstream given as a URL or as Toxiproxy's `host:port`. */
export function upstreamOrigin(upstream: string): string {
  const candidate = /^[a-z][a-z0-9+.-]*:\/\//i.test(upstream) ? upstream : `http://${upstream}`;
  let url: URL;
  try {
    url = new URL(candidate);
  } catch {
    throw new InvalidSpecError([{ field: 'upstream', message: `"${upstream}" is not http://host:port or host:port` }]);
  }
  if (url.protocol !== 'http:') {
    throw new InvalidSpecError([{ field: 'upstream', message: `scheme ${url.protocol} is not supported; use http://host:port` }]);
  }
  if ((url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.username !== '') {
    throw new InvalidSpecError([{ field: 'upstream', message: `"${upstream}" must be http://host:port without path, query or credentials` }]);
  }
  return url.origin;
}

/** `host:port`, with IPv6 hosts bracketed. */
export function formatListen(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** What the drawn faults do to one request, decided before any I/O. */
interface Plan {
  upstreamDelayMs: number;
  downstreamDelayMs: number;
  upstreamAnswer?: { fault: Fault; effect: Extract<FaultEffect, { kind: 'respond' }> };
  downstreamAnswer?: { fault: Fault; effect: Extract<FaultEffect, { kind: 'respond' }> };
}

const NO_FAULTS: Plan = Object.freeze({ upstreamDelayMs: 0, downstreamDelayMs: 0 });

/** Sleep unless the client goes away first; false when it did. */
async function delay(ms: number, signal: AbortSignal): Promise<boolean> {
  try {
    await sleep(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}

/** Per HTTP/1.1 framing, a request has a body only when it says so. */
function hasBody(req: IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] ?? '0') !== '0';
}

export async function createHttpProxy(options: HttpProxyOptions): Promise<HttpProxy> {
  const name = options.name;
  let host = options.listenHost ?? '127.0.0.1';
  let port = options.listenPort ?? 0;
  let upstream = options.upstream;
  let pool = new Pool(upstreamOrigin(upstream));
  const random = mulberry32(options.seed ?? 0);
  let faults: readonly Fault[] = [];
  let enabled = false;
  let closed = false;

  const emit = (event: ChaosEvent): void => {
    publishChaosEvent(event);
    options.onEvent?.(event);
  };
  const count = (outcome: ProxyOutcome): void => options.onOutcome?.(outcome);

  function plan(): Plan {
    const active = faults;
    if (active.length === 0) return NO_FAULTS;
    const decided: Plan = { upstreamDelayMs: 0, downstreamDelayMs: 0 };
    for (const fault of active) {
      if (!(random() < fault.toxicity)) continue;
      const effect = fault.decide(random);
      switch (effect.kind) {
        case 'delay':
          if (fault.stream === 'upstream') decided.upstreamDelayMs += effect.ms;
          else decided.downstreamDelayMs += effect.ms;
          break;
        case 'respond':
          if (fault.stream === 'upstream') decided.upstreamAnswer ??= { fault, effect };
          else decided.downstreamAnswer ??= { fault, effect };
          break;
        default:
          effect satisfies never;
      }
    }
    return decided;
  }

  function answerInjected(req: IncomingMessage, res: ServerResponse, answer: NonNullable<Plan['upstreamAnswer']>): void {
    count('injected_error');
    const { fault, effect } = answer;
    sendProblem(req, res, effect.status, effect.problem, { ...effect.headers, [HEADER.faultInjected]: fault.name });
  }

  async function serve(req: IncomingMessage, res: ServerResponse, decided: Plan): Promise<void> {
    const abort = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) abort.abort();
    });
    if (decided.upstreamDelayMs > 0 && !(await delay(decided.upstreamDelayMs, abort.signal))) return;
    if (decided.upstreamAnswer) {
      answerInjected(req, res, decided.upstreamAnswer);
      return;
    }
    const target = pool;
    let response: Awaited<ReturnType<Pool['request']>>;
    try {
      response = await target.request({
        path: req.url ?? '/',
        method: req.method ?? 'GET',
        headers: requestHeadersToForward(req.rawHeaders, req.headers.connection),
        body: hasBody(req) ? req : null,
        signal: abort.signal,
      });
    } catch (error) {
      if (abort.signal.aborted) return;
      count('upstream_error');
      const reason = (error as { code?: string }).code ?? (error as Error).message;
      sendProblem(req, res, 502, {
        type: problemType('upstream-unreachable'),
        title: 'Bad gateway',
        detail: `proxy ${name} could not reach its upstream ${upstream} (${reason})`,
      });
      return;
    }
    if (decided.downstreamAnswer) {
      await response.body.dump().catch(() => undefined);
      answerInjected(req, res, decided.downstreamAnswer);
      return;
    }
    if (decided.downstreamDelayMs > 0 && !(await delay(decided.downstreamDelayMs, abort.signal))) {
      response.body.destroy();
      return;
    }
    count('forwarded');
    res.writeHead(response.statusCode, responseHeadersToForward(response.headers));
    response.body.on('error', () => res.destroy());
    response.body.pipe(res);
  }

  const server: Server = createServer((req, res) => {
    serve(req, res, plan()).catch(() => res.destroy());
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
      server.closeAllConnections();
    });

  let transition: Promise<void> = Promise.resolve();
  const setEnabled = (wanted: boolean): Promise<void> => {
    transition = transition
      .catch(() => undefined)
      .then(async () => {
        if (wanted === enabled) return;
        if (wanted && closed) throw new Error(`proxy ${name} is closed`);
        if (wanted) await listen();
        else await stopListening();
        enabled = wanted;
        emit({ kind: wanted ? 'proxy_enabled' : 'proxy_disabled', proxy: name, at: Date.now() });
      });
    return transition;
  };

  const findIndex = (faultName: string): number => faults.findIndex((fault) => fault.name === faultName);
  const mustFind = (faultName: string): Fault => {
    const fault = faults[findIndex(faultName)];
    if (!fault) throw new NotFoundError(`fault not found: ${faultName} on proxy ${name}`);
    return fault;
  };
  const isFault = (value: unknown): value is Fault =>
    typeof value === 'object' && value !== null && typeof (value as Fault).decide === 'function';
  const faultEvent = (kind: FaultEvent['kind'], fault: Fault): FaultEvent => ({
    kind,
    proxy: name,
    collection: fault.collection,
    fault: toSpec(fault),
    at: Date.now(),
  });

  if (options.enabled !== false) await setEnabled(true);

  const proxy: HttpProxy = {
    name,
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
    setEnabled,
    async setListen(nextHost, nextPort) {
      const wasEnabled = enabled;
      await setEnabled(false);
      host = nextHost;
      port = nextPort;
      if (wasEnabled) await setEnabled(true);
    },
    async setUpstream(next) {
      const nextPool = new Pool(upstreamOrigin(next));
      const previous = pool;
      pool = nextPool;
      upstream = next;
      await previous.close();
    },
    addFault(input, collection) {
      const fault = isFault(input) ? input : createFault(input, collection);
      if (collection && fault.collection !== collection) {
        throw new InvalidSpecError([{ field: 'type', message: `${fault.type} does not belong in ${collection}` }]);
      }
      if (findIndex(fault.name) !== -1) throw new ConflictError(`fault already exists: ${fault.name} on proxy ${name}`);
      faults = [...faults, fault];
      emit(faultEvent('fault_applied', fault));
      return fault;
    },
    updateFault(faultName, patch) {
      const updated = updateFault(mustFind(faultName), patch);
      faults = faults.map((fault) => (fault.name === faultName ? updated : fault));
      emit(faultEvent('fault_updated', updated));
      return updated;
    },
    removeFault(faultName) {
      const removed = mustFind(faultName);
      faults = faults.filter((fault) => fault !== removed);
      emit(faultEvent('fault_removed', removed));
      return removed;
    },
    getFault(faultName) {
      return faults[findIndex(faultName)];
    },
    listFaults(collection) {
      return collection ? faults.filter((fault) => fault.collection === collection) : [...faults];
    },
    clearFaults() {
      const removed = faults;
      faults = [];
      for (const fault of removed) emit(faultEvent('fault_removed', fault));
    },
    async close() {
      if (closed) return;
      closed = true;
      proxy.clearFaults();
      await setEnabled(false);
      await pool.destroy();
    },
  };
  return proxy;
}
