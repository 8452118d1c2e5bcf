// What a run did to each SLO, measured by the real Prometheus that scraped it
// (at the lab time scale the rules were generated for): the SLI over the run
// and per phase, the share of the period's error budget each spent, the peak
// burn rate per alert window, and the alerts that fired and resolved, timed
// against the run and the fault that preceded them (from Alertmanager's
// webhook). Queries go through a small interface so the maths is tested
// without a Prometheus; the alert timing is pure.

import { formatMs } from '../demo-services/kit/units.ts';
import { formatPromDuration } from '../slo/prom-duration.ts';
import { renderWindow } from '../slo/promql.ts';
import { badEventsExpr, recordedWindows, SLI_ERROR_RATIO, SLOTH_LABEL, sloFilter, TIER_LABEL } from '../slo/rules.ts';
import type { SloDefinition } from '../slo/spec.ts';
import type { AlertEvent } from './alert-webhook.ts';

/** An alert's life in a run; times are offsets (ms) from the run's start. */
export interface AlertInterval {
  alertname: string;
  labels: Record<string, string>;
  /** When Prometheus fired it. */
  firedAtMs: number;
  /** When its first notification reached the runner. */
  notifiedAtMs: number;
  /** When Prometheus resolved it; null while it was still firing at the end of the run. */
  resolvedAtMs: number | null;
}

/** Pair each alert's firing and resolved notifications (by fingerprint). */
export function alertIntervals(events: readonly AlertEvent[], startedAt: number): AlertInterval[] {
  const byAlert = new Map<string, AlertInterval>();
  for (const event of events) {
    const key = `${event.fingerprint || JSON.stringify(event.labels)}@${event.startsAt}`;
    const known = byAlert.get(key);
    const interval = known ?? {
      alertname: event.alertname,
      labels: event.labels,
      firedAtMs: event.startsAt - startedAt,
      notifiedAtMs: event.receivedAt - startedAt,
      resolvedAtMs: null,
    };
    if (event.status === 'resolved') interval.resolvedAtMs = (event.endsAt ?? event.receivedAt) - startedAt;
    byAlert.set(key, interval);
  }
  return [...byAlert.values()].sort((a, b) => a.firedAtMs - b.firedAtMs);
}

/** Whether an alert carries the name (when given) and every label asked for. */
export function alertMatches(alert: AlertInterval, alertname: string | undefined, labels: Readonly<Record<string, string>>): boolean {
  if (alertname !== undefined && alert.alertname !== alertname) return false;
  return Object.entries(labels).every(([label, value]) => alert.labels[label] === value);
}

export interface SliWindow {
  name: string;
  /** Offsets (ms) from the run's start. */
  fromMs: number;
  toMs: number;
  /** Events in the window, as Prometheus extrapolates them from the rates. */
  total: number;
  bad: number;
  /** good / total; null without traffic. */
  sli: number | null;
  errorRatio: number | null;
  /** errorRatio / error budget; 1 spends the budget exactly over the period. */
  burnRate: number | null;
  /** Share of the period's whole budget the window spent. */
  budgetConsumed: number;
}

export interface SloRunReport {
  id: string;
  displayName: string;
  objective: number;
  errorBudget: number;
  /** The period as lived at the run's time scale. */
  periodMs: number;
  run: SliWindow;
  phases: SliWindow[];
  /** Highest burn rate each recorded window (nominal name: 5m, 1h...) reached during the run. */
  peakBurnRates: Record<string, number | null>;
  /** This SLO's alerts (by sloth_id). */
  alerts: AlertInterval[];
}

/** The one Prometheus call the report needs: an instant query, one number (or none). */
export type InstantQuery = (expr: string, timeMs: number) => Promise<number | undefined>;

export interface SloRunReportOptions {
  slos: readonly SloDefinition[];
  query: InstantQuery;
  /** Epoch ms of the run's start and end. */
  startedAt: number;
  endedAt: number;
  phases: ReadonlyArray<{ name: string; startMs: number; endMs: number }>;
  alerts: readonly AlertInterval[];
  timeScale: number;
}

export async function sloRunReports(options: SloRunReportOptions): Promise<SloRunReport[]> {
  const runMs = options.endedAt - options.startedAt;
  return Promise.all(
    options.slos.map(async (slo): Promise<SloRunReport> => {
      const periodMs = slo.periodMs / options.timeScale;
      const measure = async (name: string, fromMs: number, toMs: number): Promise<SliWindow> => {
        const seconds = (toMs - fromMs) / 1_000;
        const range = `${Math.round(toMs - fromMs)}ms`;
        const at = options.startedAt + toMs;
        const [totalRate, badRate] = await Promise.all([options.query(renderWindow(slo.sli.total, range), at), options.query(badEventsExpr(slo, range), at)]);
        const total = (totalRate ?? 0) * seconds;
        const bad = Math.min(total, (badRate ?? 0) * seconds);
        const errorRatio = total > 0 ? bad / total : null;
        const burnRate = errorRatio === null ? null : errorRatio / slo.errorBudget;
        return {
          name,
          fromMs,
          toMs,
          total,
          bad,
          sli: errorRatio === null ? null : 1 - errorRatio,
          errorRatio,
          burnRate,
          budgetConsumed: burnRate === null ? 0 : (burnRate * (toMs - fromMs)) / periodMs,
        };
      };
      const peakBurnRates: Record<string, number | null> = {};
      await Promise.all(
        recordedWindows(slo).map(async (windowMs) => {
          const window = formatPromDuration(windowMs);
          const peak = await options.query(`max_over_time(${SLI_ERROR_RATIO}${window}${sloFilter(slo)}[${Math.max(1, Math.round(runMs))}ms])`, options.endedAt);
          peakBurnRates[window] = peak === undefined ? null : peak / slo.errorBudget;
        }),
      );
      return {
        id: slo.id,
        displayName: slo.displayName,
        objective: slo.objective,
        errorBudget: slo.errorBudget,
        periodMs,
        run: await measure('run', 0, runMs),
        phases: await Promise.all(options.phases.map((phase) => measure(phase.name, phase.startMs, Math.min(phase.endMs, runMs)))),
        peakBurnRates,
        alerts: options.alerts.filter((alert) => alert.labels.sloth_id === slo.id),
      };
    }),
  );
}

/** The fault an alert answers to: the last one that started before it fired (or the first one). */
export function faultBefore(firedAtMs: number, faults: ReadonlyArray<{ name: string; startMs: number }>): { name: string; startMs: number } | undefined {
  const started = faults.filter((fault) => fault.startMs <= firedAtMs);
  return started.at(-1) ?? faults[0];
}

/** The SLO section printed under the verdict table. */
export function renderSloReports(reports: readonly SloRunReport[], faults: ReadonlyArray<{ name: string; startMs: number; endMs: number }>): string {
  const percent = (value: number | null, digits = 2) => (value === null ? '-' : `${(value * 100).toFixed(digits)}%`);
  const rows = reports.map((r) => [
    r.id,
    percent(r.objective, 1),
    percent(r.run.sli),
    r.phases.map((p) => `${p.name} ${percent(p.sli)}`).join(', '),
    percent(r.run.budgetConsumed, 1),
    ['5m', '1h'].map((w) => `${w} ${r.peakBurnRates[w] === null || r.peakBurnRates[w] === undefined ? '-' : `${(r.peakBurnRates[w] as number).toFixed(1)}x`}`).join(' '),
  ]);
  const header = ['SLO', 'objective', 'SLI', 'SLI per phase', 'budget used', 'peak burn'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] as string).length)));
  const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i] as number)).join('  ').trimEnd();
  const lines = [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
  // An alert can belong to several SLOs' reports (same rule, shared labels): list it once.
  const alerts = [...new Map(reports.flatMap((r) => r.alerts).map((a) => [`${a.alertname}|${JSON.stringify(a.labels)}|${a.firedAtMs}`, a])).values()].sort((a, b) => a.firedAtMs - b.firedAtMs);
  if (alerts.length === 0) lines.push('', 'alerts: none fired');
  else {
    lines.push('', 'alerts:');
    for (const alert of alerts) {
      const fault = faultBefore(alert.firedAtMs, faults);
      const sinceFault = fault ? ` (${formatSigned(alert.firedAtMs - fault.startMs)} from ${fault.name} starting)` : '';
      const resolved = alert.resolvedAtMs === null ? 'still firing at the end' : `resolved at +${formatMs(alert.resolvedAtMs)}`;
      lines.push(`  ${alert.alertname} ${alert.labels[TIER_LABEL.tier] ?? alert.labels[SLOTH_LABEL.severity] ?? ''}: fired at +${formatMs(alert.firedAtMs)}${sinceFault}, ${resolved}`);
    }
  }
  return lines.join('\n');
}

function formatSigned(ms: number): string {
  return ms < 0 ? `-${formatMs(-ms)}` : `+${formatMs(ms)}`;
}
