// A lab process with asyncTelemetry off (telemetry-policy.ts): each span is
// exported as it ends, and spanFlushBeforeAnswer hands service.ts the flush
// an answer waits for. Against the collector's own OTLP/gRPC receiver.

import { context, trace } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGrpcReceiver, type GrpcReceiver } from '../../collector/grpc-receiver.ts';
import type { ServiceConfig } from './config.ts';
import { initTelemetry, shutdownTelemetry, spanExportStats, spanFlushBeforeAnswer, tracer } from './telemetry.ts';

let receiver: GrpcReceiver;
let exports = 0;

beforeAll(async () => {
  receiver = await startGrpcReceiver({
    host: '127.0.0.1',
    port: 0,
    onExport: (signal) => {
      if (signal === 'traces') exports += 1;
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
    policies: { asyncTelemetry: { enabled: false, exportTimeout: '2s' } },
    logLevel: 'info',
  };
  await initTelemetry(config);
});

afterAll(async () => {
  await shutdownTelemetry();
  await receiver.close(0);
});

describe('telemetry in the request path (asyncTelemetry off)', () => {
  it("exports each span as it ends, and a trace's flush returns once its spans are delivered", async () => {
    const flush = spanFlushBeforeAnswer();
    expect(flush).toBeDefined();
    const request = tracer().startSpan('GET /api/products');
    tracer().startSpan('SELECT products', {}, trace.setSpan(context.active(), request)).end();
    request.end();
    await flush?.(request.spanContext().traceId);
    expect(spanExportStats()).toMatchObject({ exported: 2, dropped: 0 });
    expect(exports).toBe(2);
  });

  it('no flush once telemetry has shut down', async () => {
    await shutdownTelemetry();
    expect(spanFlushBeforeAnswer()).toBeUndefined();
  });
});
