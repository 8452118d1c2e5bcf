// Structured JSON logs (pino) that carry the active trace context, so a log
// line can be joined to its trace by trace_id. Lines go to stdout as they
// always did; when telemetry set up OTLP log export (a collector endpoint is
// configured), each record is also sent as an OTLP log record with its
// severity, message as body, other fields as attributes, and the trace and
// span ids of the span it was written in, so the collector's logs.jsonl holds
// the logs of every trace.

import { Writable } from 'node:stream';
import { ROOT_CONTEXT, context, trace } from '@opentelemetry/api';
import type { Logger as OtlpLogger, LogAttributes, SeverityNumber } from '@opentelemetry/api-logs';
import { pino, type Logger } from 'pino';
import { LOG_FIELD } from './conventions.ts';
import { otlpLogSink } from './telemetry.ts';

export type { Logger };

export function createLogger(service: string, instance: string, level = 'info'): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { [LOG_FIELD.service]: service, instance },
    timestamp: pino.stdTimeFunctions.isoTime,
    mixin() {
      const span = trace.getSpan(context.active());
      if (!span) return {};
      const { traceId, spanId, traceFlags } = span.spanContext();
      return {
        [LOG_FIELD.traceId]: traceId,
        [LOG_FIELD.spanId]: spanId,
        [LOG_FIELD.traceFlags]: traceFlags.toString(16).padStart(2, '0'),
      };
    },
  };
  const sink = otlpLogSink();
  if (!sink) return pino(options);
  // Every level the logger lets through reaches both streams.
  return pino(
    options,
    pino.multistream([
      { level: 'trace', stream: pino.destination(1) },
      { level: 'trace', stream: otlpLogStream(sink) },
    ]),
  );
}

/** The current trace id, or undefined outside a traced request. */
export function currentTraceId(): string | undefined {
  return trace.getSpan(context.active())?.spanContext().traceId;
}

/** pino's numeric levels to OTLP severity numbers (TRACE=1, DEBUG=5, INFO=9, WARN=13, ERROR=17, FATAL=21). */
const SEVERITY: Readonly<Record<number, { number: SeverityNumber; text: string }>> = {
  10: { number: 1, text: 'TRACE' },
  20: { number: 5, text: 'DEBUG' },
  30: { number: 9, text: 'INFO' },
  40: { number: 13, text: 'WARN' },
  50: { number: 17, text: 'ERROR' },
  60: { number: 21, text: 'FATAL' },
};

/** Fields of a pino line that become parts of the OTLP record rather than attributes. */
const RECORD_FIELDS = new Set(['level', 'time', 'msg', LOG_FIELD.traceId, LOG_FIELD.spanId, LOG_FIELD.traceFlags, LOG_FIELD.service, 'instance']);

/** A pino destination that turns each JSON line into an OTLP log record. */
export function otlpLogStream(sink: OtlpLogger): Writable {
  return new Writable({
    decodeStrings: false,
    write(chunk: string | Buffer, _encoding, done) {
      try {
        emitPinoLine(sink, typeof chunk === 'string' ? chunk : chunk.toString('utf8'));
      } catch {
        // A line that does not parse stays on stdout; OTLP export is best effort.
      }
      done();
    },
  });
}

function emitPinoLine(sink: OtlpLogger, line: string): void {
  const record = JSON.parse(line) as Record<string, unknown>;
  const severity = SEVERITY[Number(record.level)];
  const attributes: LogAttributes = {};
  for (const [key, value] of Object.entries(record)) {
    if (!RECORD_FIELDS.has(key) && value !== undefined && value !== null) attributes[key] = value as LogAttributes[string];
  }
  const traceId = record[LOG_FIELD.traceId];
  const spanId = record[LOG_FIELD.spanId];
  const flags = record[LOG_FIELD.traceFlags];
  const time = typeof record.time === 'string' ? Date.parse(record.time) : Number(record.time);
  sink.emit({
    ...(Number.isFinite(time) ? { timestamp: time } : {}),
    ...(severity ? { severityNumber: severity.number, severityText: severity.text } : {}),
    body: typeof record.msg === 'string' ? record.msg : '',
    attributes,
    ...(typeof traceId === 'string' && typeof spanId === 'string'
      ? {
          context: trace.setSpanContext(ROOT_CONTEXT, {
            traceId,
            spanId,
            traceFlags: typeof flags === 'string' ? Number.parseInt(flags, 16) || 0 : 0,
            isRemote: false,
          }),
        }
      : {}),
  });
}
