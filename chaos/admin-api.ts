// The admin HTTP API, in Toxiproxy's REST dialect so that existing Toxiproxy
// clients (Go, Node, toxiproxy-cli) can drive the lab's proxies: /proxies,
// /proxies/{proxy}/toxics, /reset, /populate, /version, with Toxiproxy's status
// codes and `{ error, status }` bodies. HTTP-level faults (http_error, delay,
// slow_body) have their own collection, /proxies/{proxy}/http_faults, of the
// same shape. A proxy may carry `mode: "tcp"` (a byte-stream proxy, as
// Toxiproxy's are) instead of the default `"http"`. /partitions cuts every
// proxy between two groups of services at once; /markers shows faults applied
// elsewhere (process, in-service) in the same gauge. /metrics serves the
// Prometheus exposition of the fault state and traffic.
//
// A dozen routes on node:http need no framework: the route table below is the
// whole router.

import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { ChaosError, InvalidSpecError, NotFoundError } from './errors.ts';
import { type FaultCollection, type FaultSpec, PROXY_MODES, type ProxyMode, toSpec } from './fault.ts';
import type { FaultProxy } from './fault-proxy.ts';
import { COLLECTION_NOUN, expected, nameSchema, parseWith } from './fault-spec.ts';
import type { ProxyManager, ProxyPatch, ProxySpec } from './proxy-server.ts';

export const ADMIN_API_VERSION = '0.2.0';

/** Largest admin request body accepted. */
const MAX_BODY_BYTES = 1 << 20;

/** A proxy as the admin API shows it (Toxiproxy's shape, plus the HTTP faults). */
export interface ProxyJson {
  name: string;
  mode: ProxyMode;
  listen: string;
  upstream: string;
  enabled: boolean;
  toxics: FaultSpec[];
  http_faults: FaultSpec[];
}

export function proxyJson(proxy: FaultProxy): ProxyJson {
  return {
    name: proxy.name,
    mode: proxy.mode,
    listen: proxy.listen,
    upstream: proxy.upstream,
    enabled: proxy.enabled,
    toxics: proxy.listFaults('toxics').map(toSpec),
    http_faults: proxy.listFaults('http_faults').map(toSpec),
  };
}

export interface AdminHandlerOptions {
  /** When set, every request must carry `Authorization: Bearer <token>`. */
  token?: string;
  /** Unexpected errors (answered 500 without details). */
  onError?: (error: unknown) => void;
}

type Reply = { status: number; body?: unknown; text?: { contentType: string; body: string } };
type Handler = (params: Record<string, string>, body: () => Promise<unknown>) => Promise<Reply>;
interface Route {
  segments: string[];
  methods: Partial<Record<'GET' | 'POST' | 'DELETE', Handler>>;
}

class HttpError extends Error {
  readonly status: number;
  readonly headers: Record<string, string>;
  constructor(status: number, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.status = status;
    this.headers = headers;
  }
}

/** `host:port`, `[v6]:port` or `:port` (the manager's host). */
export function parseListen(listen: string, defaultHost: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(listen.trim());
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65535) {
    throw new InvalidSpecError([{ field: 'listen', message: `"${listen}" is not host:port (port 0..65535)` }]);
  }
  const host = match[1] ?? match[2] ?? '';
  return { host: host === '' ? defaultHost : host, port };
}

const proxyBodySchema = z.strictObject({
  name: nameSchema,
  listen: z.string(expected('a string of the form host:port')).optional(),
  upstream: z.string(expected('a string of the form http://host:port or host:port')),
  mode: z.enum(PROXY_MODES, { error: `must be one of ${PROXY_MODES.join(', ')}` }).optional(),
  enabled: z.boolean(expected('a boolean')).optional(),
  // Toxiproxy's clients send back the whole proxy, toxics included; they are read-only here.
  toxics: z.unknown().optional(),
  http_faults: z.unknown().optional(),
});
const proxyUpdateSchema = proxyBodySchema.partial();

function toProxySpec(body: z.output<typeof proxyBodySchema>, defaultHost: string): ProxySpec {
  const listen = body.listen === undefined ? undefined : parseListen(body.listen, defaultHost);
  return {
    name: body.name,
    upstream: body.upstream,
    ...(body.mode === undefined ? {} : { mode: body.mode }),
    ...(listen ? { listenHost: listen.host, listenPort: listen.port } : {}),
    ...(body.enabled === undefined ? {} : { enabled: body.enabled }),
  };
}

function buildRoutes(manager: ProxyManager): Route[] {
  const routes: Route[] = [
    { segments: ['version'], methods: { GET: async () => ({ status: 200, body: { version: ADMIN_API_VERSION } }) } },
    {
      segments: ['metrics'],
      methods: { GET: async () => ({ status: 200, text: await manager.metrics() }) },
    },
    {
      segments: ['reset'],
      methods: {
        POST: async () => {
          await manager.reset();
          return { status: 204 };
        },
      },
    },
    {
      segments: ['populate'],
      methods: {
        POST: async (_params, body) => {
          const list = parseWith(z.array(proxyBodySchema, expected('an array of proxies')), await body());
          const specs = list.map((entry) => toProxySpec(entry, manager.host));
          const result: ProxyJson[] = [];
          for (const spec of specs) {
            let existing = manager.listProxies().find((proxy) => proxy.name === spec.name);
            // A proxy of another mode cannot be updated into this one: it is replaced.
            if (existing && existing.mode !== (spec.mode ?? 'http')) {
              await manager.deleteProxy(spec.name);
              existing = undefined;
            }
            const proxy = existing
              ? await manager.updateProxy(spec.name, {
                  upstream: spec.upstream,
                  ...(spec.listenPort === undefined ? {} : { listenHost: spec.listenHost, listenPort: spec.listenPort }),
                  enabled: spec.enabled ?? true,
                })
              : await manager.createProxy(spec);
            result.push(proxyJson(proxy));
          }
          return { status: 201, body: { proxies: result } };
        },
      },
    },
    {
      segments: ['proxies'],
      methods: {
        GET: async () => ({
          status: 200,
          body: Object.fromEntries(manager.listProxies().map((proxy) => [proxy.name, proxyJson(proxy)])),
        }),
        POST: async (_params, body) => {
          const spec = toProxySpec(parseWith(proxyBodySchema, await body()), manager.host);
          return { status: 201, body: proxyJson(await manager.createProxy(spec)) };
        },
      },
    },
    {
      segments: ['proxies', ':proxy'],
      methods: {
        GET: async ({ proxy }) => ({ status: 200, body: proxyJson(manager.getProxy(proxy as string)) }),
        POST: async ({ proxy }, body) => {
          const name = proxy as string;
          manager.getProxy(name);
          const fields = parseWith(proxyUpdateSchema, await body());
          if (fields.name !== undefined && fields.name !== name) {
            throw new InvalidSpecError([{ field: 'name', message: 'cannot be changed; delete and re-create the proxy' }]);
          }
          const listen = fields.listen === undefined ? undefined : parseListen(fields.listen, manager.host);
          const patch: ProxyPatch = {
            ...(fields.upstream === undefined ? {} : { upstream: fields.upstream }),
            ...(listen ? { listenHost: listen.host, listenPort: listen.port } : {}),
            ...(fields.enabled === undefined ? {} : { enabled: fields.enabled }),
          };
          if (fields.mode !== undefined && fields.mode !== manager.getProxy(name).mode) {
            throw new InvalidSpecError([{ field: 'mode', message: 'cannot be changed; delete and re-create the proxy' }]);
          }
          return { status: 200, body: proxyJson(await manager.updateProxy(name, patch)) };
        },
        DELETE: async ({ proxy }) => {
          await manager.deleteProxy(proxy as string);
          return { status: 204 };
        },
      },
    },
  ];
  routes.push(
    {
      segments: ['partitions'],
      methods: {
        GET: async () => ({ status: 200, body: manager.listPartitions() }),
        POST: async (_params, body) => ({ status: 201, body: await manager.addPartition(await body()) }),
      },
    },
    {
      segments: ['partitions', ':partition'],
      methods: {
        GET: async ({ partition }) => ({ status: 200, body: manager.getPartition(partition as string) }),
        DELETE: async ({ partition }) => {
          await manager.removePartition(partition as string);
          return { status: 204 };
        },
      },
    },
  );
  routes.push(
    {
      segments: ['markers'],
      methods: {
        GET: async () => ({ status: 200, body: manager.listMarkers() }),
        POST: async (_params, body) => ({ status: 201, body: manager.addMarker(await body()) }),
      },
    },
    {
      segments: ['markers', ':marker'],
      methods: {
        DELETE: async ({ marker }) => {
          manager.removeMarker(marker as string);
          return { status: 204 };
        },
      },
    },
  );
  for (const collection of ['toxics', 'http_faults'] as const satisfies readonly FaultCollection[]) {
    routes.push(
      {
        segments: ['proxies', ':proxy', collection],
        methods: {
          GET: async ({ proxy }) => ({
            status: 200,
            body: manager.getProxy(proxy as string).listFaults(collection).map(toSpec),
          }),
          POST: async ({ proxy }, body) => {
            const target = manager.getProxy(proxy as string);
            return { status: 200, body: toSpec(target.addFault(await body(), collection)) };
          },
        },
      },
      {
        segments: ['proxies', ':proxy', collection, ':fault'],
        methods: {
          GET: async ({ proxy, fault }) => ({ status: 200, body: toSpec(findFault(manager, proxy, collection, fault)) }),
          POST: async ({ proxy, fault }, body) => {
            const found = findFault(manager, proxy, collection, fault);
            return { status: 200, body: toSpec(manager.getProxy(proxy as string).updateFault(found.name, await body())) };
          },
          DELETE: async ({ proxy, fault }) => {
            const found = findFault(manager, proxy, collection, fault);
            manager.getProxy(proxy as string).removeFault(found.name);
            return { status: 204 };
          },
        },
      },
    );
  }
  return routes;
}

function findFault(
  manager: ProxyManager,
  proxyName: string | undefined,
  collection: FaultCollection,
  faultName: string | undefined,
): ReturnType<FaultProxy['removeFault']> {
  const fault = manager.getProxy(proxyName as string).getFault(faultName as string);
  if (!fault || fault.collection !== collection) {
    throw new NotFoundError(`${COLLECTION_NOUN[collection]} not found: ${faultName} on proxy ${proxyName}`);
  }
  return fault;
}

function match(routes: readonly Route[], path: string[]): { route: Route; params: Record<string, string> } | undefined {
  for (const route of routes) {
    if (route.segments.length !== path.length) continue;
    const params: Record<string, string> = {};
    let matched = true;
    for (let i = 0; i < path.length && matched; i += 1) {
      const expectedSegment = route.segments[i] as string;
      const actual = path[i] as string;
      if (expectedSegment.startsWith(':')) params[expectedSegment.slice(1)] = actual;
      else matched = expectedSegment === actual;
    }
    if (matched) return { route, params };
  }
  return undefined;
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `body: larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new InvalidSpecError([{ field: 'body', message: `not valid JSON (${(error as Error).message})` }]);
  }
}

function statusOf(error: ChaosError): number {
  switch (error.code) {
    case 'CHAOS_INVALID_SPEC':
    case 'CHAOS_CONFIG':
      return 400;
    case 'CHAOS_NOT_FOUND':
      return 404;
    case 'CHAOS_CONFLICT':
      return 409;
    case 'CHAOS_UNAUTHORIZED':
      return 401;
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (status === 204 || body === undefined) {
    res.writeHead(status, headers).end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

/** The admin API as a node:http request listener. */
export function createAdminHandler(
  manager: ProxyManager,
  options: AdminHandlerOptions = {},
): (req: IncomingMessage, res: ServerResponse) => void {
  const routes = buildRoutes(manager);
  const tokenDigest = options.token === undefined ? undefined : digest(`Bearer ${options.token}`);

  const authorized = (req: IncomingMessage): boolean =>
    tokenDigest === undefined || timingSafeEqual(digest(req.headers.authorization ?? ''), tokenDigest);

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!authorized(req)) throw new HttpError(401, 'authorization: a valid bearer token is required', { 'www-authenticate': 'Bearer' });
    const url = new URL(req.url ?? '/', 'http://admin');
    let path: string[];
    try {
      path = url.pathname.split('/').filter((segment) => segment !== '').map(decodeURIComponent);
    } catch {
      throw new HttpError(400, 'path: malformed percent-encoding');
    }
    const found = match(routes, path);
    if (!found) throw new HttpError(404, `not found: ${url.pathname}`);
    const method = req.method === 'HEAD' ? 'GET' : req.method;
    const handler = found.route.methods[method as 'GET' | 'POST' | 'DELETE'];
    if (!handler) {
      const allow = Object.keys(found.route.methods).join(', ');
      throw new HttpError(405, `method ${req.method} not allowed on ${url.pathname}; allowed: ${allow}`, { allow });
    }
    const reply = await handler(found.params, () => readJson(req));
    if (reply.text) {
      res.writeHead(reply.status, { 'content-type': reply.text.contentType }).end(reply.text.body);
      return;
    }
    sendJson(res, reply.status, reply.body);
  }

  return (req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (error instanceof HttpError) {
        sendJson(res, error.status, { error: error.message, status: error.status }, error.headers);
      } else if (error instanceof ChaosError) {
        const status = statusOf(error);
        sendJson(res, status, { error: error.message, status });
      } else {
        options.onError?.(error);
        sendJson(res, 500, { error: 'internal error', status: 500 });
      }
    });
  };
}
