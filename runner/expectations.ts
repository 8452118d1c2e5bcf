// Turns what a run measured into one verdict per expectation, each with the
// measured value beside what was expected. Pure: it reads the load recorder,
// the spans and the run's clock; it starts nothing.

import type { FlatSpan } from '../collector/trace-query.ts';
import { SPAN_ATTR } from '../demo-services/kit/conventions.ts';
import { formatMs } from '../demo-services/kit/units.ts';
import { dependencyPolicySchema } from '../demo-services/resilience/policy-config.ts';
import type { LoadRecorder, SummaryFilter } from '../load/recorder.ts';
import { evaluateThreshold } from '../load/thresholds.ts';
import type { BooksReport } from './books.ts';
import { circuitTransitions, openIntervals } from './circuit-history.ts';
import type { Expectation, Scenario, Window } from './scenario.ts';
import { phaseWindows } from './scenario.ts';
import { faultWindows } from './fault-timeline.ts';
import { alertMatches, type AlertInterval } from './slo-run-report.ts';

export interface ExpectationResult {
  name: string;
  type: Expectation['type'];
  ok: boolean;
  expected: string;
  measured: string;
  /** Why it could not be judged on this machine (it then counts as held, and is shown as SKIP). */
  skipped?: string;
}

/** The alerts of a run (from Alertmanager's webhook), or why there are none to judge. */
export type AlertingMeasurement = { available: true; alerts: AlertInterval[] } | { available: false; reason: string };

export interface RunMeasurements {
  scenario: Scenario;
  /** Epoch ms when the first phase started, and when the last ended. */
  startedAt: number;
  endedAt: number;
  recorder: LoadRecorder;
  spans: FlatSpan[];
  books?: BooksReport;
  alerting?: AlertingMeasurement;
}

const SPAN_KIND_CLIENT = 3;

export function evaluateExpectations(run: RunMeasurements): ExpectationResult[] {
  return run.scenario.expectations.map((expectation) => {
    try {
      switch (expectation.type) {
        case 'threshold':
          return evaluateThresholdExpectation(expectation, run);
        case 'circuit':
          return evaluateCircuit(expectation, run);
        case 'trace':
          return evaluateTrace(expectation, run);
        case 'books':
          return evaluateBooks(expectation, run);
        case 'alert':
          return evaluateAlert(expectation, run);
        case 'no-alert':
          return evaluateNoAlert(expectation, run);
      }
    } catch (error) {
      return { name: expectation.name, type: expectation.type, ok: false, expected: '-', measured: `could not evaluate: ${(error as Error).message}` };
    }
  });
}

function phaseRange(run: RunMeasurements, phase: string): { fromMs: number; toMs: number } {
  const window = phaseWindows(run.scenario).find((candidate) => candidate.name === phase);
  if (!window) throw new Error(`no phase named ${phase}`);
  return { fromMs: run.startedAt + window.startMs, toMs: run.startedAt + window.endMs };
}

function windowRanges(run: RunMeasurements, window: Window | undefined): Array<{ fromMs: number; toMs: number }> | undefined {
  if (window === undefined) return undefined;
  if (typeof window === 'string') return [phaseRange(run, window)];
  const { service, dependency } = window.circuitOpen;
  return openIntervals(circuitTransitions(run.spans, service, dependency), run.endedAt);
}

function describeWindow(window: Window | undefined): string {
  if (window === undefined) return 'whole run';
  if (typeof window === 'string') return window;
  return `while ${window.circuitOpen.service}->${window.circuitOpen.dependency} circuit open`;
}

function evaluateThresholdExpectation(expectation: Extract<Expectation, { type: 'threshold' }>, run: RunMeasurements): ExpectationResult {
  const base = { name: expectation.name, type: expectation.type, expected: `${expectation.metric} ${expectation.threshold} (${describeWindow(expectation.during)})` };
  const ranges = windowRanges(run, expectation.during);
  if (ranges && ranges.length === 0) return { ...base, ok: false, measured: 'the window never happened (the circuit never opened)' };
  const filter: SummaryFilter = {
    ...(ranges ? { ranges } : {}),
    ...(expectation.filter?.failed !== undefined ? { ok: !expectation.filter.failed } : {}),
  };
  const summary = run.recorder.summary(filter);
  if (expectation.metric === 'http_req_duration') {
    const distribution = run.recorder.distribution(filter);
    if (distribution.count === 0) return { ...base, ok: false, measured: 'no requests in the window' };
    const outcome = evaluateThreshold(expectation.threshold, distribution);
    return { ...base, ok: outcome.ok, measured: `${formatMs(outcome.actual)} over ${distribution.count} requests` };
  }
  if (expectation.metric === 'http_req_failed') {
    if (summary.count === 0) return { ...base, ok: false, measured: 'no requests in the window' };
    const outcome = evaluateThreshold(expectation.threshold, { p: () => 0, rate: summary.failRate, count: summary.failed });
    return { ...base, ok: outcome.ok, measured: `${(summary.failRate * 100).toFixed(2)}% (${summary.failed}/${summary.count})` };
  }
  const count = expectation.metric === 'iterations' ? summary.count : summary.dropped;
  const outcome = evaluateThreshold(expectation.threshold, { p: () => 0, count, rate: count });
  return { ...base, ok: outcome.ok, measured: String(count) };
}

function evaluateCircuit(expectation: Extract<Expectation, { type: 'circuit' }>, run: RunMeasurements): ExpectationResult {
  const base = {
    name: expectation.name,
    type: expectation.type,
    expected: `opens during ${expectation.opensDuring}, closed again after ${expectation.closesAfter}`,
  };
  const transitions = circuitTransitions(run.spans, expectation.service, expectation.dependency);
  const at = (ms: number) => `+${((ms - run.startedAt) / 1_000).toFixed(1)}s`;
  if (transitions.length === 0) return { ...base, ok: false, measured: 'the circuit never changed state' };
  const opens = phaseRange(run, expectation.opensDuring);
  const opened = transitions.find((t) => t.to === 'open' && t.timeMs >= opens.fromMs && t.timeMs < opens.toMs);
  const last = transitions.at(-1)!;
  const after = phaseRange(run, expectation.closesAfter).toMs;
  const closed = last.to === 'closed' && last.timeMs >= after ? last : undefined;
  const measured = [
    opened ? `opened at ${at(opened.timeMs)}` : `did not open during ${expectation.opensDuring}`,
    closed ? `closed at ${at(closed.timeMs)}` : `final state ${last.to} at ${at(last.timeMs)}`,
    `${transitions.length} transitions`,
  ].join(', ');
  return { ...base, ok: Boolean(opened && closed), measured };
}

function evaluateTrace(expectation: Extract<Expectation, { type: 'trace' }>, run: RunMeasurements): ExpectationResult {
  const { service, dependency } = expectation.count;
  let max = expectation.max;
  if (max === 'retry-policy') {
    const policy = run.scenario.policies[service]?.[dependency] ?? dependencyPolicySchema.parse({});
    max = policy.retry.enabled ? policy.retry.maxAttempts : 1;
  }
  const base = { name: expectation.name, type: expectation.type, expected: `at most ${max} ${service}->${dependency} attempts per trace (${expectation.during})` };
  const range = phaseRange(run, expectation.during);
  const roots = new Map<string, number>();
  for (const span of run.spans) {
    if (!span.parentSpanId && span.startMs >= range.fromMs && span.startMs < range.toMs) roots.set(span.traceId, 0);
  }
  for (const span of run.spans) {
    if (!roots.has(span.traceId)) continue;
    if (span.service === service && span.kind === SPAN_KIND_CLIENT && span.attributes[SPAN_ATTR.dependency] === dependency) {
      roots.set(span.traceId, (roots.get(span.traceId) ?? 0) + 1);
    }
  }
  if (roots.size === 0) return { ...base, ok: false, measured: `no traces started during ${expectation.during}` };
  const counts = [...roots.values()];
  const worst = Math.max(...counts);
  const over = counts.filter((count) => count > max).length;
  return { ...base, ok: over === 0, measured: `max ${worst} over ${roots.size} traces${over ? `, ${over} over the limit` : ''}` };
}

function evaluateBooks(expectation: Extract<Expectation, { type: 'books' }>, run: RunMeasurements): ExpectationResult {
  const base = { name: expectation.name, type: expectation.type, expected: 'every confirmed order charged once, no stray charge, stock consistent' };
  const books = run.books;
  if (!books) return { ...base, ok: false, measured: 'the books were not checked' };
  const { orders, charges } = books;
  const counts = `${orders.confirmed} confirmed, ${orders.compensated} compensated, ${orders.failed} failed${orders.compensating ? `, ${orders.compensating} still compensating` : ''}; ${charges.total} charges, ${charges.refunded} refunded`;
  if (books.missing.length) return { ...base, ok: false, measured: `no books for ${books.missing.join(', ')}` };
  return { ...base, ok: books.ok, measured: books.ok ? counts : `${books.violations.length} violations, first: ${books.violations[0]?.message}` };
}

function describeAlert(alertname: string | undefined, labels: Readonly<Record<string, string>>): string {
  const matchers = Object.entries(labels).map(([label, value]) => `${label}=${value}`);
  return `${alertname ?? 'any alert'}${matchers.length ? `{${matchers.join(',')}}` : ''}`;
}

function alertsOrSkip(run: RunMeasurements, base: Omit<ExpectationResult, 'ok' | 'measured'>): AlertInterval[] | ExpectationResult {
  const alerting = run.alerting ?? { available: false, reason: 'alerts were not collected' };
  if (!alerting.available) return { ...base, ok: true, measured: 'not measured', skipped: alerting.reason };
  return alerting.alerts;
}

function evaluateAlert(expectation: Extract<Expectation, { type: 'alert' }>, run: RunMeasurements): ExpectationResult {
  const what = describeAlert(expectation.alert, expectation.labels);
  const resolves = expectation.resolvesWithin === undefined ? '' : `, resolved within ${formatMs(expectation.resolvesWithin)} of its end`;
  const base = { name: expectation.name, type: expectation.type, expected: `${what} fires within ${formatMs(expectation.firesWithin)} of ${expectation.fault} starting${resolves}` };
  const alerts = alertsOrSkip(run, base);
  if (!Array.isArray(alerts)) return alerts;
  const fault = faultWindows(run.scenario).find((window) => window.name === expectation.fault);
  if (!fault) throw new Error(`no fault named ${expectation.fault}`);
  const fired = alerts.find((alert) => alertMatches(alert, expectation.alert, expectation.labels) && alert.firedAtMs >= fault.startMs);
  if (!fired) return { ...base, ok: false, measured: `${what} never fired after ${expectation.fault} started` };
  const after = fired.firedAtMs - fault.startMs;
  let measured = `fired ${formatMs(after)} after ${expectation.fault} started`;
  let ok = after <= expectation.firesWithin;
  if (expectation.resolvesWithin !== undefined) {
    if (fired.resolvedAtMs === null) {
      measured += ', never resolved';
      ok = false;
    } else {
      const resolvedAfter = fired.resolvedAtMs - fault.endMs;
      measured += `, resolved ${resolvedAfter < 0 ? `${formatMs(-resolvedAfter)} before` : `${formatMs(resolvedAfter)} after`} it ended`;
      ok &&= resolvedAfter <= expectation.resolvesWithin;
    }
  }
  return { ...base, ok, measured };
}

function evaluateNoAlert(expectation: Extract<Expectation, { type: 'no-alert' }>, run: RunMeasurements): ExpectationResult {
  const what = describeAlert(expectation.alert, expectation.labels);
  const base = { name: expectation.name, type: expectation.type, expected: `${what === 'any alert' ? 'no alert' : `no ${what}`} fires during ${expectation.during}` };
  const alerts = alertsOrSkip(run, base);
  if (!Array.isArray(alerts)) return alerts;
  const phase = phaseWindows(run.scenario).find((window) => window.name === expectation.during);
  if (!phase) throw new Error(`no phase named ${expectation.during}`);
  const fired = alerts.filter((alert) => alertMatches(alert, expectation.alert, expectation.labels) && alert.firedAtMs >= phase.startMs && alert.firedAtMs < phase.endMs);
  if (fired.length === 0) return { ...base, ok: true, measured: `none fired (${alerts.length} in the whole run)` };
  const first = fired[0] as AlertInterval;
  return { ...base, ok: false, measured: `${fired.length} fired, first ${first.alertname} ${first.labels.tier ?? ''} at +${formatMs(first.firedAtMs)}` };
}
