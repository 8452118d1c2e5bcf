// The OTLP protobuf messages the collector decodes, as a protobufjs reflection
// descriptor written in code. Why not load the upstream .proto files: they are
// not part of this project and a runtime .proto parser would be one more moving
// part; the handful of trace messages fit on one screen, and the conformance
// test (the official OTLP/gRPC exporter against this collector) proves every
// field number. Field names are written in lowerCamelCase, which is both the
// name protobufjs gives decoded properties and the OTLP/JSON key.
//
// One descriptor per protobuf package; OTLP_PACKAGES lists them and the root is
// built from that list: traces, metrics, logs, their collector service
// messages, and google.rpc.Status for error replies.
import protobuf from 'protobufjs';
import type { IEnum, INamespace, IService, IType } from 'protobufjs';

type PackageDescriptor = Record<string, IType | IEnum | IService>;

const COMMON = '.opentelemetry.proto.common.v1';
const RESOURCE = '.opentelemetry.proto.resource.v1';
const TRACE = '.opentelemetry.proto.trace.v1';
const COLLECTOR_TRACE = '.opentelemetry.proto.collector.trace.v1';
const METRICS = '.opentelemetry.proto.metrics.v1';
const COLLECTOR_METRICS = '.opentelemetry.proto.collector.metrics.v1';
const LOGS = '.opentelemetry.proto.logs.v1';
const COLLECTOR_LOGS = '.opentelemetry.proto.collector.logs.v1';
const RPC = '.google.rpc';
const PROTOBUF = '.google.protobuf';

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

const dataPointCommon = {
  startTimeUnixNano: { id: 2, type: 'fixed64' },
  timeUnixNano: { id: 3, type: 'fixed64' },
} as const;

/** opentelemetry/proto/metrics/v1/metrics.proto */
export const METRICS_V1: PackageDescriptor = {
  MetricsData: {
    fields: { resourceMetrics: { id: 1, type: `${METRICS}.ResourceMetrics`, rule: 'repeated' } },
  },
  ResourceMetrics: {
    reserved: [[1000, 1000]],
    fields: {
      resource: { id: 1, type: `${RESOURCE}.Resource` },
      scopeMetrics: { id: 2, type: `${METRICS}.ScopeMetrics`, rule: 'repeated' },
      schemaUrl: { id: 3, type: 'string' },
    },
  },
  ScopeMetrics: {
    fields: {
      scope: { id: 1, type: `${COMMON}.InstrumentationScope` },
      metrics: { id: 2, type: `${METRICS}.Metric`, rule: 'repeated' },
      schemaUrl: { id: 3, type: 'string' },
    },
  },
  Metric: {
    reserved: [[4, 4], [6, 6], [8, 8]],
    oneofs: { data: { oneof: ['gauge', 'sum', 'histogram', 'exponentialHistogram', 'summary'] } },
    fields: {
      name: { id: 1, type: 'string' },
      description: { id: 2, type: 'string' },
      unit: { id: 3, type: 'string' },
      gauge: { id: 5, type: `${METRICS}.Gauge` },
      sum: { id: 7, type: `${METRICS}.Sum` },
      histogram: { id: 9, type: `${METRICS}.Histogram` },
      exponentialHistogram: { id: 10, type: `${METRICS}.ExponentialHistogram` },
      summary: { id: 11, type: `${METRICS}.Summary` },
      metadata: { id: 12, type: `${COMMON}.KeyValue`, rule: 'repeated' },
    },
  },
  Gauge: {
    fields: { dataPoints: { id: 1, type: `${METRICS}.NumberDataPoint`, rule: 'repeated' } },
  },
  Sum: {
    fields: {
      dataPoints: { id: 1, type: `${METRICS}.NumberDataPoint`, rule: 'repeated' },
      aggregationTemporality: { id: 2, type: `${METRICS}.AggregationTemporality` },
      isMonotonic: { id: 3, type: 'bool' },
    },
  },
  Histogram: {
    fields: {
      dataPoints: { id: 1, type: `${METRICS}.HistogramDataPoint`, rule: 'repeated' },
      aggregationTemporality: { id: 2, type: `${METRICS}.AggregationTemporality` },
    },
  },
  ExponentialHistogram: {
    fields: {
      dataPoints: { id: 1, type: `${METRICS}.ExponentialHistogramDataPoint`, rule: 'repeated' },
      aggregationTemporality: { id: 2, type: `${METRICS}.AggregationTemporality` },
    },
  },
  Summary: {
    fields: { dataPoints: { id: 1, type: `${METRICS}.SummaryDataPoint`, rule: 'repeated' } },
  },
  AggregationTemporality: {
    values: { AGGREGATION_TEMPORALITY_UNSPECIFIED: 0, AGGREGATION_TEMPORALITY_DELTA: 1, AGGREGATION_TEMPORALITY_CUMULATIVE: 2 },
  },
  NumberDataPoint: {
    reserved: [[1, 1]],
    oneofs: { value: { oneof: ['asDouble', 'asInt'] } },
    fields: {
      attributes: { id: 7, type: `${COMMON}.KeyValue`, rule: 'repeated' },
      ...dataPointCommon,
      asDouble: { id: 4, type: 'double' },
      asInt: { id: 6, type: 'sfixed64' },
      exemplars: { id: 5, type: `${METRICS}.Exemplar`, rule: 'repeated' },
      flags: { id: 8, type: 'uint32' },
    },
  },
  HistogramDataPoint: {
    reserved: [[1, 1]],
    // proto3 `optional` fields are one-member oneofs: written whenever set.
    oneofs: { _sum: { oneof: ['sum'] }, _min: { oneof: ['min'] }, _max: { oneof: ['max'] } },
    fields: {
      attributes: { id: 9, type: `${COMMON}.KeyValue`, rule: 'repeated' },
      ...dataPointCommon,
      count: { id: 4, type: 'fixed64' },
      sum: { id: 5, type: 'double' },
      bucketCounts: { id: 6, type: 'fixed64', rule: 'repeated' },
      explicitBounds: { id: 7, type: 'double', rule: 'repeated' },
      exemplars: { id: 8, type: `${METRICS}.Exemplar`, rule: 'repeated' },
      flags: { id: 10, type: 'uint32' },
      min: { id: 11, type: 'double' },
      max: { id: 12, type: 'double' },
    },
  },
  ExponentialHistogramDataPoint: {
    oneofs: { _sum: { oneof: ['sum'] }, _min: { oneof: ['min'] }, _max: { oneof: ['max'] } },
    fields: {
      attributes: { id: 1, type: `${COMMON}.KeyValue`, rule: 'repeated' },
      ...dataPointCommon,
      count: { id: 4, type: 'fixed64' },
      sum: { id: 5, type: 'double' },
      scale: { id: 6, type: 'sint32' },
      zeroCount: { id: 7, type: 'fixed64' },
      positive: { id: 8, type: `${METRICS}.Buckets` },
      negative: { id: 9, type: `${METRICS}.Buckets` },
      flags: { id: 10, type: 'uint32' },
      exemplars: { id: 11, type: `${METRICS}.Exemplar`, rule: 'repeated' },
      min: { id: 12, type: 'double' },
      max: { id: 13, type: 'double' },
      zeroThreshold: { id: 14, type: 'double' },
    },
  },
  Buckets: {
    fields: {
      offset: { id: 1, type: 'sint32' },
      bucketCounts: { id: 2, type: 'uint64', rule: 'repeated' },
    },
  },
  SummaryDataPoint: {
    reserved: [[1, 1]],
    fields: {
      attributes: { id: 7, type: `${COMMON}.KeyValue`, rule: 'repeated' },
      ...dataPointCommon,
      count: { id: 4, type: 'fixed64' },
      sum: { id: 5, type: 'double' },
      quantileValues: { id: 6, type: `${METRICS}.ValueAtQuantile`, rule: 'repeated' },
      flags: { id: 8, type: 'uint32' },
    },
  },
  ValueAtQuantile: {
    fields: {
      quantile: { id: 1, type: 'double' },
      value: { id: 2, type: 'double' },
    },
  },
  Exemplar: {
    reserved: [[1, 1]],
    oneofs: { value: { oneof: ['asDouble', 'asInt'] } },
    fields: {
      filteredAttributes: { id: 7, type: `${COMMON}.KeyValue`, rule: 'repeated' },
      timeUnixNano: { id: 2, type: 'fixed64' },
      asDouble: { id: 3, type: 'double' },
      asInt: { id: 6, type: 'sfixed64' },
      spanId: { id: 4, type: 'bytes' },
      traceId: { id: 5, type: 'bytes' },
    },
  },
};

/** opentelemetry/proto/collector/metrics/v1/metrics_service.proto */
export const COLLECTOR_METRICS_V1: PackageDescriptor = {
  ExportMetricsServiceRequest: {
    fields: { resourceMetrics: { id: 1, type: `${METRICS}.ResourceMetrics`, rule: 'repeated' } },
  },
  ExportMetricsServiceResponse: {
    fields: { partialSuccess: { id: 1, type: `${COLLECTOR_METRICS}.ExportMetricsPartialSuccess` } },
  },
  ExportMetricsPartialSuccess: {
    fields: {
      rejectedDataPoints: { id: 1, type: 'int64' },
      errorMessage: { id: 2, type: 'string' },
    },
  },
};

/** opentelemetry/proto/logs/v1/logs.proto */
export const LOGS_V1: PackageDescriptor = {
  LogsData: {
    fields: { resourceLogs: { id: 1, type: `${LOGS}.ResourceLogs`, rule: 'repeated' } },
  },
  ResourceLogs: {
    reserved: [[1000, 1000]],
    fields: {
      resource: { id: 1, type: `${RESOURCE}.Resource` },
      scopeLogs: { id: 2, type: `${LOGS}.ScopeLogs`, rule: 'repeated' },
      schemaUrl: { id: 3, type: 'string' },
    },
  },
  ScopeLogs: {
    fields: {
      scope: { id: 1, type: `${COMMON}.InstrumentationScope` },
      logRecords: { id: 2, type: `${LOGS}.LogRecord`, rule: 'repeated' },
      schemaUrl: { id: 3, type: 'string' },
    },
  },
  LogRecord: {
    reserved: [[4, 4]],
    fields: {
      timeUnixNano: { id: 1, type: 'fixed64' },
      observedTimeUnixNano: { id: 11, type: 'fixed64' },
      severityNumber: { id: 2, type: `${LOGS}.SeverityNumber` },
      severityText: { id: 3, type: 'string' },
      body: { id: 5, type: `${COMMON}.AnyValue` },
      attributes: { id: 6, type: `${COMMON}.KeyValue`, rule: 'repeated' },
      droppedAttributesCount: { id: 7, type: 'uint32' },
      flags: { id: 8, type: 'fixed32' },
      traceId: { id: 9, type: 'bytes' },
      spanId: { id: 10, type: 'bytes' },
      eventName: { id: 12, type: 'string' },
    },
  },
  SeverityNumber: {
    values: Object.fromEntries(
      ['UNSPECIFIED', 'TRACE', 'TRACE2', 'TRACE3', 'TRACE4', 'DEBUG', 'DEBUG2', 'DEBUG3', 'DEBUG4', 'INFO', 'INFO2', 'INFO3', 'INFO4',
        'WARN', 'WARN2', 'WARN3', 'WARN4', 'ERROR', 'ERROR2', 'ERROR3', 'ERROR4', 'FATAL', 'FATAL2', 'FATAL3', 'FATAL4'].map((name, i) => [`SEVERITY_NUMBER_${name}`, i]),
    ),
  },
};

/** opentelemetry/proto/collector/logs/v1/logs_service.proto */
export const COLLECTOR_LOGS_V1: PackageDescriptor = {
  ExportLogsServiceRequest: {
    fields: { resourceLogs: { id: 1, type: `${LOGS}.ResourceLogs`, rule: 'repeated' } },
  },
  ExportLogsServiceResponse: {
    fields: { partialSuccess: { id: 1, type: `${COLLECTOR_LOGS}.ExportLogsPartialSuccess` } },
  },
  ExportLogsPartialSuccess: {
    fields: {
      rejectedLogRecords: { id: 1, type: 'int64' },
      errorMessage: { id: 2, type: 'string' },
    },
  },
};

/** google/rpc/status.proto and error_details.proto (RetryInfo): the error body of OTLP/HTTP and gRPC status details. */
export const GOOGLE_RPC: PackageDescriptor = {
  Status: {
    fields: {
      code: { id: 1, type: 'int32' },
      message: { id: 2, type: 'string' },
      details: { id: 3, type: `${PROTOBUF}.Any`, rule: 'repeated' },
    },
  },
  RetryInfo: {
    fields: { retryDelay: { id: 1, type: `${PROTOBUF}.Duration` } },
  },
};

/** google/protobuf/any.proto and duration.proto */
export const GOOGLE_PROTOBUF: PackageDescriptor = {
  Any: {
    fields: {
      typeUrl: { id: 1, type: 'string' },
      value: { id: 2, type: 'bytes' },
    },
  },
  Duration: {
    fields: {
      seconds: { id: 1, type: 'int64' },
      nanos: { id: 2, type: 'int32' },
    },
  },
};

/** Every package the root holds, keyed by its protobuf package name. */
export const OTLP_PACKAGES: Record<string, PackageDescriptor> = {
  'opentelemetry.proto.common.v1': COMMON_V1,
  'opentelemetry.proto.resource.v1': RESOURCE_V1,
  'opentelemetry.proto.trace.v1': TRACE_V1,
  'opentelemetry.proto.collector.trace.v1': COLLECTOR_TRACE_V1,
  'opentelemetry.proto.metrics.v1': METRICS_V1,
  'opentelemetry.proto.collector.metrics.v1': COLLECTOR_METRICS_V1,
  'opentelemetry.proto.logs.v1': LOGS_V1,
  'opentelemetry.proto.collector.logs.v1': COLLECTOR_LOGS_V1,
  'google.rpc': GOOGLE_RPC,
  'google.protobuf': GOOGLE_PROTOBUF,
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
/**
 * Fields holding trace and span ids, with their size in bytes. OTLP/JSON
 * writes them as hex (other bytes as base64); a span or link must carry a
 * trace and a span id of these sizes, a parent span id is optional.
 */
export const OTLP_ID_BYTES: Readonly<Record<'traceId' | 'spanId' | 'parentSpanId', number>> = { traceId: 16, spanId: 8, parentSpanId: 8 };
export const HEX_BYTES_FIELDS: ReadonlySet<string> = new Set(Object.keys(OTLP_ID_BYTES));

export const otlpRoot: protobuf.Root = protobuf.Root.fromJSON(toNamespace(OTLP_PACKAGES));
otlpRoot.resolveAll();

/** Message types the trace pipeline uses directly. */
export const OTLP_TRACE_TYPES = {
  ExportTraceServiceRequest: otlpRoot.lookupType(`${COLLECTOR_TRACE}.ExportTraceServiceRequest`),
  ExportTraceServiceResponse: otlpRoot.lookupType(`${COLLECTOR_TRACE}.ExportTraceServiceResponse`),
  TracesData: otlpRoot.lookupType(`${TRACE}.TracesData`),
} as const;

/** Message types the metrics and logs pipelines and error replies use. */
export const OTLP_METRICS_TYPES = {
  ExportMetricsServiceRequest: otlpRoot.lookupType(`${COLLECTOR_METRICS}.ExportMetricsServiceRequest`),
  ExportMetricsServiceResponse: otlpRoot.lookupType(`${COLLECTOR_METRICS}.ExportMetricsServiceResponse`),
} as const;
export const OTLP_LOGS_TYPES = {
  ExportLogsServiceRequest: otlpRoot.lookupType(`${COLLECTOR_LOGS}.ExportLogsServiceRequest`),
  ExportLogsServiceResponse: otlpRoot.lookupType(`${COLLECTOR_LOGS}.ExportLogsServiceResponse`),
} as const;
export const RPC_TYPES = {
  Status: otlpRoot.lookupType(`${RPC}.Status`),
  RetryInfo: otlpRoot.lookupType(`${RPC}.RetryInfo`),
} as const;

/** The gRPC method path of the OTLP trace service (package, service, method). */
export const TRACE_EXPORT_METHOD_PATH = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';
export const METRICS_EXPORT_METHOD_PATH = '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export';
export const LOGS_EXPORT_METHOD_PATH = '/opentelemetry.proto.collector.logs.v1.LogsService/Export';

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
