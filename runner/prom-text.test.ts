import { describe, expect, it } from 'vitest';
import { parseSamples } from './prom-text.ts';

describe('parseSamples', () => {
  it('reads names, labels (with escapes) and values, skipping comments and exemplars', () => {
    const text = [
      '# HELP resilience_circuit_state Circuit breaker state.',
      '# TYPE resilience_circuit_state gauge',
      'resilience_circuit_state{dependency="payment",state="open"} 1',
      'resilience_circuit_state{dependency="payment",state="closed"} 0',
      'weird{path="a\\"b"} 2.5',
      'http_bucket{le="0.1"} 3 # {trace_id="abc"} 0.05 1700000000',
      'plain_total 7',
      '',
    ].join('\n');
    expect(parseSamples(text)).toEqual([
      { name: 'resilience_circuit_state', labels: { dependency: 'payment', state: 'open' }, value: 1 },
      { name: 'resilience_circuit_state', labels: { dependency: 'payment', state: 'closed' }, value: 0 },
      { name: 'weird', labels: { path: 'a"b' }, value: 2.5 },
      { name: 'http_bucket', labels: { le: '0.1' }, value: 3 },
      { name: 'plain_total', labels: {}, value: 7 },
    ]);
  });
});
