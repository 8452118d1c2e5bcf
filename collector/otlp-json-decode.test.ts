import { describe, expect, it } from 'vitest';
import { isCollectorError } from './collector-error.ts';
import { decodeJsonExportRequest } from './otlp-json-decode.ts';
import { messageToOtlpJson } from './otlp-json.ts';
import { SIGNALS } from './otlp-signals.ts';

const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';

function refusal(signal: keyof typeof SIGNALS, body: unknown): string {
  try {
    decodeJsonExportRequest(SIGNALS[signal], typeof body === 'string' ? body : JSON.stringify(body));
  } catch (error) {
    expect(isCollectorError(error, 'MALFORMED_OTLP')).toBe(true);
    return (error as Error).message;
  }
  throw new Error('accepted');
}

describe('decodeJsonExportRequest', () => {
  it('reads OTLP/JSON as the spec writes it and as proto3 JSON allows, to the same stored form', () => {
    const request = decodeJsonExportRequest(
      SIGNALS.logs,
      JSON.stringify({
        resource_logs: [
          {
            scope_logs: [
              {
                log_records: [
                  {
                    time_unix_nano: 1_700_000_000_000,
                    severityNumber: 'SEVERITY_NUMBER_WARN',
                    body: { kvlistValue: { values: [{ key: 'n', value: { intValue: '-9007199254740993' } }, { key: 'd', value: { doubleValue: 'NaN' } }] } },
                    traceId: TRACE_ID.toUpperCase(),
                    spanId: 'b7ad6b7169203331',
                    flags: 1,
                    someFutureField: { ignored: true },
                  },
                ],
              },
            ],
          },
        ],
      }),
    );
    expect(messageToOtlpJson(SIGNALS.logs.requestType, request)).toEqual({
      resourceLogs: [
        {
          scopeLogs: [
            {
              logRecords: [
                {
                  timeUnixNano: '1700000000000',
                  severityNumber: 13,
                  body: { kvlistValue: { values: [{ key: 'n', value: { intValue: '-9007199254740993' } }, { key: 'd', value: { doubleValue: 'NaN' } }] } },
                  flags: 1,
                  traceId: TRACE_ID,
                  spanId: 'b7ad6b7169203331',
                },
              ],
            },
          ],
        },
      ],
    });
  });

  it('treats null as absent', () => {
    const request = decodeJsonExportRequest(SIGNALS.traces, JSON.stringify({ resourceSpans: null }));
    expect(messageToOtlpJson(SIGNALS.traces.requestType, request)).toEqual({});
  });

  it('names the field of every kind of wrong value', () => {
    const span = (extra: Record<string, unknown>) => ({ resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: TRACE_ID, spanId: 'b7ad6b7169203331', ...extra }] }] }] });
    const at = 'resourceSpans[0].scopeSpans[0].spans[0]';
    expect(refusal('traces', '[1,')).toMatch(/^malformed ExportTraceServiceRequest: not JSON/);
    expect(refusal('traces', span({ name: ['x'] }))).toBe(`invalid ExportTraceServiceRequest: ${at}.name: expected a string`);
    expect(refusal('traces', span({ kind: 2.5 }))).toBe(`invalid ExportTraceServiceRequest: ${at}.kind: expected an integer or a SpanKind name`);
    expect(refusal('traces', span({ flags: -1 }))).toBe(`invalid ExportTraceServiceRequest: ${at}.flags: expected an integer from 0 to 4294967295`);
    expect(refusal('traces', span({ startTimeUnixNano: '18446744073709551616' }))).toMatch(/startTimeUnixNano: expected an unsigned 64-bit integer/);
    expect(refusal('traces', span({ attributes: [{ key: 'k', value: { doubleValue: 'lots' } }] }))).toBe(
      `invalid ExportTraceServiceRequest: ${at}.attributes[0].value.doubleValue: expected a number`,
    );
    expect(refusal('traces', span({ attributes: [{ key: 'k', value: { bytesValue: '***' } }] }))).toMatch(/bytesValue: expected a base64 string$/);
    expect(refusal('traces', span({ status: 'ok' }))).toBe(`invalid ExportTraceServiceRequest: ${at}.status: expected an object (Status)`);
    expect(refusal('traces', span({ parentSpanId: 'abc' }))).toBe(`invalid ExportTraceServiceRequest: ${at}.parentSpanId: expected a hex string`);
  });
});
