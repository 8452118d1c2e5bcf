import { describe, expect, it } from 'vitest';
import { eventSeries, samplesOf } from './event-series.ts';
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

  it('finds series for selectors with regular expressions beyond a|b and x.. (groups, classes, counts)', () => {
    const ratio = (bad: string, total: string) =>
      eventSeries(
        parseSloSpec({ apiVersion: 'faultline/v1', kind: 'SLO', service: 's', name: 'n', description: 'd', objective: '99.9%', window: '30d', sli: { ratio: { bad, total } } }, 'x.yaml'),
      );
    const shown = (events: ReturnType<typeof ratio>) => ({ good: events.good.map(formatSeries), bad: events.bad.map(formatSeries) });
    expect(shown(ratio('sum(rate(x_count{job="a",code=~"(5..|429)"}[{{.window}}]))', 'sum(rate(x_count{job="a"}[{{.window}}]))'))).toEqual({
      good: ['x_count{code="x",job="a"}'],
      bad: ['x_count{code="500",job="a"}'],
    });
    expect(
      shown(ratio('sum(rate(x_count{route=~"/api/(cart|checkout).*",code=~"5[0-9]{2}"}[{{.window}}]))', 'sum(rate(x_count{route=~"/api/(cart|checkout).*"}[{{.window}}]))')),
    ).toEqual({ good: ['x_count{code="x",route="/api/cart"}'], bad: ['x_count{code="500",route="/api/cart"}'] });
    expect(shown(ratio('x_count{instance=~"host-[a-z]+:[0-9]+",code=~"[45].."}', 'x_count{instance=~"host-[a-z]+:[0-9]+"}')).bad).toEqual([
      'x_count{code="400",instance="host-a:0"}',
    ]);
  });

  it("reads Sloth's latency error query, count minus the threshold bucket, as the bucket's good events", () => {
    const slo = parseSloSpec(
      {
        version: 'prometheus/v1',
        service: 's',
        slos: [
          {
            name: 'latency',
            objective: 99,
            sli: { events: { error_query: '(\n  sum(rate(x_count{job="a"}[{{.window}}]))\n  -\n  sum(rate(x_bucket{job="a",le="0.25"}[{{.window}}]))\n)', total_query: 'sum(rate(x_count{job="a"}[{{.window}}]))' } },
            alerting: { name: 'Slow' },
          },
        ],
      },
      's.yaml',
    );
    const events = eventSeries(slo);
    expect({ good: events.good.map(formatSeries), bad: events.bad.map(formatSeries) }).toEqual({ good: ['x_bucket{job="a",le="0.25"}', 'x_count{job="a"}'], bad: ['x_count{job="a"}'] });
  });

  it('draws the same strings for a pattern every time, and each matches it', () => {
    const pattern = '/api/(cart|checkout)/[a-z]{2,4}|(5..|429)';
    expect(samplesOf(pattern)).toEqual(samplesOf(pattern));
    expect(samplesOf(pattern).filter((s) => new RegExp(`^(?:${pattern})$`).test(s)).length).toBeGreaterThan(5);
    expect(samplesOf('(5..|429)')).toEqual(expect.arrayContaining(['500', '429']));
  });

  it('says a raw error-ratio SLI has no events to feed', () => {
    const raw = { ...(slos.get('checkout-availability') as NonNullable<ReturnType<typeof slos.get>>), id: 'raw', sli: { kind: 'raw' as const, form: 'ratio' as const, events: 'x', total: 'count(x)' } };
    expect(() => eventSeries(raw)).toThrow(/raw: a raw error-ratio SLI \(Sloth's sli.raw\) counts no events/);
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
