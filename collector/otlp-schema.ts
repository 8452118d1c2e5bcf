// The OTLP protobuf messages the collector decodes, as a protobufjs reflection
// descriptor written in code. Why not load the upstream .proto files: they are
// not part of this project and a runtime .proto parser would be one more moving
// part; the handful of trace messages fit on one screen, and the conformance
// test (the official OTLP/gRPC exporter against this collector) proves every
// field number. Field names are written in lowerCamelCase, which is both the
// name protobufjs gives decoded properties and the OTLP/JSON key.
//
// One descriptor per protobuf package; OTLP_PACKAGES lists them and the root is
// built from that list. Adding metrics or logs means writing METRICS_V1 /
// LOGS_V1 and their collector service packages beside these and listing them.
import protobuf from 'protobufjs';
import type { IEnum, INamespace, IService, IType } from 'protobufjs';

type PackageDescriptor = Record<string, IType | IEnum | IService>;

const COMMON = '.opentelemetry.proto.common.v1';
const RESOURCE = '.opentelemetry.proto.resource.v1';
const TRACE = '.opentelemetry.proto.trace.v1';
const COLLECTOR_TRACE = '.opentelemetry.proto.collector.trace.v1';

/** opentelemetry/proto/common/v1/common.proto */
export const COMMON_V1: PackageDescriptor = {
  AnyValue: {
    oneofs: {
      value: { oneof: ['stringValue', 'boolValue', 'intValue', 'doubleValue', 'arrayValue', 'kvlistValue', 'bytesValue'] },
    },
    fields: {
      stringValue: { id: 1, type: 'string' },
      boolValue: { id: 2, type: 'bool' },
      intValue: { id: 3, type: 'int64' },
      doubleValue: { id: 4, type: 'double' },
      arrayValue: { id: 5, type: `${COMMON}.ArrayValue` },
      kvlistValue: { id: 6, type: `${COMMON}.KeyValueList` },
      bytesValue: { id: 7, type: 'bytes' },
    },
  },
  ArrayValue: {
    fields: { values: { id: 1, type: `${COMMON}.AnyValue`, rule: 'repeated' } },
  },
  KeyValueList: {
    fields: { values: { id: 1, type: `${COMMON}.KeyValue`, rule: 'repeated' } },
  },
  KeyValue: {
    fields: {
      key: { id: 1, type: 'string' },
      value: { id: 2, type: `${COMMON}.AnyValue` },
    },
  },
  InstrumentationScope: {
    fields: {
      name: { id: 1, type: 'string' },
      version: { id: 2, type: 'string' },
      attributes: { id: 3, type: `${COMMON}.KeyValue`, rule: 'repeated' },
      droppedAttributesCount: { id: 4, type: 'uint32' },
    },
  },
  EntityRef: {
    fields: {
      schemaUrl: { id: 1, type: 'string' },
      type: { id: 2, type: 'string' },
      idKeys: { id: 3, type: 'string', rule: 'repeated' },
      descriptionKeys: { id: 4, type: 'string', rule: 'repeated' },
    },
  },
};

/** opentelemetry/proto/resource/v1/resource.proto */
export const RESOURCE_V1: PackageDescriptor = {
  Resource: {
    fields: {
      attributes: { id: 1, type: `${COMMON}.KeyValue`, rule: 'repeated' },
      droppedAttributesCount: { id: 2, type: 'uint32' },
      entityRefs: { id: 3, type: `${COMMON}.EntityRef`, rule: 'repeated' },
    },
  },
};

/** opentelemetry/proto/trace/v1/trace.proto */
export const TRACE_V1: PackageDescriptor = {
  TracesData: {
    fields: { resourceSpans: { id: 1, type: `${TRACE}.ResourceSpans`, rule: 'repeated' } },
  },
  ResourceSpans: {
    fields: {
      resource: { id: 1, type: `${RESOURCE}.Resource` },
      scopeSpans: { id: 2, type: `${TRACE}.ScopeSpans`, rule: 'repeated' },
      schemaUrl: { id: 3, type: 'string' },
    },
  },
  ScopeSpans: {
    fields: {
      scope: { id: 1, type: `${COMMON}.InstrumentationScope` },
      spans: { id: 2, type: `${TRACE}.Span`, rule: 'repeated' },
      schemaUrl: { id: 3, type: 'string' },
    },
  },
  Span: {
    fields: {
      traceId: { id: 1, type: 'bytes' },
      spanId: { id: 2, type: 'bytes' },
      traceState: { id: 3, type: 'string' },
      parentSpanId: { id: 4, type: 'bytes' },
      flags: { id: 16, type: 'fixed32' },
      name: { id: 5, type: 'string' },
      kind: { id: 6, type: `${TRACE}.SpanKind` },
      startTimeUnixNano: { id: 7, type: 'fixed64' },
      endTimeUnixNano: { id: 8, type: 'fixed64' },
      attributes: { id: 9, type: `${COMMON}.KeyValue`, rule: 'repeated' },
      droppedAttributesCount: { id: 10, type: 'uint32' },
      events: { id: 11, type: `${TRACE}.Event`, rule: 'repeated' },
      droppedEventsCount: { id: 12, type: 'uint32' },
      links: { id: 13, type: `${TRACE}.Link`, rule: 'repeated' },
      droppedLinksCount: { id: 14, type: 'uint32' },
      status: { id: 15, type: `${TRACE}.Status` },
    },
  },
  SpanKind: {
    values: {
      SPAN_KIND_UNSPECIFIED: 0,
      SPAN_KIND_INTERNAL: 1,
      SPAN_KIND_SERVER: 2,
      SPAN_KIND_CLIENT: 3,
      SPAN_KIND_PRODUCER: 4,
      SPAN_KIND_CONSUMER: 5,
    },
  },
  Event: {
    fields: {
      timeUnixNano: { id: 1, type: 'fixed64' },
      name: { id: 2, type: 'string' },
      attributes: { id: 3, type: `${COMMON}.KeyValue`, rule: 'repeated' },
      droppedAttributesCount: { id: 4, type: 'uint32' },
    },
  },
  Link: {
    fields: {
      traceId: { id: 1, type: 'bytes' },
      spanId: { id: 2, type: 'bytes' },
      traceState: { id: 3, type: 'string' },
      attributes: { id: 4, type: `${COMMON}.KeyValue`, rule: 'repeated' },
      droppedAttributesCount: { id: 5, type: 'uint32' },
      flags: { id: 6, type: 'fixed32' },
    },
  },
  Status: {
    // Field 1 was the deprecated `deprecated_code`; it stays reserved.
    reserved: [[1, 1]],
    fields: {
      message: { id: 2, type: 'string' },
      code: { id: 3, type: `${TRACE}.StatusCode` },
    },
  },
  StatusCode: {
    values: { STATUS_CODE_UNSET: 0, STATUS_CODE_OK: 1, STATUS_CODE_ERROR: 2 },
  },
};

/** opentelemetry/proto/collector/trace/v1/trace_service.proto */
export const COLLECTOR_TRACE_V1: PackageDescriptor = {
  ExportTraceServiceRequest: {
    fields: { resourceSpans: { id: 1, type: `${TRACE}.ResourceSpans`, rule: 'repeated' } },
  },
  ExportTraceServiceResponse: {
    fields: { partialSuccess: { id: 1, type: `${COLLECTOR_TRACE}.ExportTracePartialSuccess` } },
  },
  ExportTracePartialSuccess: {
    fields: {
      rejectedSpans: { id: 1, type: 'int64' },
      errorMessage: { id: 2, type: 'string' },
    },
  },
  TraceService: {
    methods: {
      Export: { requestType: `${COLLECTOR_TRACE}.ExportTraceServiceRequest`, responseType: `${COLLECTOR_TRACE}.ExportTraceServiceResponse` },
    },
  },
};

/** Every package the root holds, keyed by its protobuf package name. */
export const OTLP_PACKAGES: Record<string, PackageDescriptor> = {
  'opentelemetry.proto.common.v1': COMMON_V1,
  'opentelemetry.proto.resource.v1': RESOURCE_V1,
  'opentelemetry.proto.trace.v1': TRACE_V1,
  'opentelemetry.proto.collector.trace.v1': COLLECTOR_TRACE_V1,
};

/** Turn `{ 'a.b': {...} }` into protobufjs' nested namespace form, every type marked proto3. */
function toNamespace(packages: Record<string, PackageDescriptor>): INamespace {
  const root: INamespace = { nested: {} };
  for (const [packageName, types] of Object.entries(packages)) {
    let namespace = root;
    for (const part of packageName.split('.')) {
      namespace.nested ??= {};
      namespace = (namespace.nested[part] ??= { nested: {} }) as INamespace;
    }
    namespace.nested ??= {};
    for (const [typeName, descriptor] of Object.entries(types)) {
      if (namespace.nested[typeName] !== undefined) throw new Error(`OTLP schema: ${packageName}.${typeName} is defined twice`);
      namespace.nested[typeName] = 'methods' in descriptor ? descriptor : { ...descriptor, edition: 'proto3' };
    }
  }
  return root;
}

/** The resolved root holding every OTLP package above. */
export const otlpRoot: protobuf.Root = protobuf.Root.fromJSON(toNamespace(OTLP_PACKAGES));
otlpRoot.resolveAll();

/** Message types the trace pipeline uses directly. */
export const OTLP_TRACE_TYPES = {
  ExportTraceServiceRequest: otlpRoot.lookupType(`${COLLECTOR_TRACE}.ExportTraceServiceRequest`),
  ExportTraceServiceResponse: otlpRoot.lookupType(`${COLLECTOR_TRACE}.ExportTraceServiceResponse`),
  TracesData: otlpRoot.lookupType(`${TRACE}.TracesData`),
} as const;

/** The gRPC method path of the OTLP trace service (package, service, method). */
export const TRACE_EXPORT_METHOD_PATH = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';

// Shapes of decoded messages (protobufjs gives 64-bit integers as Long objects
// when the `long` package is present, else numbers; bytes as Uint8Array).

/** A decoded 64-bit integer. */
export type DecodedInt64 = number | bigint | { toString(): string };

export interface DecodedAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: DecodedInt64;
  doubleValue?: number;
  arrayValue?: { values?: DecodedAnyValue[] };
  kvlistValue?: { values?: DecodedKeyValue[] };
  bytesValue?: Uint8Array;
}

export interface DecodedKeyValue {
  key?: string;
  value?: DecodedAnyValue;
}

export interface DecodedSpan {
  traceId?: Uint8Array;
  spanId?: Uint8Array;
  parentSpanId?: Uint8Array;
  name?: string;
  links?: { traceId?: Uint8Array; spanId?: Uint8Array }[];
}

export interface DecodedScopeSpans {
  spans?: DecodedSpan[];
}

export interface DecodedResourceSpans {
  scopeSpans?: DecodedScopeSpans[];
}

export interface DecodedExportTraceServiceRequest {
  resourceSpans?: DecodedResourceSpans[];
}
