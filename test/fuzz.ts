// Fuzzing with generated bad requests, shared by the services' integration
// tests: every answer to a malformed or hostile request must be a 4xx
// problem+json without a stack trace, and the service must stay up.

import { Pool } from 'undici';
import { PROBLEM_CONTENT_TYPE } from '../demo-services/kit/conventions.ts';
import { createRandom, type Random } from '../demo-services/kit/random.ts';

export interface BadRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
}
export type Generator = (random: Random) => BadRequest;

export const BAD_STRINGS = ['', ' ', 'a'.repeat(3_000), '\u0000', 'x\u202ey', '😀'.repeat(30), '<script>', "' OR 1=1 --", '../../etc/passwd', 'a b', '\ud800', '${jndi:x}'];
export const BAD_NUMBERS = [0, -1, -0, 1.5, 1e308, -1e308, 2 ** 53 + 2, 1e-320, 10_001, 1e21, Number.MAX_SAFE_INTEGER];
/** Keys never used by any schema, so a random object is never accidentally valid. */
export const STRANGE_KEYS = ['a', '__proto__', 'constructor', 'prototype', '', '😀', 'toString', 'Sku', 'QUANTITY', '$where', 'x'.repeat(200)];
export const MALFORMED_JSON = ['{', '{"a":', '[1,2', 'nul', '{"a":1}x', "{'a':1}", '\u0000', '1e400', '"just a string"', 'true', `${'['.repeat(20_000)}${']'.repeat(20_000)}`, '{"a":"\\ud800"'];
export const CONTENT_TYPES = ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml', 'application/json; charset=latin1', 'application/json; charset=utf-16'];
export const RAW_BAD_SEGMENTS = ['%ZZ', '%E0%A4%A', '%', '%00', '%2F', '..', '%2e%2e%2f', 'a%20b', '%F0%9F%98%80'];
export const BAD_QUERY_INTS = ['-1', '1.5', '1e3', '%201', '0x10', '%EF%BC%91', '', 'abc', '99999999999', '%ZZ', 'NaN'];

export function randomValue(random: Random, depth = 0): unknown {
  const kind = random.int(0, depth > 3 ? 4 : 6);
  switch (kind) {
    case 0:
      return null;
    case 1:
      return random.next() < 0.5;
    case 2:
      return random.pick(BAD_NUMBERS);
    case 3:
    case 4:
      return random.pick(BAD_STRINGS);
    case 5:
      return Array.from({ length: random.int(0, 4) }, () => randomValue(random, depth + 1));
    default:
      return Object.fromEntries(Array.from({ length: random.int(1, 4) }, () => [random.pick(STRANGE_KEYS), randomValue(random, depth + 1)]));
  }
}

export type FieldType = 'string' | 'number' | 'array' | 'duration';

/** A value of any type but `type`, for a field that must be of `type` (a duration may be a string or a number). */
export function wrongType(random: Random, type: FieldType): unknown {
  const accepted = type === 'duration' ? ['string', 'number'] : [type];
  for (;;) {
    const value = randomValue(random);
    if (!accepted.includes(Array.isArray(value) ? 'array' : typeof value)) return value;
  }
}

/** A valid body with one thing wrong: a field of the wrong type or value, a required field missing, or an unknown field. */
export function mutate(random: Random, valid: Record<string, unknown>, fields: Record<string, { type: FieldType; bad: unknown[]; required: boolean }>): Record<string, unknown> {
  const body = structuredClone(valid);
  const names = Object.keys(fields);
  const field = random.pick(names);
  const spec = fields[field] as (typeof fields)[string];
  switch (random.int(0, 3)) {
    case 0:
      body[field] = wrongType(random, spec.type);
      break;
    case 1:
      body[field] = random.pick(spec.bad);
      break;
    case 2: {
      const required = names.filter((name) => fields[name]?.required);
      delete body[random.pick(required)];
      break;
    }
    default:
      // defineProperty, not assignment: `body.__proto__ = x` would set the prototype, not add a key.
      Object.defineProperty(body, random.pick(STRANGE_KEYS.filter(Boolean)), { value: randomValue(random), enumerable: true, configurable: true, writable: true });
  }
  return body;
}

export const json = (value: unknown) => ({ headers: { 'content-type': 'application/json' }, body: JSON.stringify(value) });

/** Bad bodies for a POST endpoint whose valid body is `valid()`. */
export function badBodies(random: Random, valid: () => Record<string, unknown>, fields: Parameters<typeof mutate>[2]): Pick<BadRequest, 'headers' | 'body'> {
  switch (random.int(0, 6)) {
    case 0:
    case 1:
      return json(mutate(random, valid(), fields));
    case 2: {
      const value = randomValue(random);
      return json(typeof value === 'object' && value !== null ? value : { value });
    }
    case 3:
      return { headers: { 'content-type': 'application/json' }, body: random.pick(MALFORMED_JSON) };
    case 4:
      return { headers: { 'content-type': random.pick(CONTENT_TYPES) }, body: JSON.stringify(valid()) };
    case 5:
      return { headers: { 'content-type': 'application/json', 'content-encoding': random.pick(['gzip', 'deflate', 'br', 'compress']) }, body: Buffer.from('not compressed at all') };
    default:
      return json({ ...valid(), padding: 'x'.repeat(70_000) });
  }
}

/** Percent-encoded; a lone surrogate (which encodeURIComponent refuses) becomes its invalid UTF-8 bytes. */
export function encode(value: string): string {
  try {
    return encodeURIComponent(value);
  } catch {
    return value.replace(/[\ud800-\udfff]/g, '%ED%A0%80').replace(/[^A-Za-z0-9%-]/g, (c) => encodeURIComponent(c));
  }
}
/** A path segment or query value the endpoint must refuse: a bad value encoded, or raw bad escapes (`..` too, where it is not a valid id). */
export const segment = (random: Random, bad: string[], allowDots = true) =>
  random.next() < 0.4 ? random.pick(RAW_BAD_SEGMENTS.filter((raw) => allowDots || raw !== '..')) : encode(random.pick(bad));
export const query = (pairs: Array<[string, string]>) => pairs.map(([key, value]) => `${key}=${value}`).join('&');

export interface FuzzResult {
  sent: number;
  statuses: Map<number, number>;
  failures: string[];
}

export async function fuzz(base: string, generate: Generator, seed: number, options = { maxRequests: 3_000, budgetMs: 2_500, concurrency: 16 }): Promise<FuzzResult> {
  // A request that hangs is a failure too: it is reported with what was sent.
  const pool = new Pool(base, { connections: options.concurrency, headersTimeout: 4_000, bodyTimeout: 4_000 });
  const random = createRandom(seed);
  const result: FuzzResult = { sent: 0, statuses: new Map(), failures: [] };
  const deadline = performance.now() + options.budgetMs;
  const fail = (request: BadRequest, why: string) => {
    if (result.failures.length < 10) result.failures.push(`${request.method} ${request.path.slice(0, 120)} ${String(request.headers?.['content-type'] ?? '')}: ${why}`);
  };
  const worker = async () => {
    while (result.sent < options.maxRequests && performance.now() < deadline) {
      result.sent += 1;
      const request = generate(random);
      try {
        const response = await pool.request({
          method: request.method as 'GET',
          path: request.path,
          headers: request.headers ?? {},
          ...(request.body !== undefined ? { body: request.body } : {}),
        });
        const text = await response.body.text();
        result.statuses.set(response.statusCode, (result.statuses.get(response.statusCode) ?? 0) + 1);
        if (response.statusCode < 400 || response.statusCode >= 500) fail(request, `status ${response.statusCode}: ${text.slice(0, 200)}`);
        else if (!String(response.headers['content-type']).startsWith(PROBLEM_CONTENT_TYPE)) fail(request, `content-type ${response.headers['content-type']}`);
        else {
          const problem = JSON.parse(text) as { status?: unknown; title?: unknown; stack?: unknown };
          if (problem.status !== response.statusCode || typeof problem.title !== 'string') fail(request, `not a problem: ${text.slice(0, 200)}`);
          if (problem.stack !== undefined || /\n\s+at /.test(text)) fail(request, 'leaks a stack trace');
        }
      } catch (error) {
        fail(request, `no answer: ${(error as Error).message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  await pool.close();
  return result;
}

