// RFC 9457 problem details: every error a client sees has the same shape,
// carries the trace id for lookup, and never a stack trace.

import type { Response } from 'express';
import { PROBLEM_CONTENT_TYPE } from './conventions.ts';
import { currentTraceId } from './logger.ts';

export interface Problem {
  /** A URI reference naming the problem type; `about:blank` when the status says it all. */
  type?: string;
  title: string;
  status: number;
  detail?: string;
  /** Extension members, e.g. `errors` for validation failures. */
  [extension: string]: unknown;
}

/** An error that is meant for the client: thrown anywhere in a handler, rendered as problem+json. */
export class ProblemError extends Error {
  readonly problem: Problem;
  readonly headers: Record<string, string>;
  constructor(problem: Problem, headers: Record<string, string> = {}) {
    super(problem.detail ?? problem.title);
    this.name = 'ProblemError';
    this.problem = problem;
    this.headers = headers;
  }
}

export function problemType(slug: string): string {
  return `https://faultline.dev/problems/${slug}`;
}

export function sendProblem(res: Response, problem: Problem, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const traceId = currentTraceId();
  const body = {
    type: 'about:blank',
    ...problem,
    instance: res.req.originalUrl,
    ...(traceId ? { trace_id: traceId } : {}),
  };
  res.status(problem.status).set(headers).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(body));
}

/** Problem for a request body or header that failed validation; `errors` names every bad field. */
export function validationProblem(errors: Array<{ field: string; message: string }>): ProblemError {
  return new ProblemError({
    type: problemType('validation'),
    title: 'Invalid request',
    status: 400,
    detail: errors.map((error) => `${error.field}: ${error.message}`).join('; '),
    errors,
  });
}
