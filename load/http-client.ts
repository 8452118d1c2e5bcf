// The HTTP client journeys use. It is built for measuring, not for
// convenience:
// - one undici Agent with keep-alive, like a real client population, and no
//   per-origin connection limit by default (an open model needs a connection
//   per in-flight request; a limit would queue requests client-side);
// - it speaks undici's low-level dispatch API so it can stamp `sentAtMs` when
//   the request is actually written to a connection (onRequestStart), not
//   when it was handed to the pool; the recorder's naive latency is measured
//   from there and the honest one from the intended start it is given;
// - a per-request timeout covers the whole exchange, including time queued
//   for a connection, and resolves the request at the deadline even if undici
//   has not yet picked it up;
// - a network failure never throws: it is classified (refused, reset,
//   timeout, status, other), recorded and returned.
// Work cut off because the run itself stopped (the iteration signal) is not
// recorded: it says nothing about the system under test.

import { Agent } from 'undici';
import type { Dispatcher } from 'undici';
import type { IncomingHttpHeaders } from 'node:http';
import { systemClock } from './clock.ts';
import type { Clock } from './clock.ts';
import type { ErrorClass, LoadRecorder, RequestSample } from './recorder.ts';

export interface HttpClientOptions {
  /** Connections per origin; default unlimited. */
  connections?: number;
  /** Idle keep-alive time of a connection; default 4000 ms. */
  keepAliveTimeoutMs?: number;
  /** Default per-request timeout (whole exchange); default 10_000 ms. */
  timeoutMs?: number;
  /** Response bytes kept for checks; the rest is read and discarded. Default 1 MiB. */
  maxResponseBytes?: number;
  /** Where samples go unless a request names its own recorder. */
  recorder?: LoadRecorder;
  clock?: Clock;
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json(): unknown;
}

export type StatusExpectation = number | readonly number[] | ((status: number) => boolean);

export interface HttpRequest {
  url: string;
  /** Default 'GET'. */
  method?: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  /** Serialised as the body, with content-type application/json. */
  json?: unknown;
  /** Overrides the client's timeoutMs. */
  timeoutMs?: number;
  /** The iteration's intended start (epoch ms); latency is measured from here. */
  intendedStartMs: number;
  tags: Record<string, string>;
  /** Statuses that count as success; default any status below 400. Others fail with errorClass 'status'. */
  expectStatus?: StatusExpectation;
  /** Further check of a response whose status was expected; return a reason string to fail it (errorClass 'other'). */
  check?: (response: HttpResponse) => true | string;
  /** The iteration's signal: when it aborts, the request is cancelled and not recorded. */
  signal?: AbortSignal;
  recorder?: LoadRecorder;
}

export interface HttpResult {
  ok: boolean;
  /** 0 when there was no response. */
  status: number;
  errorClass?: ErrorClass;
  /** Why it failed, in words (error code, status, or the check's reason). */
  failure?: string;
  response?: HttpResponse;
  /** The recorded sample; undefined when the run's signal cut the request off. */
  sample?: RequestSample;
}

export interface HttpClient {
  request(request: HttpRequest): Promise<HttpResult>;
  /** Close every connection, aborting whatever is still in flight. */
  close(): Promise<void>;
}

/** Raised into undici to abort a request that passed its deadline. */
export class RequestTimeoutError extends Error {
  readonly code = 'FL_REQUEST_TIMEOUT';

  constructor(timeoutMs: number) {
    super(`request timed out after ${timeoutMs} ms`);
    this.name = 'RequestTimeoutError';
  }
}

const REFUSED = new Set(['ECONNREFUSED']);
const RESET = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'UND_ERR_DESTROYED']);
const TIMEOUT = new Set(['ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'FL_REQUEST_TIMEOUT']);

/** Map a transport error to an error class, looking through `cause` chains and AggregateErrors (happy eyeballs). */
export function classifyNetworkError(error: unknown): ErrorClass {
  const seen = new Set<unknown>();
  const queue: unknown[] = [error];
  const found = new Set<ErrorClass>();
  while (queue.length > 0) {
    const current = queue.shift();
    if (current === null || typeof current !== 'object' || seen.has(current)) continue;
    seen.add(current);
    const { code, name, cause, errors } = current as { code?: unknown; name?: unknown; cause?: unknown; errors?: unknown };
    if (typeof code === 'string') {
      if (REFUSED.has(code)) found.add('refused');
      else if (RESET.has(code)) found.add('reset');
      else if (TIMEOUT.has(code)) found.add('timeout');
    }
    if (name === 'TimeoutError') found.add('timeout');
    if (cause !== undefined) queue.push(cause);
    if (Array.isArray(errors)) queue.push(...(errors as unknown[]));
  }
  for (const errorClass of ['timeout', 'refused', 'reset'] as const) if (found.has(errorClass)) return errorClass;
  return 'other';
}

function describeError(error: unknown): string {
  if (error === null || typeof error !== 'object') return String(error);
  const { code, message, errors } = error as { code?: unknown; message?: unknown; errors?: unknown };
  const inner = Array.isArray(errors) && errors.length > 0 ? ` (${describeError(errors[0])})` : '';
  const text = typeof message === 'string' && message !== '' ? message : String(error);
  return typeof code === 'string' ? `${code}: ${text}${inner}` : `${text}${inner}`;
}

function statusExpected(status: number, expectation: StatusExpectation | undefined): boolean {
  if (expectation === undefined) return status < 400;
  if (typeof expectation === 'number') return status === expectation;
  if (typeof expectation === 'function') return expectation(status);
  return expectation.includes(status);
}

function makeResponse(status: number, headers: IncomingHttpHeaders, body: string): HttpResponse {
  let parsed: { value: unknown } | undefined;
  return {
    status,
    headers,
    body,
    json(): unknown {
      if (parsed === undefined) {
        try {
          parsed = { value: JSON.parse(body) as unknown };
        } catch {
          parsed = { value: undefined };
        }
      }
      return parsed.value;
    },
  };
}

/**
 * Per-request callbacks for when a run's signal aborts, behind ONE listener
 * per signal. Thousands of requests in flight share the run's signal, and
 * EventTarget.addEventListener scans the listeners it already holds, so a
 * listener per request costs O(in flight) each: at high rates that scan was
 * a tenth of the generator's CPU (docs/benchmarks.md, Load generator).
 */
function createStopWatch(): (signal: AbortSignal, onStop: () => void) => () => void {
  const watchers = new WeakMap<AbortSignal, Set<() => void>>();
  return (signal, onStop) => {
    let set = watchers.get(signal);
    if (set === undefined) {
      const callbacks = new Set<() => void>();
      set = callbacks;
      watchers.set(signal, callbacks);
      signal.addEventListener(
        'abort',
        () => {
          for (const callback of [...callbacks]) callback();
          callbacks.clear();
        },
        { once: true },
      );
    }
    const callbacks = set;
    callbacks.add(onStop);
    return () => callbacks.delete(onStop);
  };
}

/** Origin and path of a URL string, cached: journeys send the same few URLs over and over. */
function createUrlParser(): (url: string) => { origin: string; path: string } {
  const cache = new Map<string, { origin: string; path: string }>();
  return (url) => {
    let parsed = cache.get(url);
    if (parsed === undefined) {
      const u = new URL(url);
      parsed = { origin: u.origin, path: `${u.pathname}${u.search}` };
      if (cache.size >= 1_024) cache.clear();
      cache.set(url, parsed);
    }
    return parsed;
  };
}

export function createHttpClient(options: HttpClientOptions = {}): HttpClient {
  const clock = options.clock ?? systemClock;
  const watchStop = createStopWatch();
  const parseUrl = createUrlParser();
  const defaultTimeoutMs = options.timeoutMs ?? 10_000;
  const maxResponseBytes = options.maxResponseBytes ?? 1_048_576;
  const agent = new Agent({
    ...(options.connections === undefined ? {} : { connections: options.connections }),
    keepAliveTimeout: options.keepAliveTimeoutMs ?? 4_000,
    pipelining: 1,
    // The client's own deadline covers the whole exchange; undici's partial timers would only muddle the classification.
    headersTimeout: 0,
    bodyTimeout: 0,
  });

  async function request(req: HttpRequest): Promise<HttpResult> {
    // Programming errors (not network failures) reject, before anything is sent.
    if (!Number.isFinite(req.intendedStartMs)) throw new TypeError(`request: intendedStartMs must be a finite epoch ms (got ${req.intendedStartMs})`);
    const url = parseUrl(req.url);
    const timeoutMs = req.timeoutMs ?? defaultTimeoutMs;
    const recorder = req.recorder ?? options.recorder;
    const headers: Record<string, string> = { ...req.headers };
    let body: string | Uint8Array | undefined = req.body;
    if (req.json !== undefined) {
      body = JSON.stringify(req.json);
      if (!Object.keys(headers).some((name) => name.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
    }
    const dispatchOptions: Dispatcher.DispatchOptions = {
      origin: url.origin,
      path: url.path,
      method: (req.method ?? 'GET') as Dispatcher.HttpMethod,
      headers,
      ...(body === undefined ? {} : { body }),
    };

    return new Promise<HttpResult>((resolve) => {
      const handedAt = clock.wallNow();
      let sentAtMs: number | undefined;
      let controller: Dispatcher.DispatchController | undefined;
      let settled = false;
      let status = 0;
      let responseHeaders: IncomingHttpHeaders = {};
      const chunks: Buffer[] = [];
      let kept = 0;

      let unwatch: (() => void) | undefined;
      const cleanup = (): void => {
        clearTimeout(timer);
        unwatch?.();
      };

      const settle = (result: Omit<HttpResult, 'sample'>): void => {
        if (settled) return;
        settled = true;
        cleanup();
        const endMs = clock.wallNow();
        const sample: RequestSample = {
          intendedStartMs: req.intendedStartMs,
          sentAtMs: sentAtMs ?? handedAt,
          endMs,
          status: result.status,
          ok: result.ok,
          ...(result.errorClass === undefined ? {} : { errorClass: result.errorClass }),
          tags: req.tags,
        };
        try {
          recorder?.record(sample);
        } finally {
          resolve({ ...result, sample });
        }
      };

      const cancel = (reason: Error): void => {
        if (controller !== undefined && !controller.aborted) controller.abort(reason);
      };

      const timer = setTimeout(() => {
        const reason = new RequestTimeoutError(timeoutMs);
        settle({ ok: false, status: 0, errorClass: 'timeout', failure: reason.message });
        cancel(reason);
      }, timeoutMs);

      const onRunStopped = (): void => {
        if (settled) return;
        settled = true;
        cleanup();
        const reason = req.signal?.reason instanceof Error ? req.signal.reason : new Error('run stopped');
        cancel(reason);
        resolve({ ok: false, status: 0, failure: `not recorded: ${reason.message}` });
      };
      if (req.signal?.aborted) {
        onRunStopped();
        return;
      }
      if (req.signal !== undefined) unwatch = watchStop(req.signal, onRunStopped);

      const handler: Dispatcher.DispatchHandler = {
        onRequestStart(ctrl) {
          controller = ctrl;
          // Timed out or stopped while queued for a connection: do not send it at all.
          if (settled) {
            ctrl.abort(new RequestTimeoutError(timeoutMs));
            return;
          }
          sentAtMs = clock.wallNow();
        },
        onResponseStart(_ctrl, statusCode, receivedHeaders) {
          status = statusCode;
          responseHeaders = receivedHeaders;
        },
        onResponseData(_ctrl, chunk) {
          if (kept < maxResponseBytes) {
            chunks.push(chunk);
            kept += chunk.length;
          }
        },
        onResponseEnd() {
          const text = Buffer.concat(chunks).subarray(0, maxResponseBytes).toString('utf8');
          const response = makeResponse(status, responseHeaders, text);
          if (!statusExpected(status, req.expectStatus)) {
            settle({ ok: false, status, errorClass: 'status', failure: `unexpected status ${status}`, response });
            return;
          }
          let verdict: true | string;
          try {
            verdict = req.check === undefined ? true : req.check(response);
          } catch (error) {
            verdict = `check threw: ${describeError(error)}`;
          }
          if (verdict === true) settle({ ok: true, status, response });
          else settle({ ok: false, status, errorClass: 'other', failure: verdict, response });
        },
        onResponseError(_ctrl, error) {
          settle({ ok: false, status, errorClass: classifyNetworkError(error), failure: describeError(error) });
        },
      };

      agent.dispatch(dispatchOptions, handler);
    });
  }

  return {
    request,
    async close() {
      await agent.destroy();
    },
  };
}
