// Server and client spans for the HTTP hops of a demo service, made by the kit
// rather than by @opentelemetry/instrumentation-http and -undici. Why our own:
// on the catalog read path through the gateway (docs/benchmarks.md, "Cost of
// instrumentation") those two instrumentations were most of what tracing cost.
// They parse every request's URL with `new URL()`, bind every request and
// response emitter to the context, and work out attributes for any caller of
// any HTTP API. With them the gateway kept about 0.55 of its untraced
// throughput. The kit already knows both ends of every hop:
// - the server span starts where a request enters the service (the request
//   listener of service.ts);
// - the client span starts where dependency-client.ts calls undici.
// The spans keep the instrumentations' semantic-convention names, span kinds,
// error rules and W3C propagation, so traces, trace queries and dashboards
// are unchanged.

import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, context, propagation, trace, type Attributes, type Span, type Tracer } from '@opentelemetry/api';
import {
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_URL_FULL,
  ATTR_URL_PATH,
  ATTR_URL_SCHEME,
} from '@opentelemetry/semantic-conventions';
import { SPAN_ATTR } from './conventions.ts';

/** Paths that are scraped or probed, not served: no spans for them. */
const UNTRACED_PATHS = new Set(['/metrics', '/healthz', '/readyz']);

/** Methods semantic conventions name as they are; any other is reported as `_OTHER`. */
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']);

let tracer: Tracer | undefined;

/** Turn HTTP spans on (telemetry.ts, once the tracer provider is registered). Off, the wrappers below cost nothing. */
export function enableHttpTracing(provider: { getTracer(name: string): Tracer }): void {
  tracer = provider.getTracer('faultline-http');
}

/** Stop making HTTP spans (telemetry shutdown, tests). */
export function disableHttpTracing(): void {
  tracer = undefined;
}

function normalizedMethod(method: string | undefined): string {
  const upper = (method ?? 'GET').toUpperCase();
  return KNOWN_METHODS.has(upper) ? upper : '_OTHER';
}

/**
 * Wrap a request listener so that each request (probes and /metrics aside)
 * runs inside a SERVER span continuing the caller's W3C trace context and
 * baggage. `routeOf` names the matched route when the response is about to
 * finish (`GET /api/products/:sku`); the span ends when the response has been
 * sent, or with an error status when the connection closes first.
 */
export function traceIncomingRequests(listener: RequestListener, routeOf: (request: IncomingMessage) => string | undefined): RequestListener {
  return (request, response) => {
    const active = tracer;
    const url = request.url ?? '/';
    const queryAt = url.indexOf('?');
    const path = queryAt === -1 ? url : url.slice(0, queryAt);
    if (!active || UNTRACED_PATHS.has(path)) {
      listener(request, response);
      return;
    }
    const method = normalizedMethod(request.method);
    // The attributes semantic conventions require, and no more: every one is
    // serialized, sent, decoded and stored for every request. In the lab the
    // peer is always the fault proxy on loopback, over HTTP/1.1.
    const attributes: Attributes = {
      [ATTR_HTTP_REQUEST_METHOD]: method,
      [ATTR_URL_PATH]: path,
      [ATTR_URL_SCHEME]: 'http',
    };
    const localPort = request.socket.localPort;
    if (localPort !== undefined) attributes[ATTR_SERVER_PORT] = localPort;
    const parent = propagation.extract(ROOT_CONTEXT, request.headers);
    const span = active.startSpan(method, { kind: SpanKind.SERVER, attributes }, parent);
    let route: string | undefined;
    response.once('prefinish', () => {
      route = routeOf(request);
    });
    response.once('close', () => endServerSpan(span, method, route, response));
    context.with(trace.setSpan(parent, span), () => listener(request, response));
  };
}

function endServerSpan(span: Span, method: string, route: string | undefined, response: ServerResponse): void {
  if (route !== undefined) {
    span.updateName(`${method} ${route}`);
    span.setAttribute(ATTR_HTTP_ROUTE, route);
  }
  if (!response.writableFinished) {
    // The client went away before the answer was sent.
    span.setAttribute(ATTR_ERROR_TYPE, 'aborted');
    span.setStatus({ code: SpanStatusCode.ERROR, message: 'connection closed before the response was sent' });
  } else {
    const status = response.statusCode;
    span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
    // Server spans fail on 5xx only: a 4xx is the caller's mistake, not this service's.
    if (status >= 500) {
      span.setAttribute(ATTR_ERROR_TYPE, String(status));
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
  }
  span.end();
}

/** Where a dependency lives, parsed once per client rather than once per call. */
export interface DependencyOrigin {
  readonly name: string;
  /** `http://host:port`, without a trailing slash. */
  readonly origin: string;
  readonly host: string;
  readonly port: number;
}

export function dependencyOrigin(name: string, baseUrl: string): DependencyOrigin {
  const url = new URL(baseUrl);
  return { name, origin: url.origin, host: url.hostname, port: Number(url.port || (url.protocol === 'https:' ? 443 : 80)) };
}

/**
 * Start the CLIENT span of one call to a dependency, child of the active span,
 * and write its W3C trace context and baggage into `headers`. Undefined when
 * tracing is off.
 */
export function startClientSpan(target: DependencyOrigin, method: string, path: string, headers: Record<string, string>): Span | undefined {
  const active = tracer;
  if (!active) return undefined;
  const normalized = normalizedMethod(method);
  const span = active.startSpan(normalized, {
    kind: SpanKind.CLIENT,
    attributes: {
      [ATTR_HTTP_REQUEST_METHOD]: normalized,
      [ATTR_URL_FULL]: target.origin + path,
      [ATTR_SERVER_ADDRESS]: target.host,
      [ATTR_SERVER_PORT]: target.port,
      [SPAN_ATTR.dependency]: target.name,
      'peer.service': target.name,
    },
  });
  propagation.inject(trace.setSpan(context.active(), span), headers);
  return span;
}

/** End a client span with the answer's status (an error from 400 up, as the undici instrumentation did) or the failure that left no answer. */
export function endClientSpan(span: Span | undefined, status: number, failure?: { code: string; message: string }): void {
  if (!span) return;
  if (failure) {
    span.setAttribute(ATTR_ERROR_TYPE, failure.code);
    span.recordException({ name: failure.code, message: failure.message });
    span.setStatus({ code: SpanStatusCode.ERROR, message: failure.message });
  } else {
    span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
    if (status >= 400) {
      span.setAttribute(ATTR_ERROR_TYPE, String(status));
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
  }
  span.end();
}
