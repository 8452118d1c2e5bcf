// The NodeSDK set up as a lab process sets it up (initTelemetry, what
// instrument.ts preloads), against the collector's own OTLP/gRPC receiver:
// spans and log records arrive with the lab's resource, W3C trace context and
// baggage are what the process propagates, the span counts are kept, and a
// collector gone at shutdown does not hold the process up.

import { context, propagation, SeverityNumber, trace } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGrpcReceiver, type GrpcReceiver } from '../../collector/grpc-receiver.ts';
import { traceRequestToOtlpJson } from '../../collector/otlp-json.ts';
import type { DecodedExportRequest, TelemetrySignal } from '../../collector/otlp-signals.ts';
import type { DecodedExportTraceServiceRequest } from '../../collector/otlp-schema.ts';
import type { ServiceConfig } from './config.ts';
import { initTelemetry, otlpLogSink, shutdownTelemetry, spanExportStats, tracer } from './telemetry.ts';

const received: Array<{ signal: TelemetrySignal; request: DecodedExportRequest }> = [];
let receiver: GrpcReceiver;

async function until(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

beforeAll(async () => {
  receiver = await startGrpcReceiver({
    host: '127.0.0.1',
    port: 0,
    onExport: (signal, request) => {
      received.push({ signal, request });
      return { rejectedItems: 0 };
    },
  });
  const config: ServiceConfig = {
    name: 'catalog',
    instance: 'catalog-1',
    host: '127.0.0.1',
    port: 0,
    otlpEndpoint: `http://127.0.0.1:${receiver.port}`,
    telemetry: true,
    dependencies: {},
    policies: {},
    logLevel: 'info',
  };
  await initTelemetry(config);
});

afterAll(async () => {
  await shutdownTelemetry();
  await receiver.close(0);
});

describe('telemetry through the NodeSDK', () => {
  it('exports spans with the lab resource, and counts them', async () => {
    tracer().startActiveSpan('GET /api/products/:sku', (span) => span.end());
    await until(() => spanExportStats().exported >= 1, 'the span to be exported');

    const traces = received.filter((entry) => entry.signal === 'traces').map((entry) => traceRequestToOtlpJson(entry.request as DecodedExportTraceServiceRequest));
    const resourceSpans = traces.flatMap((request) => request.resourceSpans ?? []);
    const names = resourceSpans.flatMap((r) => (r.scopeSpans ?? []).flatMap((s) => (s.spans ?? []).map((span) => span.name)));
    expect(names).toContain('GET /api/products/:sku');
    const attributes = Object.fromEntries((resourceSpans[0]?.resource?.attributes ?? []).map((a) => [a.key, a.value?.stringValue]));
    expect(attributes).toMatchObject({ 'service.name': 'catalog', 'service.instance.id': 'catalog-1', 'service.namespace': 'faultline' });
    // No resource detectors: no host or process attributes.
    expect(Object.keys(attributes).filter((key) => key.startsWith('host.') || key.startsWith('process.'))).toEqual([]);
    expect(spanExportStats().dropped).toBe(0);
  });

  it('propagates W3C trace context and baggage', () => {
    const span = tracer().startSpan('client');
    const withBaggage = propagation.setBaggage(trace.setSpan(context.active(), span), propagation.createBaggage({ 'user.tier': { value: 'gold' } }));
    const headers: Record<string, string> = {};
    propagation.inject(withBaggage, headers);
    span.end();
    expect(headers.traceparent).toBe(`00-${span.spanContext().traceId}-${span.spanContext().spanId}-01`);
    expect(headers.baggage).toBe('user.tier=gold');
  });

  it('exports log records over OTLP', async () => {
    const sink = otlpLogSink();
    expect(sink).toBeDefined();
    sink?.emit({ severityNumber: SeverityNumber.INFO, severityText: 'info', body: 'listening' });
    await until(() => received.some((entry) => entry.signal === 'logs'), 'a log export');
  });

  it('does not wait past its bound for a collector that is gone', async () => {
    await receiver.close(0);
    for (let i = 0; i < 50; i++) tracer().startSpan(`late ${i}`).end();
    const started = Date.now();
    await shutdownTelemetry(500);
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(otlpLogSink()).toBeUndefined();
  });
});
