import { describe, expect, it } from 'vitest';
import { eventSeries } from './event-series.ts';
import { formatSeries } from './promql.ts';
import { loadSloSpecs, parseSloSpec } from './spec.ts';

const slos = new Map((await loadSloSpecs()).map((slo) => [slo.id, slo]));
const names = (id: string) => {
  const events = eventSeries(slos.get(id) as NonNullable<ReturnType<typeof slos.get>>);
  return { good: events.good.map(formatSeries), bad: events.bad.map(formatSeries) };
};

describe('eventSeries', () => {
  it('finds a 5xx and a non-5xx series for an availability SLI', () => {
    expect(names('checkout-availability')).toEqual({
      good: ['http_server_request_duration_seconds_count{http_response_status_code="200",http_route="/checkout",job="checkout"}'],
      bad: ['http_server_request_duration_seconds_count{http_response_status_code="500",http_route="/checkout",job="checkout"}'],
    });
    expect(names('gateway-availability').bad).toEqual(['http_server_request_duration_seconds_count{http_response_status_code="500",http_route="/api/x",job="gateway"}']);
  });

  it('makes a fast request increment the threshold bucket and the count, a slow one the count only', () => {
    expect(names('checkout-latency')).toEqual({
      good: [
        'http_server_request_duration_seconds_bucket{http_route="/checkout",job="checkout",le="0.25"}',
        'http_server_request_duration_seconds_count{http_route="/checkout",job="checkout"}',
      ],
      bad: ['http_server_request_duration_seconds_count{http_route="/checkout",job="checkout"}'],
    });
  });

  it('picks outcomes for dependency calls', () => {
    expect(names('payment-calls-from-checkout')).toEqual({
      good: ['resilience_calls_total{dependency="payment",job="checkout",outcome="success"}'],
      bad: ['resilience_calls_total{dependency="payment",job="checkout",outcome="failure"}'],
    });
  });

  it('says so when no series can tell good from bad', () => {
    const same = parseSloSpec(
      {
        apiVersion: 'faultline/v1',
        kind: 'SLO',
        service: 'a',
        name: 'b',
        description: 'd',
        objective: '99%',
        window: '30d',
        sli: { ratio: { bad: 'x_total{job="a"}', total: 'x_total{job="a"}' } },
      },
      'x.yaml',
    );
    expect(() => eventSeries(same)).toThrow(/a-b: cannot find label values for a good event on x_total/);
    const nameless = parseSloSpec(
      {
        apiVersion: 'faultline/v1',
        kind: 'SLO',
        service: 'a',
        name: 'b',
        description: 'd',
        objective: '99%',
        window: '30d',
        sli: { ratio: { bad: 'sum(rate({job="a",code="500"}[{{.window}}]))', total: 'sum(rate({job="a"}[{{.window}}]))' } },
      },
      'x.yaml',
    );
    expect(() => eventSeries(nameless)).toThrow(/without a metric name/);
  });
});
