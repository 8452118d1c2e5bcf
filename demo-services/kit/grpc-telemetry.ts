// Tracing for the gRPC hops: the instrumentation's options, and a span
// processor that names the dependency on gRPC client spans. The instrumentation
// sets rpc.* and server.address/port but has no hook for extra attributes;
// the lab's trace queries (runner/expectations.ts counts payment attempts per
// trace) read faultline.dependency, as on HTTP client spans, so it is added
// while the span ends, from the address it called.

import type { Span, SpanProcessor } from '@opentelemetry/sdk-trace';
import { SpanKind } from '@opentelemetry/api';
import type { ServiceConfig } from './config.ts';
import { ATTR_RPC_SYSTEM_NAME } from '@opentelemetry/semantic-conventions';
import { RPC_SYSTEM_NAME, SPAN_ATTR } from './conventions.ts';

/** Methods never traced: the OTLP exporter's own calls to the collector (tracing them would trace every export). */
export const UNTRACED_GRPC_METHODS = ['Export'];

/**
 * Sets faultline.dependency and peer.service on gRPC client spans whose
 * server address is a known dependency. `dependencyByOrigin` maps
 * `http://host:port` to the dependency's name.
 */
export function grpcDependencyNamer(dependencyByOrigin: ReadonlyMap<string, string>): SpanProcessor {
  return {
    onStart: () => {},
    onEnding(span: Span) {
      if (span.kind !== SpanKind.CLIENT || !isGrpc(span)) return;
      const host = span.attributes['server.address'];
      const port = span.attributes['server.port'];
      const dependency = dependencyByOrigin.get(`http://${String(host)}:${String(port)}`);
      if (dependency) span.setAttributes({ [SPAN_ATTR.dependency]: dependency, 'peer.service': dependency });
    },
    onEnd: () => {},
    forceFlush: async () => {},
    shutdown: async () => {},
  };
}

/**
 * Whether a span is a gRPC call: rpc.system.name is the current attribute;
 * @opentelemetry/instrumentation-grpc 0.300 still sets the deprecated
 * rpc.system unless OTEL_SEMCONV_STABILITY_OPT_IN asks for the new one.
 */
function isGrpc(span: Span): boolean {
  return span.attributes[ATTR_RPC_SYSTEM_NAME] === RPC_SYSTEM_NAME.grpc || span.attributes['rpc.system'] === RPC_SYSTEM_NAME.grpc;
}

/** `http://host:port` of every dependency instance, to the dependency's name. */
export function dependencyOrigins(config: Pick<ServiceConfig, 'dependencies'>): Map<string, string> {
  return new Map(
    Object.entries(config.dependencies).flatMap(([name, urls]) => (Array.isArray(urls) ? urls : [urls]).map((url) => [new URL(url).origin, name] as const)),
  );
}
