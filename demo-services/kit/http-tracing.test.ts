// The kit's HTTP spans against real sockets: a traced server and a traced
// dependency client, with the SDK's in-memory exporter reading what ended.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SpanKind, SpanStatusCode, context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { createDependencyClient, DependencyError } from './dependency-client.ts';
import { disableHttpTracing, enableHttpTracing, traceIncomingRequests } from './http-tracing.ts';
import { createServiceMetrics } from './metrics.ts';

const exporter = new InMemorySpanExporter();
const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
const contextManager = new AsyncLocalStorageContextManager();
const servers: Server[] = [];

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void, route = '/items/:id'): Promise<string> {
  const server = createServer(traceIncomingRequests(handler, () => route));
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Spans end after the response is written; give the 'close' event a turn. */
async function endedSpans(count: number) {
  for (let i = 0; i < 100 && exporter.getFinishedSpans().length < count; i += 1) await new Promise((resolve) => setTimeout(resolve, 5));
  return exporter.getFinishedSpans();
}

beforeAll(() => {
  context.setGlobalContextManager(contextManager.enable());
  propagation.setGlobalPropagator(new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }));
  trace.setGlobalTracerProvider(provider);
  enableHttpTracing(provider);
});

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
  exporter.reset();
});

afterAll(async () => {
  disableHttpTracing();
  trace.disable();
  propagation.disable();
  context.disable();
  await provider.shutdown();
});

describe('server spans', () => {
  it('continue the caller’s trace, are named by route and carry the response status', async () => {
    const base = await listen((_req, res) => {
      res.end('ok');
    });
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const response = await fetch(`${base}/items/7?x=1`, { headers: { traceparent: `00-${traceId}-b7ad6b7169203331-01` } });
    expect(await response.text()).toBe('ok');
    const [span] = await endedSpans(1);
    expect(span?.name).toBe('GET /items/:id');
    expect(span?.kind).toBe(SpanKind.SERVER);
    expect(span?.spanContext().traceId).toBe(traceId);
    expect(span?.parentSpanContext?.spanId).toBe('b7ad6b7169203331');
    expect(span?.attributes).toMatchObject({ 'http.request.method': 'GET', 'url.path': '/items/7', 'http.route': '/items/:id', 'http.response.status_code': 200 });
    expect(span?.status.code).toBe(SpanStatusCode.UNSET);
  });

  it('fail on 5xx but not on 4xx, and leave probes and /metrics untraced', async () => {
    const base = await listen((req, res) => {
      res.statusCode = req.url === '/items/bad' ? 400 : req.url === '/items/broken' ? 503 : 200;
      res.end();
    });
    for (const path of ['/items/bad', '/items/broken', '/healthz', '/metrics']) await (await fetch(`${base}${path}`)).arrayBuffer();
    const spans = await endedSpans(2);
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(spans.map((span) => [span.attributes['url.path'], span.status.code])).toEqual([
      ['/items/bad', SpanStatusCode.UNSET],
      ['/items/broken', SpanStatusCode.ERROR],
    ]);
    expect(spans[1]?.attributes['error.type']).toBe('503');
  });

  it('mark a request whose client went away before the answer as failed', async () => {
    let answered = false;
    const base = await listen((_req, res) => {
      setTimeout(() => {
        answered = true;
        if (!res.destroyed) res.end('late');
      }, 200);
    });
    await fetch(`${base}/items/1`, { signal: AbortSignal.timeout(50) }).catch(() => undefined);
    const [span] = await endedSpans(1);
    expect(answered).toBe(false);
    expect(span?.status.code).toBe(SpanStatusCode.ERROR);
    expect(span?.attributes['error.type']).toBe('aborted');
  });
});

describe('client spans', () => {
  it('are children of the active span and carry their own id onward in traceparent', async () => {
    const seen: Array<string | undefined> = [];
    const upstream = await listen((req, res) => {
      seen.push(req.headers.traceparent as string | undefined);
      res.setHeader('content-type', 'application/json');
      res.end('{"ok":true}');
    });
    const client = createDependencyClient('catalog', upstream, createServiceMetrics());
    const parent = provider.getTracer('test').startSpan('handler');
    const answer = await context.with(trace.setSpan(context.active(), parent), () => client.request({ method: 'GET', path: '/items/3' }));
    parent.end();
    await client.close();
    expect(answer.body).toEqual({ ok: true });
    const spans = await endedSpans(3);
    const clientSpan = spans.find((span) => span.kind === SpanKind.CLIENT);
    const serverSpan = spans.find((span) => span.kind === SpanKind.SERVER);
    expect(clientSpan?.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
    expect(clientSpan?.attributes).toMatchObject({ 'http.request.method': 'GET', 'url.full': `${upstream}/items/3`, 'server.address': '127.0.0.1', 'faultline.dependency': 'catalog', 'http.response.status_code': 200 });
    expect(seen[0]).toBe(`00-${parent.spanContext().traceId}-${clientSpan?.spanContext().spanId}-01`);
    expect(serverSpan?.parentSpanContext?.spanId).toBe(clientSpan?.spanContext().spanId);
  });

  it('fail on an error status and on a call that got no answer', async () => {
    const upstream = await listen((_req, res) => {
      res.statusCode = 503;
      res.end();
    });
    const client = createDependencyClient('payment', upstream, createServiceMetrics());
    expect((await client.request({ method: 'POST', path: '/charges', body: { amount: 1 } })).status).toBe(503);
    await client.close();
    // A dependency that accepts and resets every connection: no HTTP answer at all.
    const resetting = createNetServer((socket) => socket.resetAndDestroy());
    await new Promise<void>((resolve) => resetting.listen(0, '127.0.0.1', resolve));
    const broken = createDependencyClient('bank', `http://127.0.0.1:${(resetting.address() as AddressInfo).port}`, createServiceMetrics());
    await expect(broken.request({ method: 'GET', path: '/x' })).rejects.toBeInstanceOf(DependencyError);
    await broken.close();
    await new Promise((resolve) => resetting.close(resolve));
    const spans = (await endedSpans(3)).filter((span) => span.kind === SpanKind.CLIENT);
    expect(spans.map((span) => [span.attributes['faultline.dependency'], span.status.code, span.attributes['error.type']])).toEqual([
      ['payment', SpanStatusCode.ERROR, '503'],
      ['bank', SpanStatusCode.ERROR, 'FL_DEP_RESET'],
    ]);
  });
});
