// Which requests an HTTP fault concerns: by path (a glob, or a prefix that
// matches whole segments), by method and by a header, all given as flat
// attributes so the fault keeps Toxiproxy's shape (`"attributes": {"status":
// 503, "path": "/charges/*", "method": "POST"}`). The matcher is compiled once
// when the fault is created; the proxy calls it per request before drawing the
// toxicity, so a fault that does not match consumes no random draw.
//
// A dozen lines of glob-to-RegExp beat a dependency: the only wildcards are
// `*` (within one segment) and `**` (across segments).

import type { IncomingHttpHeaders } from 'node:http';
import { z } from 'zod';
import { expected } from './fault-spec.ts';

/** What a matcher sees of a request. */
export interface RequestView {
  method: string;
  /** The path without the query string. */
  path: string;
  headers: IncomingHttpHeaders;
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** The match attributes every HTTP fault accepts (all optional). */
export const matchShape = {
  /** `/charges/*` (glob: `*` within a segment, `**` across), or `/charges` (that path and everything below it). */
  path: z
    .string(expected('a path such as /charges or /charges/*'))
    .regex(/^\/[^\s?#]*$/, { error: 'must start with / and hold no spaces, query or fragment' })
    .optional(),
  /** `POST`, or a comma-separated list such as `GET,HEAD`. */
  method: z
    .string(expected('an HTTP method such as POST, or a list such as GET,HEAD'))
    .regex(/^\s*[A-Za-z]+(\s*,\s*[A-Za-z]+)*\s*$/, { error: 'must be an HTTP method such as POST, or a list such as GET,HEAD' })
    .optional(),
  /** `x-tenant` (present) or `x-tenant: acme` (present with that exact value). */
  header: z
    .string(expected('a header such as "x-tenant" or "x-tenant: acme"'))
    .refine((value) => HEADER_NAME.test((value.split(':')[0] ?? '').trim()), {
      error: 'must be a header name, optionally followed by ": value"',
    })
    .optional(),
};

export interface MatchAttributes {
  path?: string | undefined;
  method?: string | undefined;
  header?: string | undefined;
}

/** The match attributes that were given, for the fault's JSON view. */
export function matchAttributes(attributes: MatchAttributes): Record<string, string> {
  const given: Record<string, string> = {};
  if (attributes.path !== undefined) given.path = attributes.path;
  if (attributes.method !== undefined) given.method = attributes.method;
  if (attributes.header !== undefined) given.header = attributes.header;
  return given;
}

function globToRegExp(glob: string): RegExp {
  let source = '';
  for (let i = 0; i < glob.length; i += 1) {
    const char = glob[i] as string;
    if (char === '*' && glob[i + 1] === '*') {
      source += '.*';
      i += 1;
    } else if (char === '*') {
      source += '[^/]*';
    } else {
      source += char.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
    }
  }
  return new RegExp(`^${source}$`);
}

function pathMatcher(pattern: string): (path: string) => boolean {
  if (pattern.includes('*')) {
    const regexp = globToRegExp(pattern);
    return (path) => regexp.test(path);
  }
  if (pattern === '/') return () => true;
  const base = pattern.endsWith('/') ? pattern.slice(0, -1) : pattern;
  return (path) => path === base || path.startsWith(`${base}/`);
}

/** Compile the match attributes into one predicate; no attributes match every request. */
export function createRequestMatcher(attributes: MatchAttributes): (request: RequestView) => boolean {
  const tests: Array<(request: RequestView) => boolean> = [];
  if (attributes.path !== undefined) {
    const matches = pathMatcher(attributes.path);
    tests.push((request) => matches(request.path));
  }
  if (attributes.method !== undefined) {
    const methods = new Set(attributes.method.split(',').map((method) => method.trim().toUpperCase()));
    tests.push((request) => methods.has(request.method.toUpperCase()));
  }
  if (attributes.header !== undefined) {
    const colon = attributes.header.indexOf(':');
    const name = (colon === -1 ? attributes.header : attributes.header.slice(0, colon)).trim().toLowerCase();
    const value = colon === -1 ? undefined : attributes.header.slice(colon + 1).trim();
    tests.push((request) => {
      const actual = request.headers[name];
      if (actual === undefined) return false;
      if (value === undefined) return true;
      return Array.isArray(actual) ? actual.includes(value) : actual === value;
    });
  }
  if (tests.length === 0) return () => true;
  return (request) => tests.every((test) => test(request));
}

/** The view of a node:http request a matcher needs. */
export function requestView(method: string | undefined, url: string | undefined, headers: IncomingHttpHeaders): RequestView {
  const target = url ?? '/';
  const query = target.indexOf('?');
  return { method: method ?? 'GET', path: query === -1 ? target : target.slice(0, query), headers };
}
