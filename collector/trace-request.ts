// What the collector does with one OTLP ExportTraceServiceRequest before it is
// stored: decode and validate it (malformed input is a client error naming the
// bad field, never a crash), count its spans, cut it down to the spans that fit
// in the write queue, and encode the response the OTLP spec asks for.
import { CollectorError } from './collector-error.ts';
import { OTLP_TRACE_TYPES } from './otlp-schema.ts';
import type { DecodedExportTraceServiceRequest } from './otlp-schema.ts';

const TRACE_ID_BYTES = 16;
const SPAN_ID_BYTES = 8;

/** Decode and validate a request body; throws CollectorError MALFORMED_OTLP. */
export function decodeTraceExportRequest(body: Uint8Array): DecodedExportTraceServiceRequest {
  let request: DecodedExportTraceServiceRequest;
  try {
    request = OTLP_TRACE_TYPES.ExportTraceServiceRequest.decode(body) as DecodedExportTraceServiceRequest;
  } catch (error) {
    throw new CollectorError('MALFORMED_OTLP', `malformed ExportTraceServiceRequest: ${(error as Error).message}`, { cause: error });
  }
  const problem = findInvalidId(request);
  if (problem !== undefined) throw new CollectorError('MALFORMED_OTLP', `invalid ExportTraceServiceRequest: ${problem}`);
  return request;
}

/** OTLP ids have fixed sizes; a wrong size would make an unreadable trace, so the request is refused. */
function findInvalidId(request: DecodedExportTraceServiceRequest): string | undefined {
  const resources = request.resourceSpans ?? [];
  for (let r = 0; r < resources.length; r++) {
    const scopes = resources[r]?.scopeSpans ?? [];
    for (let s = 0; s < scopes.length; s++) {
      const spans = scopes[s]?.spans ?? [];
      for (let i = 0; i < spans.length; i++) {
        const span = spans[i];
        if (span === undefined) continue;
        const path = `resourceSpans[${r}].scopeSpans[${s}].spans[${i}]`;
        const problem =
          checkLength(`${path}.traceId`, span.traceId, [TRACE_ID_BYTES]) ??
          checkLength(`${path}.spanId`, span.spanId, [SPAN_ID_BYTES]) ??
          checkLength(`${path}.parentSpanId`, span.parentSpanId, [0, SPAN_ID_BYTES]);
        if (problem !== undefined) return problem;
        const links = span.links ?? [];
        for (let l = 0; l < links.length; l++) {
          const link = links[l];
          if (link === undefined) continue;
          const linkProblem =
            checkLength(`${path}.links[${l}].traceId`, link.traceId, [TRACE_ID_BYTES]) ??
            checkLength(`${path}.links[${l}].spanId`, link.spanId, [SPAN_ID_BYTES]);
          if (linkProblem !== undefined) return linkProblem;
        }
      }
    }
  }
  return undefined;
}

function checkLength(path: string, bytes: Uint8Array | undefined, allowed: number[]): string | undefined {
  const length = bytes?.length ?? 0;
  if (allowed.includes(length)) return undefined;
  return `${path}: must be ${allowed.filter((n) => n > 0).join(' or ')} bytes, got ${length}`;
}

/** Number of spans in a request. */
export function countTraceRequestSpans(request: DecodedExportTraceServiceRequest): number {
  let count = 0;
  for (const resource of request.resourceSpans ?? []) {
    for (const scope of resource.scopeSpans ?? []) count += scope.spans?.length ?? 0;
  }
  return count;
}

/**
 * Keep the first `limit` spans of a request (in request order) and remove the
 * rest, together with scopes and resources left without spans. Mutates the
 * request; returns how many spans were removed.
 */
export function keepFirstSpans(request: DecodedExportTraceServiceRequest, limit: number): number {
  let room = Math.max(0, limit);
  let removed = 0;
  const keptResources = [];
  for (const resource of request.resourceSpans ?? []) {
    const keptScopes = [];
    for (const scope of resource.scopeSpans ?? []) {
      const spans = scope.spans ?? [];
      if (spans.length > room) {
        removed += spans.length - room;
        scope.spans = spans.slice(0, room);
      }
      room -= scope.spans?.length ?? 0;
      if ((scope.spans?.length ?? 0) > 0) keptScopes.push(scope);
    }
    resource.scopeSpans = keptScopes;
    if (keptScopes.length > 0) keptResources.push(resource);
  }
  request.resourceSpans = keptResources;
  return removed;
}

export interface TraceExportOutcome {
  /** Spans of the request the collector did not keep. */
  rejectedSpans: number;
  /** Why, when rejectedSpans > 0 (or a warning the client should log). */
  errorMessage?: string;
}

/**
 * Encode an ExportTraceServiceResponse. Full success is the empty message;
 * otherwise partial_success names the rejected spans, as the OTLP spec says.
 */
export function encodeTraceExportResponse(outcome: TraceExportOutcome): Buffer {
  const { ExportTraceServiceResponse } = OTLP_TRACE_TYPES;
  if (outcome.rejectedSpans === 0 && !outcome.errorMessage) return Buffer.alloc(0);
  const message = ExportTraceServiceResponse.fromObject({
    partialSuccess: { rejectedSpans: outcome.rejectedSpans, errorMessage: outcome.errorMessage ?? '' },
  });
  return Buffer.from(ExportTraceServiceResponse.encode(message).finish());
}
