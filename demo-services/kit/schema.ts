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

/** `'800ms'`, `'2s'` or milliseconds; parsed to milliseconds. */
export const durationMs = normalised((value) => parseDuration(value));

/** `'50%'` or `0.5`; parsed to a ratio in [0, 1]. */
export const ratio = normalised(parseRatio);

/** Every issue of a failed parse, one line each, prefixed by its path. */
export function formatIssues(error: z.ZodError, root = ''): string[] {
  return error.issues.map((issue) => {
    const path = [root, ...issue.path.map(String)].filter(Boolean).join('.');
    return `${path || '(root)'}: ${issue.message}`;
  });
}
