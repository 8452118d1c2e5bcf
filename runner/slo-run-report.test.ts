import { describe, expect, it } from 'vitest';
import { parseSloDocuments } from '../slo/spec.ts';
import type { AlertEvent } from './alert-webhook.ts';
import { alertIntervals, alertMatches, faultBefore, renderSloReports, sloRunReports } from './slo-run-report.ts';

const [slo] = parseSloDocuments(
  `apiVersion: faultline/v1
kind: SLO
service: checkout
name: availability
displayName: Checkout availability
description: test
objective: 99.9%
window: 30d
sli:
  availability:
    job: checkout
    routes: [/checkout]
`,
  'test.yaml',
);

const event = (over: Partial<AlertEvent>): AlertEvent => ({
  receivedAt: 0,
  status: 'firing',
  alertname: 'CheckoutAvailabilityBudgetBurn',
  labels: { alertname: 'CheckoutAvailabilityBudgetBurn', severity: 'page', sloth_severity: 'page', slo_tier: 'page-1h', sloth_id: 'checkout-availability' },
  annotations: {},
  startsAt: 0,
  endsAt: null,
  fingerprint: 'f1',
  ...over,
});

describe('alertIntervals', () => {
  it('pairs firing and resolved notifications of the same alert, in run offsets', () => {
    const started = 1_000_000;
    const intervals = alertIntervals(
      [
        event({ startsAt: started + 10_400, receivedAt: started + 10_800 }),
        // Alertmanager repeats a firing alert: still one interval.
        event({ startsAt: started + 10_400, receivedAt: started + 13_800 }),
        event({ fingerprint: 'f2', labels: { alertname: 'X', severity: 'ticket' }, alertname: 'X', startsAt: started + 2_000, receivedAt: started + 2_300 }),
        event({ status: 'resolved', startsAt: started + 10_400, endsAt: started + 23_000, receivedAt: started + 24_000 }),
      ],
      started,
    );
    expect(intervals).toEqual([
      expect.objectContaining({ alertname: 'X', firedAtMs: 2_000, notifiedAtMs: 2_300, resolvedAtMs: null }),
      expect.objectContaining({ alertname: 'CheckoutAvailabilityBudgetBurn', firedAtMs: 10_400, notifiedAtMs: 10_800, resolvedAtMs: 23_000 }),
    ]);
    expect(alertMatches(intervals[1]!, 'CheckoutAvailabilityBudgetBurn', { severity: 'page' })).toBe(true);
    expect(alertMatches(intervals[1]!, undefined, { severity: 'ticket' })).toBe(false);
    expect(alertMatches(intervals[0]!, undefined, {})).toBe(true);
  });

  it('counts a new firing of the same alert (a new startsAt) as a new interval', () => {
    const intervals = alertIntervals([event({ startsAt: 1_000 }), event({ status: 'resolved', startsAt: 1_000, endsAt: 2_000 }), event({ startsAt: 5_000 })], 0);
    expect(intervals.map((i) => [i.firedAtMs, i.resolvedAtMs])).toEqual([
      [1_000, 2_000],
      [5_000, null],
    ]);
  });
});

describe('sloRunReports', () => {
  it('turns the rates Prometheus returns into events, SLI, burn rate and budget per phase', async () => {
    const asked: Array<{ expr: string; timeMs: number }> = [];
    const reports = await sloRunReports({
      slos: [slo!],
      // 20 requests a second, 2 of them failing; every recorded window peaked at a 5% error ratio.
      query: async (expr, timeMs) => {
        asked.push({ expr, timeMs });
        if (expr.startsWith('max_over_time(')) return expr.includes('ratio_rate5m') ? 0.05 : undefined;
        return expr.includes('5..') ? 2 : 20;
      },
      startedAt: 100_000,
      endedAt: 136_000,
      phases: [
        { name: 'baseline', startMs: 0, endMs: 8_000 },
        { name: 'outage', startMs: 8_000, endMs: 36_000 },
      ],
      alerts: [{ alertname: 'A', labels: { sloth_id: 'checkout-availability' }, firedAtMs: 9_000, notifiedAtMs: 9_500, resolvedAtMs: null }],
      timeScale: 100,
    });
    const [report] = reports;
    expect(report).toBeDefined();
    expect(report!.periodMs).toBe((30 * 86_400_000) / 100);
    expect(report!.run).toMatchObject({ total: 720, bad: 72, fromMs: 0, toMs: 36_000 });
    expect(report!.run.sli).toBeCloseTo(0.9);
    expect(report!.run.burnRate).toBeCloseTo(100);
    expect(report!.run.budgetConsumed).toBeCloseTo((100 * 36_000) / report!.periodMs);
    expect(report!.phases.map((p) => [p.name, p.total])).toEqual([
      ['baseline', 160],
      ['outage', 560],
    ]);
    expect(report!.peakBurnRates['5m']).toBeCloseTo(50);
    expect(report!.peakBurnRates['1h']).toBeNull();
    expect(report!.alerts).toHaveLength(1);
    // Each window is asked at its own end, over its own length.
    expect(asked).toContainEqual(expect.objectContaining({ timeMs: 108_000, expr: expect.stringContaining('[8000ms]') }));
    expect(asked).toContainEqual(expect.objectContaining({ timeMs: 136_000, expr: expect.stringContaining('[28000ms]') }));
  });

  it('has no SLI, burn rate or budget spent for a window without traffic', async () => {
    const [report] = await sloRunReports({ slos: [slo!], query: async () => undefined, startedAt: 0, endedAt: 10_000, phases: [], alerts: [], timeScale: 100 });
    expect(report!.run).toMatchObject({ total: 0, bad: 0, sli: null, errorRatio: null, burnRate: null, budgetConsumed: 0 });
  });
});

describe('renderSloReports', () => {
  it('prints a row per SLO and each alert timed against the fault before it', async () => {
    const [report] = await sloRunReports({ slos: [slo!], query: async (expr) => (expr.includes('5..') ? 1 : 10), startedAt: 0, endedAt: 20_000, phases: [], alerts: [], timeScale: 100 });
    const faults = [{ name: 'bank-outage', startMs: 8_000, endMs: 20_000 }];
    const text = renderSloReports([{ ...report!, alerts: [{ alertname: 'CheckoutAvailabilityBudgetBurn', labels: { slo_tier: 'page-1h' }, firedAtMs: 10_400, notifiedAtMs: 10_500, resolvedAtMs: 23_000 }] }], faults);
    expect(text).toContain('checkout-availability');
    expect(text).toContain('90.00%');
    expect(text).toContain('CheckoutAvailabilityBudgetBurn page-1h: fired at +10.4s (+2.40s from bank-outage starting), resolved at +23.0s');
    expect(faultBefore(2_000, faults)).toEqual(faults[0]);
  });

  it('lists an alert once when two SLO reports carry it', async () => {
    const [report] = await sloRunReports({ slos: [slo!], query: async () => 10, startedAt: 0, endedAt: 20_000, phases: [], alerts: [], timeScale: 100 });
    const alert = { alertname: 'CheckoutAvailabilityBudgetBurn', labels: { slo_tier: 'page-1h' }, firedAtMs: 10_400, notifiedAtMs: 10_500, resolvedAtMs: 23_000 };
    const text = renderSloReports([{ ...report!, alerts: [alert] }, { ...report!, id: 'other', alerts: [{ ...alert }] }], []);
    expect(text.match(/CheckoutAvailabilityBudgetBurn page-1h: fired/g)).toHaveLength(1);
  });
});
