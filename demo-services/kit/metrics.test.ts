import { describe, expect, it } from 'vitest';
import { LABEL, LATENCY_BUCKETS, METRIC } from './conventions.ts';
import { createServiceMetrics, serverDurationLabels, toPrometheusText, wantsOpenMetrics } from './metrics.ts';

describe('service metrics', () => {
  it('exposes the DESIGN.md names, with trace-id exemplars in OpenMetrics only', async () => {
    const metrics = createServiceMetrics({ defaultMetrics: false });
    metrics.httpServerDuration.observe({
      labels: { [LABEL.method]: 'POST', [LABEL.urlScheme]: 'http', [LABEL.route]: '/checkout', [LABEL.status]: '201' },
      value: 0.042,
      exemplarLabels: { trace_id: '0af7651916cd43dd8448eb211c80319c' },
    });
    metrics.resilience.call('payment', 'short_circuited');
    metrics.resilience.circuitState('payment', 'open');
    metrics.resilience.circuitTransition('payment', 'closed', 'open');

    const open = await metrics.render(true);
    expect(open).toContain('# TYPE resilience_calls counter');
    expect(open).toContain('resilience_calls_total{dependency="payment",outcome="short_circuited"} 1');
    expect(open).toMatch(/http_server_request_duration_seconds_bucket\{le="0\.05",http_request_method="POST",url_scheme="http",http_route="\/checkout",http_response_status_code="201"\} 1 # \{trace_id="0af7651916cd43dd8448eb211c80319c"\} 0\.042/);
    expect(open.trimEnd().endsWith('# EOF')).toBe(true);

    const classic = await metrics.render(false);
    expect(classic).toContain(`# TYPE ${METRIC.resilienceCalls} counter`);
    expect(classic).toContain(`# HELP ${METRIC.resilienceCircuitTransitions} `);
    expect(classic).toContain('resilience_circuit_state{dependency="payment",state="open"} 1');
    expect(classic).toContain('resilience_circuit_state{dependency="payment",state="closed"} 0');
    expect(classic).not.toContain('# {');
    expect(classic).not.toContain('# EOF');
  });

  it('drops the gauges of a policy switched off, so no breaker is claimed open that no longer exists', async () => {
    const metrics = createServiceMetrics({ defaultMetrics: false });
    metrics.resilience.circuitState('payment', 'open');
    metrics.resilience.circuitState('bank', 'closed');
    metrics.resilience.bulkheadInFlight('payment', 3);
    metrics.resilience.bulkheadQueued('payment', 1);
    metrics.resilience.retryBudget('payment', 40);
    for (const policy of ['circuitBreaker', 'bulkhead', 'retryBudget'] as const) metrics.resilience.switchedOff('payment', policy);
    const text = await metrics.render(false);
    expect(text).not.toMatch(/^resilience_[a-z_]+\{dependency="payment"/m);
    expect(text).toContain('resilience_circuit_state{dependency="bank",state="closed"} 1');
  });

  it('buckets durations at the boundaries the semantic conventions recommend for HTTP and RPC durations', async () => {
    expect(LATENCY_BUCKETS).toEqual([0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]);
    const metrics = createServiceMetrics({ defaultMetrics: false });
    metrics.httpServerDuration.observe({ labels: { [LABEL.method]: 'GET', [LABEL.urlScheme]: 'http', [LABEL.route]: '/x', [LABEL.status]: '200' }, value: 0.06 });
    metrics.httpClientDuration.observe({ labels: { [LABEL.method]: 'GET', [LABEL.serverAddress]: 'bank', [LABEL.serverPort]: '8080', [LABEL.status]: '200' }, value: 0.06 });
    const text = await metrics.render(false);
    for (const name of [METRIC.httpServerDuration, METRIC.httpClientDuration]) {
      const edges = [...text.matchAll(new RegExp(`^${name}_bucket\\{le="([^"]+)"`, 'gm'))].map((m) => m[1]);
      expect(edges, name).toEqual([...LATENCY_BUCKETS.map(String), '+Inf']);
    }
  });

  it('labels a server request as http.server.request.duration asks: url_scheme always, status when sent, error_type only on failure', () => {
    const base = { method: 'POST', scheme: 'http', route: '/checkout', headersSent: true, finished: true };
    expect(serverDurationLabels({ ...base, status: 201 })).toEqual({ http_request_method: 'POST', url_scheme: 'http', http_route: '/checkout', http_response_status_code: '201' });
    expect(serverDurationLabels({ ...base, status: 404 })).not.toHaveProperty(LABEL.errorType);
    expect(serverDurationLabels({ ...base, status: 503 })).toMatchObject({ http_response_status_code: '503', error_type: '503' });
    // The client left before the service answered: no status went out.
    expect(serverDurationLabels({ ...base, status: 200, headersSent: false, finished: false })).toEqual({ http_request_method: 'POST', url_scheme: 'http', http_route: '/checkout', error_type: 'aborted' });
    // A method nobody defined does not mint a series of its own.
    expect(serverDurationLabels({ ...base, method: 'FROBNICATE', status: 501 })).toMatchObject({ http_request_method: '_OTHER', error_type: '501' });
  });

  it('converts OpenMetrics counters and exemplars to the classic format', () => {
    const text = ['# HELP jobs Jobs.', '# TYPE jobs counter', 'jobs_total 3', '# TYPE lat histogram', 'lat_bucket{le="1"} 2 # {trace_id="a"} 0.5 1', '# EOF', ''].join('\n');
    expect(toPrometheusText(text)).toBe(['# HELP jobs_total Jobs.', '# TYPE jobs_total counter', 'jobs_total 3', '# TYPE lat histogram', 'lat_bucket{le="1"} 2', ''].join('\n'));
  });

  it('negotiates OpenMetrics from the Accept header', () => {
    expect(wantsOpenMetrics('application/openmetrics-text;version=1.0.0,text/plain;q=0.5')).toBe(true);
    expect(wantsOpenMetrics('text/plain')).toBe(false);
    expect(wantsOpenMetrics(undefined)).toBe(false);
  });
});
