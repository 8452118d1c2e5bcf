// The trace signal's export requests in the types the trace tools use: decode
// and validate a body, count spans, cut to the spans that fit, encode the
// response. Thin names over the signal-generic code in otlp-signals.ts.
import { SIGNALS, countItems, decodeExportRequest, encodeExportResponse, keepFirstItems } from './otlp-signals.ts';
import type { DecodedExportTraceServiceRequest } from './otlp-schema.ts';

/** Decode and validate a request body; throws CollectorError MALFORMED_OTLP. */
export function decodeTraceExportRequest(body: Uint8Array): DecodedExportTraceServiceRequest {
  return decodeExportRequest(SIGNALS.traces, body) as DecodedExportTraceServiceRequest;
}

/** Number of spans in a request. */
export function countTraceRequestSpans(request: DecodedExportTraceServiceRequest): number {
  return countItems(SIGNALS.traces, request as Record<string, unknown>);
}

/**
 * Keep the first `limit` spans of a request (in request order) and remove the
 * rest, together with scopes and resources left without spans. Mutates the
 * request; returns how many spans were removed.
 */
export function keepFirstSpans(request: DecodedExportTraceServiceRequest, limit: number): number {
  return keepFirstItems(SIGNALS.traces, request as Record<string, unknown>, limit);
}

export interface TraceExportOutcome {
  /** Spans of the request the collector did not keep. */
  rejectedSpans: number;
  /** Why, when rejectedSpans > 0 (or a warning the client should log). */
  errorMessage?: string;
}

/** Encode an ExportTraceServiceResponse: empty on full success, else partial_success. */
export function encodeTraceExportResponse(outcome: TraceExportOutcome): Buffer {
  return encodeExportResponse(SIGNALS.traces, {
    rejectedItems: outcome.rejectedSpans,
    ...(outcome.errorMessage === undefined ? {} : { errorMessage: outcome.errorMessage }),
  });
}
