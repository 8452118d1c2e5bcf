// The HTTP client journeys use. It is built for measuring, not for
// convenience:
// - keep-alive connections, like a real client population, and no
//   per-origin connection limit by default (an open model needs a connection
//   per in-flight request; a limit would queue requests client-side);
// - connections are undici Clients (one socket each) that this module hands
//   out itself, per origin, instead of undici's Agent and Pool: an idle one is
//   popped from a stack, and when the limit is reached requests wait in a
//   plain FIFO. A finished request hands its connection straight to the next
//   one waiting, inside the response callback, which is how undici itself
//   chains requests queued on one connection (the socket is reused after one
//   event-loop turn). Through the Pool a queued request waited for the
//   connection's drain event and then another turn, and each cost a scan of
//   the pool's clients and an AsyncResource: at the generator's ceiling
//   (64 connections, requests queued) that was both CPU and throughput;
// - it speaks undici's low-level dispatch API so it can stamp `sentAtMs` when
//   the request is actually written to a connection (onRequestStart), not
//   when it was handed over; the recorder's naive latency is measured
//   from there and the honest one from the intended start it is given;
// - a per-request timeout covers the whole exchange, including time queued
//   for a connection, and resolves the request at the deadline even if undici
//   has not yet picked it up (all deadlines share one timer per client);
// - per request in flight there is one object (Exchange), and the body is
//   decoded only if read: at tens of thousands of requests a second the
//   client's own allocations were a large share of the generator's CPU;
// - a network failure never throws: it is classified (refused, reset,
//   timeout, status, other), recorded and returned.
// Work cut off because the run itself stopped (the iteration signal) is not
// recorded: it says nothing about the system under test.

import { Client, errors as undiciErrors } from 'undici';
import type { Dispatcher } from 'undici';
import type { IncomingHttpHeaders } from 'node:http';
import { systemClock } from './clock.ts';
import type { Clock } from './clock.ts';
import { PROBLEM_TAG, type ErrorClass, type LoadRecorder, type RequestSample } from './recorder.ts';
import { PROBLEM_CONTENT_TYPE } from '../demo-services/kit/conventions.ts';

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

/**
 * A response whose body text is decoded only when someone reads it: most
 * load iterations look at the status alone, and decoding (plus joining
 * chunks) every body was measurable at thousands of requests a second.
 */
class LazyResponse implements HttpResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  private raw: Buffer | Buffer[] | undefined;
  private readonly limit: number;
  private text: string | undefined;
  private parsed: { value: unknown } | undefined;

  constructor(status: number, headers: IncomingHttpHeaders, raw: Buffer | Buffer[] | undefined, limit: number) {
    this.status = status;
    this.headers = headers;
    this.raw = raw;
    this.limit = limit;
  }

  get body(): string {
    if (this.text === undefined) {
      const raw = this.raw;
      if (raw === undefined) this.text = '';
      else {
        const joined = Array.isArray(raw) ? Buffer.concat(raw) : raw;
        this.text = joined.subarray(0, this.limit).toString('utf8');
      }
      this.raw = undefined;
    }
    return this.text;
  }

  json(): unknown {
    if (this.parsed === undefined) {
      try {
        this.parsed = { value: JSON.parse(this.body) as unknown };
      } catch {
        this.parsed = { value: undefined };
      }
    }
    return this.parsed.value;
  }
}

/** Tag under which a failed sample keeps the last segment of its RFC 9457 problem type (defined beside the recorder, which groups failures by it). */
export { PROBLEM_TAG };

// A step's tags with a problem type added, made once per (tags, type) pair: failures are
// rarer than successes, but an outage makes every request one, so the hot path stays a lookup.
const withProblemCache = new WeakMap<Readonly<Record<string, string>>, Map<string, Readonly<Record<string, string>>>>();

/** The tags of a failed answer: the request's, plus `problem` when the body is problem+json with a type. */
function tagsWithProblem(tags: Readonly<Record<string, string>>, response: HttpResponse): Readonly<Record<string, string>> {
  const contentType = response.headers['content-type'];
  if (typeof contentType !== 'string' || !contentType.startsWith(PROBLEM_CONTENT_TYPE)) return tags;
  const type = (response.json() as { type?: unknown } | undefined)?.type;
  if (typeof type !== 'string' || type === '') return tags;
  const slug = type.slice(type.lastIndexOf('/') + 1);
  let byType = withProblemCache.get(tags);
  if (byType === undefined) withProblemCache.set(tags, (byType = new Map()));
  let tagged = byType.get(slug);
  if (tagged === undefined) byType.set(slug, (tagged = Object.freeze({ ...tags, [PROBLEM_TAG]: slug })));
  return tagged;
}

/** Something in flight that must end when the run's signal aborts. */
interface Stoppable {
  stop(): void;
}

/**
 * In-flight requests to stop when a run's signal aborts, behind ONE listener
 * per signal. Thousands of requests in flight share the run's signal, and
 * EventTarget.addEventListener scans the listeners it already holds, so a
 * listener per request costs O(in flight) each: at high rates that scan was
 * a tenth of the generator's CPU (docs/benchmarks.md, Load generator).
 */
function createStopWatch(): { watch(signal: AbortSignal, what: Stoppable): Set<Stoppable> } {
  const watchers = new WeakMap<AbortSignal, Set<Stoppable>>();
  let lastSignal: AbortSignal | undefined;
  let lastSet: Set<Stoppable> | undefined;
  return {
    watch(signal, what) {
      let set = signal === lastSignal ? lastSet : watchers.get(signal);
      if (set === undefined) {
        const members = new Set<Stoppable>();
        set = members;
        watchers.set(signal, members);
        signal.addEventListener(
          'abort',
          () => {
            for (const member of [...members]) member.stop();
            members.clear();
          },
          { once: true },
        );
      }
      lastSignal = signal;
      lastSet = set;
      set.add(what);
      return set;
    },
  };
}

/** A URL string taken apart once, with the dispatch options of its bodiless, headerless requests by method. */
interface ParsedUrl {
  origin: string;
  path: string;
  /** undici reads dispatch options and keeps no reference to them, so one object per method serves every such request. */
  plain: Map<string, Dispatcher.DispatchOptions>;
}

/** Origin and path of a URL string, cached: journeys send the same few URLs over and over. */
function createUrlParser(): (url: string) => ParsedUrl {
  const cache = new Map<string, ParsedUrl>();
  return (url) => {
    let parsed = cache.get(url);
    if (parsed === undefined) {
      const u = new URL(url);
      parsed = { origin: u.origin, path: `${u.pathname}${u.search}`, plain: new Map() };
      if (cache.size >= 1_024) cache.clear();
      cache.set(url, parsed);
    }
    return parsed;
  };
}

/** The shared dispatch options of a request without headers or body (see ParsedUrl.plain). */
function plainDispatchOptions(url: ParsedUrl, method: string): Dispatcher.DispatchOptions {
  let options = url.plain.get(method);
  if (options === undefined) {
    options = { origin: url.origin, path: url.path, method: method as Dispatcher.HttpMethod };
    url.plain.set(method, options);
  }
  return options;
}

interface ClientContext {
  clock: Clock;
  maxResponseBytes: number;
}

/** Requests with the same timeout, in the order they started (so also in deadline order). */
interface Lane {
  items: Exchange[];
  head: number;
}

/**
 * Every request's deadline behind ONE timer per client, armed for the
 * earliest. Requests that share a timeout expire in the order they started,
 * so each distinct timeout is a FIFO lane; a settled request leaves its lane
 * when it reaches the head (requests mostly end in the order they started,
 * so a lane holds about what is in flight, and at most what started within
 * one timeout). A Node timer per request cost an allocation and two list
 * operations each, at tens of thousands a second.
 */
class Deadlines {
  private readonly lanes = new Map<number, Lane>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private armedAt = Infinity;
  /** Requests added and not yet settled: at 0 the timer goes, so an idle client keeps no process alive. */
  private live = 0;
  private readonly fire = (): void => this.expire();

  add(exchange: Exchange, timeoutMs: number): void {
    let lane = this.lanes.get(timeoutMs);
    if (lane === undefined) {
      lane = { items: [], head: 0 };
      this.lanes.set(timeoutMs, lane);
    }
    exchange.deadline = performance.now() + timeoutMs;
    exchange.lane = lane;
    lane.items.push(exchange);
    this.live += 1;
    if (exchange.deadline < this.armedAt) this.arm(exchange.deadline);
  }

  /** A request of this lane settled (called once per request): drop settled requests from the lane's head. */
  settled(lane: Lane): void {
    this.live -= 1;
    const items = lane.items;
    let head = lane.head;
    while (head < items.length && (items[head] as Exchange).done) head += 1;
    if (head === items.length) {
      items.length = 0;
      head = 0;
    } else if (head >= 1_024 && head * 2 >= items.length) {
      items.splice(0, head);
      head = 0;
    }
    lane.head = head;
    if (this.live === 0) this.disarm();
  }

  private arm(at: number): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.armedAt = at;
    this.timer = setTimeout(this.fire, Math.max(1, Math.ceil(at - performance.now())));
  }

  private disarm(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.armedAt = Infinity;
  }

  private expire(): void {
    this.timer = undefined;
    this.armedAt = Infinity;
    const now = performance.now();
    let next = Infinity;
    let failure: { error: unknown } | undefined;
    for (const lane of this.lanes.values()) {
      const items = lane.items;
      while (lane.head < items.length) {
        const exchange = items[lane.head] as Exchange;
        if (exchange.done) {
          lane.head += 1;
          continue;
        }
        if (exchange.deadline > now) {
          next = Math.min(next, exchange.deadline);
          break;
        }
        // Settling moves the lane's head past this request (settled() above).
        try {
          exchange.timeout();
        } catch (error) {
          failure ??= { error };
        }
      }
    }
    if (next < Infinity && this.timer === undefined) this.arm(next);
    // What a recorder threw while a request timed out surfaces as before (from a timer), after the other deadlines were served.
    if (failure !== undefined) throw failure.error;
  }

  clear(): void {
    this.disarm();
    this.lanes.clear();
    this.live = 0;
  }
}

/**
 * One request in flight: its own undici dispatch handler, deadline and
 * settlement in a single object (methods on the prototype), instead of a
 * dozen closures and objects per request; at high rates that churn was a
 * large share of the generator's CPU (docs/benchmarks.md, Load generator).
 */
class Exchange implements Dispatcher.DispatchHandler, Stoppable {
  private readonly req: HttpRequest;
  private readonly context: ClientContext;
  private readonly recorder: LoadRecorder | undefined;
  private readonly timeoutMs: number;
  private readonly resolve: (result: HttpResult) => void;
  private readonly handedAt: number;
  private sentAtMs = -1;
  private controller: Dispatcher.DispatchController | undefined;
  private settled = false;
  private status = 0;
  private responseHeaders: IncomingHttpHeaders = EMPTY_HEADERS;
  // One chunk (the usual case for small bodies) is kept as is; more become an array.
  private body: Buffer | Buffer[] | undefined;
  private kept = 0;
  private watchers: Set<Stoppable> | undefined;
  /** Monotonic ms at which the request times out (set by Deadlines). */
  deadline = Infinity;
  lane: Lane | undefined;
  private readonly deadlines: Deadlines;
  /** While it waits for a connection: what to dispatch. */
  dispatchOptions: Dispatcher.DispatchOptions | undefined;
  /** The connection carrying it, until undici is done with the request (which may be after it settled). */
  connection: Client | undefined;
  origin: OriginConnections | undefined;

  constructor(
    req: HttpRequest,
    context: ClientContext,
    deadlines: Deadlines,
    recorder: LoadRecorder | undefined,
    timeoutMs: number,
    resolve: (result: HttpResult) => void,
  ) {
    this.req = req;
    this.deadlines = deadlines;
    this.context = context;
    this.recorder = recorder;
    this.timeoutMs = timeoutMs;
    this.resolve = resolve;
    this.handedAt = context.clock.wallNow();
  }

  /** Arm the deadline and watch the run's signal; false when the run has already stopped (resolved, nothing to send). */
  begin(stopWatch: ReturnType<typeof createStopWatch>): boolean {
    const signal = this.req.signal;
    if (signal?.aborted) {
      this.stop();
      return false;
    }
    this.deadlines.add(this, this.timeoutMs);
    if (signal !== undefined) this.watchers = stopWatch.watch(signal, this);
    return true;
  }

  /** Settled, or stopped by the run: nothing more to do. */
  get done(): boolean {
    return this.settled;
  }

  private cleanup(): void {
    if (this.lane !== undefined) this.deadlines.settled(this.lane);
    this.watchers?.delete(this);
    this.body = undefined;
  }

  private settle(ok: boolean, status: number, errorClass: ErrorClass | undefined, failure: string | undefined, response: HttpResponse | undefined): void {
    if (this.settled) return;
    this.settled = true;
    this.cleanup();
    const sample: RequestSample = {
      intendedStartMs: this.req.intendedStartMs,
      sentAtMs: this.sentAtMs < 0 ? this.handedAt : this.sentAtMs,
      endMs: this.context.clock.wallNow(),
      status,
      ok,
      tags: ok || response === undefined ? this.req.tags : tagsWithProblem(this.req.tags, response),
    };
    if (errorClass !== undefined) sample.errorClass = errorClass;
    const result: HttpResult = { ok, status, sample };
    if (errorClass !== undefined) result.errorClass = errorClass;
    if (failure !== undefined) result.failure = failure;
    if (response !== undefined) result.response = response;
    try {
      this.recorder?.record(sample);
    } finally {
      this.resolve(result);
    }
  }

  private cancel(reason: Error): void {
    const controller = this.controller;
    if (controller !== undefined && !controller.aborted) controller.abort(reason);
  }

  timeout(): void {
    const reason = new RequestTimeoutError(this.timeoutMs);
    try {
      this.settle(false, 0, 'timeout', reason.message, undefined);
    } finally {
      this.cancel(reason);
    }
  }

  /** The run's signal aborted: cancel, and resolve without recording. */
  stop(): void {
    if (this.settled) return;
    this.settled = true;
    this.cleanup();
    const signalReason: unknown = this.req.signal?.reason;
    const reason = signalReason instanceof Error ? signalReason : new Error('run stopped');
    this.cancel(reason);
    this.resolve({ ok: false, status: 0, failure: `not recorded: ${reason.message}` });
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    // Timed out or stopped while queued for a connection: do not send it at all.
    if (this.settled) {
      controller.abort(new RequestTimeoutError(this.timeoutMs));
      return;
    }
    this.sentAtMs = this.context.clock.wallNow();
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    this.status = statusCode;
    this.responseHeaders = headers;
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.settled || this.kept >= this.context.maxResponseBytes) return;
    const body = this.body;
    if (body === undefined) this.body = chunk;
    else if (Array.isArray(body)) body.push(chunk);
    else this.body = [body, chunk];
    this.kept += chunk.length;
  }

  onResponseEnd(): void {
    try {
      this.finishResponse();
    } finally {
      this.release();
    }
  }

  private finishResponse(): void {
    if (this.settled) return;
    const status = this.status;
    const req = this.req;
    const response = new LazyResponse(status, this.responseHeaders, this.body, this.context.maxResponseBytes);
    if (!statusExpected(status, req.expectStatus)) {
      this.settle(false, status, 'status', `unexpected status ${status}`, response);
      return;
    }
    if (req.check === undefined) {
      this.settle(true, status, undefined, undefined, response);
      return;
    }
    let verdict: true | string;
    try {
      verdict = req.check(response);
    } catch (error) {
      verdict = `check threw: ${describeError(error)}`;
    }
    if (verdict === true) this.settle(true, status, undefined, undefined, response);
    else this.settle(false, status, 'other', verdict, response);
  }

  onResponseError(_controller: Dispatcher.DispatchController | null, error: Error): void {
    try {
      this.settle(false, this.status, classifyNetworkError(error), describeError(error), undefined);
    } finally {
      // undici fails requests while it empties a connection's queue (a refused connect fails them all), and a
      // request dispatched in the middle of that would break its bookkeeping: hand the connection on afterwards.
      this.release(true);
    }
  }

  /** undici is done with this request: its connection goes to the next request waiting, or back to the idle stack. */
  private release(deferred = false): void {
    const connection = this.connection;
    const origin = this.origin;
    if (connection === undefined || origin === undefined) return;
    this.connection = undefined;
    if (deferred) queueMicrotask(() => origin.release(connection));
    else origin.release(connection);
  }
}

/**
 * The connections to one origin (see the opening comment): idle ones on a
 * stack (the most recently used first, so its socket is warm and the rest
 * can time out), requests beyond the limit in a FIFO.
 */
class OriginConnections {
  private readonly origin: string;
  private readonly limit: number;
  private readonly clientOptions: Client.Options;
  private readonly idle: Client[] = [];
  private readonly all = new Set<Client>();
  private readonly waiting: Array<Exchange | undefined> = [];
  private head = 0;
  private closed = false;

  constructor(origin: string, limit: number, clientOptions: Client.Options) {
    this.origin = origin;
    this.limit = limit;
    this.clientOptions = clientOptions;
  }

  dispatch(options: Dispatcher.DispatchOptions, exchange: Exchange): void {
    if (this.closed) {
      exchange.onResponseError(null, new undiciErrors.ClientDestroyedError());
      return;
    }
    let connection = this.idle.pop();
    if (connection === undefined && this.all.size < this.limit) {
      connection = new Client(this.origin, this.clientOptions);
      this.all.add(connection);
    }
    if (connection === undefined) {
      exchange.dispatchOptions = options;
      this.waiting.push(exchange);
      return;
    }
    this.send(connection, options, exchange);
  }

  private send(connection: Client, options: Dispatcher.DispatchOptions, exchange: Exchange): void {
    exchange.connection = connection;
    exchange.origin = this;
    connection.dispatch(options, exchange);
  }

  release(connection: Client): void {
    if (this.closed) return;
    const waiting = this.waiting;
    while (this.head < waiting.length) {
      const next = waiting[this.head] as Exchange;
      waiting[this.head] = undefined;
      this.head += 1;
      if (this.head === waiting.length) {
        waiting.length = 0;
        this.head = 0;
      } else if (this.head >= 1_024 && this.head * 2 >= waiting.length) {
        waiting.splice(0, this.head);
        this.head = 0;
      }
      const options = next.dispatchOptions as Dispatcher.DispatchOptions;
      next.dispatchOptions = undefined;
      // Timed out or stopped while it waited: it was never sent, and never will be.
      if (next.done) continue;
      this.send(connection, options, next);
      return;
    }
    this.idle.push(connection);
  }

  /** Destroy every connection (what runs on them fails with UND_ERR_DESTROYED); requests still waiting fail the same way. */
  async destroy(): Promise<void> {
    this.closed = true;
    const waiting = this.waiting.splice(this.head);
    this.waiting.length = 0;
    this.head = 0;
    this.idle.length = 0;
    await Promise.all([...this.all].map((connection) => connection.destroy()));
    this.all.clear();
    const error = new undiciErrors.ClientDestroyedError();
    for (const exchange of waiting) if (exchange !== undefined && !exchange.done) exchange.onResponseError(null, error);
  }
}

const EMPTY_HEADERS: IncomingHttpHeaders = Object.freeze({}) as IncomingHttpHeaders;

function hasContentType(headers: Record<string, string>): boolean {
  for (const name in headers) if (name.toLowerCase() === 'content-type') return true;
  return false;
}

export function createHttpClient(options: HttpClientOptions = {}): HttpClient {
  const context: ClientContext = { clock: options.clock ?? systemClock, maxResponseBytes: options.maxResponseBytes ?? 1_048_576 };
  const stopWatch = createStopWatch();
  const deadlines = new Deadlines();
  const parseUrl = createUrlParser();
  const defaultTimeoutMs = options.timeoutMs ?? 10_000;
  const clientOptions: Client.Options = {
    keepAliveTimeout: options.keepAliveTimeoutMs ?? 4_000,
    pipelining: 1,
    // The client's own deadline covers the whole exchange; undici's partial timers would only muddle the classification.
    headersTimeout: 0,
    bodyTimeout: 0,
  };
  const limit = options.connections ?? Infinity;
  const origins = new Map<string, OriginConnections>();
  let closed = false;
  const dispatch = (dispatchOptions: Dispatcher.DispatchOptions, exchange: Exchange): void => {
    // After close(), as with a destroyed undici dispatcher: every request fails with UND_ERR_DESTROYED.
    if (closed) {
      exchange.onResponseError(null, new undiciErrors.ClientDestroyedError());
      return;
    }
    const origin = dispatchOptions.origin as string;
    let connections = origins.get(origin);
    if (connections === undefined) {
      connections = new OriginConnections(origin, limit, clientOptions);
      origins.set(origin, connections);
    }
    connections.dispatch(dispatchOptions, exchange);
  };

  function request(req: HttpRequest): Promise<HttpResult> {
    // Programming errors (not network failures) reject, before anything is sent.
    if (!Number.isFinite(req.intendedStartMs)) return Promise.reject(new TypeError(`request: intendedStartMs must be a finite epoch ms (got ${req.intendedStartMs})`));
    let dispatchOptions: Dispatcher.DispatchOptions;
    try {
      const url = parseUrl(req.url);
      const method = req.method ?? 'GET';
      let headers = req.headers;
      let body: string | Uint8Array | undefined = req.body;
      if (req.json !== undefined) {
        body = JSON.stringify(req.json);
        if (headers === undefined || !hasContentType(headers)) headers = { ...headers, 'content-type': 'application/json' };
      }
      // undici neither keeps nor changes the headers object: the caller's is passed as is.
      dispatchOptions =
        headers === undefined && body === undefined
          ? plainDispatchOptions(url, method)
          : { origin: url.origin, path: url.path, method: method as Dispatcher.HttpMethod, headers, body };
    } catch (error) {
      return Promise.reject(error as Error);
    }
    const timeoutMs = req.timeoutMs ?? defaultTimeoutMs;
    const recorder = req.recorder ?? options.recorder;
    return new Promise<HttpResult>((resolve) => {
      const exchange = new Exchange(req, context, deadlines, recorder, timeoutMs, resolve);
      if (exchange.begin(stopWatch)) dispatch(dispatchOptions, exchange);
    });
  }

  return {
    request,
    async close() {
      closed = true;
      await Promise.all([...origins.values()].map((connections) => connections.destroy()));
      origins.clear();
      deadlines.clear();
    },
  };
}
