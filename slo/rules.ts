// SLO specs to Prometheus rules, as a pure function. Names and labels are
// Sloth's (slo:sli_error:ratio_rate<window>, slo:objective:ratio, ...,
// sloth_id / sloth_service / sloth_slo / sloth_window, groups
// sloth-slo-{sli-recordings,meta-recordings,alerts}-<id>), so Sloth's Grafana
// dashboards work unchanged. Where this generator differs from Sloth, it is on
// purpose:
// - the period ratio (e.g. ratio_rate30d) is a ratio of sums: bad events over
//   all events across the period, from two 5-minute rate series recorded for
//   the purpose (slo:sli_bad_events:rate5m, slo:sli_total_events:rate5m);
//   Sloth averages the 5-minute ratios, which weighs a quiet night like a peak
//   (a raw error-ratio SLI has no events, so there the period ratio is that
//   average, as in Sloth);
// - a window without traffic has no error ratio at all (the total is filtered
//   with > 0), so no alert can come from an empty window, while a window with
//   traffic and no error series yet reads 0 (`or on() vector(0)`);
// - by default, one alert rule per window pair (tier), labelled with its
//   severity, slo_tier, windows, burn factor and the time to exhaust the
//   budget at that burn. alertStyle 'sloth' writes Sloth's two alerts instead
//   (page: 14.4x over 1h/5m or 6x over 6h/30m; ticket: 3x over 1d/2h or 1x
//   over 3d/6h, for 30 days), with Sloth's expressions, labels and annotations.
// Either way an alert carries the SLO's labels, sloth_severity, the alerting
// labels and its severity's own (Sloth's page_alert / ticket_alert), and no
// leftover sloth_window: each window's ratio is taken `max(...) without
// (sloth_window)`, as Sloth does.
// A time scale renders the same rules for the lab: every window (and `for`)
// divided by the scale, names and sloth_window kept nominal.

import { stringify } from 'yaml';
import { canFire, errorRatioThreshold, type Severity, STANDARD_WINDOWS_MS, tidy } from './burn-rate.ts';
import { SLO_ERROR_CODE, SloError } from './errors.ts';
import { formatPromDuration } from './prom-duration.ts';
import { renderWindow } from './promql.ts';
import type { AlertTier, SloDefinition } from './spec.ts';

export const SLI_ERROR_RATIO = 'slo:sli_error:ratio_rate';
export const BAD_EVENTS_RATE = 'slo:sli_bad_events:rate5m';
export const TOTAL_EVENTS_RATE = 'slo:sli_total_events:rate5m';
export const META = {
  objective: 'slo:objective:ratio',
  errorBudget: 'slo:error_budget:ratio',
  periodDays: 'slo:time_period:days',
  currentBurnRate: 'slo:current_burn_rate:ratio',
  periodBurnRate: 'slo:period_burn_rate:ratio',
  budgetRemaining: 'slo:period_error_budget_remaining:ratio',
  info: 'sloth_slo_info',
} as const;
export const SLOTH_LABEL = { id: 'sloth_id', service: 'sloth_service', slo: 'sloth_slo', window: 'sloth_window', severity: 'sloth_severity' } as const;
/**
 * The labels the default alert style puts on each tier's alert. `severity`
 * (page or ticket) is set too unless the spec sets it (Sloth's
 * page_alert.labels.severity: critical); a user's `tier` label is theirs.
 */
export const TIER_LABEL = {
  tier: 'slo_tier',
  longWindow: 'slo_long_window',
  shortWindow: 'slo_short_window',
  burnFactor: 'slo_burn_factor',
  timeToExhaustion: 'slo_time_to_exhaustion',
} as const;

/** 'tiers': one alert rule per window pair (the default); 'sloth': Sloth's two rules, page and ticket. */
export type AlertStyle = 'tiers' | 'sloth';
export const ALERT_STYLES: readonly AlertStyle[] = ['tiers', 'sloth'];

const FIVE_MINUTES = 5 * 60_000;

export interface RecordingRule {
  record: string;
  expr: string;
  labels: Record<string, string>;
}

export interface AlertingRule {
  alert: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface RuleGroup {
  name: string;
  interval?: string;
  rules: Array<RecordingRule | AlertingRule>;
}

export interface RenderRulesOptions {
  /** Divide every window by this (a 30-day SLO lived in 30d / timeScale). Default 1. */
  timeScale?: number;
  /** Group evaluation interval; default: Prometheus' global one at scale 1, one minute divided by the scale otherwise. */
  evaluationIntervalMs?: number;
  /** The scrape interval the rules will see, only to warn about windows too short for rate(); default 1s when scaled. */
  scrapeIntervalMs?: number;
  /** One alert rule per tier (default) or Sloth's page and ticket rules. */
  alertStyle?: AlertStyle;
}

export interface RenderedRules {
  groups: RuleGroup[];
  /** All groups in one Prometheus rule file. */
  yaml: string;
  /** One rule file per SLO (what generate writes, as rules/<id>.yaml). */
  files: Array<{ id: string; groups: RuleGroup[]; yaml: string }>;
  /** Problems that do not stop generation (a tier that cannot fire, a window too short to rate). */
  warnings: string[];
  timeScale: number;
  evaluationIntervalMs: number | undefined;
  alertStyle: AlertStyle;
}

/** The evaluation interval used at a time scale when none is given. */
export function defaultEvaluationIntervalMs(timeScale: number): number | undefined {
  return timeScale === 1 ? undefined : Math.max(100, Math.round(60_000 / timeScale));
}

export function validateTimeScale(timeScale: number): void {
  if (!Number.isFinite(timeScale) || timeScale < 1) throw new SloError(SLO_ERROR_CODE.badOption, `timeScale: must be a number >= 1 (got ${timeScale})`);
}

/** The windows recorded for an SLO, nominal, ascending: Sloth's standard set, every tier window, and the period. */
export function recordedWindows(slo: SloDefinition): number[] {
  const windows = new Set<number>(STANDARD_WINDOWS_MS.filter((w) => w < slo.periodMs));
  for (const tier of slo.alerting.tiers) {
    windows.add(tier.longMs);
    windows.add(tier.shortMs);
  }
  windows.add(slo.periodMs);
  return [...windows].sort((a, b) => a - b);
}

export function sloFilter(slo: SloDefinition): string {
  return `{${SLOTH_LABEL.id}="${slo.id}", ${SLOTH_LABEL.service}="${slo.service}", ${SLOTH_LABEL.slo}="${slo.name}"}`;
}

function idLabels(slo: SloDefinition): Record<string, string> {
  return { ...slo.labels, [SLOTH_LABEL.id]: slo.id, [SLOTH_LABEL.service]: slo.service, [SLOTH_LABEL.slo]: slo.name };
}

/** PromQL for the rate of bad events over a (scaled) window; for a raw error-ratio SLI, the ratio itself. */
export function badEventsExpr(slo: SloDefinition, window: string): string {
  const events = renderWindow(slo.sli.events, window);
  if (slo.sli.form === 'ratio') return `(${events})`;
  if (slo.sli.form === 'bad') return `(${events} or on() vector(0))`;
  const total = renderWindow(slo.sli.total, window);
  return `clamp_min(${total} - (${events} or on() vector(0)), 0)`;
}

function errorRatioExpr(slo: SloDefinition, window: string): string {
  if (slo.sli.form === 'ratio') return `(${renderWindow(slo.sli.events, window)})`;
  return `${badEventsExpr(slo, window)}\n/\n(${renderWindow(slo.sli.total, window)} > 0)`;
}

function percent(ratio: number): string {
  return `${tidy(ratio * 100)}%`;
}

function roundToMinute(ms: number): number {
  return ms >= 60_000 ? Math.round(ms / 60_000) * 60_000 : Math.round(ms);
}

function sliGroup(slo: SloDefinition, scaled: (ms: number) => string): RuleGroup {
  const filter = sloFilter(slo);
  const labels = (windowMs: number) => ({ ...idLabels(slo), [SLOTH_LABEL.window]: formatPromDuration(windowMs) });
  const rules: RecordingRule[] = [
    { record: BAD_EVENTS_RATE, expr: badEventsExpr(slo, scaled(FIVE_MINUTES)), labels: labels(FIVE_MINUTES) },
    { record: TOTAL_EVENTS_RATE, expr: renderWindow(slo.sli.total, scaled(FIVE_MINUTES)), labels: labels(FIVE_MINUTES) },
  ];
  for (const window of recordedWindows(slo)) {
    const record = `${SLI_ERROR_RATIO}${formatPromDuration(window)}`;
    let expr: string;
    if (window === FIVE_MINUTES) {
      expr = `${BAD_EVENTS_RATE}${filter}\n/\n(${TOTAL_EVENTS_RATE}${filter} > 0)`;
    } else if (window === slo.periodMs) {
      // Ratio of sums: every 5-minute rate sample weighs by its traffic.
      expr = `sum_over_time(${BAD_EVENTS_RATE}${filter}[${scaled(window)}])\n/\n(sum_over_time(${TOTAL_EVENTS_RATE}${filter}[${scaled(window)}]) > 0)`;
    } else {
      expr = errorRatioExpr(slo, scaled(window));
    }
    rules.push({ record, expr, labels: labels(window) });
  }
  return { name: `sloth-slo-sli-recordings-${slo.id}`, rules };
}

function metaGroup(slo: SloDefinition, timeScale: number): RuleGroup {
  const filter = sloFilter(slo);
  const labels = idLabels(slo);
  const burn = (window: number) =>
    `${SLI_ERROR_RATIO}${formatPromDuration(window)}${filter}\n/ on(${SLOTH_LABEL.id}, ${SLOTH_LABEL.slo}, ${SLOTH_LABEL.service}) group_left\n${META.errorBudget}${filter}`;
  return {
    name: `sloth-slo-meta-recordings-${slo.id}`,
    rules: [
      { record: META.objective, expr: `vector(${slo.objective})`, labels },
      { record: META.errorBudget, expr: `vector(${slo.errorBudget})`, labels },
      { record: META.periodDays, expr: `vector(${tidy(slo.periodMs / 86_400_000 / timeScale)})`, labels },
      { record: META.currentBurnRate, expr: burn(FIVE_MINUTES), labels },
      { record: META.periodBurnRate, expr: burn(slo.periodMs), labels },
      { record: META.budgetRemaining, expr: `1 - ${META.periodBurnRate}${filter}`, labels },
      {
        record: META.info,
        expr: 'vector(1)',
        labels: { ...labels, sloth_mode: 'faultline-generate', sloth_spec: slo.format, sloth_objective: String(tidy(slo.objective * 100)) },
      },
    ],
  };
}

/** The labels every alert of a tier carries (besides the SLO's series labels). */
export function tierLabels(slo: SloDefinition, tier: AlertTier): Record<string, string> {
  const own = { ...slo.alerting.labels, ...tier.labels };
  const userSeverity = 'severity' in own || 'severity' in slo.labels;
  return {
    ...(userSeverity ? {} : { severity: tier.severity }),
    [SLOTH_LABEL.severity]: tier.severity,
    [TIER_LABEL.tier]: tier.name,
    [TIER_LABEL.longWindow]: formatPromDuration(tier.longMs),
    [TIER_LABEL.shortWindow]: formatPromDuration(tier.shortMs),
    [TIER_LABEL.burnFactor]: String(tier.burnFactor),
    [TIER_LABEL.timeToExhaustion]: formatPromDuration(roundToMinute(slo.periodMs / tier.burnFactor)),
    ...own,
  };
}

/** `max(<ratio> > (<factor> * <budget>)) without (sloth_window)`, as Sloth writes each window of an alert. */
function overThreshold(slo: SloDefinition, windowMs: number, factor: number): string {
  return `max(${SLI_ERROR_RATIO}${formatPromDuration(windowMs)}${sloFilter(slo)} > (${factor} * ${slo.errorBudget})) without (${SLOTH_LABEL.window})`;
}

/** Both windows of a tier above its threshold: short window first, as in Sloth's template. */
function tierCondition(slo: SloDefinition, tier: AlertTier, indent: string): string {
  return [overThreshold(slo, tier.shortMs, tier.burnFactor), 'and', overThreshold(slo, tier.longMs, tier.burnFactor)].map((line) => `${indent}${line}`).join('\n');
}

function alertRule(slo: SloDefinition, tier: AlertTier, timeScale: number, scaled: (ms: number) => string): AlertingRule {
  const rule: AlertingRule = {
    alert: slo.alerting.name,
    expr: tierCondition(slo, tier, ''),
    labels: tierLabels(slo, tier),
    annotations: tierAnnotations(slo, tier, timeScale),
  };
  if (tier.forMs > 0) rule.for = scaled(tier.forMs);
  return rule;
}

/** The tiers of one severity, quickest (shortest long window) first, as Sloth orders quick and slow. */
export function severityTiers(slo: SloDefinition, severity: Severity): AlertTier[] {
  return slo.alerting.tiers.filter((tier) => tier.severity === severity).sort((a, b) => a.longMs - b.longMs);
}

/** Labels of a severity's alert in Sloth's style: sloth_severity, the alerting labels, the severity's own. */
export function slothAlertLabels(slo: SloDefinition, severity: Severity): Record<string, string> {
  const labels: Record<string, string> = { [SLOTH_LABEL.severity]: severity, ...slo.alerting.labels };
  for (const tier of severityTiers(slo, severity)) Object.assign(labels, tier.labels);
  return labels;
}

/** Sloth's annotations: its title and summary, then the alerting annotations and the severity's own. */
export function slothAlertAnnotations(slo: SloDefinition, severity: Severity): Record<string, string> {
  const annotations: Record<string, string> = {
    title: `(${severity}) {{$labels.${SLOTH_LABEL.service}}} {{$labels.${SLOTH_LABEL.slo}}} SLO error budget burn rate is too fast.`,
    summary: `{{$labels.${SLOTH_LABEL.service}}} {{$labels.${SLOTH_LABEL.slo}}} SLO error budget burn rate is over expected.`,
    ...slo.alerting.annotations,
  };
  for (const tier of severityTiers(slo, severity)) Object.assign(annotations, tier.annotations);
  return annotations;
}

/**
 * Sloth's alert for one severity: (quick short and quick long) or (slow short
 * and slow long), each window `max(...) without (sloth_window)`. With the
 * workbook's tiers this is Sloth's expression to the character, save the
 * error budget, written 0.001 where Sloth's float arithmetic writes
 * 0.0009999999999999432.
 */
function slothAlertRule(slo: SloDefinition, severity: Severity, scaled: (ms: number) => string): AlertingRule | undefined {
  const tiers = severityTiers(slo, severity);
  if (tiers.length === 0) return undefined;
  const fors = new Set(tiers.map((tier) => tier.forMs));
  if (fors.size > 1) {
    throw new SloError(
      SLO_ERROR_CODE.badOption,
      `${slo.id}: alert style sloth writes one ${severity} alert, so its tiers need one \`for\` (got ${[...fors].map((ms) => formatPromDuration(ms)).join(', ')})`,
    );
  }
  const rule: AlertingRule = {
    alert: slo.alerting.name,
    expr: tiers.map((tier) => `(\n${tierCondition(slo, tier, '    ')}\n)`).join('\nor\n'),
    labels: slothAlertLabels(slo, severity),
    annotations: slothAlertAnnotations(slo, severity),
  };
  const forMs = (tiers[0] as AlertTier).forMs;
  if (forMs > 0) rule.for = scaled(forMs);
  return rule;
}

/** The alert rules of an SLO in a style. */
function alertRules(slo: SloDefinition, style: AlertStyle, timeScale: number, scaled: (ms: number) => string): AlertingRule[] {
  if (style === 'tiers') return slo.alerting.tiers.map((tier) => alertRule(slo, tier, timeScale, scaled));
  return (['page', 'ticket'] as const).map((severity) => slothAlertRule(slo, severity, scaled)).filter((rule): rule is AlertingRule => rule !== undefined);
}

/** The annotations of a tier's alert (templated with $labels only, so tests can predict them exactly). */
export function tierAnnotations(slo: SloDefinition, tier: AlertTier, timeScale: number): Record<string, string> {
  const long = formatPromDuration(tier.longMs);
  const short = formatPromDuration(tier.shortMs);
  const period = formatPromDuration(slo.periodMs);
  const exhaustion = formatPromDuration(roundToMinute(slo.periodMs / tier.burnFactor));
  const lab =
    timeScale === 1 ? '' : ` (lab time scale ${timeScale}: windows ${formatPromDuration(Math.round(tier.longMs / timeScale))} and ${formatPromDuration(Math.round(tier.shortMs / timeScale))})`;
  return {
    title: `(${tier.severity}) {{$labels.${SLOTH_LABEL.service}}} {{$labels.${SLOTH_LABEL.slo}}} SLO error budget burn rate is too fast.`,
    summary: `{{$labels.${SLOTH_LABEL.service}}} {{$labels.${SLOTH_LABEL.slo}}} is burning its error budget more than ${tier.burnFactor}x too fast over ${long} and ${short}; at that rate the ${period} budget is gone in ${exhaustion}.`,
    description: `The error ratio is above ${percent(errorRatioThreshold(tier.burnFactor, slo.errorBudget))} over both ${long} and ${short} (${tier.burnFactor}x the ${percent(slo.errorBudget)} budget of a ${percent(slo.objective)} objective over ${period})${lab}.`,
    ...slo.alerting.annotations,
    ...tier.annotations,
  };
}

function warningsFor(slo: SloDefinition, timeScale: number, scrapeIntervalMs: number | undefined, evaluationIntervalMs: number | undefined): string[] {
  const warnings: string[] = [];
  for (const tier of slo.alerting.tiers) {
    if (!canFire(tier.burnFactor, slo.errorBudget)) {
      warnings.push(
        `${slo.id}: tier ${tier.name} can never fire: burn factor ${tier.burnFactor} x error budget ${percent(slo.errorBudget)} = ${percent(tier.burnFactor * slo.errorBudget)} of events would have to fail (raise the objective or lower the factor)`,
      );
    }
  }
  const floor = Math.max(scrapeIntervalMs ?? 0, evaluationIntervalMs ?? 0);
  if (timeScale !== 1 && floor > 0) {
    for (const window of recordedWindows(slo)) {
      const scaledMs = Math.round(window / timeScale);
      if (scaledMs < 2 * floor) {
        warnings.push(
          `${slo.id}: the ${formatPromDuration(window)} window becomes ${formatPromDuration(scaledMs)} at time scale ${timeScale}, under two scrape/evaluation intervals (${formatPromDuration(floor)}): rate() needs two samples in it`,
        );
      }
    }
  }
  return warnings;
}

/** Prometheus recording and alerting rules for these SLOs (pure: nothing is written). */
export function renderRules(slos: readonly SloDefinition[], options: RenderRulesOptions = {}): RenderedRules {
  const timeScale = options.timeScale ?? 1;
  validateTimeScale(timeScale);
  const alertStyle = options.alertStyle ?? 'tiers';
  if (!ALERT_STYLES.includes(alertStyle)) throw new SloError(SLO_ERROR_CODE.badOption, `alertStyle: must be one of ${ALERT_STYLES.join(', ')} (got '${String(alertStyle)}')`);
  const evaluationIntervalMs = options.evaluationIntervalMs ?? defaultEvaluationIntervalMs(timeScale);
  if (evaluationIntervalMs !== undefined && !(evaluationIntervalMs >= 1)) {
    throw new SloError(SLO_ERROR_CODE.badOption, `evaluationIntervalMs: must be at least 1 ms (got ${evaluationIntervalMs})`);
  }
  const scrapeIntervalMs = options.scrapeIntervalMs ?? (timeScale === 1 ? undefined : 1_000);
  const scaled = (ms: number): string => {
    const value = Math.round(ms / timeScale);
    if (value < 1) throw new SloError(SLO_ERROR_CODE.badOption, `timeScale: ${timeScale} shrinks a ${formatPromDuration(ms)} window below one millisecond`);
    return formatPromDuration(value);
  };
  const interval = evaluationIntervalMs === undefined ? undefined : formatPromDuration(evaluationIntervalMs);
  const groups: RuleGroup[] = [];
  const files: RenderedRules['files'] = [];
  const warnings: string[] = [];
  for (const slo of slos) {
    const alerts: RuleGroup = { name: `sloth-slo-alerts-${slo.id}`, rules: alertRules(slo, alertStyle, timeScale, scaled) };
    const own = [sliGroup(slo, scaled), metaGroup(slo, timeScale), ...(alerts.rules.length ? [alerts] : [])].map((group) =>
      interval === undefined ? group : { name: group.name, interval, rules: group.rules },
    );
    groups.push(...own);
    files.push({ id: slo.id, groups: own, yaml: `${ruleFileHeader(timeScale, slo.source)}\n${stringify({ groups: own }, { lineWidth: 0 })}` });
    warnings.push(...warningsFor(slo, timeScale, scrapeIntervalMs, evaluationIntervalMs));
  }
  const yaml = `${ruleFileHeader(timeScale)}\n${stringify({ groups }, { lineWidth: 0 })}`;
  return { groups, yaml, files, warnings, timeScale, evaluationIntervalMs, alertStyle };
}

/** Group names in the order their rules depend on each other (recordings, then metadata, then alerts if any). */
export function groupOrder(slo: SloDefinition): string[] {
  return [`sloth-slo-sli-recordings-${slo.id}`, `sloth-slo-meta-recordings-${slo.id}`, ...(slo.alerting.tiers.length ? [`sloth-slo-alerts-${slo.id}`] : [])];
}

function ruleFileHeader(timeScale: number, source?: string): string {
  return [
    `# Prometheus rules generated by slo/generate.ts from ${source === undefined ? 'slo/specs' : source.replace(/^.*\/slo\//, 'slo/')}; do not edit by hand.`,
    timeScale === 1
      ? '# Real time: deploy these.'
      : `# Lab time scale ${timeScale}: every window is divided by ${timeScale} (a 30-day SLO lives ${formatPromDuration(Math.round((30 * 86_400_000) / timeScale))}); for live scenarios only.`,
    '# Names and labels follow Sloth (https://github.com/slok/sloth), so its Grafana dashboards work unchanged.',
  ].join('\n');
}
