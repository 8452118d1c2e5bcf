import { SpanKind } from '@opentelemetry/api';
import type { Span } from '@opentelemetry/sdk-trace';
import { describe, expect, it } from 'vitest';
import { SPAN_ATTR } from './conventions.ts';
import { dependencyOrigins, grpcDependencyNamer } from './grpc-telemetry.ts';

/** Just enough of a span for the processor: kind, attributes, setAttributes. */
function fakeSpan(kind: SpanKind, attributes: Record<string, unknown>): Span {
  const span = { kind, attributes: { ...attributes }, setAttributes: (more: Record<string, unknown>) => Object.assign(span.attributes, more) };
  return span as unknown as Span;
}

describe('grpcDependencyNamer', () => {
  const namer = grpcDependencyNamer(dependencyOrigins({ dependencies: { payment: ['http://127.0.0.1:7001', 'http://127.0.0.1:7002'] } }));
  const end = (span: Span) => (namer as unknown as { onEnding(span: Span): void }).onEnding(span);

  it('names the dependency of a gRPC client span, whether it says rpc.system.name (current) or rpc.system (deprecated)', () => {
    for (const system of [{ 'rpc.system.name': 'grpc' }, { 'rpc.system': 'grpc' }]) {
      const span = fakeSpan(SpanKind.CLIENT, { ...system, 'server.address': '127.0.0.1', 'server.port': 7002 });
      end(span);
      expect(span.attributes, JSON.stringify(system)).toMatchObject({ [SPAN_ATTR.dependency]: 'payment', 'peer.service': 'payment' });
    }
  });

  it('leaves server spans, other systems and unknown addresses alone', () => {
    const spans = [
      fakeSpan(SpanKind.SERVER, { 'rpc.system.name': 'grpc', 'server.address': '127.0.0.1', 'server.port': 7001 }),
      fakeSpan(SpanKind.CLIENT, { 'rpc.system.name': 'dubbo', 'server.address': '127.0.0.1', 'server.port': 7001 }),
      fakeSpan(SpanKind.CLIENT, { 'rpc.system.name': 'grpc', 'server.address': '127.0.0.1', 'server.port': 9999 }),
    ];
    for (const span of spans) {
      end(span);
      expect(span.attributes).not.toHaveProperty(SPAN_ATTR.dependency);
    }
  });
});
