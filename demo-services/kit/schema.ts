// zod building blocks for the lab's typed configuration: durations and ratios
// in their shorthand spellings, normalised once at the edge.

import { z } from 'zod';
import { parseDuration } from './durations.ts';
import { parseRatio } from './units.ts';

function normalised(parse: (value: string | number) => number) {
  return z.union([z.string(), z.number()]).transform((value, ctx) => {
    try {
      return parse(value);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
      return z.NEVER;
    }
  });
}

/**
 * While above zero, a bare number where a duration goes (`duration: 12` in a
 * YAML file) is an error instead of milliseconds: in a file a person wrote, 12
 * could mean seconds as well. Code that hands over numbers (tests, the runner's
 * own scaled copies) is not affected. zod's parse is synchronous, so a counter
 * around it is enough.
 */
let unitsRequired = 0;

/** Run a parse that reads a person's file: every duration in it must carry a unit (`0` may go without). */
export function requiringUnits<T>(parse: () => T): T {
  unitsRequired += 1;
  try {
    return parse();
  } finally {
    unitsRequired -= 1;
  }
}

/** `'800ms'`, `'2s'` or milliseconds; parsed to milliseconds. */
export const durationMs = normalised((value) => {
  if (unitsRequired > 0 && typeof value === 'number' && value !== 0) {
    throw new Error(`${value} has no unit: write '${value}ms' or '${value}s' (units: d, h, m, s, ms, us, ns)`);
  }
  return parseDuration(value);
});

/** `'50%'` or `0.5`; parsed to a ratio in [0, 1]. */
export const ratio = normalised(parseRatio);

/** HEADER.deadline as every service reads it: the epoch ms after which its caller no longer waits; absent when it set none. */
export const deadlineHeader = z.coerce.number().int().positive().optional();

/** Every issue of a failed parse, one line each, prefixed by its path. */
export function formatIssues(error: z.ZodError, root = ''): string[] {
  return error.issues.map((issue) => {
    const path = [root, ...issue.path.map(String)].filter(Boolean).join('.');
    return `${path || '(root)'}: ${issue.message}`;
  });
}
