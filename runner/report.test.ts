import { describe, expect, it } from 'vitest';
import type { ExpectationResult } from './expectations.ts';
import { emptyRunSummary } from '../test/fixtures/run-summary.ts';
import { renderJunit, renderVerdictTable, VERDICT_TABLE_WIDTH, verdictLine, wrapCell, type RunSummary } from './report.ts';

function summary(expectations: ExpectationResult[], overrides: Partial<RunSummary> = {}): RunSummary {
  return emptyRunSummary(expectations, overrides);
}

const results: ExpectationResult[] = [
  { name: 'the payment breaker opens during the outage and closes after it', type: 'circuit', status: 'pass', ok: true, expected: 'opens during outage, closed again after outage', measured: 'opened at +8.3s, closed at +21.1s, 17 transitions' },
  {
    name: 'once the breaker is open, failed checkouts fail fast',
    type: 'threshold',
    status: 'inconclusive',
    ok: false,
    expected: 'http_req_duration p(95)<100 (while checkout->payment open, dependency-circuit-open only)',
    measured: '367ms over 251 dependency-circuit-open requests (of 251 failed)',
    inconclusive: 'cpu pressure 65% during outage, limit 60%; load generator 115ms behind its schedule (p99) during outage, limit 100ms',
  },
  { name: 'the books balance', type: 'books', status: 'fail', ok: false, expected: 'every confirmed order charged once', measured: '1 violations, first: order o-1 was left half-placed (pending)' },
  { name: 'the page fires', type: 'alert', status: 'skip', ok: true, expected: 'X fires', measured: 'not measured', skipped: 'Prometheus is not installed' },
];

describe('renderVerdictTable', () => {
  it('has status, expectation, expected and measured columns, wraps long cells, and fits in 120 columns', () => {
    const text = renderVerdictTable(summary(results, { verdict: 'fail' }));
    const lines = text.split('\n');
    for (const line of lines) expect(line.length, line).toBeLessThanOrEqual(VERDICT_TABLE_WIDTH);
    expect(lines[0]).toMatch(/^\s+expectation\s+expected\s+measured$/);
    expect(text).toContain('INCONCLUSIVE  once the breaker is open');
    expect(text).toContain('not judged: cpu pressure 65% during outage, limit 60%');
    expect(text).toContain('not measured: Prometheus');
    expect(lines.at(-1)).toBe('FAIL: payment-outage, 1/4 expectations held, 1 inconclusive (machine too busy), 1 skipped (run run-1)');
  });
});

describe('verdictLine', () => {
  it('says INCONCLUSIVE when nothing failed but something could not be judged', () => {
    expect(verdictLine(summary(results.slice(0, 2)))).toBe('INCONCLUSIVE: payment-outage, 1/2 expectations held, 1 inconclusive (machine too busy) (run run-1)');
  });
});

describe('renderJunit', () => {
  it('marks an inconclusive case skipped with its reason, a failed one failed', () => {
    const xml = renderJunit(summary(results));
    expect(xml).toContain('failures="1" errors="0" skipped="2"');
    expect(xml).toMatch(/<skipped message="inconclusive: cpu pressure 65% during outage, limit 60%;[^"]*measured 367ms/);
    expect(xml).toContain('<failure message="expected every confirmed order charged once; measured 1 violations');
  });

  it('with --strict, counts an inconclusive case as a failure', () => {
    const xml = renderJunit(summary(results, { options: { disabled: [], timeScale: 1, seed: 42, strict: true } }));
    expect(xml).toContain('failures="2" errors="0" skipped="1"');
    expect(xml).toMatch(/<failure message="inconclusive: cpu pressure 65%/);
  });
});

describe('wrapCell', () => {
  it('breaks at spaces, cuts a word longer than the width, and keeps an empty cell one line', () => {
    expect(wrapCell('one two three', 7)).toEqual(['one two', 'three']);
    expect(wrapCell('abcdefghij', 4)).toEqual(['abcd', 'efgh', 'ij']);
    expect(wrapCell('', 5)).toEqual(['']);
  });
});
