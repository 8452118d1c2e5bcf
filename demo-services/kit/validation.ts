// Request validation at the edge of every handler: a zod schema per body or
// header set, and a 400 problem that names every bad field.

import type { z } from 'zod';
import { validationProblem } from './problem.ts';

export function parseOrProblem<S extends z.ZodType>(schema: S, value: unknown, where: string): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw validationProblem(
    result.error.issues.map((issue) => ({
      field: [where, ...issue.path.map(String)].join('.'),
      message: issue.message,
    })),
  );
}
