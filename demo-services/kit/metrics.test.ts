import { describe, expect, it } from 'vitest';
import { LABEL, METRIC } from './conventions.ts';
import { createServiceMetrics, toPrometheusText, wantsOpenMetrics } from './metrics.ts';

describe('service metrics', () => {
  it('exposes the DESIGN.md names, with trace-id exemplars in OpenMetrics only', async () => {
    const metrics = createServiceMetrics({ defaultMetrics: false });
    metrics.httpServerDuration.observe({
      labels: { [LABEL.method]: 'POST', [LABEL.route]: '/checkout', [LABEL.status]: '201' },
      value: 0.042,
      exemplarLabels: { trace_id: '0af7651916cd43dd8448eb211c80319c' },
    });
    metrics.resilience.call('payment', 'short_circuited');
    metrics.resilience.circuitState('payment', 'open');
    metrics.resilience.circuitTransition('payment', 'closed', 'open');

    const open = await metrics.render(true);
    expect(open).toContain('# TYPE resilience_calls counter');
    expect(open).toContain('resilience_calls_total{dependency="payment",outcome="short_circuited"} 1');
    expect(open).toMatch(/http_server_request_duration_seconds_bucket\{le="0\.05",http_request_method="POST",http_route="\/checkout",http_response_status_code="201"\} 1 # \{trace_id="0af7651916cd43dd8448eb211c80319c"\} 0\.042/);
    expect(open.trimEnd().endsWith('# EOF')).toBe(true);

    const classic = await metrics.render(false);
    expect(classic).toContain(`# TYPE ${METRIC.resilienceCalls} counter`);
    expect(classic).toContain(`# HELP ${METRIC.resilienceCircuitTransitions} `);
    expect(classic).toContain('resilience_circuit_state{dependency="payment",state="open"} 1');
    expect(classic).toContain('resilience_circuit_state{dependency="payment",state="closed"} 0');
    expect(classic).not.toContain('# {');
    expect(classic).not.toContain('# EOF');
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
