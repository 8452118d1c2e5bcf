// Errors the collector raises on purpose, each with a stable `code` so callers
// (the runner, main.ts, tests) branch on the code and never on message text.

export type CollectorErrorCode =
  /** A port the collector was told to bind is taken (the code Node uses for the same condition). */
  | 'EADDRINUSE'
  /** Binding failed for another reason (bad host, permission). */
  | 'BIND_FAILED'
  /** The collector options are invalid; the message names every bad field. */
  | 'INVALID_CONFIG'
  /** An export request is not a valid OTLP Export*ServiceRequest (protobuf or JSON). */
  | 'MALFORMED_OTLP'
  /** An export request holds more elements than one request may cost to decode (request-limits.ts). */
  | 'TOO_COMPLEX'
  /** The collector's write queue is full: the request is refused as a whole, to be retried later. */
  | 'OVERLOADED'
  /** The collector or its store is closing or closed and takes no more data. */
  | 'COLLECTOR_CLOSED'
  /** Writing accepted spans to disk failed; they are counted as dropped. */
  | 'TRACE_STORE_WRITE_FAILED'
  /** A traces file holds a corrupt line that is not its last one. */
  | 'TRACES_CORRUPT';

export class CollectorError extends Error {
  readonly code: CollectorErrorCode;

  constructor(code: CollectorErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CollectorError';
    this.code = code;
  }
}

export function isCollectorError(value: unknown, code?: CollectorErrorCode): value is CollectorError {
  return value instanceof CollectorError && (code === undefined || value.code === code);
}
