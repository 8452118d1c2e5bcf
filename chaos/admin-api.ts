// The admin HTTP API, in Toxiproxy's REST dialect so that existing Toxiproxy
// clients (Go, Node, toxiproxy-cli) can drive the lab's proxies: /proxies,
// /proxies/{proxy}/toxics, /reset, /populate, /version, with Toxiproxy's status
// codes and `{ error, status }` bodies, PATCH (or the older POST) to update a
// proxy or a toxic, toxics listed upstream first, Toxiproxy's defaults for a
// toxic posted without attributes. HTTP-level faults (http_error, delay,
// slow_body) have their own collection, /proxies/{proxy}/http_faults, of the
// same shape. A proxy created here is a byte-stream (tcp) proxy, as
// Toxiproxy's are, unless it asks for `mode: "http"` (per-request HTTP faults).
//
// Like Toxiproxy it refuses browsers (403 for a `Mozilla/` User-Agent), and it
// refuses a state-changing request from a foreign Origin, so a web page cannot
// drive it; without a token it answers only loopback Host names (no DNS
// rebinding). While the admin API is on loopback, so are the proxies it creates.
// /partitions cuts every
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
import { upstreamOrigin } from './http-proxy.ts';
import type { ProxyManager, ProxyPatch, ProxySpec } from './proxy-server.ts';
import { upstreamAddress } from './tcp-proxy.ts';

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

/** A collection as the API lists it: toxics upstream first, each stream in the order added (Toxiproxy's chains). */
function listed(proxy: FaultProxy, collection: FaultCollection): FaultSpec[] {
  const faults = proxy.listFaults(collection);
  const ordered = collection === 'toxics' ? [...faults.filter((f) => f.stream === 'upstream'), ...faults.filter((f) => f.stream !== 'upstream')] : faults;
  return ordered.map(toSpec);
}

export function proxyJson(proxy: FaultProxy): ProxyJson {
  return {
    name: proxy.name,
    mode: proxy.mode,
    listen: proxy.listen,
    upstream: proxy.upstream,
    enabled: proxy.enabled,
    toxics: listed(proxy, 'toxics'),
    http_faults: listed(proxy, 'http_faults'),
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
type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';
interface Route {
  segments: string[];
  methods: Partial<Record<Method, Handler>>;
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

/** What a proxy is when its body names no mode: a byte stream, as every Toxiproxy proxy is. */
export const DEFAULT_API_MODE: ProxyMode = 'tcp';

const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '0:0:0:0:0:0:0:0']);

/**
 * Where a proxy created or moved through the API listens. While the admin API
 * itself is on loopback, so are its proxies: a wildcard (`0.0.0.0:5000`, what
 * Toxiproxy examples use) becomes the admin's loopback host, and any other
 * address is refused naming the field.
 */
export function resolveListen(listen: string, manager: Pick<ProxyManager, 'host' | 'exposed'>): { host: string; port: number } {
  const parsed = parseListen(listen, manager.host);
  if (manager.exposed || isLoopbackName(parsed.host)) return parsed;
  if (WILDCARD_HOSTS.has(parsed.host)) return { host: manager.host, port: parsed.port };
  throw new InvalidSpecError([
    {
      field: 'listen',
      message: `${parsed.host} is not a loopback address; the admin API listens on ${manager.host}, so the proxies it creates do too (start it on another host, with a token, to expose them)`,
    },
  ]);
}

function isLoopbackName(host: string): boolean {
  if (host === 'localhost' || host === '::1' || host === '0:0:0:0:0:0:0:1') return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

function toProxySpec(body: z.output<typeof proxyBodySchema>, manager: ProxyManager): ProxySpec & { mode: ProxyMode } {
  const listen = body.listen === undefined ? undefined : resolveListen(body.listen, manager);
  return {
    name: body.name,
    upstream: body.upstream,
    mode: body.mode ?? DEFAULT_API_MODE,
    ...(listen ? { listenHost: listen.host, listenPort: listen.port } : {}),
    ...(body.enabled === undefined ? {} : { enabled: body.enabled }),
  };
}

/** Check a spec's upstream for its mode, before anything changes. */
function checkUpstream(spec: { upstream: string; mode: ProxyMode }): void {
  if (spec.mode === 'http') upstreamOrigin(spec.upstream);
  else upstreamAddress(spec.upstream);
}

/**
 * Whether a populate entry describes the proxy that exists, Toxiproxy's test
 * for leaving it alone: the same upstream and listen address (a requested port
 * 0, or no listen at all, accepts the port it has), and the same mode when the
 * entry names one.
 */
function isSameProxy(existing: FaultProxy, spec: ProxySpec, modeGiven: boolean): boolean {
  if (existing.upstream !== spec.upstream) return false;
  if (modeGiven && existing.mode !== spec.mode) return false;
  if (spec.listenPort === undefined) return true;
  return existing.host === spec.listenHost && (spec.listenPort === 0 || existing.port === spec.listenPort);
}

/** Replace a proxy by a new one (toxics and all); if the new one cannot start, the old one is put back as it was. */
async function replaceProxy(manager: ProxyManager, existing: FaultProxy, spec: ProxySpec): Promise<FaultProxy> {
  const old: ProxySpec = { name: existing.name, upstream: existing.upstream, mode: existing.mode, listenHost: existing.host, listenPort: existing.port, enabled: existing.enabled };
  const faults = existing.listFaults().map((fault) => ({ spec: toSpec(fault), collection: fault.collection }));
  await manager.deleteProxy(existing.name);
  try {
    return await manager.createProxy(spec);
  } catch (error) {
    const restored = await manager.createProxy(old).catch(() => undefined);
    for (const fault of restored ? faults : []) restored?.addFault(fault.spec, fault.collection);
    if (error instanceof ChaosError) {
      const state = restored ? `proxy ${spec.name} is unchanged` : `proxy ${spec.name} could not be put back and is gone`;
      throw new ChaosError(error.code, `${error.message}; ${state}`);
    }
    throw error;
  }
}

function buildRoutes(manager: ProxyManager): Route[] {
  // Toxiproxy 2.x updates with PATCH (its Go client and `toxiproxy-cli toxic update`); POST, the 1.x way, stays.
  const updateProxy: Handler = async ({ proxy }, body) => {
    const name = proxy as string;
    manager.getProxy(name);
    const fields = parseWith(proxyUpdateSchema, await body());
    if (fields.name !== undefined && fields.name !== name) {
      throw new InvalidSpecError([{ field: 'name', message: 'cannot be changed; delete and re-create the proxy' }]);
    }
    if (fields.mode !== undefined && fields.mode !== manager.getProxy(name).mode) {
      throw new InvalidSpecError([{ field: 'mode', message: 'cannot be changed; delete and re-create the proxy' }]);
    }
    const listen = fields.listen === undefined ? undefined : resolveListen(fields.listen, manager);
    const patch: ProxyPatch = {
      ...(fields.upstream === undefined ? {} : { upstream: fields.upstream }),
      ...(listen ? { listenHost: listen.host, listenPort: listen.port } : {}),
      ...(fields.enabled === undefined ? {} : { enabled: fields.enabled }),
    };
    return { status: 200, body: proxyJson(await manager.updateProxy(name, patch)) };
  };
  const updateFault =
    (collection: FaultCollection): Handler =>
    async ({ proxy, fault }, body) => {
      const found = findFault(manager, proxy, collection, fault);
      return { status: 200, body: toSpec(manager.getProxy(proxy as string).updateFault(found.name, await body())) };
    };
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
        // Toxiproxy's populate: the whole list is checked before anything changes; a proxy that
        // already exists as described is left alone (toxics, enabled and all), one that differs
        // (upstream, listen or mode) is replaced by a fresh one, and a new name is created.
        POST: async (_params, body) => {
          const list = parseWith(z.array(proxyBodySchema, expected('an array of proxies')), await body());
          const problems: Array<{ field: string; message: string }> = [];
          const seen = new Set<string>();
          const specs = list.flatMap((entry, index) => {
            if (seen.has(entry.name)) problems.push({ field: `[${index}].name`, message: `duplicate proxy name ${entry.name}` });
            seen.add(entry.name);
            try {
              const spec = toProxySpec(entry, manager);
              checkUpstream(spec);
              return [{ spec, modeGiven: entry.mode !== undefined }];
            } catch (error) {
              if (!(error instanceof InvalidSpecError)) throw error;
              problems.push({ field: `[${index}]`, message: error.message });
              return [];
            }
          });
          if (problems.length > 0) throw new InvalidSpecError(problems);
          const result: ProxyJson[] = [];
          try {
            for (const { spec, modeGiven } of specs) {
              const existing = manager.listProxies().find((proxy) => proxy.name === spec.name);
              let proxy: FaultProxy;
              if (!existing) proxy = await manager.createProxy({ ...spec, enabled: spec.enabled ?? true });
              else if (isSameProxy(existing, spec, modeGiven)) proxy = existing;
              else proxy = await replaceProxy(manager, existing, { ...spec, enabled: spec.enabled ?? true });
              result.push(proxyJson(proxy));
            }
          } catch (error) {
            // As Toxiproxy answers a populate that failed part-way: the error, and the proxies done before it.
            if (!(error instanceof ChaosError)) throw error;
            const status = statusOf(error);
            return { status, body: { error: error.message, status, proxies: result } };
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
          const spec = toProxySpec(parseWith(proxyBodySchema, await body()), manager);
          return { status: 201, body: proxyJson(await manager.createProxy(spec)) };
        },
      },
    },
    {
      segments: ['proxies', ':proxy'],
      methods: {
        GET: async ({ proxy }) => ({ status: 200, body: proxyJson(manager.getProxy(proxy as string)) }),
        PATCH: updateProxy,
        POST: updateProxy,
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
          GET: async ({ proxy }) => ({ status: 200, body: listed(manager.getProxy(proxy as string), collection) }),
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
          PATCH: updateFault(collection),
          POST: updateFault(collection),
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

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The host part of a Host header (`127.0.0.1:8474`, `[::1]:8474`, `localhost`). */
function hostName(header: string): string {
  if (header.startsWith('[')) return header.slice(1, header.indexOf(']'));
  const colon = header.lastIndexOf(':');
  return colon === -1 ? header : header.slice(0, colon);
}

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
    // Toxiproxy's own guard, word for word: a browser is not a client of this API.
    if ((req.headers['user-agent'] ?? '').startsWith('Mozilla/')) {
      res.writeHead(403, { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' }).end('User agent not allowed\n');
      return;
    }
    if (!SAFE_METHODS.has(req.method ?? 'GET')) {
      // A page elsewhere can POST text/plain here without a preflight; its browser names it in Origin.
      const origin = req.headers.origin;
      if (origin !== undefined && origin !== `http://${req.headers.host ?? ''}`) {
        throw new HttpError(403, `header.origin: cross-origin ${req.method} from ${origin} refused`);
      }
      const site = req.headers['sec-fetch-site'];
      if (site !== undefined && site !== 'same-origin' && site !== 'none') throw new HttpError(403, `header.sec-fetch-site: ${site} ${req.method} refused`);
    }
    if (!authorized(req)) throw new HttpError(401, 'authorization: a valid bearer token is required', { 'www-authenticate': 'Bearer' });
    // Without a token the API trusts loopback; a page that resolves its own name to 127.0.0.1 (DNS rebinding) sends that name.
    if (tokenDigest === undefined && !isLoopbackName(hostName(req.headers.host ?? ''))) {
      throw new HttpError(403, `header.host: ${req.headers.host ?? '(none)'} is not a loopback name`);
    }
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
    const handler = found.route.methods[method as Method];
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
