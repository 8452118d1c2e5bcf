// Structured JSON logs (pino) that carry the active trace context, so a log
// line can be joined to its trace by trace_id.

import { context, trace } from '@opentelemetry/api';
import { pino, type Logger } from 'pino';
import { LOG_FIELD } from './conventions.ts';

export type { Logger };

export function createLogger(service: string, instance: string, level = 'info'): Logger {
  return pino({
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
  });
}

/** The current trace id, or undefined outside a traced request. */
export function currentTraceId(): string | undefined {
  return trace.getSpan(context.active())?.spanContext().traceId;
}
