// RFC 9457 problem+json answers written by the proxy itself (injected faults;
// an unreachable upstream gets no answer, its connection is closed) on a bare node:http response. The services' kit has
// its own Express-bound version that reads the trace id from the active span;
// the proxy runs without OpenTelemetry, so it takes the trace id from the
// request's traceparent header instead, which joins the answer to the caller's trace.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { PROBLEM_CONTENT_TYPE } from '../demo-services/kit/conventions.ts';

/** Problem type URIs, in the same namespace as the services' problems. */
export function problemType(slug: string): string {
  return `https://faultline.dev/problems/${slug}`;
}

export interface ProblemFields {
  type: string;
  title: string;
  detail: string;
}

const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/;

/** The trace id of a W3C traceparent header, when it is well formed and not all zeros. */
export function traceIdOf(traceparent: string | string[] | undefined): string | undefined {
  if (typeof traceparent !== 'string') return undefined;
  const traceId = TRACEPARENT.exec(traceparent.trim())?.[1];
  return traceId && !/^0+$/.test(traceId) ? traceId : undefined;
}

/** Answer `req` with a problem; when the head is already out, all that is left is to cut the connection. */
export function sendProblem(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  problem: ProblemFields,
  headers: Readonly<Record<string, string>> = {},
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const traceId = traceIdOf(req.headers.traceparent);
  const body = JSON.stringify({
    ...problem,
    status,
    instance: req.url ?? '/',
    ...(traceId ? { trace_id: traceId } : {}),
  });
  res.writeHead(status, {
    ...headers,
    'content-type': PROBLEM_CONTENT_TYPE,
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}
