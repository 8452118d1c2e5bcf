// A fault-injecting HTTP reverse proxy for one edge (e.g. payment -> bank).
// It forwards method, path, end-to-end headers and streamed bodies over a
// keep-alive undici Pool, and on each request draws from its own seeded random
// stream which of its faults apply, so a run with the same seed and the same
// request order injects the same faults. Faults are decided per request, not
// per connection as in Toxiproxy: clients keep connections alive, so
// per-connection sampling would make an error rate meaningless. That holds for
// the TCP toxics too: here they act on the one exchange they were drawn for
// (latency delays it, bandwidth and slicer shape its body, limit_data cuts it,
// timeout swallows it, reset_peer resets its connection); slow_close needs a
// tcp-mode proxy.
//
// The set of active faults is an immutable array replaced on every change, so
// a request sees one consistent set and the hot path does no locking; with no
// faults and no partition a request costs one array-length check.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { PassThrough } from 'node:stream';
import { type Dispatcher, Pool } from 'undici';
import { HEADER } from '../demo-services/kit/conventions.ts';
import { InvalidSpecError } from './errors.ts';
import type { Fault, FaultEffect } from './fault.ts';
import { createProxyCore, type FaultProxy, formatListen, type ProxyOptions, type ProxyOutcome } from './fault-proxy.ts';
import { createGate } from './gate.ts';
import { requestHeadersToForward, responseHeadersToForward } from './hop-by-hop.ts';
import { sendProblem } from './problem.ts';
import { type RequestView, requestView } from './request-match.ts';
import { type ActiveStage, passEnd, passThrough, sleep, type StageContext, type ToxicStage } from './toxic-stage.ts';
import { mulberry32, type RandomSource } from '../demo-services/kit/random.ts';

export { formatListen };

export type { ProxyOutcome };
export type HttpProxyOptions = ProxyOptions;

/** An http-mode fault proxy (the common proxy interface; kept under this name for existing callers). */
export type HttpProxy = FaultProxy;

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

type Answer = { fault: Fault; effect: Extract<FaultEffect, { kind: 'respond' }> };
type Cut = Extract<FaultEffect, { kind: 'blackhole' | 'reset' }>;
type Shape = Extract<FaultEffect, { kind: 'shape' }>['stage'];

/** What the drawn faults do to one request, decided before any I/O. */
interface Plan {
  upstreamDelayMs: number;
  downstreamDelayMs: number;
  upstreamAnswer?: Answer;
  downstreamAnswer?: Answer;
  upstreamCut?: Cut;
  downstreamCut?: Cut;
  upstreamShapes: Shape[];
  downstreamShapes: Shape[];
  /** Seed of the request's own random stream for its shaping stages (slice sizes). */
  shapeSeed: number;
}

const NO_FAULTS: Plan = Object.freeze({ upstreamDelayMs: 0, downstreamDelayMs: 0, upstreamShapes: [], downstreamShapes: [], shapeSeed: 0 });

/** Per HTTP/1.1 framing, a request has a body only when it says so. */
function hasBody(req: IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] ?? '0') !== '0';
}

/** Resolves once `stream` can take more (or is gone). */
function drained(stream: NodeJS.WritableStream & { destroyed?: boolean }): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.once('drain', done);
    stream.once('close', done);
  });
}

/** Draw the faults for one request. */
export function planRequest(faults: readonly Fault[], view: RequestView, random: RandomSource): Plan {
  if (faults.length === 0) return NO_FAULTS;
  const decided: Plan = { upstreamDelayMs: 0, downstreamDelayMs: 0, upstreamShapes: [], downstreamShapes: [], shapeSeed: 0 };
  for (const fault of faults) {
    if (!fault.decide || !fault.matches(view)) continue;
    if (!(random() < fault.toxicity)) continue;
    const effect = fault.decide(random);
    const upstream = fault.stream === 'upstream';
    switch (effect.kind) {
      case 'delay':
        if (upstream) decided.upstreamDelayMs += effect.ms;
        else decided.downstreamDelayMs += effect.ms;
        break;
      case 'respond':
        if (upstream) decided.upstreamAnswer ??= { fault, effect };
        else decided.downstreamAnswer ??= { fault, effect };
        break;
      case 'shape':
        if (decided.upstreamShapes.length + decided.downstreamShapes.length === 0) decided.shapeSeed = Math.floor(random() * 2 ** 32);
        (upstream ? decided.upstreamShapes : decided.downstreamShapes).push(effect.stage);
        break;
      case 'blackhole':
      case 'reset':
        if (upstream) decided.upstreamCut ??= effect;
        else decided.downstreamCut ??= effect;
        break;
      default:
        effect satisfies never;
    }
  }
  return decided;
}

export async function createHttpProxy(options: HttpProxyOptions): Promise<HttpProxy> {
  const name = options.name;
  let upstream = options.upstream;
  let pool = new Pool(upstreamOrigin(upstream));
  const random = mulberry32(options.seed ?? 0);
  const count = (outcome: ProxyOutcome): void => options.onOutcome?.(outcome);
  // Wired to the proxy core before the listener opens.
  let faultsNow: () => readonly Fault[] = () => [];
  const gate = createGate();

  function answerInjected(req: IncomingMessage, res: ServerResponse, answer: Answer): void {
    count('injected_error');
    const { fault, effect } = answer;
    sendProblem(req, res, effect.status, effect.problem, { ...effect.headers, [HEADER.faultInjected]: fault.name });
  }

  /** Swallow the exchange, or reset its connection, timed from `since` (when the data on that stream arrived). */
  async function cutExchange(req: IncomingMessage, cut: Cut, since: number, signal: AbortSignal): Promise<void> {
    const socket = req.socket;
    if (cut.kind === 'reset') {
      if (!(await sleep(since + cut.afterMs - performance.now(), signal))) return;
      count('injected_error');
      socket.resetAndDestroy();
      return;
    }
    // A black hole with timeout 0 holds the exchange until the client gives up or the proxy closes.
    if (cut.closeAfterMs <= 0) {
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      return;
    }
    if (!(await sleep(since + cut.closeAfterMs - performance.now(), signal))) return;
    count('injected_error');
    socket.destroySoon();
  }

  /** Pass a body through shaping stages into `write`; false when a stage cut the connection. */
  async function shapeBody(
    source: AsyncIterable<Buffer>,
    shapes: readonly Shape[],
    seed: number,
    signal: AbortSignal,
    socket: IncomingMessage['socket'],
    write: (data: Buffer) => Promise<void>,
  ): Promise<boolean> {
    let cut = false;
    const random = mulberry32(seed);
    const context: StageContext = {
      random,
      state: {},
      close: () => {
        cut = true;
      },
      reset: () => {
        cut = true;
        socket.resetAndDestroy();
      },
    };
    const stages: ActiveStage[] = shapes.map((shape): ActiveStage => ({ stage: shape(context) as ToxicStage, signal }));
    for await (const data of source) {
      await passThrough(stages, 0, { data, at: performance.now() }, async (chunk) => {
        if (!cut && !signal.aborted) await write(chunk.data);
      });
      if (cut || signal.aborted) return false;
    }
    await passEnd(stages);
    return !cut;
  }

  async function serve(req: IncomingMessage, res: ServerResponse, decided: Plan): Promise<void> {
    const arrived = performance.now();
    const abort = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) abort.abort();
    });
    if (!gate.open && !(await gate.wait(abort.signal))) return;
    if (decided.upstreamCut) {
      await cutExchange(req, decided.upstreamCut, arrived, abort.signal);
      return;
    }
    if (decided.upstreamDelayMs > 0 && !(await sleep(decided.upstreamDelayMs, abort.signal))) return;
    if (decided.upstreamAnswer) {
      answerInjected(req, res, decided.upstreamAnswer);
      return;
    }
    let body: IncomingMessage | PassThrough | null = hasBody(req) ? req : null;
    if (body && decided.upstreamShapes.length > 0) {
      const shaped = new PassThrough();
      body = shaped;
      shapeBody(req, decided.upstreamShapes, decided.shapeSeed, abort.signal, req.socket, async (data) => {
        if (!shaped.write(data)) await drained(shaped);
      }).then(
        (complete) => {
          if (complete) {
            shaped.end();
            return;
          }
          // A stage cut the connection mid-request (limit_data): the upstream request is abandoned too.
          if (!abort.signal.aborted) count('injected_error');
          shaped.destroy();
          req.socket?.destroySoon();
        },
        () => req.socket?.destroy(),
      );
    }
    const target = pool;
    let response: Awaited<ReturnType<Pool['request']>>;
    try {
      response = await target.request({
        path: req.url ?? '/',
        method: req.method ?? 'GET',
        headers: requestHeadersToForward(req.rawHeaders, req.headers.connection),
        body,
        signal: abort.signal,
      });
    } catch (error) {
      // Only our own abort means the client left; a failed upload destroys the request stream,
      // and with it the client's socket, before the rejection arrives.
      if (abort.signal.aborted && error === abort.signal.reason) return;
      upstreamFailed(req, res);
      return;
    }
    if (decided.downstreamCut) {
      const answered = performance.now();
      await response.body.dump().catch(() => undefined);
      await cutExchange(req, decided.downstreamCut, answered, abort.signal);
      return;
    }
    if (decided.downstreamAnswer) {
      await response.body.dump().catch(() => undefined);
      answerInjected(req, res, decided.downstreamAnswer);
      return;
    }
    if (decided.downstreamDelayMs > 0 && !(await sleep(decided.downstreamDelayMs, abort.signal))) {
      response.body.destroy();
      return;
    }
    if (!gate.open && !(await gate.wait(abort.signal))) {
      response.body.destroy();
      return;
    }
    count('forwarded');
    res.writeHead(response.statusCode, responseHeadersToForward(response.headers));
    if (decided.downstreamShapes.length === 0) {
      response.body.on('error', () => res.destroy());
      response.body.pipe(res);
      return;
    }
    const complete = await shapeBody(response.body, decided.downstreamShapes, decided.shapeSeed, abort.signal, req.socket, async (data) => {
      if (!res.write(data)) await drained(res);
    }).catch(() => false);
    if (complete) {
      res.end();
      return;
    }
    response.body.destroy();
    req.socket?.destroySoon();
  }

  /**
   * The upstream could not be reached (refused, reset, gone before it answered): the client's
   * connection is closed without an answer, as a TCP proxy (Toxiproxy) closes its client's
   * connection when it cannot dial the upstream. A 502 of the proxy's own would look like an
   * answer of the service behind it, and the caller could not tell "never reached it" from a
   * real failure (which it must not retry blindly, nor count the same way).
   */
  function upstreamFailed(req: IncomingMessage, res: ServerResponse): void {
    count('upstream_error');
    // Node has let go of the socket when the client closed it first (req.socket is null then):
    // there is nothing left to close, and a throw here would take the whole proxy down.
    const socket = req.socket ?? res.socket;
    if (socket) socket.destroy();
    else res.destroy();
  }

  /**
   * The path of a request no fault and no partition touches: straight onto
   * undici's dispatcher, the answer written to the client as it arrives,
   * without the stream objects, timers and abort plumbing the faulted path
   * needs. This is what the overhead benchmark measures.
   */
  function forward(req: IncomingMessage, res: ServerResponse): void {
    let controller: Dispatcher.DispatchController | undefined;
    // The one error that means the client left; any other is the upstream's (a failed upload
    // destroys the request stream, and with it the client's socket, before this hears of it).
    const clientClosed = new Error('client closed the connection');
    res.once('close', () => {
      if (res.writableFinished) return;
      controller?.abort(clientClosed);
    });
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(started) {
        controller = started;
        if (res.closed && !res.writableFinished) started.abort(clientClosed);
      },
      onResponseStart(_controller, statusCode, headers) {
        count('forwarded');
        res.writeHead(statusCode, responseHeadersToForward(headers));
      },
      onResponseData(flowing, chunk) {
        if (res.write(chunk)) return;
        flowing.pause();
        res.once('drain', () => flowing.resume());
      },
      onResponseEnd() {
        res.end();
      },
      onResponseError(_controller, error) {
        if (error === clientClosed) return;
        if (res.headersSent) res.destroy();
        else upstreamFailed(req, res);
      },
    };
    pool.dispatch(
      {
        path: req.url ?? '/',
        method: (req.method ?? 'GET') as Dispatcher.HttpMethod,
        headers: requestHeadersToForward(req.rawHeaders, req.headers.connection),
        body: hasBody(req) ? req : null,
      },
      handler,
    );
  }

  const server: Server = createServer((req, res) => {
    const faults = faultsNow();
    if (faults.length === 0 && gate.open) {
      forward(req, res);
      return;
    }
    const decided = faults.length === 0 ? NO_FAULTS : planRequest(faults, requestView(req.method, req.url, req.headers), random);
    serve(req, res, decided).catch(() => res.destroy());
  });

  const core = await createProxyCore({
    name,
    mode: 'http',
    host: options.listenHost ?? '127.0.0.1',
    port: options.listenPort ?? 0,
    upstream,
    enabled: false,
    server,
    gate,
    dropConnections: () => server.closeAllConnections(),
    ...(options.onEvent ? { onEvent: options.onEvent } : {}),
    async switchUpstream(next) {
      const nextPool = new Pool(upstreamOrigin(next));
      const previous = pool;
      pool = nextPool;
      upstream = next;
      await previous.close();
    },
    dispose: () => pool.destroy(),
  });
  faultsNow = () => core.faults.current;
  if (options.enabled !== false) {
    try {
      await core.proxy.setEnabled(true);
    } catch (error) {
      await core.proxy.close();
      throw error;
    }
  }
  return core.proxy;
}
