// An HTTP error answered by the proxy itself: RFC 9457 problem+json with the
// configured status (default 503) and an optional Retry-After. On the upstream
// stream (the default) the request never reaches the upstream; on the
// downstream stream the upstream does the work and its answer is replaced,
// which is how a lost response (a charge made, the caller told it failed) looks.
// Like every HTTP fault it can be narrowed to some requests by path, method
// and header (request-match.ts).

import { z } from 'zod';
import type { FaultAttributes, FaultType, HttpModeFault } from '../fault.ts';
import { type CommonOptions, expected, parseWith, resolveCommon } from '../fault-spec.ts';
import { problemType } from '../problem.ts';
import { createRequestMatcher, type MatchAttributes, matchAttributes, matchShape } from '../request-match.ts';

const attributesSchema = z.strictObject({
  status: z
    .int(expected('an integer HTTP status'))
    .min(400, { error: 'must be an HTTP error status (400..599)' })
    .max(599, { error: 'must be an HTTP error status (400..599)' })
    .default(503),
  retry_after: z.int(expected('an integer number of seconds')).min(0, { error: 'must be >= 0 (seconds)' }).optional(),
  ...matchShape,
});

export type HttpErrorAttributes = z.output<typeof attributesSchema>;

export const httpErrorType: FaultType<HttpErrorAttributes> = {
  type: 'http_error',
  collection: 'http_faults',
  defaultStream: 'upstream',
  modes: ['http'],
  attributes: attributesSchema,
  create(common, attributes): HttpModeFault {
    const { status, retry_after: retryAfter } = attributes;
    const headers: Record<string, string> = retryAfter === undefined ? {} : { 'retry-after': String(retryAfter) };
    const effect = {
      kind: 'respond',
      status,
      headers: Object.freeze(headers),
      problem: Object.freeze({
        type: problemType('fault-injected'),
        title: 'Fault injected',
        detail:
          common.stream === 'upstream'
            ? `fault "${common.name}" answered ${status} without forwarding the request`
            : `fault "${common.name}" replaced the upstream's answer with ${status}`,
      }),
    } as const;
    return {
      ...common,
      type: 'http_error',
      collection: 'http_faults',
      modes: httpErrorType.modes,
      attributes: Object.freeze<FaultAttributes>({
        status,
        ...(retryAfter === undefined ? {} : { retry_after: retryAfter }),
        ...matchAttributes(attributes),
      }),
      matches: createRequestMatcher(attributes),
      decide: () => effect,
    };
  },
};

export interface HttpErrorOptions extends CommonOptions, MatchAttributes {
  /** Status to answer with, 400..599; default 503. */
  status?: number;
  /** Seconds for a Retry-After header; none when absent. */
  retryAfter?: number;
}

/** `httpError({ status: 503, toxicity: 0.1 })`: one request in ten answered 503 by the proxy. */
export function httpError(options: HttpErrorOptions = {}): HttpModeFault {
  const common = resolveCommon(httpErrorType.type, httpErrorType.defaultStream, options);
  const attributes = parseWith(
    attributesSchema,
    { status: options.status, retry_after: options.retryAfter, path: options.path, method: options.method, header: options.header },
    'attributes',
  );
  return httpErrorType.create(common, attributes) as HttpModeFault;
}
