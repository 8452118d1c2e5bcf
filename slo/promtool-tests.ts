// promtool unit tests (`promtool test rules`) generated from the specs, so
// every SLO gets the same five stories at every time scale:
//   1. traffic burning at half the budget rate fires nothing;
//   2. traffic without a single error reads an error ratio of exactly 0;
//   3. no traffic at all gives no error ratio and no alert;
//   4. a full outage pages (for a 99.9% SLO at the first evaluation), and
//      after recovery each tier clears once its short window is clean;
//   5. a slow burn at twice the budget rate opens a ticket, never a page, at
//      the time the arithmetic predicts (1x over 3d trips after 1.5 days).
// Input series come from event-series.ts (which series a good and a bad
// event increment). The expected alerts at each check come from
// alert-simulator.ts, at evaluations chosen where no ratio sits on a
// threshold (where float rounding could go either way); promtool then proves
// that Prometheus, running the generated rules, agrees with the arithmetic.

import { stringify } from 'yaml';
import { simulateAlerts, type CountSample, type Evaluation } from './alert-simulator.ts';
import { SLO_ERROR_CODE, SloError } from './errors.ts';
import { eventSeries } from './event-series.ts';
import { formatPromDuration } from './prom-duration.ts';
import { formatSeries, type Series } from './promql.ts';
import type { Severity } from './burn-rate.ts';
import { type AlertStyle, groupOrder, META, severityTiers, SLI_ERROR_RATIO, slothAlertAnnotations, slothAlertLabels, SLOTH_LABEL, sloFilter, tierAnnotations, tierLabels } from './rules.ts';
import { type SloDefinition, workbookTiers } from './spec.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** Events per evaluation step; 1000 keeps budget-sized shares whole for the usual objectives. */
export const EVENTS_PER_STEP = 1000;

export interface Segment {
  /** Number of samples. */
  steps: number;
  /** Events per sample. */
  good: number;
  bad: number;
}

/** An evaluation to check: the k-th one (at k x evalMs). */
export interface Check {
  k: number;
  why: string;
}

export type FixtureFile = 'minutes' | 'days';

export interface PlannedFixture {
  name: string;
  /** Stories that need minute precision go in <id>.test.yaml; those that span days in <id>.days.test.yaml, sampled and evaluated more coarsely. */
  file: FixtureFile;
  /** Interval between input samples and between rule evaluations, ms (as evaluated). */
  sampleMs: number;
  evalMs: number;
  segments: Segment[];
  /** All series present from the start with no increments (the no-traffic story). */
  flat: boolean;
  checks: Check[];
  exprChecks: Array<{ expr: string; k: number; samples: Array<{ labels: string; value: number }> }>;
  /** The simulation the expected alerts come from: index k - 1 is the k-th evaluation. */
  simulation: Evaluation[];
  /** What the arithmetic predicts, in nominal (real-scale) ms from the start of the incident; null when it never happens. */
  facts: Record<string, number | null>;
}

export interface FixturePlan {
  slo: SloDefinition;
  timeScale: number;
  fixtures: PlannedFixture[];
}

export interface FixtureOptions {
  timeScale: number;
  /** Evaluation interval as evaluated (ms); one minute divided by the scale when absent. */
  evaluationIntervalMs?: number | undefined;
}

/** The days-long stories are sampled this many times more coarsely than the minute ones (when the windows allow)... */
export const DAYS_SAMPLE_FACTOR = 5;
/** ...and evaluated every this many samples. */
export const DAYS_EVAL_FACTOR = 3;

function segmentsToSamples(segments: readonly Segment[], sampleMs: number): CountSample[] {
  const samples: CountSample[] = [];
  let step = 0;
  for (const segment of segments) {
    for (let i = 0; i < segment.steps; i += 1) {
      step += 1;
      samples.push({ t: step * sampleMs, good: segment.good, total: segment.good + segment.bad });
    }
  }
  return samples;
}

/** True when no tier's ratio sits (within float noise) on its threshold at this evaluation. */
function stable(slo: SloDefinition, evaluation: Evaluation | undefined): boolean {
  if (evaluation === undefined) return true;
  return evaluation.tiers.every((state) => {
    const tier = slo.alerting.tiers.find((t) => t.name === state.tier);
    if (tier === undefined) return true;
    const threshold = tier.burnFactor * slo.errorBudget;
    return [state.longRatio, state.shortRatio].every((r) => r === null || Math.abs(r - threshold) > 1e-9 * threshold);
  });
}

function stableK(slo: SloDefinition, simulation: Evaluation[], k: number, direction: 1 | -1): number {
  let s = k;
  while (s >= 1 && s <= simulation.length && !stable(slo, simulation[s - 1])) s += direction;
  return Math.min(Math.max(s, 1), simulation.length);
}

function firing(evaluation: Evaluation | undefined, tier: string): boolean {
  return evaluation?.tiers.find((t) => t.tier === tier)?.firing ?? false;
}

function firstK(simulation: Evaluation[], from: number, test: (e: Evaluation) => boolean): number | null {
  for (let k = Math.max(1, from); k <= simulation.length; k += 1) if (test(simulation[k - 1] as Evaluation)) return k;
  return null;
}

function band(expr: string, low: number, high: number): string {
  return `sum((${expr} > bool ${low}) * (${expr} < bool ${high}))`;
}

function wholeSteps(windows: readonly number[], nominalStepMs: number): boolean {
  return windows.every((window) => Math.abs(window / nominalStepMs - Math.round(window / nominalStepMs)) < 1e-9);
}

/** The five stories for one SLO, with the simulation each check's expectation comes from. */
export function planFixtures(slo: SloDefinition, options: FixtureOptions): FixturePlan {
  const timeScale = options.timeScale;
  const baseMs = options.evaluationIntervalMs ?? Math.max(1, Math.round(MINUTE / timeScale));
  const windows = [...slo.alerting.tiers.flatMap((t) => [t.longMs, t.shortMs]), 5 * MINUTE, HOUR];
  if (!wholeSteps(windows, baseMs * timeScale)) {
    throw new SloError(
      SLO_ERROR_CODE.fixture,
      `${slo.id}: the alert windows are not whole numbers of ${formatPromDuration(baseMs)} evaluations at time scale ${timeScale}; promtool fixtures need whole steps`,
    );
  }
  const minutes = { file: 'minutes' as const, sampleMs: baseMs, evalMs: baseMs };
  const daysSample = wholeSteps(windows, baseMs * DAYS_SAMPLE_FACTOR * timeScale) ? baseMs * DAYS_SAMPLE_FACTOR : baseMs;
  const days = { file: 'days' as const, sampleMs: daysSample, evalMs: daysSample * DAYS_EVAL_FACTOR };
  type Resolution = typeof minutes | typeof days;
  const R = EVENTS_PER_STEP;
  const b = slo.errorBudget;
  const samplesOf = (res: Resolution, ms: number) => Math.max(1, Math.round(ms / (res.sampleMs * timeScale)));
  /** The first evaluation at or after a nominal time. */
  const kAt = (res: Resolution, ms: number) => Math.max(1, Math.ceil(ms / timeScale / res.evalMs - 1e-9));
  /** Nominal ms between a sample count and an evaluation. */
  const nominal = (res: Resolution, k: number, fromSample: number) => k * res.evalMs * timeScale - fromSample * res.sampleMs * timeScale;
  const simulate = (res: Resolution, segments: Segment[]) => {
    const samples = segmentsToSamples(segments, res.sampleMs);
    const end = samples.length * res.sampleMs;
    const evaluateAt = Array.from({ length: Math.floor(end / res.evalMs + 1e-9) }, (_, i) => (i + 1) * res.evalMs);
    return simulateAlerts(slo, samples, { timeScale, evaluateAt }).evaluations;
  };
  // An SLO without alerts still gets its recordings checked, over stories as long as the workbook's tiers would need.
  const sizing = slo.alerting.tiers.length ? slo.alerting.tiers : workbookTiers(slo.periodMs);
  const longest = Math.max(...sizing.map((t) => t.longMs));
  const longestShort = Math.max(...sizing.map((t) => t.shortMs));
  const pages = sizing.filter((t) => t.severity === 'page');
  const filter = sloFilter(slo);
  const ratioOf = (window: string) => `${SLI_ERROR_RATIO}${window}${filter}`;
  const seriesLabels = (window: number) => {
    const labels: Record<string, string> = { ...slo.labels, [SLOTH_LABEL.id]: slo.id, [SLOTH_LABEL.service]: slo.service, [SLOTH_LABEL.slo]: slo.name, [SLOTH_LABEL.window]: formatPromDuration(window) };
    return `{${Object.entries(labels)
      .sort(([a], [c]) => (a < c ? -1 : 1))
      .map(([key, value]) => `${key}=${JSON.stringify(value)}`)
      .join(', ')}}`;
  };
  const checksOf = (list: Array<[number, string]>, simulation: Evaluation[]): Check[] => {
    const seen = new Map<number, string>();
    for (const [k, why] of list) if (k >= 1 && k <= simulation.length && !seen.has(k)) seen.set(k, why);
    return [...seen].sort(([a], [c]) => a - c).map(([k, why]) => ({ k, why }));
  };
  /** When each tier first fires and first clears after an incident (k values), probing with a long enough incident. */
  const firstFires = (simulation: Evaluation[], from: number, tiers = slo.alerting.tiers) =>
    tiers.map((tier) => firstK(simulation, from, (e) => firing(e, tier.name))).filter((k): k is number => k !== null);
  const fixtures: PlannedFixture[] = [];

  // Minute precision: no errors, no traffic, and an outage that pages and clears.
  {
    const res = minutes;
    const n = samplesOf(res, HOUR + 10 * MINUTE);
    const segments = [{ steps: n, good: R, bad: 0 }];
    const simulation = simulate(res, segments);
    fixtures.push({
      name: 'traffic without a single error reads an error ratio of exactly 0',
      ...res,
      segments,
      flat: false,
      checks: checksOf([[kAt(res, HOUR), 'after 1h'], [simulation.length, 'at the end']], simulation),
      exprChecks: [
        { expr: ratioOf('5m'), k: kAt(res, HOUR), samples: [{ labels: `${SLI_ERROR_RATIO}5m${seriesLabels(5 * MINUTE)}`, value: 0 }] },
        { expr: ratioOf('1h'), k: simulation.length, samples: [{ labels: `${SLI_ERROR_RATIO}1h${seriesLabels(HOUR)}`, value: 0 }] },
      ],
      simulation,
      facts: {},
    });
  }
  {
    const res = minutes;
    const segments = [{ steps: samplesOf(res, HOUR + 10 * MINUTE), good: 0, bad: 0 }];
    const simulation = simulate(res, segments);
    fixtures.push({
      name: 'no traffic gives no error ratio and no alert',
      ...res,
      segments,
      flat: true,
      checks: checksOf([[kAt(res, 10 * MINUTE), 'after 10m'], [kAt(res, HOUR), 'after 1h'], [simulation.length, 'at the end']], simulation),
      exprChecks: [
        { expr: ratioOf('5m'), k: kAt(res, HOUR), samples: [] },
        { expr: ratioOf('1h'), k: simulation.length, samples: [] },
      ],
      simulation,
      facts: {},
    });
  }
  {
    // Clean traffic filling the page windows (so detection takes as long as
    // in steady production), then every event fails until every page tier
    // has fired (at least 10 minutes), then clean traffic until every page
    // has cleared.
    const res = minutes;
    const clean = Math.max(HOUR, ...pages.map((t) => t.longMs));
    const prefix = samplesOf(res, clean);
    const probe = simulate(res, [{ steps: prefix, good: R, bad: 0 }, { steps: samplesOf(res, 6 * HOUR), good: 0, bad: R }]);
    const pageFires = firstFires(probe, kAt(res, clean) + 1, pages);
    const outage = Math.max(samplesOf(res, 10 * MINUTE), pageFires.length ? Math.max(...pageFires) * (res.evalMs / res.sampleMs) - prefix + 1 : samplesOf(res, HOUR));
    const recovery = samplesOf(res, Math.max(5 * MINUTE, ...pages.map((t) => t.shortMs))) + 5;
    const segments = [
      { steps: prefix, good: R, bad: 0 },
      { steps: outage, good: 0, bad: R },
      { steps: recovery, good: R, bad: 0 },
    ];
    const simulation = simulate(res, segments);
    const start = kAt(res, clean);
    const end = start + outage;
    const times: Array<[number, string]> = [
      [start, 'just before the outage'],
      [start + 1, 'one evaluation into the outage'],
      [start + 2, 'two evaluations into the outage'],
      [end, 'at the end of the outage'],
      [simulation.length, 'after recovery'],
    ];
    const facts: Record<string, number | null> = {};
    for (const tier of slo.alerting.tiers) {
      const fired = firstK(simulation, start + 1, (e) => firing(e, tier.name));
      facts[`fires:${tier.name}`] = fired === null ? null : nominal(res, fired, prefix);
      if (fired === null) continue;
      times.push([stableK(slo, simulation, fired - 1, -1), `just before ${tier.name} fires`], [stableK(slo, simulation, fired, 1), `${tier.name} fires`]);
      if (tier.severity !== 'page') continue;
      const cleared = firstK(simulation, end + 1, (e) => !firing(e, tier.name));
      facts[`clears:${tier.name}`] = cleared === null ? null : nominal(res, cleared, prefix + outage);
      if (cleared !== null) times.push([stableK(slo, simulation, cleared - 1, -1), `just before ${tier.name} clears`], [stableK(slo, simulation, cleared, 1), `${tier.name} cleared`]);
    }
    fixtures.push({
      name: 'a full outage pages, and each page clears once its short window is clean',
      ...res,
      segments,
      flat: false,
      checks: checksOf(times, simulation),
      exprChecks: [{ expr: ratioOf('5m'), k: end, samples: [{ labels: `${SLI_ERROR_RATIO}5m${seriesLabels(5 * MINUTE)}`, value: 1 }] }],
      simulation,
      facts,
    });
  }

  // Days: the budget rate, tickets clearing, and the slow burn.
  {
    const res = days;
    const n = samplesOf(res, longestShort + HOUR);
    const segments = [{ steps: n, good: R - 0.5 * b * R, bad: 0.5 * b * R }];
    const simulation = simulate(res, segments);
    const last = simulation.length;
    fixtures.push({
      name: 'traffic burning at half the budget rate fires nothing',
      ...res,
      segments,
      flat: false,
      checks: checksOf([[kAt(res, HOUR), 'after 1h'], [kAt(res, 6 * HOUR), 'after 6h'], [last, 'at the end']], simulation),
      exprChecks: [
        { expr: band(ratioOf('5m'), 0.45 * b, 0.55 * b), k: last, samples: [{ labels: '{}', value: 1 }] },
        { expr: band(`${META.periodBurnRate}${filter}`, 0.45, 0.55), k: last, samples: [{ labels: '{}', value: 1 }] },
        { expr: band(`${META.budgetRemaining}${filter}`, 0.45, 0.55), k: last, samples: [{ labels: '{}', value: 1 }] },
      ],
      simulation,
      facts: { firstAlert: ((k) => (k === null ? null : nominal(res, k, 0)))(firstK(simulation, 1, (e) => e.tiers.some((t) => t.firing))) },
    });
  }
  {
    const res = days;
    const prefix = samplesOf(res, HOUR);
    const probe = simulate(res, [{ steps: prefix, good: R, bad: 0 }, { steps: samplesOf(res, 3 * DAY), good: 0, bad: R }]);
    const fires = firstFires(probe, kAt(res, HOUR) + 1);
    const perEval = res.evalMs / res.sampleMs;
    const needed = Math.max(samplesOf(res, 10 * MINUTE), fires.length ? Math.max(...fires) * perEval - prefix + 1 : samplesOf(res, HOUR));
    // The outage ends on an evaluation, so each tier clears exactly one short window later.
    const outage = Math.ceil((prefix + needed) / perEval) * perEval - prefix;
    const recovery = samplesOf(res, longestShort) + 2 * (res.evalMs / res.sampleMs);
    const segments = [
      { steps: prefix, good: R, bad: 0 },
      { steps: outage, good: 0, bad: R },
      { steps: recovery, good: R, bad: 0 },
    ];
    const simulation = simulate(res, segments);
    const end = Math.floor(((prefix + outage) * res.sampleMs) / res.evalMs);
    const times: Array<[number, string]> = [[end, 'at the end of the outage'], [simulation.length, 'after recovery']];
    const facts: Record<string, number | null> = {};
    for (const tier of slo.alerting.tiers) {
      if (!firing(simulation[end - 1], tier.name)) continue;
      const cleared = firstK(simulation, end + 1, (e) => !firing(e, tier.name));
      facts[`clears:${tier.name}`] = cleared === null ? null : nominal(res, cleared, prefix + outage);
      if (cleared !== null) times.push([stableK(slo, simulation, cleared - 1, -1), `just before ${tier.name} clears`], [stableK(slo, simulation, cleared, 1), `${tier.name} cleared`]);
    }
    fixtures.push({
      name: 'after a long outage every tier clears once its short window is clean',
      ...res,
      segments,
      flat: false,
      checks: checksOf(times, simulation),
      exprChecks: [],
      simulation,
      facts,
    });
  }
  {
    const res = days;
    const prefix = samplesOf(res, Math.max(3 * DAY, longest));
    const burn = { good: R - 2 * b * R, bad: 2 * b * R };
    const start = kAt(res, Math.max(3 * DAY, longest));
    const probe = simulate(res, [{ steps: prefix, good: R, bad: 0 }, { steps: samplesOf(res, Math.max(3 * DAY, longest)), ...burn }]);
    const fires = firstFires(probe, start + 1);
    const length = Math.max(samplesOf(res, 6 * HOUR), fires.length ? Math.max(...fires) * (res.evalMs / res.sampleMs) - prefix + samplesOf(res, HOUR) : samplesOf(res, DAY));
    const segments = [{ steps: prefix, good: R, bad: 0 }, { steps: length, ...burn }];
    const simulation = simulate(res, segments);
    const times: Array<[number, string]> = [[start + 1, 'one evaluation into the burn']];
    const every = kAt(res, 6 * HOUR);
    for (let k = start + every; k < simulation.length; k += every) times.push([stableK(slo, simulation, k, 1), `${formatPromDuration(nominal(res, k, prefix))} into the burn`]);
    times.push([simulation.length, 'at the end']);
    const facts: Record<string, number | null> = {};
    for (const tier of slo.alerting.tiers) {
      const fired = firstK(simulation, start + 1, (e) => firing(e, tier.name));
      facts[`fires:${tier.name}`] = fired === null ? null : nominal(res, fired, prefix);
      if (fired !== null) times.push([stableK(slo, simulation, fired - 1, -1), `just before ${tier.name} fires`], [stableK(slo, simulation, fired, 1), `${tier.name} fires`]);
    }
    fixtures.push({
      name: 'a slow burn at twice the budget rate opens a ticket and never pages',
      ...res,
      segments,
      flat: false,
      checks: checksOf(times, simulation),
      exprChecks: [],
      simulation,
      facts,
    });
  }
  return { slo, timeScale, fixtures };
}

function formatNumber(value: number): string {
  return String(Number(value.toPrecision(15)));
}

/** promtool's expanding notation for a counter fed by these per-step increments. */
export function counterValues(increments: readonly number[], flat: boolean): string {
  const first = flat ? 0 : increments.findIndex((inc) => inc > 0);
  if (first === -1) return `0+0x${increments.length}`;
  const parts: string[] = [];
  // A series appears (at 0) one step before its first increment, as a counter does once created.
  if (first > 0) parts.push(`_x${first}`);
  parts.push('0');
  let value = 0;
  let i = first;
  while (i < increments.length) {
    const inc = increments[i] as number;
    let run = 1;
    while (i + run < increments.length && increments[i + run] === inc) run += 1;
    const start = value + inc;
    parts.push(`${formatNumber(start)}+${formatNumber(inc)}x${run - 1}`);
    value += inc * run;
    i += run;
  }
  return parts.join(' ');
}

function inputSeries(slo: SloDefinition, fixture: PlannedFixture): Array<{ series: string; values: string }> {
  const events = eventSeries(slo);
  const all = new Map<string, { good: number; bad: number }>();
  const add = (list: Series[], key: 'good' | 'bad') => {
    for (const s of list) {
      const id = formatSeries(s);
      const entry = all.get(id) ?? { good: 0, bad: 0 };
      entry[key] += 1;
      all.set(id, entry);
    }
  };
  add(events.good, 'good');
  add(events.bad, 'bad');
  const perStep = fixture.segments.flatMap((segment) => Array.from({ length: segment.steps }, () => segment));
  return [...all].map(([series, weight]) => ({
    series,
    values: counterValues(
      perStep.map((s) => s.good * weight.good + s.bad * weight.bad),
      fixture.flat,
    ),
  }));
}

function expand(template: string, labels: Readonly<Record<string, string>>, slo: SloDefinition): string {
  const out = template.replace(/\{\{\s*\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}/g, (_, name: string) => labels[name] ?? '');
  if (out.includes('{{')) throw new SloError(SLO_ERROR_CODE.fixture, `${slo.id}: an annotation uses a template other than {{$labels.x}}; promtool fixtures cannot predict it`);
  return out;
}

function idLabels(slo: SloDefinition): Record<string, string> {
  return { ...slo.labels, [SLOTH_LABEL.id]: slo.id, [SLOTH_LABEL.service]: slo.service, [SLOTH_LABEL.slo]: slo.name };
}

function expectedAlert(slo: SloDefinition, labels: Record<string, string>, annotations: Record<string, string>) {
  return { exp_labels: labels, exp_annotations: Object.fromEntries(Object.entries(annotations).map(([k, v]) => [k, expand(v, { ...labels, alertname: slo.alerting.name }, slo)])) };
}

/** Whether Sloth's alert for a severity fires at the k-th evaluation: any of its tiers active, for the tiers' `for`. */
function severityFiring(slo: SloDefinition, simulation: readonly Evaluation[], k: number, severity: Severity, timeScale: number): boolean {
  const tiers = severityTiers(slo, severity);
  if (tiers.length === 0) return false;
  const active = (e: Evaluation | undefined) => e !== undefined && e.tiers.some((state) => state.severity === severity && state.active);
  const now = simulation[k - 1];
  if (!active(now)) return false;
  let start = k;
  while (start > 1 && active(simulation[start - 2])) start -= 1;
  return (now as Evaluation).t - (simulation[start - 1] as Evaluation).t >= (tiers[0] as { forMs: number }).forMs / timeScale;
}

function expectedAlerts(slo: SloDefinition, simulation: readonly Evaluation[], k: number, timeScale: number, style: AlertStyle) {
  const evaluation = simulation[k - 1];
  if (evaluation === undefined) return [];
  if (style === 'sloth') {
    return (['page', 'ticket'] as const)
      .filter((severity) => severityFiring(slo, simulation, k, severity, timeScale))
      .map((severity) => expectedAlert(slo, { ...idLabels(slo), ...slothAlertLabels(slo, severity) }, slothAlertAnnotations(slo, severity)));
  }
  return slo.alerting.tiers
    .filter((tier) => evaluation.tiers.find((t) => t.tier === tier.name)?.firing)
    .map((tier) => expectedAlert(slo, { ...idLabels(slo), ...tierLabels(slo, tier) }, tierAnnotations(slo, tier, timeScale)));
}

/**
 * The promtool test files for one SLO (pure): file suffix ('test.yaml',
 * 'days.test.yaml') -> content. `rulesFile` is relative to the test files;
 * `style` is the alert style the rules were rendered with. An SLO without
 * alerts gets the stories that check its recordings only.
 */
export function renderPromtoolTests(plan: FixturePlan, rulesFile: string, style: AlertStyle = 'tiers'): Map<string, string> {
  const { slo, timeScale } = plan;
  const alerts = slo.alerting.tiers.length > 0;
  const files = new Map<string, string>();
  for (const file of ['minutes', 'days'] as const) {
    const fixtures = plan.fixtures.filter((f) => f.file === file && (alerts || f.exprChecks.length > 0));
    const first = fixtures[0];
    if (first === undefined) continue;
    if (fixtures.some((f) => f.evalMs !== first.evalMs)) throw new SloError(SLO_ERROR_CODE.fixture, `${slo.id}: stories of one file must share an evaluation interval`);
    const evaluation = formatPromDuration(first.evalMs);
    const tests = fixtures.map((fixture) => {
      const at = (k: number) => formatPromDuration(k * fixture.evalMs);
      return {
        name: `${slo.id}: ${fixture.name}`,
        interval: formatPromDuration(fixture.sampleMs),
        input_series: inputSeries(slo, fixture),
        ...(alerts
          ? {
              alert_rule_test: fixture.checks.map((check) => ({
                alertname: slo.alerting.name,
                eval_time: at(check.k),
                exp_alerts: expectedAlerts(slo, fixture.simulation, check.k, timeScale, style),
              })),
            }
          : {}),
        ...(fixture.exprChecks.length ? { promql_expr_test: fixture.exprChecks.map((c) => ({ expr: c.expr, eval_time: at(c.k), exp_samples: c.samples })) } : {}),
      };
    });
    const lab = timeScale === 1 ? '' : `, at time scale ${timeScale}`;
    const header = [
      `# promtool tests for SLO ${slo.id}, generated by slo/generate.ts; do not edit by hand.`,
      `# Run: promtool test rules <this file>. Samples every ${formatPromDuration(first.sampleMs)}, rules evaluated every ${evaluation}${lab}.`,
      '# Groups are evaluated in dependency order; Prometheus runs groups independently, so there an alert may see a recording one evaluation late.',
    ].join('\n');
    const body = { rule_files: [rulesFile], evaluation_interval: evaluation, group_eval_order: groupOrder(slo), tests };
    files.set(file === 'minutes' ? 'test.yaml' : 'days.test.yaml', `${header}\n${stringify(body, { lineWidth: 0 })}`);
  }
  return files;
}
