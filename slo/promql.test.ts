import { describe, expect, it } from 'vitest';
import { formatSeries, PromqlReadError, readQuery, renderWindow, selectorMatches } from './promql.ts';

describe('readQuery', () => {
  it('finds selectors and their matchers, not functions or keywords', () => {
    const names = readQuery('sum by (job) (rate(http_server_request_duration_seconds_count{job="checkout",http_response_status_code=~"5.."}[{{.window}}])) or on() vector(0)');
    expect(names.selectors).toEqual([
      {
        name: 'http_server_request_duration_seconds_count',
        matchers: [
          { label: 'job', op: '=', value: 'checkout' },
          { label: 'http_response_status_code', op: '=~', value: '5..' },
        ],
      },
    ]);
    expect(names.groupingLabels).toEqual(['job']);
  });

  it('reads escaped strings, bare selectors and __name__', () => {
    expect(readQuery('x_total').selectors).toEqual([{ name: 'x_total', matchers: [] }]);
    expect(readQuery('{__name__="a_total", r=~"/api/\\\\w+"}').selectors).toEqual([{ name: 'a_total', matchers: [{ label: 'r', op: '=~', value: '/api/\\w+' }] }]);
    expect(readQuery('a / ignoring(sloth_window) b').groupingLabels).toEqual(['sloth_window']);
  });

  it('reports malformed selectors', () => {
    expect(() => readQuery('x{job="a"')).toThrow(PromqlReadError);
    expect(() => readQuery('x{job=a}')).toThrow(/quoted value/);
    expect(() => readQuery('x{job="a}')).toThrow(/unterminated/);
  });
});

describe('selectorMatches', () => {
  const selector = readQuery('x_count{job="checkout",code=~"5..",route!~"/healthz|/readyz"}').selectors[0]!;
  it('applies =, =~ and !~ with anchored regexes', () => {
    expect(selectorMatches(selector, { name: 'x_count', labels: { job: 'checkout', code: '503', route: '/checkout' } })).toBe(true);
    expect(selectorMatches(selector, { name: 'x_count', labels: { job: 'checkout', code: '5030', route: '/checkout' } })).toBe(false);
    expect(selectorMatches(selector, { name: 'x_count', labels: { job: 'checkout', code: '503', route: '/healthz' } })).toBe(false);
    expect(selectorMatches(selector, { name: 'x_sum', labels: { job: 'checkout', code: '503' } })).toBe(false);
  });

  it('reads an absent label as empty', () => {
    const neq = readQuery('x{a!="b"}').selectors[0]!;
    expect(selectorMatches(neq, { name: 'x', labels: {} })).toBe(true);
  });
});

describe('series and windows', () => {
  it('writes series with sorted labels and fills {{.window}}', () => {
    expect(formatSeries({ name: 'x', labels: { b: '2', a: '1', c: '' } })).toBe('x{a="1",b="2"}');
    expect(renderWindow('rate(x[{{.window}}]) + rate(y[{{ .window }}])', '5m')).toBe('rate(x[5m]) + rate(y[5m])');
  });
});
