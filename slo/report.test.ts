import { describe, expect, it } from 'vitest';
import { indexCounts, simulateAlerts, windowCounts, windowErrorRatio, type CountSample } from './alert-simulator.ts';
import { sloReport } from './report.ts';
import { parseSloSpec, type SloDefinition } from './spec.ts';

function slo(overrides: Record<string, unknown> = {}): SloDefinition {
  return parseSloSpec(
    {
      apiVersion: 'faultline/v1',
      kind: 'SLO',
      service: 'checkout',
      name: 'availability',
      description: 'd',
      objective: '99.9%',
      window: '30d',
      sli: { availability: { job: 'checkout' } },
      ...overrides,
    },
    'x.yaml',
  );
}

/** One sample per second from `from` (s), `count` of them, with these counts each. */
function seconds(from: number, count: number, good: number, total: number): CountSample[] {
  return Array.from({ length: count }, (_, i) => ({ t: (from + i + 1) * 1000, good, total }));
}

describe('window arithmetic', () => {
  const index = indexCounts([...seconds(0, 10, 10, 10), ...seconds(10, 5, 0, 10)]);

  it('sums the samples stamped in (t - w, t]', () => {
    expect(windowCounts(index, 10_000, 15_000)).toEqual({ good: 0, total: 50 });
    expect(windowCounts(index, 9_000, 11_000)).toEqual({ good: 10, total: 20 });
    expect(windowErrorRatio(index, 15_000, 10_000)).toBe(0.5);
    expect(windowErrorRatio(index, 40_000, 5_000)).toBeNull();
  });

  it('refuses impossible counts', () => {
    expect(() => indexCounts([{ t: 1, good: 3, total: 2 }])).toThrow(/needs 0 <= good <= total/);
  });
});

describe('sloReport', () => {
  it('turns counts into SLI, burn rate and the share of the budget spent', () => {
    const report = sloReport(slo(), seconds(0, 60, 999, 1000), { timeScale: 100 });
    expect(report.events).toEqual({ good: 59_940, bad: 60, total: 60_000 });
    expect(report.sli).toBeCloseTo(0.999, 12);
    expect(report.burnRate).toBeCloseTo(1, 9);
    // 60 s of a 30-day period lived at scale 100 (7h12m = 25,920 s).
    expect(report.periodMs).toBe(25_920_000);
    expect(report.budgetConsumed).toBeCloseTo(60 / 25_920, 9);
    expect(report.budgetRemaining).toBeCloseTo(1 - 60 / 25_920, 9);
    expect(report.window).toEqual({ from: 0, to: 60_000, durationMs: 60_000 });
    expect(report.met).toBe(true);
    expect(report.alerts).toEqual([]);
  });

  it('reads a stretch of the samples, and says nothing about a window without traffic', () => {
    const samples = [...seconds(0, 10, 10, 10), ...seconds(10, 10, 0, 0)];
    const quiet = sloReport(slo(), samples, { from: 10_000, to: 20_000 });
    expect(quiet).toMatchObject({ sli: null, errorRatio: null, burnRate: null, budgetConsumed: 0, met: null, events: { good: 0, bad: 0, total: 0 } });
    expect(sloReport(slo(), samples, { from: 0, to: 10_000 }).sli).toBe(1);
  });

  it('reports when the page and ticket tiers would have fired during an outage at lab speed', () => {
    // Scale 100: the 1h/5m page windows are 36 s and 3 s.
    const samples = [...seconds(0, 40, 20, 20), ...seconds(40, 12, 0, 20), ...seconds(52, 20, 20, 20)];
    const report = sloReport(slo(), samples, { timeScale: 100 });
    const page = report.alerts.find((a) => a.tier === 'page-1h');
    expect(page).toEqual({ tier: 'page-1h', severity: 'page', from: 41_000, to: 55_000 });
    expect(report.alerts.map((a) => a.tier).sort()).toEqual(['page-1h', 'page-6h', 'ticket-1d', 'ticket-3d']);
    expect(report.errorRatio).toBeCloseTo(12 / 72, 12);
    expect(report.burnRate).toBeCloseTo(12 / 72 / 0.001, 6);
    expect(report.met).toBe(false);
  });

  it('needs something to measure', () => {
    expect(() => sloReport(slo(), [])).toThrow(/samples: none given/);
    expect(() => sloReport(slo(), [{ t: 5, good: 1, total: 1 }])).toThrow(/stepMs: needed/);
    expect(sloReport(slo(), [{ t: 5_000, good: 1, total: 1 }], { stepMs: 1_000 }).window).toEqual({ from: 4_000, to: 5_000, durationMs: 1_000 });
    expect(() => sloReport(slo(), seconds(0, 2, 1, 1), { timeScale: 0 })).toThrow(/timeScale/);
  });
});

describe('simulateAlerts', () => {
  it('waits `for` before firing, and forgets a condition that lapses', () => {
    const spec = slo({ alerting: { windows: [{ severity: 'page', long: '1h', short: '5m', burnFactor: 14.4, for: '10m' }] } });
    // One sample a minute: a clean hour, 2 failing minutes, 6 clean ones, then 15 failing.
    const minutes = (from: number, n: number, good: number) => Array.from({ length: n }, (_, i) => ({ t: (from + i + 1) * 60_000, good, total: 100 }));
    const samples = [...minutes(0, 60, 100), ...minutes(60, 2, 0), ...minutes(62, 6, 100), ...minutes(68, 15, 0)];
    const { intervals, evaluations } = simulateAlerts(spec, samples);
    const at = (minute: number) => evaluations.find((e) => e.t === minute * 60_000)?.tiers[0];
    // Active while the first failures are in the 5m window (minutes 61-66), too short for `for: 10m`...
    expect(at(61)).toMatchObject({ active: true, firing: false });
    expect(at(67)).toMatchObject({ active: false, firing: false });
    // ...so the clock restarts with the second incident at minute 69 and fires at 79, not at 71.
    expect(intervals).toEqual([{ tier: 'page-1h', severity: 'page', from: 79 * 60_000, to: null }]);
  });
});
