// Sloth's spellings, read as Sloth reads them, so a team that already keeps
// Sloth specs can point the generator at them unchanged:
//
// - `version: prometheus/v1` (Sloth's pkg/prometheus/api/v1): one service,
//   labels for every rule, and a list of SLOs, each with an objective in
//   percent, an SLI (`events` with error_query / total_query, or `raw` with
//   error_ratio_query) and `alerting`: the alerts' name, labels and
//   annotations, and page_alert / ticket_alert with labels and annotations of
//   their own, or `disable: true`. Sloth has no period in the file (its
//   --default-slo-period is 30 days), so these SLOs are measured over 30 days
//   with the workbook's tiers (14.4x over 1h/5m and 6x over 6h/30m page;
//   3x over 1d/2h and 1x over 3d/6h ticket). SLI plugins are Go code that runs
//   inside Sloth: a spec naming one is refused with a message saying so.
// - `apiVersion: openslo/v1alpha` (Sloth's internal/openslo): one SLO per
//   objective, id <service>-<name>-<index> and name <name>-<index> as Sloth
//   names them, ratioMetrics good / total (source prometheus or sloth,
//   queryType promql), Occurrences budgeting, one time window. Sloth writes no
//   alerts for these; the generator gives them its default tiers.
//
// The labels of the series and alerts are Sloth's (sloth_id = service-name),
// so dashboards and Alertmanager routes built on Sloth's output keep working.

import { z } from 'zod';
import { formatDuration } from '../demo-services/kit/durations.ts';
import { tidy } from './burn-rate.ts';
import { hasWindowPlaceholder, PromqlReadError, readQuery, WINDOW_PLACEHOLDER } from './promql.ts';
import { alertName, annotations, dnsName, keyedRecord, labelNameProblem, query } from './spec-fields.ts';
import { applySeverities, checkTiers, normaliseQuery, objectiveTidy, pascal, type SliDefinition, type SloDefinition, workbookTiers } from './spec.ts';

/** Sloth's default --default-slo-period: its spec files carry no period. */
export const SLOTH_PERIOD_MS = 30 * 86_400_000;

/** Sloth takes any string for service and SLO names; the generator names files after them, so a filename-safe subset. */
const slothName = z
  .string()
  .max(128)
  .regex(/^[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?$/, 'must be letters, digits, dots, dashes and underscores, starting and ending with a letter or digit');

/** Sloth reads labels into map[string]string, so `tier: 2` is the string '2'. */
const labelValue = z.union([z.string(), z.number(), z.boolean()]).transform(String);
const slothLabels = keyedRecord(labelValue, labelNameProblem);

const slothAlert = z.strictObject({
  disable: z.boolean().default(false),
  labels: slothLabels.default({}),
  annotations: annotations.default({}),
});

const slothSli = z
  .strictObject({
    events: z.strictObject({ error_query: query, total_query: query }).optional(),
    raw: z.strictObject({ error_ratio_query: query }).optional(),
    plugin: z.strictObject({ id: z.string().min(1), options: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional() }).optional(),
  })
  .superRefine((value, ctx) => {
    const given = Object.entries(value).filter(([, v]) => v !== undefined);
    if (given.length !== 1) {
      ctx.addIssue({ code: 'custom', message: `give exactly one of events, raw, plugin${given.length ? ` (got ${given.map(([k]) => k).join(', ')})` : ''}` });
    }
    if (value.plugin !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['plugin'],
        message: `Sloth SLI plugins are Go code that runs inside Sloth; plugin '${value.plugin.id}' cannot run here: write its queries as sli.events (error_query, total_query) or sli.raw (error_ratio_query)`,
      });
    }
  });

const slothSlo = z.strictObject({
  name: slothName,
  description: z.string().optional(),
  /** Percent, as Sloth writes it (99.9). */
  objective: z
    .number()
    .gt(0, { error: 'must be above 0 (a percentage, e.g. 99.9)' })
    .lt(100, { error: 'must be below 100 (a percentage, e.g. 99.9; 100 leaves no error budget)' }),
  labels: slothLabels.default({}),
  sli: slothSli,
  alerting: z
    .strictObject({
      name: alertName.optional(),
      labels: slothLabels.default({}),
      annotations: annotations.default({}),
      page_alert: slothAlert.default({ disable: false, labels: {}, annotations: {} }),
      ticket_alert: slothAlert.default({ disable: false, labels: {}, annotations: {} }),
    })
    .default({ labels: {}, annotations: {}, page_alert: { disable: false, labels: {}, annotations: {} }, ticket_alert: { disable: false, labels: {}, annotations: {} } }),
});

export const slothSchema = z.strictObject({
  version: z.literal('prometheus/v1', { error: "version must be 'prometheus/v1' (Sloth's spec); other spellings say apiVersion" }),
  service: slothName,
  labels: slothLabels.default({}),
  slos: z.array(slothSlo).min(1, 'give at least one SLO'),
});

export type SlothDocument = z.infer<typeof slothSchema>;

/** A raw error-ratio query: it must read series and take the window; it is used as it is. */
function rawQuery(text: string, path: string, problems: string[]): string {
  try {
    if (readQuery(text).selectors.length === 0) problems.push(`${path}: selects no series`);
  } catch (error) {
    problems.push(`${path}: ${error instanceof PromqlReadError ? error.message : String(error)}`);
    return text;
  }
  if (!hasWindowPlaceholder(text)) problems.push(`${path}: write the range as [${WINDOW_PLACEHOLDER}], as Sloth requires`);
  return text.trim();
}

function slothSliOf(sli: SlothDocument['slos'][number]['sli'], path: string, problems: string[]): SliDefinition {
  if (sli.raw !== undefined) {
    const ratio = rawQuery(sli.raw.error_ratio_query, `${path}.raw.error_ratio_query`, problems);
    return { kind: 'raw', form: 'ratio', events: ratio, total: `count(${ratio})` };
  }
  const events = sli.events as NonNullable<typeof sli.events>;
  return {
    kind: 'ratio',
    form: 'bad',
    events: normaliseQuery(events.error_query, `${path}.events.error_query`, problems),
    total: normaliseQuery(events.total_query, `${path}.events.total_query`, problems),
  };
}

/** The SLOs of a Sloth prometheus/v1 file. */
export function fromSloth(doc: SlothDocument, source: string, problems: string[]): SloDefinition[] {
  return doc.slos.map((slo, i) => {
    const path = `slos.${i}`;
    const objective = objectiveTidy(slo.objective / 100);
    const { page_alert: page, ticket_alert: ticket } = slo.alerting;
    if (slo.alerting.name === undefined && !(page.disable && ticket.disable)) {
      problems.push(`${path}.alerting.name: required (Sloth names the page and ticket alerts after it) unless page_alert and ticket_alert both say disable: true`);
    }
    const tiers = workbookTiers(SLOTH_PERIOD_MS);
    checkTiers(tiers, SLOTH_PERIOD_MS, () => `${path}.alerting`, problems);
    return {
      id: `${doc.service}-${slo.name}`,
      service: doc.service,
      name: slo.name,
      displayName: `${doc.service} ${slo.name}`,
      description: slo.description ?? `${tidy(slo.objective)}% of ${doc.service} ${slo.name} events are good over 30d.`,
      objective,
      errorBudget: tidy(1 - objective),
      periodMs: SLOTH_PERIOD_MS,
      sli: slothSliOf(slo.sli, `${path}.sli`, problems),
      labels: { ...doc.labels, ...slo.labels },
      alerting: {
        name: slo.alerting.name ?? `${pascal(doc.service)}${pascal(slo.name)}BudgetBurn`,
        labels: slo.alerting.labels,
        annotations: slo.alerting.annotations,
        tiers: applySeverities(tiers, { page, ticket }),
      },
      format: 'prometheus/v1',
      source,
    };
  });
}

// ---------------------------------------------------------------------------
// OpenSLO v1alpha, as Sloth reads it

const v1alphaSource = z.strictObject({
  source: z.enum(['prometheus', 'sloth'], { error: "must be 'prometheus' or 'sloth' (the sources Sloth reads)" }),
  queryType: z.literal('promql', { error: "must be 'promql'" }),
  query,
});

/** OpenSLO v1alpha time units of a fixed length; Month and Quarter depend on the calendar. */
const V1ALPHA_UNITS: Readonly<Record<string, number>> = { Second: 1_000, Minute: 60_000, Hour: 3_600_000, Day: 86_400_000, Week: 7 * 86_400_000 };

export const openSloV1alphaSchema = z.strictObject({
  apiVersion: z.literal('openslo/v1alpha'),
  kind: z.literal('SLO'),
  metadata: z.strictObject({ name: dnsName, displayName: z.string().min(1).optional() }),
  spec: z.strictObject({
    description: z.string().optional(),
    service: dnsName,
    budgetingMethod: z.literal('Occurrences', { error: 'only Occurrences budgeting is supported (good events over total events)' }),
    timeWindows: z
      .array(
        z.strictObject({
          count: z.number().int().positive(),
          unit: z.enum(['Second', 'Minute', 'Hour', 'Day', 'Week', 'Month', 'Quarter', 'Year']),
          isRolling: z.literal(true, { error: 'only rolling windows are supported' }).optional(),
          calendar: z.unknown().optional(),
        }),
      )
      .length(1, 'give exactly one time window'),
    indicator: z.unknown().optional(),
    objectives: z
      .array(
        z.strictObject({
          displayName: z.string().optional(),
          value: z.number().optional(),
          op: z.string().optional(),
          target: z.number().gt(0).lt(1, { error: 'must be below 1 (1 leaves no error budget)' }),
          timeSliceTarget: z.number().optional(),
          ratioMetrics: z.strictObject({ good: v1alphaSource, total: v1alphaSource, counter: z.boolean().optional(), incremental: z.boolean().optional() }),
        }),
      )
      .min(1, 'give at least one objective'),
  }),
});

export type OpenSloV1alphaDocument = z.infer<typeof openSloV1alphaSchema>;

/** The SLOs of an OpenSLO v1alpha document: one per objective, named as Sloth names them. */
export function fromOpenSloV1alpha(doc: OpenSloV1alphaDocument, source: string, problems: string[]): SloDefinition[] {
  const spec = doc.spec;
  const window = spec.timeWindows[0] as OpenSloV1alphaDocument['spec']['timeWindows'][number];
  const size = V1ALPHA_UNITS[window.unit];
  if (size === undefined) problems.push(`spec.timeWindows.0.unit: a ${window.unit} has no fixed length; write the window in days (count: 30, unit: Day)`);
  if (window.calendar !== undefined) problems.push('spec.timeWindows.0.calendar: only rolling windows are supported');
  if (spec.indicator !== undefined) problems.push('spec.indicator: not read (Sloth reads the ratioMetrics of each objective); drop it');
  // With a unit it cannot read, a 30-day stand-in keeps the other checks from repeating the problem.
  const periodMs = size === undefined ? SLOTH_PERIOD_MS : window.count * size;
  if (size !== undefined && periodMs < 60_000) problems.push(`spec.timeWindows.0: ${formatDuration(periodMs)} is shorter than 1m`);
  return spec.objectives.map((objective, i) => {
    const path = `spec.objectives.${i}`;
    if (objective.timeSliceTarget !== undefined) problems.push(`${path}.timeSliceTarget: only Occurrences budgeting is supported`);
    const tiers = workbookTiers(periodMs);
    checkTiers(tiers, periodMs, () => `spec.timeWindows.0`, problems);
    const name = `${doc.metadata.name}-${i}`;
    const target = objectiveTidy(objective.target);
    return {
      id: `${spec.service}-${name}`,
      service: spec.service,
      name,
      displayName: objective.displayName ?? doc.metadata.displayName ?? `${spec.service} ${name}`,
      description: spec.description ?? `${tidy(target * 100)}% of ${spec.service} ${doc.metadata.name} events are good.`,
      objective: target,
      errorBudget: tidy(1 - target),
      periodMs,
      sli: {
        kind: 'ratio',
        form: 'good',
        events: normaliseQuery(objective.ratioMetrics.good.query, `${path}.ratioMetrics.good.query`, problems),
        total: normaliseQuery(objective.ratioMetrics.total.query, `${path}.ratioMetrics.total.query`, problems),
      },
      labels: {},
      alerting: { name: `${pascal(spec.service)}${pascal(name)}BudgetBurn`, labels: {}, annotations: {}, tiers },
      format: 'openslo/v1alpha',
      source,
    };
  });
}
