import { describe, expect, it } from 'vitest';
import { isCollectorError } from './collector-error.ts';
import { OTLP_LOGS_TYPES, OTLP_METRICS_TYPES } from './otlp-schema.ts';
import { SIGNALS, countItems, decodeExportRequest, encodeExportResponse, keepFirstItems } from './otlp-signals.ts';
import type { DecodedExportRequest } from './otlp-signals.ts';

const gauge = (name: string, points: number) => ({ name, gauge: { dataPoints: Array.from({ length: points }, (_, i) => ({ asDouble: i + 0.5 })) } });
const histogram = (name: string, points: number) => ({ name, histogram: { dataPoints: Array.from({ length: points }, () => ({ count: 1 })) } });

function metricsRequest(): DecodedExportRequest {
  const { ExportMetricsServiceRequest } = OTLP_METRICS_TYPES;
  const message = ExportMetricsServiceRequest.fromObject({
    resourceMetrics: [
      { scopeMetrics: [{ metrics: [gauge('a', 2), histogram('b', 3)] }, { metrics: [{ name: 'empty' }] }] },
      { scopeMetrics: [{ metrics: [gauge('c', 1)] }] },
    ],
  });
  return decodeExportRequest(SIGNALS.metrics, ExportMetricsServiceRequest.encode(message).finish());
}

function names(request: DecodedExportRequest): string[][][] {
  const resources = request.resourceMetrics as { scopeMetrics: { metrics: { name: string }[] }[] }[];
  return resources.map((resource) => resource.scopeMetrics.map((scope) => scope.metrics.map((metric) => metric.name)));
}

describe('metrics requests', () => {
  it('count data points, not metrics', () => {
    expect(countItems(SIGNALS.metrics, metricsRequest())).toBe(6);
  });

  it('cut inside a metric, dropping metrics, scopes and resources left without points', () => {
    const request = metricsRequest();
    expect(keepFirstItems(SIGNALS.metrics, request, 4)).toBe(2);
    expect(names(request)).toEqual([[['a', 'b']]]);
    expect(countItems(SIGNALS.metrics, request)).toBe(4);
    const b = (request.resourceMetrics as { scopeMetrics: { metrics: { histogram?: { dataPoints: unknown[] } }[] }[] }[])[0]?.scopeMetrics[0]?.metrics[1];
    expect(b?.histogram?.dataPoints).toHaveLength(2);
  });

  it('name an exemplar id of the wrong size', () => {
    const { ExportMetricsServiceRequest } = OTLP_METRICS_TYPES;
    const body = ExportMetricsServiceRequest.encode(
      ExportMetricsServiceRequest.fromObject({
        resourceMetrics: [{ scopeMetrics: [{ metrics: [{ name: 'm', sum: { dataPoints: [{ asInt: 3, exemplars: [{ asInt: 1, spanId: Buffer.alloc(5) }] }] } }] }] }],
      }),
    ).finish();
    const error = (() => {
      try {
        decodeExportRequest(SIGNALS.metrics, body);
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(isCollectorError(error, 'MALFORMED_OTLP')).toBe(true);
    expect((error as Error).message).toBe(
      'invalid ExportMetricsServiceRequest: resourceMetrics[0].scopeMetrics[0].metrics[0].sum.dataPoints[0].exemplars[0].spanId: must be 8 bytes, got 5',
    );
  });
});

describe('logs requests', () => {
  const encode = (records: Record<string, unknown>[]) => {
    const { ExportLogsServiceRequest } = OTLP_LOGS_TYPES;
    return ExportLogsServiceRequest.encode(ExportLogsServiceRequest.fromObject({ resourceLogs: [{ scopeLogs: [{ logRecords: records }] }] })).finish();
  };

  it('accept records with or without trace context, and refuse a wrong-sized trace id', () => {
    const request = decodeExportRequest(SIGNALS.logs, encode([{ body: { stringValue: 'a' } }, { traceId: Buffer.alloc(16, 1), spanId: Buffer.alloc(8, 2) }]));
    expect(countItems(SIGNALS.logs, request)).toBe(2);
    expect(() => decodeExportRequest(SIGNALS.logs, encode([{ traceId: Buffer.alloc(15, 1) }]))).toThrow(
      'invalid ExportLogsServiceRequest: resourceLogs[0].scopeLogs[0].logRecords[0].traceId: must be 16 bytes, got 15',
    );
  });

  it('encode a partial success naming rejected log records, and full success as an empty message', () => {
    expect(encodeExportResponse(SIGNALS.logs, { rejectedItems: 0 })).toHaveLength(0);
    const { ExportLogsServiceResponse } = OTLP_LOGS_TYPES;
    const decoded = ExportLogsServiceResponse.toObject(ExportLogsServiceResponse.decode(encodeExportResponse(SIGNALS.logs, { rejectedItems: 3, errorMessage: 'full' })), {
      longs: Number,
    });
    expect(decoded).toEqual({ partialSuccess: { rejectedLogRecords: 3, errorMessage: 'full' } });
  });
});
