// Prometheus metrics of a service (prom-client), with the names of
// conventions.ts. One OpenMetrics registry holds everything because prom-client
// only attaches exemplars (trace ids on latency buckets) in OpenMetrics mode;
// scrapers that do not ask for OpenMetrics get the classic text format,
// converted from the same output by `toPrometheusText`.

import client from 'prom-client';
import { collectRuntimeMetrics } from './runtime-metrics.ts';
import { CIRCUIT_STATES, LABEL, LAB_METRIC, LATENCY_BUCKETS, METRIC, type CircuitState, type Outcome } from './conventions.ts';
import { spanExportStats } from './telemetry.ts';

const { Counter, Gauge, Histogram, Registry } = client;

export const OPENMETRICS_CONTENT_TYPE = Registry.OPENMETRICS_CONTENT_TYPE;
export const PROMETHEUS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;

export interface ServiceMetrics {
  registry: client.Registry<client.OpenMetricsContentType>;
  httpServerDuration: client.Histogram<string>;
  httpClientDuration: client.Histogram<string>;
  resilience: ResilienceMetrics;
  /** The exposition text, in OpenMetrics or classic Prometheus format. */
  render(openMetrics: boolean): Promise<string>;
}

export interface ResilienceMetrics {
  call(dependency: string, outcome: Outcome): void;
  retry(dependency: string): void;
  attempts(dependency: string, attempts: number): void;
  circuitState(dependency: string, state: CircuitState): void;
  circuitTransition(dependency: string, from: CircuitState, to: CircuitState): void;
  bulkheadInFlight(dependency: string, inFlight: number): void;
  bulkheadQueued(dependency: string, queued: number): void;
  retryBudget(dependency: string, tokens: number): void;
  /** A policy was switched off while the service runs: its gauges go, so none goes on claiming a state (an open breaker) that no longer exists. */
  switchedOff(dependency: string, policy: GaugedPolicy): void;
  rateLimited(): void;
}

/** The policies that publish gauges. */
export type GaugedPolicy = 'circuitBreaker' | 'bulkhead' | 'retryBudget';

export function createServiceMetrics(options: { defaultMetrics?: boolean } = {}): ServiceMetrics {
  const registry = new Registry<client.OpenMetricsContentType>();
  registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  if (options.defaultMetrics !== false) collectRuntimeMetrics(registry);
  const registers = [registry];

  const httpServerDuration = new Histogram({
    name: METRIC.httpServerDuration,
    help: 'Duration of HTTP server requests.',
    labelNames: [LABEL.method, LABEL.urlScheme, LABEL.route, LABEL.status, LABEL.errorType],
    buckets: [...LATENCY_BUCKETS],
    enableExemplars: true,
    registers,
  });
  const httpClientDuration = new Histogram({
    name: METRIC.httpClientDuration,
    help: 'Duration of HTTP client requests, by dependency.',
    labelNames: [LABEL.method, LABEL.serverAddress, LABEL.serverPort, LABEL.status, LABEL.errorType],
    buckets: [...LATENCY_BUCKETS],
    enableExemplars: true,
    registers,
  });
  const calls = new Counter({
    name: METRIC.resilienceCalls,
    help: 'Calls guarded by resilience policies, by dependency and outcome.',
    labelNames: [LABEL.dependency, LABEL.outcome],
    registers,
  });
  const retries = new Counter({
    name: METRIC.resilienceRetries,
    help: 'Retries made, by dependency.',
    labelNames: [LABEL.dependency],
    registers,
  });
  const attempts = new Histogram({
    name: METRIC.resilienceAttempts,
    help: 'Attempts per logical call (retry amplification), by dependency.',
    labelNames: [LABEL.dependency],
    buckets: [1, 2, 3, 4, 5, 8],
    registers,
  });
  const circuitState = new Gauge({
    name: METRIC.resilienceCircuitState,
    help: 'Circuit breaker state, 1 for the current state.',
    labelNames: [LABEL.dependency, LABEL.state],
    registers,
  });
  const circuitTransitions = new Counter({
    name: METRIC.resilienceCircuitTransitions,
    help: 'Circuit breaker state transitions.',
    labelNames: [LABEL.dependency, LABEL.from, LABEL.to],
    registers,
  });
  const bulkheadInFlight = new Gauge({
    name: METRIC.resilienceBulkheadInFlight,
    help: 'Calls in flight inside a bulkhead.',
    labelNames: [LABEL.dependency],
    registers,
  });
  const bulkheadQueued = new Gauge({
    name: METRIC.resilienceBulkheadQueued,
    help: 'Calls waiting for a bulkhead slot.',
    labelNames: [LABEL.dependency],
    registers,
  });
  const retryBudget = new Gauge({
    name: METRIC.resilienceRetryBudget,
    help: 'Tokens left in the retry budget.',
    labelNames: [LABEL.dependency],
    registers,
  });
  const rateLimited = new Counter({
    name: METRIC.resilienceRateLimited,
    help: 'Requests rejected by a rate limiter.',
    registers,
  });

  // The span exporter keeps its own counts (span-export.ts); read at scrape time.
  const spanCounts = [
    [LAB_METRIC.spansExported, 'Spans this process exported to the collector.', 'exported'],
    [LAB_METRIC.spansDropped, 'Spans this process dropped instead of exporting: queue full, collector unreachable or refusing.', 'dropped'],
  ] as const;
  for (const [name, help, count] of spanCounts) {
    new Counter({
      name,
      help,
      registers,
      collect() {
        this.reset();
        this.inc(spanExportStats()[count]);
      },
    });
  }

  const resilience: ResilienceMetrics = {
    call: (dependency, outcome) => calls.inc({ [LABEL.dependency]: dependency, [LABEL.outcome]: outcome }),
    retry: (dependency) => retries.inc({ [LABEL.dependency]: dependency }),
    attempts: (dependency, count) => attempts.observe({ [LABEL.dependency]: dependency }, count),
    circuitState: (dependency, state) => {
      for (const candidate of CIRCUIT_STATES) {
        circuitState.set({ [LABEL.dependency]: dependency, [LABEL.state]: candidate }, candidate === state ? 1 : 0);
      }
    },
    circuitTransition: (dependency, from, to) =>
      circuitTransitions.inc({ [LABEL.dependency]: dependency, [LABEL.from]: from, [LABEL.to]: to }),
    bulkheadInFlight: (dependency, inFlight) => bulkheadInFlight.set({ [LABEL.dependency]: dependency }, inFlight),
    bulkheadQueued: (dependency, queued) => bulkheadQueued.set({ [LABEL.dependency]: dependency }, queued),
    retryBudget: (dependency, tokens) => retryBudget.set({ [LABEL.dependency]: dependency }, tokens),
    switchedOff: (dependency, policy) => {
      if (policy === 'circuitBreaker') {
        for (const state of CIRCUIT_STATES) circuitState.remove({ [LABEL.dependency]: dependency, [LABEL.state]: state });
      } else if (policy === 'bulkhead') {
        bulkheadInFlight.remove({ [LABEL.dependency]: dependency });
        bulkheadQueued.remove({ [LABEL.dependency]: dependency });
      } else {
        retryBudget.remove({ [LABEL.dependency]: dependency });
      }
    },
    rateLimited: () => rateLimited.inc(),
  };

  return {
    registry,
    httpServerDuration,
    httpClientDuration,
    resilience,
    async render(openMetrics) {
      const text = await registry.metrics();
      return openMetrics ? text : toPrometheusText(text);
    },
  };
}

/** The methods http.request.method keeps as they are (RFC 9110 and PATCH); any other is `_OTHER`, so a client cannot mint series. */
const KNOWN_METHODS = new Set(['CONNECT', 'DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT', 'TRACE']);

/** What http.server.request.duration needs to know of a finished (or abandoned) request. */
export interface ServerRequestOutcome {
  method: string;
  /** `http` or `https`. */
  scheme: string;
  route: string;
  status: number;
  /** Whether the status line went out (false when the client left before the service answered). */
  headersSent: boolean;
  /** Whether the whole response went out. */
  finished: boolean;
}

/**
 * Labels of http.server.request.duration: method, url_scheme and route
 * always; the status when one was sent; error_type on a 5xx (the status) or
 * when the response never went out whole (`aborted`), absent on success.
 */
export function serverDurationLabels(outcome: ServerRequestOutcome): Record<string, string> {
  const method = KNOWN_METHODS.has(outcome.method) ? outcome.method : '_OTHER';
  const errorType = outcome.headersSent && outcome.status >= 500 ? String(outcome.status) : !outcome.finished ? 'aborted' : undefined;
  return {
    [LABEL.method]: method,
    [LABEL.urlScheme]: outcome.scheme,
    [LABEL.route]: outcome.route,
    ...(outcome.headersSent ? { [LABEL.status]: String(outcome.status) } : {}),
    ...(errorType !== undefined ? { [LABEL.errorType]: errorType } : {}),
  };
}

/**
 * OpenMetrics text to the classic Prometheus text format: exemplars and the
 * `# EOF` marker removed, counter families named with their `_total` sample
 * name (OpenMetrics names the family without it).
 */
export function toPrometheusText(openMetrics: string): string {
  const counters = new Set<string>();
  for (const match of openMetrics.matchAll(/^# TYPE (\S+) counter$/gm)) counters.add(match[1] as string);
  const lines: string[] = [];
  for (const line of openMetrics.split('\n')) {
    if (line === '# EOF') continue;
    const meta = /^# (HELP|TYPE) (\S+)(.*)$/.exec(line);
    if (meta) {
      const [, kind, name, rest] = meta as unknown as [string, string, string, string];
      lines.push(counters.has(name) ? `# ${kind} ${name}_total${rest}` : line);
      continue;
    }
    const exemplarAt = line.indexOf(' # {');
    lines.push(exemplarAt === -1 ? line : line.slice(0, exemplarAt));
  }
  return lines.join('\n').replace(/\n*$/, '\n');
}

/** True when a scrape asks for OpenMetrics (Prometheus does, by default). */
export function wantsOpenMetrics(accept: string | undefined): boolean {
  return accept !== undefined && accept.includes('application/openmetrics-text');
}
