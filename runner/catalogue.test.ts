// The catalogue on pure data: worst verdicts and exit codes, the combined
// junit.xml and summary, grouping; and the scenario files' own catalogue fields.

import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { emptyRunSummary } from '../test/fixtures/run-summary.ts';
import {
  CATEGORY_NAMES,
  catalogueSummary,
  exitCodeOf,
  groupByCategory,
  judged,
  junitSuites,
  mergeJunit,
  renderCatalogueTable,
  SWITCH_NAMES,
  withoutFlags,
  worstOutcome,
  type CatalogueRun,
} from './catalogue.ts';
import type { ExpectationResult } from './expectations.ts';
import { renderJunit, type RunSummary } from './report.ts';
import { adjustScenario, listScenarioFiles, loadScenario, parseScenario, switchedOnAt } from './scenario.ts';

const expectation = (name: string, status: ExpectationResult['status']): ExpectationResult => ({
  name,
  type: 'threshold',
  status,
  ok: status === 'pass' || status === 'skip',
  expected: 'rate<0.01',
  measured: status === 'pass' ? '0.00%' : '12.00%',
});

function summary(scenario: string, verdict: RunSummary['verdict'], expectations: ExpectationResult[], durationMs = 30_000): RunSummary {
  return emptyRunSummary(expectations, {
    id: `20261206T000000Z-${scenario}-1`,
    scenario,
    description: `${scenario} <&> "quoted"`,
    verdict,
    endedAt: '2026-12-06T00:00:30.000Z',
    durationMs,
    options: { disabled: [], timeScale: 1, seed: 1 },
  });
}

const run = (scenario: string, outcome: CatalogueRun['outcome'], extra: Partial<CatalogueRun> = {}): CatalogueRun => ({ scenario, disabled: [], expected: 'pass', outcome, ...extra });

describe('worst verdict and exit code', () => {
  it('error beats fail beats inconclusive beats pass; none is a pass', () => {
    expect(worstOutcome([])).toBe('pass');
    expect(worstOutcome(['pass', 'pass'])).toBe('pass');
    expect(worstOutcome(['pass', 'inconclusive'])).toBe('inconclusive');
    expect(worstOutcome(['inconclusive', 'fail', 'pass'])).toBe('fail');
    expect(worstOutcome(['fail', 'error', 'inconclusive'])).toBe('error');
  });

  it('exit codes are those of one run: 0 pass, 1 fail, 2 error, 3 inconclusive', () => {
    expect(['pass', 'fail', 'error', 'inconclusive'].map((o) => exitCodeOf(o as never))).toEqual([0, 1, 2, 3]);
  });

  it('under --without a FAIL is what was expected and a PASS is the failure; inconclusive and error stay; --strict fails inconclusive', () => {
    expect(judged({ expected: 'fail', outcome: 'fail' })).toBe('pass');
    expect(judged({ expected: 'fail', outcome: 'pass' })).toBe('fail');
    expect(judged({ expected: 'fail', outcome: 'inconclusive' })).toBe('inconclusive');
    expect(judged({ expected: 'fail', outcome: 'error' })).toBe('error');
    expect(judged({ expected: 'pass', outcome: 'fail' })).toBe('fail');
    expect(judged({ expected: 'pass', outcome: 'inconclusive' }, true)).toBe('fail');
    expect(judged({ expected: 'fail', outcome: 'inconclusive' }, true)).toBe('fail');
  });
});

describe('combined summary', () => {
  const meta = { id: '20261206T000000Z-catalogue-1', mode: 'with' as const, startedAt: 'a', endedAt: 'b', timeScale: 0.5, strict: false, monitoring: true };

  it('lists each run with its verdict and run dir; the verdict and exit code are the worst', () => {
    const combined = catalogueSummary([run('a', 'pass', { id: 'ra', runDir: '/runs/ra' }), run('b', 'inconclusive', { id: 'rb', runDir: '/runs/rb' }), run('c', 'error', { error: 'lab did not start' })], meta);
    expect(combined.verdict).toBe('error');
    expect(combined.exitCode).toBe(2);
    expect(combined.runs).toEqual([
      { scenario: 'a', expected: 'pass', verdict: 'pass', judged: 'pass', disabled: [], id: 'ra', runDir: '/runs/ra' },
      { scenario: 'b', expected: 'pass', verdict: 'inconclusive', judged: 'inconclusive', disabled: [], id: 'rb', runDir: '/runs/rb' },
      { scenario: 'c', expected: 'pass', verdict: 'error', judged: 'error', disabled: [], error: 'lab did not start' },
    ]);
    expect(catalogueSummary([run('a', 'pass'), run('b', 'inconclusive')], meta).exitCode).toBe(3);
    expect(catalogueSummary([run('a', 'pass'), run('b', 'inconclusive')], { ...meta, strict: true }).exitCode).toBe(1);
  });

  it('under --without, every scenario failing is exit 0 and one passing is exit 1', () => {
    const without = { ...meta, mode: 'without' as const };
    const failing = [run('a', 'fail', { expected: 'fail', disabled: ['circuitBreaker'] }), run('b', 'fail', { expected: 'fail', disabled: ['timeout'] })];
    expect(catalogueSummary(failing, without).exitCode).toBe(0);
    const oneHeld = catalogueSummary([...failing, run('c', 'pass', { expected: 'fail', disabled: ['retry'] }), run('d', 'inconclusive', { expected: 'fail', disabled: ['recovery'] })], without);
    expect(oneHeld.exitCode).toBe(1);
    const table = renderCatalogueTable(oneHeld);
    expect(table).toContain('not judged (machine too busy) without recovery');
    expect(table).toContain('as expected without circuitBreaker');
    expect(table).toContain('NOT as expected without retry');
    expect(table.split('\n').at(-1)).toBe("FAIL: the catalogue's worst outcome (exit 1)");
  });
});

describe('combined junit.xml', () => {
  const a = summary('payment-outage', 'pass', [expectation('breaker opens', 'pass'), expectation('baseline healthy', 'skip')], 40_000);
  const b = summary('bank-pause', 'fail', [expectation('no checkout hangs', 'fail'), expectation('books', 'pass'), expectation('breaker', 'inconclusive')], 30_500);

  it('has one testsuite per run, each as the run wrote it, and the root counts are their sums', () => {
    const merged = mergeJunit([run('payment-outage', 'pass', { summary: a }), run('bank-pause', 'fail', { summary: b })], renderJunit);
    const suites = junitSuites(merged);
    expect(suites).toEqual([...junitSuites(renderJunit(a)), ...junitSuites(renderJunit(b))]);
    expect(suites).toHaveLength(2);
    expect(merged).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<testsuites name="faultline" tests="5" failures="1" errors="0" time="70.500">\n/);
    expect(merged.trimEnd().endsWith('</testsuites>')).toBe(true);
    expect(merged.match(/<testcase /g)).toHaveLength(5);
  });

  it('a run that could not be made is a suite with one <error> case naming why', () => {
    const merged = mergeJunit([run('payment-outage', 'pass', { summary: a }), run('packet-trouble', 'error', { error: 'port <in use> & gone' })], renderJunit);
    expect(merged).toContain('<testsuites name="faultline" tests="3" failures="0" errors="1"');
    expect(merged).toContain('<testsuite name="packet-trouble" tests="1" failures="0" errors="1" skipped="0" time="0.000">');
    expect(merged).toContain('<error message="port &lt;in use&gt; &amp; gone" type="error"/>');
  });

  it('under --without each run is one case "fails without <switch>", failing when the scenario passed', () => {
    const held = summary('payment-outage', 'pass', [expectation('breaker opens', 'pass')]);
    const merged = mergeJunit(
      [run('bank-pause', 'fail', { summary: b, expected: 'fail', disabled: ['timeout'] }), run('payment-outage', 'pass', { summary: held, expected: 'fail', disabled: ['circuitBreaker'] })],
      renderJunit,
    );
    const suites = junitSuites(merged);
    expect(suites).toHaveLength(2);
    expect(suites[0]).toContain('<testsuite name="bank-pause without timeout" tests="1" failures="0" errors="0" skipped="0"');
    expect(suites[0]).toContain('name="fails without timeout"');
    expect(suites[0]).not.toContain('<failure');
    expect(suites[0]).toContain('failed: no checkout hangs');
    expect(suites[0]).toContain('inconclusive: breaker');
    expect(suites[1]).toContain('<failure message="the scenario passed without circuitBreaker: the pattern made no difference" type="without"/>');
    expect(merged).toContain('<testsuites name="faultline" tests="2" failures="1" errors="0"');
  });
});

describe('grouping', () => {
  it('follows the order of the categories, names sorted, uncategorised last', () => {
    const groups = groupByCategory([
      { name: 'z', description: '', category: 'network' },
      { name: 'b', description: '', category: 'dependency-failure' },
      { name: 'x', description: '' },
      { name: 'a', description: '', category: 'network' },
    ]);
    expect(groups.map((g) => [g.category, g.entries.map((e) => e.name)])).toEqual([
      ['dependency-failure', ['b']],
      ['network', ['a', 'z']],
      ['uncategorised', ['x']],
    ]);
    expect(withoutFlags({ without: ['timeout', 'retry'] })).toEqual(['--disable', 'timeout', '--disable', 'retry']);
  });
});

describe('the scenario files', () => {
  it('each carries category, demonstrates and without; without names switches `run --disable` accepts and the scenario has on', async () => {
    const files = await listScenarioFiles();
    expect(files.length).toBeGreaterThanOrEqual(6);
    for (const file of files) {
      const scenario = await loadScenario(file);
      expect(scenario.name, file).toBe(basename(file, '.yaml'));
      expect(CATEGORY_NAMES, file).toContain(scenario.category);
      expect(scenario.demonstrates?.length, file).toBeGreaterThan(0);
      for (const name of scenario.without ?? []) {
        expect(SWITCH_NAMES, file).toContain(name);
        expect(switchedOnAt(scenario, name).length, `${file}: ${name}`).toBeGreaterThan(0);
      }
      // Running it without is possible: every switch turns something off.
      expect(adjustScenario(scenario, { disable: [...(scenario.without ?? [])] }).switchedOff?.length, file).toBeGreaterThan(0);
      expect(scenario.story, `${file}: the page's prose`).toBeDefined();
    }
  });
});

describe('switches', () => {
  const minimal = (extra: Record<string, unknown> = {}) =>
    parseScenario(
      {
        name: 'unit',
        description: 'unit',
        policies: { checkout: { payment: { retry: { budget: { enabled: true, capacity: 50 } } } } },
        phases: [{ name: 'only', duration: '5s' }],
        load: { executor: 'constant-arrival-rate', rate: 1, timeUnit: '1s', preAllocatedVUs: 1, maxVUs: 1, journey: 'checkout' },
        expectations: [{ name: 'e', type: 'books' }],
        ...extra,
      },
      'unit.yaml',
    );

  it('retryBudget turns off the budget inside each retry policy, and keeps its other settings', () => {
    const off = adjustScenario(minimal(), { disable: ['retryBudget'] });
    expect(off.policies.checkout?.payment?.retry.budget).toMatchObject({ enabled: false, capacity: 50 });
    expect(off.policies.checkout?.payment?.retry.enabled).toBe(true);
    expect(off.switchedOff).toEqual(['checkout->payment retryBudget']);
  });

  it('jitter sets each enabled retry policy\'s jitter to none, and is off where retry is off or has none', () => {
    const scenario = minimal({ policies: { checkout: { payment: { retry: { jitter: 'full', openCircuit: 'wait' } }, inventory: { retry: { enabled: false } } }, payment: { bank: { retry: { jitter: 'none' } } } } });
    expect(switchedOnAt(scenario, 'jitter')).toEqual(['checkout->payment']);
    const off = adjustScenario(scenario, { disable: ['jitter'] });
    expect(off.policies.checkout?.payment?.retry).toMatchObject({ enabled: true, jitter: 'none', openCircuit: 'wait' });
    expect(off.switchedOff).toEqual(['checkout->payment jitter']);
    expect(switchedOnAt(off, 'jitter')).toEqual([]);
  });

  it('rateLimit, loadShedding and fallback turn off the gateway\'s own patterns', () => {
    const off = adjustScenario(minimal(), { disable: ['rateLimit', 'loadShedding', 'fallback'] });
    expect(off.gateway.rateLimit.enabled).toBe(false);
    expect(off.gateway.loadShedding.enabled).toBe(false);
    expect(off.gateway.recommendationFallback.enabled).toBe(false);
    expect(off.switchedOff).toEqual(['gateway rateLimit', 'gateway loadShedding', 'gateway fallback']);
    expect(switchedOnAt(minimal(), 'fallback')).toEqual(['gateway']);
    expect(switchedOnAt(minimal({ gateway: { recommendationFallback: { enabled: false } } }), 'fallback')).toEqual([]);
  });

  it('a switch with nothing to act on names the switches there are', () => {
    expect(() => adjustScenario(minimal({ policies: {} }), { disable: ['retryBudget'] })).toThrow(/--disable retryBudget: no policy of that name in scenario 'unit' \(try timeout, retry, circuitBreaker, bulkhead, retryBudget, recovery, compensation, rateLimit, loadShedding, fallback, idempotency, deadlines, coalescing, outlierDetection, healthChecks, memoryLimit, asyncTelemetry, jitter, eventLoopShedding, quarantine\)/);
  });
});

describe('catalogue fields in the scenario schema', () => {
  let base: Record<string, unknown>;
  const load = async () => (base ??= parseYaml(await readFile((await listScenarioFiles()).find((f) => f.endsWith('/payment-outage.yaml')) as string, 'utf8')) as Record<string, unknown>);
  const problems = async (change: (doc: Record<string, unknown>) => void): Promise<string> => {
    const doc = structuredClone(await load());
    change(doc);
    try {
      parseScenario(doc, 'x.yaml', { fromFile: true });
      return '';
    } catch (error) {
      return (error as Error).message;
    }
  };

  it('the unchanged file parses', async () => {
    expect(await problems(() => undefined)).toBe('');
  });

  it('an unknown category, a bad pattern name or an unknown switch is an error naming its path', async () => {
    expect(await problems((d) => (d.category = 'weather'))).toMatch(/category: .*dependency-failure/);
    expect(await problems((d) => (d.demonstrates = ['circuit breaker']))).toContain('demonstrates.0: must be a pattern name in camelCase');
    expect(await problems((d) => (d.without = ['magic']))).toMatch(/without\.0: .*circuitBreaker/);
  });

  it('the three fields go together, name nothing twice, and without names a switch that is on', async () => {
    expect(await problems((d) => delete d.without)).toContain('category, demonstrates: the catalogue\'s fields go together: give category, demonstrates and without (missing without)');
    expect(await problems((d) => (d.demonstrates = ['circuitBreaker', 'circuitBreaker']))).toContain("demonstrates.1: 'circuitBreaker' is named twice");
    expect(await problems((d) => (d.without = ['bulkhead', 'recovery']))).toContain("without.1: 'recovery' is not switched on anywhere in this scenario");
    // payment->bank has a bulkhead on: that one is fine.
    expect(await problems((d) => (d.without = ['bulkhead', 'recovery']))).not.toContain('without.0');
  });

  it('a story has see, why and realFix, and no unknown keys', async () => {
    const message = await problems((d) => (d.story = { see: 'x', colour: 'red' }));
    expect(message).toContain('story.why');
    expect(message).toContain('story.realFix');
    expect(message).toContain('colour');
  });
});
