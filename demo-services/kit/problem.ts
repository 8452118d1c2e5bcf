// RFC 9457 problem details: every error a client sees has the same shape,
// carries the trace id for lookup, and never a stack trace.

import type { Express, NextFunction, Request, Response } from 'express';
import { PROBLEM_CONTENT_TYPE } from './conventions.ts';
import { currentTraceId, type Logger } from './logger.ts';

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

/**
 * The last two handlers of every express app of the lab (public and admin): a 404 for what no
 * route took, and every thrown error as problem+json (a ProblemError as it is, a body-parser
 * refusal as a 4xx, anything else a 500 that is logged and never shows its stack).
 */
export function useProblemHandlers(app: Express, logger: Logger, unhandled = 'unhandled error'): void {
  app.use((req: Request, res: Response) => {
    sendProblem(res, { type: problemType('not-found'), title: 'Not found', status: 404, detail: `no route for ${req.method} ${req.path}` });
  });
  // Express recognises an error handler by its four parameters.
  app.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    if (error instanceof ProblemError) {
      sendProblem(res, error.problem, error.headers);
      return;
    }
    const bodyError = error as { type?: string; status?: number; message?: string };
    if (bodyError.type === 'entity.parse.failed') {
      sendProblem(res, { type: problemType('malformed-body'), title: 'Malformed JSON body', status: 400, detail: 'body: not valid JSON' });
      return;
    }
    if (typeof bodyError.status === 'number' && bodyError.status >= 400 && bodyError.status < 500) {
      sendProblem(res, { title: 'Bad request', status: bodyError.status, detail: bodyError.message ?? 'bad request' });
      return;
    }
    logger.error({ err: error, method: req.method, path: req.path }, unhandled);
    sendProblem(res, { type: problemType('internal'), title: 'Internal error', status: 500, detail: 'the service failed to handle this request' });
  });
}
