// Telemetry in the request path, on purpose: the habit of a serverless
// handler that flushes its spans before it answers, because the process may
// be frozen once it has. Each response's end is held until the export of its
// trace's spans (those ended so far in this process) settles,
// so an export that hangs (a frozen collector) holds the answer, and the
// caller's slot, for as long as the export's own timeout. The lab switches
// it on only with asyncTelemetry off (telemetry-policy.ts), to show why
// telemetry must never sit there.

import { context, trace } from '@opentelemetry/api';
import type { NextFunction, Request, RequestHandler, Response } from 'express';

/** Express middleware: every response it sees is ended only after `flush(its trace id)` has settled (at once without a trace). */
export function flushBeforeAnswer(flush: (traceId: string) => Promise<void>): RequestHandler {
  return (_req: Request, res: Response, next: NextFunction) => {
    // The request's server span is the active one while the request runs (http-tracing.ts).
    const traceId = trace.getSpan(context.active())?.spanContext().traceId;
    const end = res.end.bind(res) as (...args: unknown[]) => Response;
    res.end = ((...args: unknown[]) => {
      // A rejected flush still answers: the export's failure is counted elsewhere, not the caller's.
      void (traceId === undefined ? Promise.resolve() : flush(traceId))
        .catch(() => {})
        .finally(() => end(...args));
      return res;
    }) as Response['end'];
    next();
  };
}
