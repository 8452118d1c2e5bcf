import { describe, expect, it } from 'vitest';
import { evaluateThreshold, parseThreshold, parseThresholds, ThresholdError } from './thresholds.ts';
import type { ThresholdValues } from './thresholds.ts';

const values: ThresholdValues = {
  p: (q) => q * 10, // p(95) = 950, p(50) = 500, p(99.9) = 999
  avg: 180,
  min: 1,
  max: 1_200,
  rate: 0.02,
  count: 0,
};

describe('parseThreshold', () => {
  it('reads the k6 spellings', () => {
    expect(parseThreshold('p(95)<500')).toMatchObject({ aggregation: { kind: 'percentile', q: 95 }, operator: '<', value: 500, expression: 'p(95)<500' });
    expect(parseThreshold('p(99.9)<=1000')).toMatchObject({ aggregation: { kind: 'percentile', q: 99.9 }, operator: '<=', value: 1000 });
    expect(parseThreshold(' avg < 200 ')).toMatchObject({ aggregation: { kind: 'avg' }, expression: 'avg<200' });
    expect(parseThreshold('rate<0.01')).toMatchObject({ aggregation: { kind: 'rate' }, value: 0.01 });
    expect(parseThreshold('count==0')).toMatchObject({ aggregation: { kind: 'count' }, operator: '==', value: 0 });
    expect(parseThreshold('count===0')).toMatchObject({ operator: '==', expression: 'count==0' });
    expect(parseThreshold('med<100')).toMatchObject({ aggregation: { kind: 'med' } });
    expect(parseThreshold('max>=1e3')).toMatchObject({ operator: '>=', value: 1000 });
  });

  it.each([
    ['', 'is empty'],
    ['p95<500', 'expected <aggregation><operator><number>'],
    ['p(95)<', 'nothing to compare with after "<"'],
    ['p(95)<abc', '"abc" is not a number'],
    ['p(x)<5', 'percentile "x" is not a number'],
    ['p(101)<5', 'percentile 101 is outside 0..100'],
    ['p<5', 'a percentile needs its argument'],
    ['avg(3)<5', 'avg takes no argument'],
    ['mean<5', 'unknown aggregation "mean"'],
    ['avg=5', 'expected <aggregation><operator><number>'],
  ])('rejects %j: %s', (source, reason) => {
    let caught: unknown;
    try {
      parseThreshold(source);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ThresholdError);
    expect(caught).toMatchObject({ code: 'FL_BAD_THRESHOLD', source });
    expect((caught as Error).message).toContain(`invalid threshold ${JSON.stringify(source)}`);
    expect((caught as Error).message).toContain(reason);
  });

  it('parseThresholds reports every bad string at once', () => {
    expect(parseThresholds(['p(95)<500', 'rate<0.01'])).toHaveLength(2);
    expect(() => parseThresholds(['p(95)<500', 'oops'])).toThrow(/invalid threshold "oops"/);
    let caught: unknown;
    try {
      parseThresholds(['p(95)<', 'mean<1', 'avg<1']);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ThresholdError);
    expect((caught as Error).message).toMatch(/^invalid thresholds: "p\(95\)<": .*; "mean<1": unknown aggregation/);
  });
});

describe('evaluateThreshold', () => {
  it.each([
    ['p(95)<500', false, 950],
    ['p(95)<1000', true, 950],
    ['p(99.9)<=999', true, 999],
    ['avg<200', true, 180],
    ['max<1000', false, 1_200],
    ['min>0', true, 1],
    ['rate<0.01', false, 0.02],
    ['rate<=0.02', true, 0.02],
    ['count==0', true, 0],
    ['count!=0', false, 0],
    ['med<100', false, 500],
  ])('%s -> ok=%s (actual %d)', (source, ok, actual) => {
    expect(evaluateThreshold(source, values)).toEqual({ ok, actual, expression: parseThreshold(source).expression });
  });

  it('accepts a parsed threshold', () => {
    expect(evaluateThreshold(parseThreshold('p(50)<=500'), values)).toEqual({ ok: true, actual: 500, expression: 'p(50)<=500' });
  });

  it('fails a NaN actual and complains about a value the metric lacks', () => {
    expect(evaluateThreshold('p(95)<500', { p: () => Number.NaN }).ok).toBe(false);
    expect(() => evaluateThreshold('rate<0.01', { p: () => 1 })).toThrow(/"rate<0.01": this metric has no "rate" value/);
  });
});
