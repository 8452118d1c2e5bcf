// SLO specs: the spellings a file in slo/specs/ may use, validated once at
// the edge and normalised to one frozen SloDefinition that the rule generator,
// the promtool fixtures, the report and the workshop all read.
//
// - `apiVersion: openslo/v1`: an OpenSLO v1 subset. kind SLO with an inline
//   ratioMetric indicator (good/total or bad/total Prometheus queries, counters),
//   one objective, one rolling time window, Occurrences budgeting, and optional
//   inline alert policies whose burn-rate conditions become alert tiers (a
//   policy's metadata labels and annotations go on its conditions' alerts).
// - `apiVersion: faultline/v1`: a compact form for the common cases
//   (availability or latency of a route from the server histogram, calls to a
//   dependency as the caller's resilience policies saw them, or a raw ratio),
//   written with the lab's own names from demo-services/kit/conventions.ts.
// - `version: prometheus/v1`: Sloth's own spec file, read unchanged
//   (sloth-dialect.ts): one service, several SLOs, events or raw SLIs, and
//   page_alert / ticket_alert labels, annotations and `disable`.
// - `apiVersion: openslo/v1alpha`: OpenSLO as Sloth reads it
//   (sloth-dialect.ts): one SLO per objective, named <name>-<index>.
//
// Unknown keys are rejected and every problem is reported at once with its
// file and path. Queries use Sloth's `{{.window}}` placeholder for the range;
// a query that is a bare selector is wrapped as sum(rate(selector[window])).

import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { z } from 'zod';
import { LABEL, LATENCY_BUCKETS, METRIC, OUTCOMES } from '../demo-services/kit/conventions.ts';
import { formatDuration } from '../demo-services/kit/durations.ts';
import { durationMs, formatIssues, ratio } from '../demo-services/kit/schema.ts';
import { burnFactor, budgetConsumedBy, SHORT_WINDOW_DIVISOR, tidy, WORKBOOK_TIERS, type Severity } from './burn-rate.ts';
import { SLO_ERROR_CODE, SloError } from './errors.ts';
import { formatPromDuration, parseOpenSloDuration } from './prom-duration.ts';
import { formatSelector, hasWindowPlaceholder, type LabelMatcher, PromqlReadError, readQuery, WINDOW_PLACEHOLDER } from './promql.ts';
import { fromOpenSloV1alpha, fromSloth, openSloV1alphaSchema, slothSchema, type OpenSloV1alphaDocument, type SlothDocument } from './sloth-dialect.ts';
import { alertName, annotations, dnsName, keyedRecord, labelNameProblem, labels, query } from './spec-fields.ts';

export { RESERVED_LABELS } from './spec-fields.ts';

export const SLO_ROOT = new URL('.', import.meta.url).pathname;
export const SPECS_DIR = join(SLO_ROOT, 'specs');

export type SpecFormat = 'openslo/v1' | 'faultline/v1' | 'prometheus/v1' | 'openslo/v1alpha';

export type SliKind = 'availability' | 'latency' | 'calls' | 'ratio' | 'raw';

export interface SliDefinition {
  kind: SliKind;
  /**
   * Whether `events` counts the good events or the bad ones; 'ratio' when it
   * is an error ratio already (Sloth's raw SLI), which has no events to count.
   */
  form: 'good' | 'bad' | 'ratio';
  /** PromQL for the rate of good (or bad) events, with `{{.window}}` for the range; for 'ratio', the error ratio itself. */
  events: string;
  /**
   * PromQL for the rate of all events, with `{{.window}}` for the range; for
   * 'ratio', `count(<ratio>)`: 1 wherever the ratio exists, so that the period
   * ratio is the mean of the 5-minute ratios, as Sloth computes it.
   */
  total: string;
  /** For latency SLIs: the threshold in seconds (a bucket edge). */
  thresholdSeconds?: number;
}

export interface AlertTier {
  /** Unique within the SLO, e.g. `page-1h`: the severity and the long window. */
  name: string;
  severity: Severity;
  longMs: number;
  shortMs: number;
  burnFactor: number;
  /** Share of the period's budget a burn at burnFactor spends within the long window. */
  budgetConsumed: number;
  /** How long the condition must hold before the alert fires (Prometheus `for`). */
  forMs: number;
  /**
   * Labels and annotations of this tier's alert only, over the SLO's alert-wide
   * ones: Sloth's page_alert / ticket_alert, the compact form's alerting.page /
   * alerting.ticket, an OpenSLO alert policy's metadata. Alertmanager routes
   * match on them (severity: critical, team: payments).
   */
  labels: Readonly<Record<string, string>>;
  annotations: Readonly<Record<string, string>>;
}

export interface SloDefinition {
  /** `<service>-<name>`, as Sloth builds sloth_id. */
  id: string;
  service: string;
  name: string;
  displayName: string;
  description: string;
  /** Target share of good events, in (0, 1). */
  objective: number;
  /** 1 - objective. */
  errorBudget: number;
  /** The rolling window the objective is measured over. */
  periodMs: number;
  sli: SliDefinition;
  /** Extra Prometheus labels on every rule of this SLO. */
  labels: Readonly<Record<string, string>>;
  alerting: {
    name: string;
    /** On every alert of this SLO (a tier's own labels and annotations go over them). */
    labels: Readonly<Record<string, string>>;
    annotations: Readonly<Record<string, string>>;
    /** None when every alert is disabled (Sloth's `disable: true` on both). */
    tiers: readonly AlertTier[];
  };
  format: SpecFormat;
  /** Where it was read from. */
  source: string;
}

// ---------------------------------------------------------------------------
// Shared field schemas (spec-fields.ts, shared with sloth-dialect.ts)

const severity = z.enum(['page', 'ticket']);

const objectiveRatio = ratio.refine((value) => value > 0 && value < 1, { message: 'must be above 0% and below 100% (100% leaves no error budget)' });

const openSloDuration = z.string().transform((value, ctx) => {
  try {
    return parseOpenSloDuration(value);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
    return z.NEVER;
  }
});

// ---------------------------------------------------------------------------
// Compact form (faultline/v1)

const routeFilter = {
  /** Only these routes (exact http_route values); all routes when absent. */
  routes: z.array(z.string().min(1)).min(1).optional(),
  /** Never these routes (health checks, for example). */
  excludeRoutes: z.array(z.string().min(1)).min(1).optional(),
};

const compactWindow = z
  .strictObject({
    severity,
    long: durationMs,
    /** Defaults to a twelfth of the long window. */
    short: durationMs.optional(),
    /** Either the share of the period's budget spent within the long window ('2%')... */
    budgetConsumed: ratio.optional(),
    /** ...or the burn-rate factor itself (14.4). */
    burnFactor: z.number().positive().optional(),
    for: durationMs.default(0),
  })
  .superRefine((value, ctx) => {
    if ((value.budgetConsumed === undefined) === (value.burnFactor === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'give exactly one of budgetConsumed and burnFactor' });
    }
  });

const severityAlert = z.strictObject({
  disable: z.boolean().default(false),
  labels: labels.default({}),
  annotations: annotations.default({}),
});

const compactSliSchema = z
  .strictObject({
    availability: z.strictObject({ job: z.string().min(1), ...routeFilter }).optional(),
    latency: z.strictObject({ job: z.string().min(1), ...routeFilter, threshold: durationMs }).optional(),
    calls: z
      .strictObject({
        /** The caller's scrape job. */
        job: z.string().min(1),
        dependency: z.string().min(1),
        /** Outcomes that count as good; the default is success only. */
        good: z.array(z.enum(OUTCOMES)).min(1).default(['success']),
      })
      .optional(),
    ratio: z.strictObject({ good: query.optional(), bad: query.optional(), total: query }).optional(),
  })
  .superRefine((value, ctx) => {
    const given = Object.entries(value).filter(([, v]) => v !== undefined);
    if (given.length !== 1) {
      ctx.addIssue({ code: 'custom', message: `give exactly one of availability, latency, calls, ratio${given.length ? ` (got ${given.map(([k]) => k).join(', ')})` : ''}` });
    }
    if (value.ratio && (value.ratio.good === undefined) === (value.ratio.bad === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['ratio'], message: 'give exactly one of good and bad, with total' });
    }
  });

const compactSchema = z.strictObject({
  apiVersion: z.literal('faultline/v1'),
  kind: z.literal('SLO'),
  service: dnsName,
  name: dnsName,
  displayName: z.string().min(1).optional(),
  description: z.string().min(1),
  objective: objectiveRatio,
  window: durationMs.refine((ms) => ms >= 60_000, { message: 'must be at least 1m' }),
  labels: labels.default({}),
  sli: compactSliSchema,
  alerting: z
    .strictObject({
      name: alertName.optional(),
      labels: labels.default({}),
      annotations: annotations.default({}),
      /** The alert tiers; the workbook's four when absent. */
      windows: z.array(compactWindow).min(1).optional(),
      /** Labels and annotations of the page alerts only (Sloth's page_alert); `disable` drops them. */
      page: severityAlert.optional(),
      /** The same for the ticket alerts (Sloth's ticket_alert). */
      ticket: severityAlert.optional(),
    })
    .default({ labels: {}, annotations: {} }),
});

// ---------------------------------------------------------------------------
// OpenSLO v1 subset

const metricSource = z.strictObject({
  metricSource: z.strictObject({
    type: z.literal('Prometheus'),
    metricSourceRef: z.string().min(1).optional(),
    spec: z.strictObject({ query }),
  }),
});

const openSloMetadata = z.strictObject({
  name: dnsName,
  displayName: z.string().min(1).optional(),
  labels: keyedRecord(z.union([z.string(), z.array(z.string()).min(1)]), labelNameProblem).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});

const alertCondition = z.strictObject({
  kind: z.literal('AlertCondition'),
  metadata: z.strictObject({ name: dnsName, displayName: z.string().optional() }),
  spec: z.strictObject({
    description: z.string().optional(),
    severity,
    condition: z.strictObject({
      kind: z.literal('burnrate'),
      op: z.literal('gt', { error: "only 'gt' is supported: a burn-rate alert fires above its threshold" }),
      /** The burn-rate factor. */
      threshold: z.number().positive(),
      /** The long window; the short window is a twelfth of it. */
      lookbackWindow: openSloDuration,
      alertAfter: openSloDuration.optional(),
    }),
  }),
});

const alertPolicy = z.strictObject({
  kind: z.literal('AlertPolicy'),
  metadata: z.strictObject({
    name: dnsName,
    displayName: z.string().optional(),
    /** Put on the alerts of this policy's conditions (routing labels, runbooks). */
    labels: keyedRecord(z.union([z.string(), z.array(z.string()).min(1)]), labelNameProblem).optional(),
    annotations: annotations.optional(),
  }),
  spec: z.strictObject({
    description: z.string().optional(),
    alertWhenBreaching: z.literal(true, { error: 'only alertWhenBreaching: true is supported' }).optional(),
    alertWhenResolved: z.boolean().optional(),
    alertWhenNoData: z.literal(false, { error: 'no-data alerts are not generated: a window without traffic never alerts' }).optional(),
    conditions: z.array(alertCondition).min(1),
  }),
});

const openSloSchema = z.strictObject({
  apiVersion: z.literal('openslo/v1'),
  kind: z.literal('SLO'),
  metadata: openSloMetadata,
  spec: z.strictObject({
    description: z.string().min(1),
    service: dnsName,
    indicator: z.strictObject({
      metadata: z.strictObject({ name: dnsName, displayName: z.string().optional() }),
      spec: z.strictObject({
        ratioMetric: z
          .strictObject({
            counter: z.literal(true, { error: 'only counter: true is supported (queries over counters, rated per window)' }),
            good: metricSource.optional(),
            bad: metricSource.optional(),
            total: metricSource,
          })
          .superRefine((value, ctx) => {
            if ((value.good === undefined) === (value.bad === undefined)) ctx.addIssue({ code: 'custom', message: 'give exactly one of good and bad, with total' });
          }),
      }),
    }),
    timeWindow: z
      .array(z.strictObject({ duration: openSloDuration, isRolling: z.literal(true, { error: 'only rolling windows are supported' }) }))
      .length(1, 'give exactly one time window'),
    budgetingMethod: z.literal('Occurrences', { error: 'only Occurrences budgeting is supported (good events over total events)' }),
    objectives: z
      .array(
        z
          .strictObject({
            displayName: z.string().optional(),
            target: z.number().gt(0).lt(1).optional(),
            targetPercent: z.number().gt(0).lt(100).optional(),
          })
          .superRefine((value, ctx) => {
            if ((value.target === undefined) === (value.targetPercent === undefined)) ctx.addIssue({ code: 'custom', message: 'give exactly one of target and targetPercent' });
          }),
      )
      .length(1, 'give exactly one objective'),
    alertPolicies: z.array(alertPolicy).min(1).optional(),
  }),
});

/** Built on first use: sloth-dialect.ts and this module import each other, and either may be loaded first. */
function documentSchema() {
  return z.discriminatedUnion('apiVersion', [openSloSchema, compactSchema, openSloV1alphaSchema], {
    error: "apiVersion must be 'openslo/v1' (OpenSLO subset), 'openslo/v1alpha' (OpenSLO as Sloth reads it) or 'faultline/v1' (compact form); Sloth's own files say version: prometheus/v1 instead",
  });
}
let documentSchemaCache: ReturnType<typeof documentSchema> | undefined;

type CompactDocument = z.infer<typeof compactSchema>;
type OpenSloDocument = z.infer<typeof openSloSchema>;

// ---------------------------------------------------------------------------
// Normalisation

export function pascal(text: string): string {
  return text
    .split(/[^a-zA-Z0-9]+/)
    .filter(Boolean)
    .map((part) => (part[0] as string).toUpperCase() + part.slice(1))
    .join('');
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function routeMatchers(filter: { routes?: string[] | undefined; excludeRoutes?: string[] | undefined }): LabelMatcher[] {
  const matchers: LabelMatcher[] = [];
  const routes = filter.routes;
  if (routes !== undefined && routes.length === 1) matchers.push({ label: LABEL.route, op: '=', value: routes[0] as string });
  else if (routes !== undefined) matchers.push({ label: LABEL.route, op: '=~', value: routes.map(escapeRegex).join('|') });
  if (filter.excludeRoutes !== undefined) matchers.push({ label: LABEL.route, op: '!~', value: filter.excludeRoutes.map(escapeRegex).join('|') });
  return matchers;
}

function rated(selector: string): string {
  return `sum(rate(${selector}[${WINDOW_PLACEHOLDER}]))`;
}

/** The bucket edge as prom-client writes the `le` label. */
export function leLabel(seconds: number): string {
  return String(seconds);
}

function normaliseCompactSli(sli: CompactDocument['sli'], problems: string[]): SliDefinition {
  const server = METRIC.httpServerDuration;
  if (sli.availability) {
    const base: LabelMatcher[] = [{ label: 'job', op: '=', value: sli.availability.job }, ...routeMatchers(sli.availability)];
    return {
      kind: 'availability',
      form: 'bad',
      events: rated(formatSelector(`${server}_count`, [...base, { label: LABEL.status, op: '=~', value: '5..' }])),
      total: rated(formatSelector(`${server}_count`, base)),
    };
  }
  if (sli.latency) {
    const seconds = sli.latency.threshold / 1000;
    const edge = LATENCY_BUCKETS.find((bucket) => Math.abs(bucket - seconds) < 1e-9);
    if (edge === undefined) {
      problems.push(
        `sli.latency.threshold: ${formatDuration(sli.latency.threshold)} is not a bucket edge of ${server} (edges: ${LATENCY_BUCKETS.map((b) => formatDuration(b * 1000)).join(', ')})`,
      );
    }
    const base: LabelMatcher[] = [{ label: 'job', op: '=', value: sli.latency.job }, ...routeMatchers(sli.latency)];
    return {
      kind: 'latency',
      form: 'good',
      events: rated(formatSelector(`${server}_bucket`, [...base, { label: 'le', op: '=', value: leLabel(edge ?? seconds) }])),
      total: rated(formatSelector(`${server}_count`, base)),
      thresholdSeconds: edge ?? seconds,
    };
  }
  if (sli.calls) {
    const base: LabelMatcher[] = [
      { label: 'job', op: '=', value: sli.calls.job },
      { label: LABEL.dependency, op: '=', value: sli.calls.dependency },
    ];
    const good = [...new Set(sli.calls.good)];
    const outcome: LabelMatcher = good.length === 1 ? { label: LABEL.outcome, op: '=', value: good[0] as string } : { label: LABEL.outcome, op: '=~', value: good.join('|') };
    return {
      kind: 'calls',
      form: 'good',
      events: rated(formatSelector(METRIC.resilienceCalls, [...base, outcome])),
      total: rated(formatSelector(METRIC.resilienceCalls, base)),
    };
  }
  const raw = sli.ratio as NonNullable<CompactDocument['sli']['ratio']>;
  return {
    kind: 'ratio',
    form: raw.good !== undefined ? 'good' : 'bad',
    events: normaliseQuery((raw.good ?? raw.bad) as string, `sli.ratio.${raw.good !== undefined ? 'good' : 'bad'}`, problems),
    total: normaliseQuery(raw.total, 'sli.ratio.total', problems),
  };
}

/** A query with `{{.window}}`, or a bare selector to wrap in sum(rate(...)); anything else is reported. */
export function normaliseQuery(text: string, path: string, problems: string[]): string {
  let names;
  try {
    names = readQuery(text);
  } catch (error) {
    problems.push(`${path}: ${error instanceof PromqlReadError ? error.message : String(error)}`);
    return text;
  }
  if (names.selectors.length === 0) {
    problems.push(`${path}: selects no series`);
    return text;
  }
  if (/\b(by|without)\s*\(/.test(text)) {
    problems.push(`${path}: must add up to one series (the rules divide one by the other); drop by(...) / without(...)`);
    return text;
  }
  if (hasWindowPlaceholder(text)) return text.trim();
  if (/^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})?$/.test(text.trim())) return rated(text.trim());
  problems.push(`${path}: write the range as [${WINDOW_PLACEHOLDER}] (e.g. sum(rate(x_total[${WINDOW_PLACEHOLDER}]))), or give a bare selector of a counter`);
  return text;
}

function tierName(severity: Severity, longMs: number): string {
  return `${severity}-${formatPromDuration(longMs)}`;
}

/** The workbook's four tiers for a period: the same shares of budget as 14.4x/6x/3x/1x over 30 days. */
export function workbookTiers(periodMs: number): AlertTier[] {
  return WORKBOOK_TIERS.map((tier) => ({
    name: tierName(tier.severity, tier.longMs),
    severity: tier.severity,
    longMs: tier.longMs,
    shortMs: tier.shortMs,
    burnFactor: burnFactor(tier.budgetConsumed, periodMs, tier.longMs),
    budgetConsumed: tier.budgetConsumed,
    forMs: 0,
    labels: {},
    annotations: {},
  }));
}

/** Per-severity labels and annotations (and `disable`) applied to a list of tiers. */
export interface SeverityAlerting {
  disable: boolean;
  labels: Readonly<Record<string, string>>;
  annotations: Readonly<Record<string, string>>;
}

/** Drop the tiers of disabled severities and put each severity's labels and annotations on its tiers. */
export function applySeverities(tiers: readonly AlertTier[], severities: Partial<Record<Severity, SeverityAlerting>>): AlertTier[] {
  return tiers
    .filter((tier) => severities[tier.severity]?.disable !== true)
    .map((tier) => {
      const own = severities[tier.severity];
      return own === undefined ? tier : { ...tier, labels: { ...tier.labels, ...own.labels }, annotations: { ...tier.annotations, ...own.annotations } };
    });
}

export function checkTiers(tiers: AlertTier[], periodMs: number, path: (i: number) => string, problems: string[]): void {
  const names = new Set<string>();
  tiers.forEach((tier, i) => {
    if (tier.shortMs >= tier.longMs) problems.push(`${path(i)}: the short window (${formatPromDuration(tier.shortMs)}) must be shorter than the long one (${formatPromDuration(tier.longMs)})`);
    if (tier.longMs > periodMs) problems.push(`${path(i)}: the long window (${formatPromDuration(tier.longMs)}) is longer than the SLO period (${formatPromDuration(periodMs)})`);
    if (names.has(tier.name)) problems.push(`${path(i)}: a second ${tier.severity} tier over ${formatPromDuration(tier.longMs)}; each tier needs its own long window`);
    names.add(tier.name);
  });
}

export function objectiveTidy(value: number): number {
  return tidy(value);
}

function fromCompact(doc: CompactDocument, source: string, problems: string[]): SloDefinition {
  const periodMs = doc.window;
  const objective = objectiveTidy(doc.objective);
  const sli = normaliseCompactSli(doc.sli, problems);
  const tiers =
    doc.alerting.windows === undefined
      ? workbookTiers(periodMs)
      : doc.alerting.windows.map((w) => {
          const shortMs = w.short ?? w.long / SHORT_WINDOW_DIVISOR;
          const factor = w.burnFactor ?? burnFactor(w.budgetConsumed as number, periodMs, w.long);
          return {
            name: tierName(w.severity, w.long),
            severity: w.severity,
            longMs: w.long,
            shortMs,
            burnFactor: factor,
            budgetConsumed: w.budgetConsumed ?? budgetConsumedBy(factor, periodMs, w.long),
            forMs: w.for,
            labels: {},
            annotations: {},
          };
        });
  checkTiers(tiers, periodMs, (i) => `alerting.windows.${i}`, problems);
  for (const sev of ['page', 'ticket'] as const) {
    const i = tiers.findIndex((tier) => tier.severity === sev);
    if (doc.alerting[sev]?.disable && doc.alerting.windows !== undefined && i >= 0) {
      problems.push(`alerting.${sev}.disable: alerting.windows.${i} is a ${sev} tier; drop it from windows or keep the ${sev} alerts`);
    }
  }
  return {
    id: `${doc.service}-${doc.name}`,
    service: doc.service,
    name: doc.name,
    displayName: doc.displayName ?? `${doc.service} ${doc.name}`,
    description: doc.description,
    objective,
    errorBudget: tidy(1 - objective),
    periodMs,
    sli,
    labels: doc.labels,
    alerting: {
      name: doc.alerting.name ?? `${pascal(doc.service)}${pascal(doc.name)}BudgetBurn`,
      labels: doc.alerting.labels,
      annotations: doc.alerting.annotations,
      tiers: applySeverities(tiers, { ...(doc.alerting.page ? { page: doc.alerting.page } : {}), ...(doc.alerting.ticket ? { ticket: doc.alerting.ticket } : {}) }),
    },
    format: 'faultline/v1',
    source,
  };
}

function fromOpenSlo(doc: OpenSloDocument, source: string, problems: string[]): SloDefinition {
  const spec = doc.spec;
  const periodMs = (spec.timeWindow[0] as { duration: number }).duration;
  const target = spec.objectives[0] as { target?: number | undefined; targetPercent?: number | undefined };
  const objective = objectiveTidy(target.target ?? (target.targetPercent as number) / 100);
  const ratioMetric = spec.indicator.spec.ratioMetric;
  const eventsSource = (ratioMetric.good ?? ratioMetric.bad) as z.infer<typeof metricSource>;
  const form = ratioMetric.good !== undefined ? 'good' : 'bad';
  const base = 'spec.indicator.spec.ratioMetric';
  const sli: SliDefinition = {
    kind: 'ratio',
    form,
    events: normaliseQuery(eventsSource.metricSource.spec.query, `${base}.${form}.metricSource.spec.query`, problems),
    total: normaliseQuery(ratioMetric.total.metricSource.spec.query, `${base}.total.metricSource.spec.query`, problems),
  };
  const paths: string[] = [];
  const tiers: AlertTier[] =
    spec.alertPolicies === undefined
      ? workbookTiers(periodMs)
      : spec.alertPolicies.flatMap((policy, p) =>
          policy.spec.conditions.map((condition, c) => {
            paths.push(`spec.alertPolicies.${p}.spec.conditions.${c}`);
            const { threshold, lookbackWindow, alertAfter } = condition.spec.condition;
            return {
              labels: joinedLabels(policy.metadata.labels),
              annotations: policy.metadata.annotations ?? {},
              name: tierName(condition.spec.severity, lookbackWindow),
              severity: condition.spec.severity,
              longMs: lookbackWindow,
              shortMs: lookbackWindow / SHORT_WINDOW_DIVISOR,
              burnFactor: tidy(threshold),
              budgetConsumed: budgetConsumedBy(threshold, periodMs, lookbackWindow),
              forMs: alertAfter ?? 0,
            };
          }),
        );
  checkTiers(tiers, periodMs, (i) => paths[i] ?? 'spec.alertPolicies', problems);
  const metaLabels = joinedLabels(doc.metadata.labels);
  return {
    id: `${spec.service}-${doc.metadata.name}`,
    service: spec.service,
    name: doc.metadata.name,
    displayName: doc.metadata.displayName ?? `${spec.service} ${doc.metadata.name}`,
    description: spec.description,
    objective,
    errorBudget: tidy(1 - objective),
    periodMs,
    sli,
    labels: metaLabels,
    alerting: { name: `${pascal(spec.service)}${pascal(doc.metadata.name)}BudgetBurn`, labels: {}, annotations: {}, tiers },
    format: 'openslo/v1',
    source,
  };
}

/** OpenSLO labels may hold lists; a Prometheus label holds one string. */
function joinedLabels(labels: Record<string, string | string[]> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(labels ?? {}).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : v]));
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

function isSlothFile(document: unknown): boolean {
  return document !== null && typeof document === 'object' && 'version' in document && !('apiVersion' in document);
}

/**
 * Validate one parsed document (any spelling) and normalise it to its SLOs: one,
 * or several for Sloth's prometheus/v1 (one per entry of slos) and OpenSLO
 * v1alpha (one per objective). Throws one SloError listing every problem, each
 * prefixed with `source` and its path.
 */
export function parseSloSpecs(document: unknown, source: string): SloDefinition[] {
  const problems: string[] = [];
  let slos: SloDefinition[];
  if (isSlothFile(document)) {
    const result = slothSchema.safeParse(document);
    if (!result.success) throw new SloError(SLO_ERROR_CODE.specInvalid, formatIssues(result.error).map((line) => `${source}: ${line}`));
    slos = fromSloth(result.data as SlothDocument, source, problems);
  } else {
    documentSchemaCache ??= documentSchema();
    const result = documentSchemaCache.safeParse(document);
    if (!result.success) throw new SloError(SLO_ERROR_CODE.specInvalid, formatIssues(result.error).map((line) => `${source}: ${line}`));
    const data = result.data;
    slos =
      data.apiVersion === 'openslo/v1'
        ? [fromOpenSlo(data, source, problems)]
        : data.apiVersion === 'openslo/v1alpha'
          ? fromOpenSloV1alpha(data as OpenSloV1alphaDocument, source, problems)
          : [fromCompact(data, source, problems)];
  }
  if (problems.length) throw new SloError(SLO_ERROR_CODE.specInvalid, problems.map((line) => `${source}: ${line}`));
  return slos.map(deepFreeze);
}

/** One document that holds exactly one SLO (parseSloSpecs for any number). */
export function parseSloSpec(document: unknown, source: string): SloDefinition {
  const slos = parseSloSpecs(document, source);
  if (slos.length !== 1) throw new SloError(SLO_ERROR_CODE.specInvalid, `${source}: holds ${slos.length} SLOs where one was expected`);
  return slos[0] as SloDefinition;
}

/** Every SLO in a YAML text (one or more documents separated by ---). */
export function parseSloDocuments(text: string, source: string): SloDefinition[] {
  const documents = parseAllDocuments(text, { uniqueKeys: true, prettyErrors: true });
  const list = Array.isArray(documents) ? documents : [documents];
  const problems: string[] = [];
  const slos: SloDefinition[] = [];
  list.forEach((doc, i) => {
    const where = list.length > 1 ? `${source}[${i}]` : source;
    if (doc.errors.length) {
      for (const error of doc.errors) problems.push(`${where}: malformed YAML at line ${error.linePos?.[0]?.line ?? '?'}: ${error.message.split('\n')[0]}`);
      return;
    }
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) return;
    try {
      slos.push(...parseSloSpecs(value, where));
    } catch (error) {
      if (error instanceof SloError) problems.push(...error.problems);
      else throw error;
    }
  });
  if (problems.length) throw new SloError(SLO_ERROR_CODE.specInvalid, problems);
  if (slos.length === 0) throw new SloError(SLO_ERROR_CODE.specInvalid, `${source}: holds no SLO`);
  return slos;
}

/** Checks across SLOs: ids must be unique, since sloth_id keys every series and alert. */
export function crossCheckSlos(slos: readonly SloDefinition[]): string[] {
  const seen = new Map<string, string>();
  const problems: string[] = [];
  for (const slo of slos) {
    const first = seen.get(slo.id);
    if (first !== undefined) problems.push(`${slo.source}: SLO id '${slo.id}' is also defined in ${first}`);
    else seen.set(slo.id, slo.source);
  }
  return problems;
}

/** Every SLO of every *.yaml / *.yml file in a folder (slo/specs by default), sorted by id. */
export async function loadSloSpecs(dir: string = SPECS_DIR): Promise<SloDefinition[]> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch {
    throw new SloError(SLO_ERROR_CODE.specNotFound, `no SLO spec folder at ${dir}`);
  }
  const files = entries.filter((entry) => /\.ya?ml$/.test(entry)).sort();
  if (files.length === 0) throw new SloError(SLO_ERROR_CODE.specNotFound, `no *.yaml SLO specs in ${dir}`);
  const problems: string[] = [];
  const slos: SloDefinition[] = [];
  for (const file of files) {
    const path = join(dir, file);
    try {
      slos.push(...parseSloDocuments(await readFile(path, 'utf8'), path));
    } catch (error) {
      if (error instanceof SloError) problems.push(...error.problems);
      else throw error;
    }
  }
  problems.push(...crossCheckSlos(slos));
  if (problems.length) throw new SloError(SLO_ERROR_CODE.specInvalid, problems);
  return slos.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** One SLO file (the workshop checker reads learners' answers with it). */
export async function loadSloFile(path: string): Promise<SloDefinition[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new SloError(SLO_ERROR_CODE.specNotFound, `cannot read ${path}`);
  }
  return parseSloDocuments(text, path);
}
