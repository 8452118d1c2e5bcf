// The one place where metric, span-attribute, span-event and log-field names
// live. Services, the fault proxy, the collector, the load generator, the SLO
// generator, the dashboards and the run report all import from here, so a
// rename is one edit and a typo is a type error. Names follow DESIGN.md and
// the OpenTelemetry semantic conventions (Prometheus spelling for metrics).

/** Metrics every demo service exports (prom-client, scraped at /metrics). */
export const METRIC = {
  httpServerDuration: 'http_server_request_duration_seconds',
  httpClientDuration: 'http_client_request_duration_seconds',
  resilienceCalls: 'resilience_calls_total',
  resilienceRetries: 'resilience_retries_total',
  resilienceAttempts: 'resilience_attempts_per_call',
  resilienceCircuitState: 'resilience_circuit_state',
  resilienceCircuitTransitions: 'resilience_circuit_transitions_total',
  resilienceBulkheadInFlight: 'resilience_bulkhead_in_flight',
  resilienceBulkheadQueued: 'resilience_bulkhead_queued',
  resilienceRetryBudget: 'resilience_retry_budget_tokens',
  resilienceRateLimited: 'resilience_rate_limited_total',
  /** Counter: requests a service refused without doing their work because the caller's deadline (HEADER.deadline) had passed, by `operation`. */
  deadlineDropped: 'resilience_deadline_dropped_total',
} as const;

/** Metrics of the lab's own parts. */
export const LAB_METRIC = {
  chaosFaultActive: 'chaos_fault_active',
  proxyRequests: 'chaos_proxy_requests_total',
  collectorReceived: 'collector_received_total',
  collectorDropped: 'collector_dropped_total',
  collectorExported: 'collector_exported_total',
  collectorForwarded: 'collector_forwarded_total',
  collectorForwardFailed: 'collector_forward_failed_total',
  /** Items, bytes and files deleted by rotation once a signal's files passed their cap, and rotations done. */
  collectorDiscarded: 'collector_discarded_total',
  collectorDiscardedBytes: 'collector_discarded_bytes_total',
  collectorDiscardedFiles: 'collector_discarded_files_total',
  collectorRotations: 'collector_rotations_total',
  /** Spans a service's exporter delivered to the collector, and spans it dropped (queue full, collector away, refused). */
  spansExported: 'telemetry_spans_exported_total',
  spansDropped: 'telemetry_spans_dropped_total',
  /** Counter, served by the runner with the load generator's metrics: lab processes the supervisor started again, by `target` (the instance) and `reason` (`oom`: its memory limit killed it). */
  processRestarts: 'lab_process_restarts_total',
} as const;

/**
 * Metric label names (OpenTelemetry semantic conventions as pinned in
 * package.json, @opentelemetry/semantic-conventions 1.45, Prometheus spelling).
 * http.server.request.duration: method, url_scheme and route always; the
 * status when a response was sent; error_type only when the request failed.
 * http.client.request.duration: method, server_address and server_port always;
 * the status when a response came back; error_type only when the call failed.
 */
export const LABEL = {
  method: 'http_request_method',
  route: 'http_route',
  status: 'http_response_status_code',
  urlScheme: 'url_scheme',
  /** error.type: the status code (`503`) when it says the request failed, else one of ERROR_TYPES; absent on success. */
  errorType: 'error_type',
  serverAddress: 'server_address',
  serverPort: 'server_port',
  dependency: 'dependency',
  outcome: 'outcome',
  state: 'state',
  from: 'from',
  to: 'to',
  fault: 'fault',
  target: 'target',
  proxy: 'proxy',
  signal: 'signal',
  reason: 'reason',
} as const;

/** Outcomes of a call guarded by resilience policies (label `outcome`). */
export const OUTCOMES = ['success', 'failure', 'timeout', 'rejected', 'short_circuited', 'fallback'] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** Circuit breaker states (label `state`). */
export const CIRCUIT_STATES = ['closed', 'open', 'half_open'] as const;
export type CircuitState = (typeof CIRCUIT_STATES)[number];

/**
 * Latency buckets (seconds) shared by server and client histograms, so SLO
 * thresholds fall on a bucket edge: the ExplicitBucketBoundaries the
 * semantic conventions recommend for http.server.request.duration,
 * http.client.request.duration and rpc.{client,server}.call.duration.
 */
export const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10] as const;

/**
 * Values of label error_type when no status code says what went wrong (the
 * conventions ask instrumentations to list the errors they report): the call
 * or response timed out, the connection was refused or reset, the caller
 * aborted (or the client went away before the response was sent), anything
 * else. Otherwise error_type is the failing status: `503` on HTTP (5xx on a
 * server, 4xx and 5xx on a client), the gRPC status name on RPC.
 */
export const ERROR_TYPES = ['timeout', 'connection_refused', 'connection_reset', 'aborted', '_OTHER'] as const;
export type ErrorType = (typeof ERROR_TYPES)[number];

/** Span attributes and events the lab adds on top of the semantic conventions. */
export const SPAN_ATTR = {
  retryAttempt: 'faultline.retry.attempt',
  retryDelayMs: 'faultline.retry.delay_ms',
  /** The policy's backoff cap (maxDelay) the delay was drawn under. */
  retryDelayCapMs: 'faultline.retry.delay_cap_ms',
  /** Where the delay came from: `backoff` (at most the cap), `retry-after` (the dependency asked for longer) or `circuit-open` (the breaker's time to half-open, plus jitter). */
  retryDelaySource: 'faultline.retry.delay_source',
  circuitState: 'faultline.circuit.state',
  circuitFrom: 'faultline.circuit.from',
  circuitTo: 'faultline.circuit.to',
  dependency: 'faultline.dependency',
  outcome: 'faultline.outcome',
  faultName: 'faultline.fault.name',
  faultType: 'faultline.fault.type',
  timeoutMs: 'faultline.timeout_ms',
  orderId: 'faultline.order.id',
  idempotencyKey: 'faultline.idempotency_key',
  /** How many ms past the caller's deadline a request was when it was refused (with SPAN_EVENT.deadlineExceeded). */
  deadlineLateMs: 'faultline.deadline.late_ms',
  /** The read a gateway quarantine refused (with SPAN_EVENT.quarantined): the dependency's path. */
  quarantineKey: 'faultline.quarantine.key',
} as const;

export const SPAN_EVENT = {
  retry: 'retry',
  circuitTransition: 'circuit.transition',
  circuitRejected: 'circuit.rejected',
  timeout: 'timeout',
  faultInjected: 'fault.injected',
  /** The work of a request was dropped: its caller's deadline had passed. */
  deadlineExceeded: 'deadline.exceeded',
  /** A read refused by the gateway's quarantine: it was on a replica that died (a query of death). */
  quarantined: 'quarantined',
} as const;

/** Structured log fields (pino). */
export const LOG_FIELD = {
  traceId: 'trace_id',
  spanId: 'span_id',
  traceFlags: 'trace_flags',
  service: 'service',
} as const;

/** HTTP headers the lab relies on. */
export const HEADER = {
  idempotencyKey: 'idempotency-key',
  requestId: 'x-request-id',
  faultInjected: 'x-faultline-fault',
  /** Epoch milliseconds after which the caller no longer waits: work arriving later is refused, not done. */
  deadline: 'x-faultline-deadline',
} as const;

/** Media type of RFC 9457 problem details. */
export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** Metrics of the shop services' own features (catalog cache, inventory books). */
export const SHOP_METRIC = {
  cacheRequests: 'cache_requests_total',
  cacheEntries: 'cache_entries',
  inventoryOperations: 'inventory_operations_total',
  inventoryStockUnits: 'inventory_stock_units',
  checkoutOrders: 'checkout_orders_total',
  sagaSteps: 'checkout_saga_steps_total',
} as const;

/** Label names of SHOP_METRIC (beside LABEL). */
export const SHOP_LABEL = {
  cache: 'cache',
  result: 'result',
  operation: 'operation',
  sku: 'sku',
  state: 'state',
} as const;

/** Results of a cache lookup (label `result`); `coalesced` when it waited for another lookup's load of the same key, `bypass` when the cache is switched off. */
export const CACHE_RESULTS = ['hit', 'coalesced', 'miss', 'bypass'] as const;
export type CacheResult = (typeof CACHE_RESULTS)[number];

/** Span attributes and events of the shop services and the fallback policy (beside SPAN_ATTR and SPAN_EVENT). */
export const SHOP_SPAN_ATTR = {
  cacheName: 'faultline.cache.name',
  cacheResult: 'faultline.cache.result',
  cacheHit: 'faultline.cache.hit',
  /** On a database client span: what the read fetched (a SKU, or `limit:offset` of a page), so reads of one key can be told apart. */
  storeKey: 'faultline.store.key',
  sku: 'faultline.sku',
  reservationId: 'faultline.reservation.id',
  reservationState: 'faultline.reservation.state',
  fallbackReason: 'faultline.fallback.reason',
} as const;

export const SHOP_SPAN_EVENT = {
  fallback: 'fallback',
  sagaStep: 'saga.step',
} as const;

/**
 * Database client telemetry (OpenTelemetry database semantic conventions, stable in 1.45): the
 * catalog's product store. Every read is a CLIENT span named `{db.operation.name}
 * {db.collection.name}` with these attributes, and one sample of db.client.operation.duration
 * (Prometheus spelling) labelled with them.
 */
export const DB_METRIC = {
  clientOperationDuration: 'db_client_operation_duration_seconds',
} as const;

/** Label names of DB_METRIC. */
export const DB_LABEL = {
  systemName: 'db_system_name',
  operationName: 'db_operation_name',
  collectionName: 'db_collection_name',
} as const;

/** Span attributes of a database client span. */
export const DB_SPAN_ATTR = {
  systemName: 'db.system.name',
  /** The database: here the instance's own (its SQLite file), so reads of two instances are told apart. */
  namespace: 'db.namespace',
  operationName: 'db.operation.name',
  collectionName: 'db.collection.name',
  querySummary: 'db.query.summary',
  queryText: 'db.query.text',
} as const;

/** Values of DB_SPAN_ATTR.systemName (db.system.name's well-known values). */
export const DB_SYSTEM_NAME = { sqlite: 'sqlite' } as const;

/** The `faultline.dependency` of the catalog's database client spans: what a trace expectation counts. */
export const CATALOG_DB_DEPENDENCY = 'catalog-db';

/** Headers of the shop services (beside HEADER). */
export const SHOP_HEADER = {
  /** `hit`, `coalesced`, `miss` or `bypass`: how the catalog answered a read. */
  cache: 'x-cache',
  /** `true` when a write was a replay of an earlier one with the same idempotency key. */
  idempotentReplayed: 'idempotent-replayed',
} as const;

/** The load generator's own metrics (load/metrics.ts), k6's names with a `loadgen_` prefix. */
export const LOAD_METRIC = {
  httpReqs: 'loadgen_http_reqs_total',
  httpReqDuration: 'loadgen_http_req_duration_seconds',
  iterations: 'loadgen_iterations_total',
  droppedIterations: 'loadgen_dropped_iterations_total',
  vus: 'loadgen_vus',
  vusMax: 'loadgen_vus_max',
  /** Gauge: iterations a second the open-model executor is set to now (0: paused); `faultline up`'s background load, changed live. */
  targetRate: 'loadgen_target_rate',
} as const;

/** Label names of LOAD_METRIC (k6's tag names). */
export const LOAD_LABEL = {
  journey: 'journey',
  step: 'step',
  status: 'status',
  /** The client group a request came from (a scenario's `load.clients` or `load.streams`): a tag of samples and k6 requests, not a metric label. */
  client: 'client',
} as const;

/** W3C baggage the load generator puts on every request (header `baggage`), so synthetic traffic can be told apart downstream. */
export const LOAD_BAGGAGE = {
  /** `true` on every generated request. */
  synthetic: 'synthetic',
  /** The journey the request belongs to (browse, recommendations, cart, checkout). */
  journey: 'faultline.journey',
  /** The step of the journey (list-products, view-product, ...). */
  step: 'faultline.step',
} as const;

/** Labels Prometheus puts on every scraped series (deploy/prometheus/prometheus.yml, runner/monitoring.ts): job = service or lab part, instance = instance id. */
export const SCRAPE_LABEL = {
  job: 'job',
  instance: 'instance',
} as const;

/** prom-client's default Node.js and process metrics (collectDefaultMetrics in kit/metrics.ts), the ones the runtime dashboard reads. */
export const RUNTIME_METRIC = {
  cpuSeconds: 'process_cpu_seconds_total',
  cpuUserSeconds: 'process_cpu_user_seconds_total',
  cpuSystemSeconds: 'process_cpu_system_seconds_total',
  residentMemory: 'process_resident_memory_bytes',
  eventLoopLagP50: 'nodejs_eventloop_lag_p50_seconds',
  eventLoopLagP99: 'nodejs_eventloop_lag_p99_seconds',
  eventLoopLagMax: 'nodejs_eventloop_lag_max_seconds',
  heapUsed: 'nodejs_heap_size_used_bytes',
  heapTotal: 'nodejs_heap_size_total_bytes',
  heapSpaceUsed: 'nodejs_heap_space_size_used_bytes',
  externalMemory: 'nodejs_external_memory_bytes',
  gcDuration: 'nodejs_gc_duration_seconds',
  /** By handle type; prom-client's misnamed gauge nodejs_active_handles_total is dropped (kit/runtime-metrics.ts). */
  activeHandles: 'nodejs_active_handles',
} as const;

/** Label names of RUNTIME_METRIC. */
export const RUNTIME_LABEL = {
  gcKind: 'kind',
  heapSpace: 'space',
} as const;

/** The series Prometheus keeps for every pending or firing alert, and its labels. */
export const ALERTS_SERIES = {
  metric: 'ALERTS',
  alertName: 'alertname',
  alertState: 'alertstate',
  // The generator's own severity label: every alert style carries it, while
  // `severity` itself belongs to the spec's author (Sloth's page_alert labels).
  severity: 'sloth_severity',
} as const;

/** gRPC metrics (OpenTelemetry RPC semantic conventions, stable in 1.45, Prometheus spelling) and the balancer's passive health. */
export const RPC_METRIC = {
  /** rpc.client.call.duration: one histogram sample per attempt (retries included), by dependency, method and status. */
  clientCallDuration: 'rpc_client_call_duration_seconds',
  /** rpc.server.call.duration: one sample per call a gRPC server answered, by method and status. */
  serverCallDuration: 'rpc_server_call_duration_seconds',
  /** 1 while a dependency's instance is ejected by passive health checks, 0 while it is in rotation. */
  balancerEjected: 'balancer_instance_ejected',
  /** Ejections and re-admissions of a dependency's instances. */
  balancerEvents: 'balancer_instance_events_total',
} as const;

/**
 * Label names of RPC_METRIC, beside LABEL.serverAddress (the dependency's
 * name), LABEL.serverPort and LABEL.errorType. The conventions' current
 * attributes: rpc.system.name (not the deprecated rpc.system), a fully
 * qualified rpc.method (`faultline.payment.v1.Payment/Charge`, which replaces
 * rpc.service), rpc.status_code as the gRPC status name (`OK`,
 * `DEADLINE_EXCEEDED`; it replaces the numeric rpc.grpc.status_code and
 * rpc.response.status_code).
 */
export const RPC_LABEL = {
  systemName: 'rpc_system_name',
  method: 'rpc_method',
  statusCode: 'rpc_status_code',
  /** A dependency's instance as the caller numbers it (`payment-1`); `instance` is taken by the scrape. */
  endpoint: 'endpoint',
  event: 'event',
} as const;

/** Values of RPC_LABEL.systemName (rpc.system.name's well-known values). */
export const RPC_SYSTEM_NAME = { grpc: 'grpc' } as const;

/** gRPC metadata keys the lab relies on (lower case, as gRPC requires). */
export const GRPC_METADATA = {
  idempotencyKey: 'idempotency-key',
  /** On an error: the HTTP status the same failure has on the HTTP API, so callers map it back exactly. */
  httpStatus: 'x-faultline-http-status',
  /** On an error: the problem+json type and title, beside the status details. */
  problemType: 'x-faultline-problem-type',
  problemTitle: 'x-faultline-problem-title',
  /** On RESOURCE_EXHAUSTED or UNAVAILABLE: how long to wait before trying again, in milliseconds. */
  retryAfterMs: 'retry-after-ms',
} as const;

/** Checkout's compensation sweeper (checkout/compensation-sweeper.ts): orders that still owe a refund or a release, and its retries. */
export const CHECKOUT_METRIC = {
  /** Gauge: orders in state 'compensating' (a refund or release still owed). */
  compensationsOwed: 'checkout_compensations_owed',
  /** Counter: retried compensations by `result` (COMPENSATION_RESULTS). */
  compensationRetries: 'checkout_compensation_retries_total',
} as const;

/** Results of one retried compensation (label `result`): everything undone, some of it, nothing, or ended by a refusal (nothing left to retry, not undone). */
export const COMPENSATION_RESULTS = ['done', 'partial', 'failed', 'refused'] as const;
export type CompensationResult = (typeof COMPENSATION_RESULTS)[number];

/** The span around one retried compensation (with SPAN_ATTR.orderId and SPAN_ATTR.retryAttempt). */
export const CHECKOUT_SPAN = {
  compensationRetry: 'checkout compensation retry',
} as const;
