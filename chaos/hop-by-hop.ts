// Hop-by-hop headers (RFC 9110 section 7.6.1) describe one connection, not the
// message, so a proxy must drop them in both directions, together with any
// header the Connection header names. `expect` is dropped too: node:http has
// already answered 100-continue to the client, and undici refuses to send it.

import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
]);

const NO_TOKENS: ReadonlySet<string> = new Set();

function connectionTokens(value: string | string[] | undefined): ReadonlySet<string> {
  // Most messages carry no Connection header, or one naming a header dropped anyway (keep-alive):
  // no set to build per message.
  if (value === undefined || (typeof value === 'string' && HOP_BY_HOP.has(value.toLowerCase()))) return NO_TOKENS;
  const tokens = new Set<string>();
  for (const line of Array.isArray(value) ? value : [value]) {
    for (const token of line.split(',')) {
      const trimmed = token.trim().toLowerCase();
      if (trimmed !== '') tokens.add(trimmed);
    }
  }
  return tokens;
}

/**
 * The end-to-end request headers of a node:http request, as a flat
 * [name, value, ...] list that keeps their order, case and repetitions.
 */
export function requestHeadersToForward(rawHeaders: readonly string[], connection: string | undefined): string[] {
  const named = connectionTokens(connection);
  const forwarded: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || named.has(lower) || lower === 'expect') continue;
    forwarded.push(name, rawHeaders[i + 1] as string);
  }
  return forwarded;
}

/** The end-to-end headers of an upstream answer, ready for writeHead. */
export function responseHeadersToForward(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const named = connectionTokens(headers.connection);
  const forwarded: OutgoingHttpHeaders = {};
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || HOP_BY_HOP.has(name) || named.has(name)) continue;
    forwarded[name] = value;
  }
  return forwarded;
}
