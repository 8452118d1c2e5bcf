// Who may talk to the console. It can break the shop on purpose, so every
// request carries the session's token (in the URL once, as Jupyter prints it,
// then as a SameSite=Strict cookie, or as a bearer header for scripts); the
// Host must be the console's own loopback name, so a DNS-rebound name cannot
// reach it; and a state-changing request must come from the console's own
// page: a foreign Origin, a cross-site fetch or a form-encodable body (which a
// page elsewhere could send without a CORS preflight) is refused.

import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const CONSOLE_COOKIE = 'faultline_console';
const SAFE_METHODS = new Set(['GET', 'HEAD']);

export interface GuardOptions {
  token: string;
  /** The port the console listens on: Host and Origin must name it. */
  port: number;
  /** Host names the console answers to besides loopback ones (a host it was bound to on purpose). */
  extraHosts?: readonly string[];
}

export type GuardVerdict = { ok: true; tokenFromQuery: boolean } | { ok: false; status: 401 | 403 | 415; detail: string };

function sameToken(given: string, token: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The value of one cookie in a Cookie header. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const equals = part.indexOf('=');
    if (equals > 0 && part.slice(0, equals).trim() === name) return decodeURIComponent(part.slice(equals + 1).trim());
  }
  return undefined;
}

/** `127.0.0.1:9000` -> ['127.0.0.1', '9000']; `[::1]:9000` -> ['::1', '9000']. */
export function splitHost(header: string): { name: string; port: string | undefined } {
  if (header.startsWith('[')) {
    const close = header.indexOf(']');
    const rest = header.slice(close + 1);
    return { name: header.slice(1, close), port: rest.startsWith(':') ? rest.slice(1) : undefined };
  }
  const colon = header.lastIndexOf(':');
  return colon === -1 ? { name: header, port: undefined } : { name: header.slice(0, colon), port: header.slice(colon + 1) };
}

function allowedHost(header: string | undefined, options: GuardOptions): boolean {
  if (header === undefined) return false;
  const { name, port } = splitHost(header.toLowerCase());
  const names = new Set(['127.0.0.1', 'localhost', '::1', ...(options.extraHosts ?? []).map((h) => h.toLowerCase())]);
  return names.has(name) && port === String(options.port);
}

/** Whether an Origin header names the console itself (scheme http, an allowed host, its port). */
function ownOrigin(origin: string, options: GuardOptions): boolean {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  return url.protocol === 'http:' && allowedHost(url.host, options);
}

/** The token a request carries: `?token=` (the printed URL), the cookie, or `Authorization: Bearer`. */
function tokenOf(request: IncomingMessage, url: URL): { token: string | undefined; fromQuery: boolean } {
  const query = url.searchParams.get('token');
  if (query !== null) return { token: query, fromQuery: true };
  const cookie = cookieValue(request.headers.cookie, CONSOLE_COOKIE);
  if (cookie !== undefined) return { token: cookie, fromQuery: false };
  const auth = request.headers.authorization;
  if (auth?.startsWith('Bearer ')) return { token: auth.slice('Bearer '.length).trim(), fromQuery: false };
  return { token: undefined, fromQuery: false };
}

/** Whether a request may go on; when not, the status and a sentence saying why. */
export function checkRequest(request: IncomingMessage, options: GuardOptions): GuardVerdict {
  if (!allowedHost(request.headers.host, options)) {
    return { ok: false, status: 403, detail: `Host '${request.headers.host ?? ''}' is not this console's address (127.0.0.1 or localhost, port ${options.port}); a rebound DNS name cannot reach it` };
  }
  const url = new URL(request.url ?? '/', 'http://console.invalid');
  const { token, fromQuery } = tokenOf(request, url);
  if (token === undefined) return { ok: false, status: 401, detail: 'no token: open the URL `faultline up` printed (it carries ?token=...), or send Authorization: Bearer <token>' };
  if (!sameToken(token, options.token)) return { ok: false, status: 401, detail: 'wrong token: open the URL this session of `faultline up` printed' };
  const method = (request.method ?? 'GET').toUpperCase();
  if (SAFE_METHODS.has(method)) return { ok: true, tokenFromQuery: fromQuery };
  const origin = request.headers.origin;
  if (origin !== undefined && !ownOrigin(origin, options)) return { ok: false, status: 403, detail: `Origin '${origin}' is not this console: a page elsewhere cannot change the lab` };
  const site = request.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return { ok: false, status: 403, detail: `a ${site} request cannot change the lab` };
  // A body a plain form could send (no preflight) is refused: only JSON changes the lab.
  const type = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  const hasBody = request.headers['content-length'] !== undefined && request.headers['content-length'] !== '0';
  if ((hasBody || request.headers['transfer-encoding'] !== undefined) && type !== 'application/json') {
    return { ok: false, status: 415, detail: `a change must be sent as application/json (got '${type || 'no content type'}')` };
  }
  return { ok: true, tokenFromQuery: fromQuery };
}
