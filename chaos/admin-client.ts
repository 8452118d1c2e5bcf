// A small typed client of the admin API, for the runner (fault timelines) and
// tests. Any Toxiproxy client would do for the toxics; this one also knows the
// http_faults collection, proxy modes and partitions, and turns every failure
// into one ChaosClientError carrying the HTTP status and the server's message.

import type { ProxyJson } from './admin-api.ts';
import type { FaultAttributes, FaultSpec, ProxyMode, Stream } from './fault.ts';
import type { PartitionMode } from './partitions.ts';
import type { FaultMarker, PartitionView } from './proxy-server.ts';

export type { FaultMarker, PartitionMode, PartitionView, ProxyJson, ProxyMode };

/** A fault as POSTed to /toxics or /http_faults; name defaults to `<type>_<stream>`. */
export interface FaultInput {
  name?: string;
  type: string;
  stream?: Stream;
  /** Probability 0..1 that the fault applies to a request; default 1. */
  toxicity?: number;
  attributes?: FaultAttributes;
}

export interface ProxyInput {
  name: string;
  /** `http://host:port` or `host:port`. */
  upstream: string;
  /** `host:port`; default `<server host>:0`. */
  listen?: string;
  enabled?: boolean;
  /** tcp (the default, a byte stream as Toxiproxy's proxies are) or http (per-request HTTP faults). */
  mode?: ProxyMode;
}

/** A partition as POSTed to /partitions: every proxy between a service of `a` and one of `b` is cut. */
export interface PartitionInput {
  name: string;
  a: string[];
  b: string[];
  /** blackhole (default): traffic hangs until the caller's timeout; refuse: connections refused. */
  mode?: PartitionMode;
}

export type ChaosClientErrorCode = 'CHAOS_ADMIN_REJECTED' | 'CHAOS_ADMIN_UNREACHABLE';

export class ChaosClientError extends Error {
  readonly code: ChaosClientErrorCode;
  /** HTTP status of the answer; 0 when the admin API could not be reached. */
  readonly status: number;
  /** The server's `error` message (or the network error's). */
  readonly serverMessage: string;
  constructor(code: ChaosClientErrorCode, status: number, serverMessage: string, request: string) {
    super(`${request}: ${status === 0 ? '' : `${status} `}${serverMessage}`);
    this.name = 'ChaosClientError';
    this.code = code;
    this.status = status;
    this.serverMessage = serverMessage;
  }
}

export interface ChaosClient {
  version(): Promise<string>;
  listProxies(): Promise<Record<string, ProxyJson>>;
  getProxy(proxy: string): Promise<ProxyJson>;
  createProxy(proxy: ProxyInput): Promise<ProxyJson>;
  deleteProxy(proxy: string): Promise<void>;
  /** false: the proxy refuses connections (a down edge); true: back up. */
  setEnabled(proxy: string, enabled: boolean): Promise<ProxyJson>;
  addToxic(proxy: string, toxic: FaultInput): Promise<FaultSpec>;
  updateToxic(proxy: string, name: string, patch: { toxicity?: number; attributes?: FaultAttributes }): Promise<FaultSpec>;
  removeToxic(proxy: string, name: string): Promise<void>;
  addHttpFault(proxy: string, fault: FaultInput): Promise<FaultSpec>;
  updateHttpFault(proxy: string, name: string, patch: { toxicity?: number; attributes?: FaultAttributes }): Promise<FaultSpec>;
  removeHttpFault(proxy: string, name: string): Promise<void>;
  /** Cut every proxy between two groups of services; the answer lists the proxies cut. */
  addPartition(partition: PartitionInput): Promise<PartitionView>;
  listPartitions(): Promise<PartitionView[]>;
  /** Heal a partition. */
  removePartition(name: string): Promise<void>;
  /** Show a fault applied elsewhere (process, in-service, a proxy down) as chaos_fault_active 1. */
  addMarker(marker: FaultMarker): Promise<FaultMarker>;
  listMarkers(): Promise<FaultMarker[]>;
  /** The marker's chaos_fault_active goes back to 0. */
  removeMarker(name: string): Promise<void>;
  /** Remove every toxic, HTTP fault and marker, heal every partition and re-enable every proxy. */
  reset(): Promise<void>;
}

export interface ChaosClientOptions {
  /** Per-request timeout; default 10 s. */
  timeoutMs?: number;
}

export function createChaosClient(adminUrl: string, token?: string, options: ChaosClientOptions = {}): ChaosClient {
  const base = adminUrl.replace(/\/+$/, '');
  const timeoutMs = options.timeoutMs ?? 10_000;
  const segment = encodeURIComponent;

  async function call<T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
    const request = `${method} ${path}`;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    let response: Response;
    try {
      response = await fetch(`${base}${path}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause?.code;
      throw new ChaosClientError('CHAOS_ADMIN_UNREACHABLE', 0, cause ?? (error as Error).message, `${request} (${base})`);
    }
    const text = await response.text();
    if (!response.ok) {
      let message = text;
      try {
        message = (JSON.parse(text) as { error?: string }).error ?? text;
      } catch {
        // not JSON: keep the raw text as the message
      }
      throw new ChaosClientError('CHAOS_ADMIN_REJECTED', response.status, message || response.statusText, request);
    }
    return (text === '' ? undefined : JSON.parse(text)) as T;
  }

  return {
    async version() {
      return (await call<{ version: string }>('GET', '/version')).version;
    },
    listProxies: () => call('GET', '/proxies'),
    getProxy: (proxy) => call('GET', `/proxies/${segment(proxy)}`),
    createProxy: (proxy) => call('POST', '/proxies', proxy),
    deleteProxy: (proxy) => call('DELETE', `/proxies/${segment(proxy)}`),
    setEnabled: (proxy, enabled) => call('POST', `/proxies/${segment(proxy)}`, { enabled }),
    addToxic: (proxy, toxic) => call('POST', `/proxies/${segment(proxy)}/toxics`, toxic),
    updateToxic: (proxy, name, patch) => call('POST', `/proxies/${segment(proxy)}/toxics/${segment(name)}`, patch),
    removeToxic: (proxy, name) => call('DELETE', `/proxies/${segment(proxy)}/toxics/${segment(name)}`),
    addHttpFault: (proxy, fault) => call('POST', `/proxies/${segment(proxy)}/http_faults`, fault),
    updateHttpFault: (proxy, name, patch) => call('POST', `/proxies/${segment(proxy)}/http_faults/${segment(name)}`, patch),
    removeHttpFault: (proxy, name) => call('DELETE', `/proxies/${segment(proxy)}/http_faults/${segment(name)}`),
    addPartition: (partition) => call('POST', '/partitions', partition),
    listPartitions: () => call('GET', '/partitions'),
    removePartition: (name) => call('DELETE', `/partitions/${segment(name)}`),
    addMarker: (marker) => call('POST', '/markers', marker),
    listMarkers: () => call('GET', '/markers'),
    removeMarker: (name) => call('DELETE', `/markers/${segment(name)}`),
    reset: () => call('POST', '/reset'),
  };
}
