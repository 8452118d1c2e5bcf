// Validation of fault specs as the admin API and the typed factories receive
// them: the common Toxiproxy fields (name, stream, toxicity) and each fault
// type's attributes, checked with zod and reported as one InvalidSpecError
// naming every bad field (`attributes.latency: must be >= 0`).

import { z } from 'zod';
import { InvalidSpecError } from './errors.ts';
import type { FaultCollection, Stream } from './fault.ts';

export const STREAMS = ['upstream', 'downstream'] as const satisfies readonly Stream[];

/** A zod error message that says `required` for a missing field and `must be <expected>` otherwise. */
export function expected(what: string): { error: (issue: { input?: unknown }) => string } {
  return { error: (issue) => (issue.input === undefined ? 'required' : `must be ${what}`) };
}

/** A non-negative, finite number of some unit (milliseconds, seconds). */
export function nonNegative(unit: string): z.ZodNumber {
  return z.number(expected(`a number of ${unit}`)).min(0, { error: `must be >= 0 (${unit})` });
}

/**
 * The longest wait a Node timer holds (2^31 - 1 ms, about 24.8 days); a longer
 * one fires after 1 ms instead, so durations above it are refused.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * A duration in whole milliseconds, as Toxiproxy's int64 attributes take it (it
 * refuses 1.5 with a 400), at most what a Node timer can wait.
 */
export function milliseconds(): z.ZodNumber {
  return z
    .int(expected('an integer number of milliseconds'))
    .min(0, { error: 'must be >= 0 (milliseconds)' })
    .max(MAX_TIMER_MS, { error: `must be at most ${MAX_TIMER_MS} (milliseconds; the longest a timer can wait, about 24.8 days)` });
}

/** A duration in whole microseconds (slicer's delay), at most what a Node timer can wait. */
export function microseconds(): z.ZodNumber {
  return z
    .int(expected('an integer number of microseconds'))
    .min(0, { error: 'must be >= 0 (microseconds)' })
    .max(MAX_TIMER_MS * 1000, { error: `must be at most ${MAX_TIMER_MS * 1000} (microseconds; the longest a timer can wait, about 24.8 days)` });
}

/** Names travel in URL paths (`/proxies/{name}/toxics/{toxic}`), so they are restricted to URL-safe characters. */
export const nameSchema = z
  .string(expected('a string'))
  .regex(/^[A-Za-z0-9._~-]{1,128}$/, { error: 'must be 1-128 characters of A-Z a-z 0-9 . _ ~ -' });

/** Parse `value` with `schema`; on failure throw an InvalidSpecError whose fields are prefixed with `where`. */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown, where = ''): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const problems: Array<{ field: string; message: string }> = [];
  for (const issue of result.error.issues) {
    const path = [where, ...issue.path.map(String)].filter((part) => part !== '');
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) problems.push({ field: [...path, key].join('.'), message: 'unknown field' });
    } else {
      problems.push({ field: path.length > 0 ? path.join('.') : '(body)', message: issue.message });
    }
  }
  throw new InvalidSpecError(problems);
}

/** The fields every fault has, whatever its type, as the admin API receives them. */
export const commonSpecSchema = z.strictObject({
  // Toxiproxy's Go client sends "" for an unnamed toxic and null for no attributes.
  name: z.preprocess((value) => (value === '' ? undefined : value), nameSchema.optional()),
  type: z.string(expected('a string')).min(1, { error: 'required' }),
  stream: z.enum(STREAMS, { error: `must be one of ${STREAMS.join(', ')}` }).optional(),
  toxicity: z
    .number(expected('a number between 0 and 1'))
    .min(0, { error: 'must be between 0 and 1' })
    .max(1, { error: 'must be between 0 and 1' })
    .optional(),
  attributes: z.preprocess(
    (value) => (value === null ? undefined : value),
    z.record(z.string(), z.unknown(), expected('an object')).optional(),
  ),
});

export type CommonSpecInput = z.input<typeof commonSpecSchema>;

export interface CommonFields {
  name: string;
  stream: Stream;
  toxicity: number;
}

/** Options every typed fault factory accepts besides its attributes. */
export interface CommonOptions {
  /** Defaults to `<type>_<stream>`, as Toxiproxy names toxics. */
  name?: string;
  stream?: Stream;
  /** Probability (0..1) that the fault applies to a given request; default 1. */
  toxicity?: number;
}

/** Validate the common options of a typed factory call and fill the defaults. */
export function resolveCommon(type: string, defaultStream: Stream, options: CommonOptions): CommonFields {
  const parsed = parseWith(commonSpecSchema.omit({ type: true, attributes: true }), {
    name: options.name,
    stream: options.stream,
    toxicity: options.toxicity,
  });
  const stream = parsed.stream ?? defaultStream;
  return { name: parsed.name ?? `${type}_${stream}`, stream, toxicity: parsed.toxicity ?? 1 };
}

/** The collection (admin API path segment) and its noun, for messages. */
export const COLLECTION_NOUN: Record<FaultCollection, string> = { toxics: 'toxic', http_faults: 'HTTP fault' };

/** A non-negative integer count of some unit (bytes). */
export function nonNegativeInt(unit: string): z.ZodNumber {
  return z.int(expected(`an integer number of ${unit}`)).min(0, { error: `must be >= 0 (${unit})` });
}

/** The matcher of a fault that concerns every request (toxics). */
export function matchAll(): boolean {
  return true;
}
