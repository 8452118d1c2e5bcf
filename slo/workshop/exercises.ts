// The checking logic of the SLI/SLO workshop (docs/workshop/). Each exercise
// takes the learner's answer file and says, item by item, what is right and
// what is not, with a hint instead of the answer. Nothing here knows the
// answers: exercise 1 feeds sample requests through the learner's own queries,
// 2 to 4 recompute the numbers from the data and the shipped SLO specs, and 5
// runs the learner's alert tiers over three incidents with the same alert
// simulator the promtool fixtures are proven against.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { LABEL, LATENCY_BUCKETS, METRIC } from '../../demo-services/kit/conventions.ts';
import { formatIssues, ratio } from '../../demo-services/kit/schema.ts';
import { simulateAlerts, type CountSample } from '../alert-simulator.ts';
import { burnFactor, canFire, WORKBOOK_TIERS } from '../burn-rate.ts';
import { SLO_ERROR_CODE, SloError } from '../errors.ts';
import { formatPromDuration } from '../prom-duration.ts';
import { readQuery, selectorMatches, type Selector, type Series } from '../promql.ts';
import { sloReport } from '../report.ts';
import { loadSloSpecs, parseSloDocuments, SLO_ROOT, type SloDefinition } from '../spec.ts';

export const WORKSHOP_DATA = join(SLO_ROOT, 'workshop', 'data');
/** The lab time scale the workshop's live exercise assumes (a 30-day SLO lived in 7h12m). */
export const WORKSHOP_TIME_SCALE = 100;

export interface CheckItem {
  ok: boolean;
  /** What was checked, and on failure a hint (never the answer). */
  message: string;
}

export interface CheckResult {
  exercise: string;
  ok: boolean;
  items: CheckItem[];
}

function result(exercise: string, items: CheckItem[]): CheckResult {
  return { exercise, ok: items.length > 0 && items.every((i) => i.ok), items };
}

function parseAnswer<T extends z.ZodType>(schema: T, text: string, source: string): z.infer<T> {
  let value: unknown;
  try {
    value = parseYaml(text, { uniqueKeys: true });
  } catch (error) {
    throw new SloError(SLO_ERROR_CODE.badInput, `${source}: malformed YAML: ${(error as Error).message.split('\n')[0]}`);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new SloError(SLO_ERROR_CODE.badInput, formatIssues(parsed.error).map((line) => `${source}: ${line}`));
  return parsed.data;
}

function oneSlo(text: string, source: string): SloDefinition {
  const slos = parseSloDocuments(text, source);
  if (slos.length !== 1) throw new SloError(SLO_ERROR_CODE.badInput, `${source}: give exactly one SLO (found ${slos.length})`);
  return slos[0] as SloDefinition;
}

function close(actual: number, expected: number, relative: number): boolean {
  return Math.abs(actual - expected) <= relative * Math.abs(expected) + 1e-12;
}

function pct(value: number): string {
  return `${Number((value * 100).toPrecision(4))}%`;
}

// ---------------------------------------------------------------------------
// Exercise 1: choose an SLI

interface Probe {
  request: { job: string; route: string; method: string; status: string; seconds: number };
  /** What the SLI must do with it. */
  expect: 'good' | 'bad' | 'not-counted' | 'not-bad';
  hint: string;
}

const PROBES: readonly Probe[] = [
  { request: { job: 'gateway', route: '/api/checkout', method: 'POST', status: '201', seconds: 0.02 }, expect: 'good', hint: 'a checkout the gateway answered 201 must count as good' },
  { request: { job: 'gateway', route: '/api/checkout', method: 'POST', status: '503', seconds: 0.02 }, expect: 'bad', hint: 'a 503 from the gateway is an error the user saw' },
  { request: { job: 'gateway', route: '/api/checkout', method: 'POST', status: '500', seconds: 0.01 }, expect: 'bad', hint: 'every 5xx is a server error, not only 503' },
  { request: { job: 'gateway', route: '/api/checkout', method: 'POST', status: '504', seconds: 5 }, expect: 'bad', hint: 'a gateway timeout (504) is an error the user saw' },
  { request: { job: 'gateway', route: '/api/checkout', method: 'POST', status: '400', seconds: 0.01 }, expect: 'not-bad', hint: "a 400 is the client's mistake; it must not burn the service's budget" },
  { request: { job: 'gateway', route: '/healthz', method: 'GET', status: '200', seconds: 0.001 }, expect: 'not-counted', hint: 'health checks are not users: thousands of fast 200s would hide real errors' },
  { request: { job: 'gateway', route: '/readyz', method: 'GET', status: '503', seconds: 0.001 }, expect: 'not-counted', hint: 'a readiness probe answering 503 during a deploy is not a user error' },
  { request: { job: 'checkout', route: '/checkout', method: 'POST', status: '503', seconds: 0.02 }, expect: 'not-counted', hint: "that is the checkout service's own metric; the exercise asks for what users see at the gateway" },
  { request: { job: 'gateway', route: '/api/products', method: 'GET', status: '503', seconds: 0.02 }, expect: 'not-counted', hint: 'a catalog request is not a checkout: count only POST /api/checkout' },
];

/** The series one request increments in the server histogram: count, sum and every bucket at or above its duration. */
export function seriesOfRequest(request: Probe['request']): Series[] {
  // As kit/metrics.ts labels a request: error_type only on a server error.
  const labels = {
    job: request.job,
    [LABEL.route]: request.route,
    [LABEL.method]: request.method,
    [LABEL.urlScheme]: 'http',
    [LABEL.status]: request.status,
    ...(Number(request.status) >= 500 ? { [LABEL.errorType]: request.status } : {}),
  };
  const base = METRIC.httpServerDuration;
  return [
    { name: `${base}_count`, labels },
    { name: `${base}_sum`, labels },
    ...[...LATENCY_BUCKETS.filter((edge) => edge >= request.seconds).map(String), '+Inf'].map((le) => ({ name: `${base}_bucket`, labels: { ...labels, le } })),
  ];
}

function timesCounted(selectors: readonly Selector[], series: readonly Series[]): number {
  return selectors.reduce((sum, selector) => sum + series.filter((s) => selectorMatches(selector, s)).length, 0);
}

export function checkExercise1(text: string, source: string): CheckResult {
  const slo = oneSlo(text, source);
  const events = readQuery(slo.sli.events).selectors;
  const total = readQuery(slo.sli.total).selectors;
  const items: CheckItem[] = PROBES.map((probe) => {
    const series = seriesOfRequest(probe.request);
    const inTotal = timesCounted(total, series);
    const inEvents = timesCounted(events, series);
    const what = `${probe.request.method} ${probe.request.route} -> ${probe.request.status} (job ${probe.request.job})`;
    if (inTotal > 1 || inEvents > 1) {
      return { ok: false, message: `${what}: counted ${Math.max(inTotal, inEvents)} times for one request (a _bucket series without le="+Inf", or two selectors that overlap?)` };
    }
    if (inEvents > inTotal) return { ok: false, message: `${what}: counted as ${slo.sli.form} but not in the total` };
    const verdict = inTotal === 0 ? 'not-counted' : (slo.sli.form === 'bad') === (inEvents === 1) ? 'bad' : 'good';
    const ok = probe.expect === 'not-bad' ? verdict !== 'bad' : verdict === probe.expect;
    return { ok, message: ok ? `${what}: ${verdict}` : `${what}: your SLI says ${verdict}; ${probe.hint}` };
  });
  return result('exercise-1', items);
}

// ---------------------------------------------------------------------------
// Exercise 2: set an objective

export const OBJECTIVE_LADDER = [0.99, 0.995, 0.998, 0.999, 0.9995, 0.9999] as const;
/** The rule of the exercise: the last 28 days may have spent at most this share of the budget. */
export const MAX_PAST_CONSUMPTION = 0.75;

const historySchema = z.strictObject({
  note: z.string(),
  service: z.string(),
  days: z.array(z.strictObject({ day: z.int(), total: z.int().min(0), failed: z.int().min(0) })).length(28),
});

export async function loadHistory(path = join(WORKSHOP_DATA, 'checkout-28-days.json')): Promise<z.infer<typeof historySchema>> {
  return historySchema.parse(JSON.parse(await readFile(path, 'utf8')));
}

export function checkExercise2(text: string, source: string, history: z.infer<typeof historySchema>): CheckResult {
  const answer = parseAnswer(z.strictObject({ objective: ratio }), text, source);
  const total = history.days.reduce((s, d) => s + d.total, 0);
  const failed = history.days.reduce((s, d) => s + d.failed, 0);
  const errorRatio = failed / total;
  const consumed = (objective: number) => errorRatio / (1 - objective);
  const allowed = OBJECTIVE_LADDER.filter((o) => consumed(o) <= MAX_PAST_CONSUMPTION);
  const best = allowed.at(-1);
  const onLadder = OBJECTIVE_LADDER.some((o) => Math.abs(o - answer.objective) < 1e-9);
  const items: CheckItem[] = [];
  items.push({ ok: onLadder, message: onLadder ? `${pct(answer.objective)} is on the ladder` : `${pct(answer.objective)} is not one of ${OBJECTIVE_LADDER.map(pct).join(', ')}` });
  if (onLadder) {
    const spent = consumed(answer.objective);
    items.push({
      ok: spent <= MAX_PAST_CONSUMPTION,
      message:
        spent <= MAX_PAST_CONSUMPTION
          ? `at ${pct(answer.objective)} the last 28 days spent ${pct(spent)} of the budget, leaving room for a bad day`
          : `at ${pct(answer.objective)} the last 28 days would have spent ${pct(spent)} of the budget: a promise the service does not keep today`,
    });
    if (spent <= MAX_PAST_CONSUMPTION && best !== undefined) {
      const tightest = Math.abs(answer.objective - best) < 1e-9;
      items.push({ ok: tightest, message: tightest ? 'no tighter objective on the ladder passes the rule' : 'a tighter objective on the ladder would also pass the rule: users get more from a promise you can keep' });
    }
  }
  return result('exercise-2', items);
}

// ---------------------------------------------------------------------------
// Exercise 3: compute the budget

export const EXERCISE3 = { sloId: 'catalog-availability', requestsPerSecond: 50, incidentErrorRatio: 0.02 } as const;

const exercise3Schema = z.strictObject({
  errorBudget: ratio,
  allowedFailures: z.number().min(0),
  fullOutageMinutes: z.number().min(0),
  incidentBurnRate: z.number().min(0),
  incidentExhaustionHours: z.number().min(0),
  fastPageBurnFactor: z.number().min(0),
  fastPageDetectionSeconds: z.number().min(0),
});

export function checkExercise3(text: string, source: string, slo: SloDefinition): CheckResult {
  const answer = parseAnswer(exercise3Schema, text, source);
  const fast = WORKBOOK_TIERS[0] as (typeof WORKBOOK_TIERS)[number];
  const b = slo.errorBudget;
  const periodSeconds = slo.periodMs / 1000;
  const factor = burnFactor(fast.budgetConsumed, slo.periodMs, fast.longMs);
  const burn = EXERCISE3.incidentErrorRatio / b;
  const expected: Record<keyof z.infer<typeof exercise3Schema>, [number, string]> = {
    errorBudget: [b, 'one minus the objective'],
    allowedFailures: [b * EXERCISE3.requestsPerSecond * periodSeconds, 'the budget times every request of the period (requests per second x seconds in the window)'],
    fullOutageMinutes: [(b * periodSeconds) / 60, 'if every request fails, the budget lasts budget x window'],
    incidentBurnRate: [burn, 'the burn rate is the error ratio divided by the budget'],
    incidentExhaustionHours: [periodSeconds / burn / 3600, 'at burn rate r the whole budget lasts window / r'],
    fastPageBurnFactor: [factor, `the fast page fires when ${pct(fast.budgetConsumed)} of the budget goes in 1h: share x window / 1h (the window is not 30 days here)`],
    fastPageDetectionSeconds: [factor * b * 3600, 'with every request failing, the 1h error ratio grows by 1/3600 a second; it must pass factor x budget'],
  };
  const items = (Object.keys(expected) as Array<keyof typeof expected>).map((key) => {
    const [value, hint] = expected[key];
    const ok = close(answer[key], value, 0.005);
    return { ok, message: ok ? `${key}: ${answer[key]}` : `${key}: ${answer[key]} is off (${hint})` };
  });
  return result('exercise-3', items);
}

// ---------------------------------------------------------------------------
// Exercise 4: watch it burn

const runSchema = z.object({
  id: z.string(),
  startedAt: z.string(),
  timeSeries: z.array(z.object({ t: z.number(), ok: z.number().min(0), failed: z.number().min(0) })).min(1),
});
export type RunRecord = z.infer<typeof runSchema>;

export async function loadRun(path: string): Promise<RunRecord> {
  const file = /\.json$/.test(path) ? path : join(path, 'summary.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new SloError(SLO_ERROR_CODE.badInput, `cannot read ${file} (give --run runs/<id> of a finished run)`);
  }
  const parsed = runSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new SloError(SLO_ERROR_CODE.badInput, formatIssues(parsed.error).map((line) => `${file}: ${line}`));
  return parsed.data;
}

/** A run's per-second client counts as samples stamped at the end of each second. */
export function runSamples(run: RunRecord): CountSample[] {
  return run.timeSeries.map((p) => ({ t: (p.t + 1) * 1000, good: p.ok, total: p.ok + p.failed }));
}

const exercise4Schema = z.strictObject({
  requests: z.int().min(0),
  failed: z.int().min(0),
  sli: z.number().min(0).max(1),
  burnRate: z.number().min(0),
  budgetConsumed: z.number().min(0),
  pagedAfterSeconds: z.number().min(0).nullable(),
});

export function checkExercise4(text: string, source: string, slo: SloDefinition, run: RunRecord): CheckResult {
  const answer = parseAnswer(exercise4Schema, text, source);
  const samples = runSamples(run);
  const report = sloReport(slo, samples, { timeScale: WORKSHOP_TIME_SCALE, stepMs: 1000 });
  const start = (run.timeSeries[0] as { t: number }).t * 1000;
  const page = report.alerts.find((a) => a.tier === 'page-1h');
  const pagedAfter = page === undefined ? null : (page.from - start) / 1000;
  const items: CheckItem[] = [
    { ok: answer.requests === report.events.total, message: answer.requests === report.events.total ? `requests: ${answer.requests}` : 'requests: add ok and failed over every second of the time series' },
    { ok: answer.failed === report.events.bad, message: answer.failed === report.events.bad ? `failed: ${answer.failed}` : 'failed: add the failed column over every second' },
    {
      ok: report.sli !== null && close(answer.sli, report.sli, 0.002),
      message: report.sli !== null && close(answer.sli, report.sli, 0.002) ? `sli: ${answer.sli}` : 'sli: good requests over all requests',
    },
    {
      ok: report.burnRate !== null && close(answer.burnRate, report.burnRate, 0.01),
      message: report.burnRate !== null && close(answer.burnRate, report.burnRate, 0.01) ? `burnRate: ${answer.burnRate}` : `burnRate: the run's error ratio divided by the budget of a ${pct(slo.objective)} objective`,
    },
    {
      ok: close(answer.budgetConsumed, report.budgetConsumed, 0.02),
      message: close(answer.budgetConsumed, report.budgetConsumed, 0.02)
        ? `budgetConsumed: ${answer.budgetConsumed} (${pct(answer.budgetConsumed)} of a month's budget in ${report.window.durationMs / 1000} s)`
        : `budgetConsumed: burn rate x run length / period; at time scale ${WORKSHOP_TIME_SCALE} the ${formatPromDuration(slo.periodMs)} period lasts ${formatPromDuration(slo.periodMs / WORKSHOP_TIME_SCALE)}`,
    },
    {
      ok: pagedAfter === null ? answer.pagedAfterSeconds === null : answer.pagedAfterSeconds !== null && Math.abs(answer.pagedAfterSeconds - pagedAfter) <= 1,
      message:
        (pagedAfter === null ? answer.pagedAfterSeconds === null : answer.pagedAfterSeconds !== null && Math.abs(answer.pagedAfterSeconds - pagedAfter) <= 1)
          ? `pagedAfterSeconds: ${answer.pagedAfterSeconds}`
          : `pagedAfterSeconds: the fast page needs both its windows (1h and 5m, i.e. ${formatPromDuration(3_600_000 / WORKSHOP_TIME_SCALE)} and ${formatPromDuration(300_000 / WORKSHOP_TIME_SCALE)} here) above 14.4 x the budget; count seconds from the first point of the time series (null if it never pages)`,
    },
  ];
  return result('exercise-4', items);
}

// ---------------------------------------------------------------------------
// Exercise 5: tune an alert

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

export interface Incident {
  name: string;
  /** Per-minute samples. */
  samples: CountSample[];
  /** When the incident starts, ms. */
  startsAt: number;
}

function minutesOf(segments: Array<[minutes: number, good: number, total: number]>): CountSample[] {
  const samples: CountSample[] = [];
  let minute = 0;
  for (const [count, good, total] of segments) {
    for (let i = 0; i < count; i += 1) {
      minute += 1;
      samples.push({ t: minute * MINUTE, good, total });
    }
  }
  return samples;
}

/** Three clean days before each incident, so that every window is full of ordinary traffic. */
const CLEAN_MINUTES = 3 * 1440;

/** The three incidents of exercise 5, for an SLO with this error budget (1000 requests a minute). */
export function exercise5Incidents(errorBudget: number): Incident[] {
  const slowBad = 2 * errorBudget * 1000;
  const startsAt = CLEAN_MINUTES * MINUTE;
  return [
    { name: 'outage (20 minutes, every request fails)', samples: minutesOf([[CLEAN_MINUTES, 1000, 1000], [20, 0, 1000], [60, 1000, 1000]]), startsAt },
    { name: 'blip (2 minutes, every request fails)', samples: minutesOf([[CLEAN_MINUTES, 1000, 1000], [2, 0, 1000], [60, 1000, 1000]]), startsAt },
    { name: 'slow burn (2 days at twice the budget rate)', samples: minutesOf([[CLEAN_MINUTES, 1000, 1000], [2 * 1440, 1000 - slowBad, 1000]]), startsAt },
  ];
}

export const EXERCISE5 = { pageWithinMs: 5 * MINUTE, ticketWithinMs: 2 * 24 * HOUR } as const;

export function checkExercise5(text: string, source: string, shipped: SloDefinition): CheckResult {
  const slo = oneSlo(text, source);
  const items: CheckItem[] = [];
  const sameSli = slo.sli.events === shipped.sli.events && slo.sli.total === shipped.sli.total;
  const samePromise = Math.abs(slo.objective - shipped.objective) < 1e-9 && slo.periodMs === shipped.periodMs;
  items.push({ ok: sameSli && samePromise, message: sameSli && samePromise ? 'same SLI and objective as the shipped checkout SLO' : 'keep the SLI, objective and window of slo/specs/checkout.yaml: tune the alerts, not the promise' });
  const dead = slo.alerting.tiers.filter((t) => !canFire(t.burnFactor, slo.errorBudget));
  items.push({ ok: dead.length === 0, message: dead.length === 0 ? 'every tier can fire' : `${dead.map((t) => t.name).join(', ')} can never fire (factor x budget >= 100%)` });
  const [outage, blip, slow] = exercise5Incidents(slo.errorBudget) as [Incident, Incident, Incident];
  const firstOf = (incident: Incident, severity: 'page' | 'ticket') => {
    const times = simulateAlerts(slo, incident.samples).intervals.filter((i) => i.severity === severity && i.from > incident.startsAt).map((i) => i.from - incident.startsAt);
    return times.length ? Math.min(...times) : null;
  };
  const outagePage = firstOf(outage, 'page');
  items.push({
    ok: outagePage !== null && outagePage <= EXERCISE5.pageWithinMs,
    message:
      outagePage === null
        ? `${outage.name}: never pages`
        : `${outage.name}: pages after ${formatPromDuration(outagePage)}${outagePage <= EXERCISE5.pageWithinMs ? '' : ` (must page within ${formatPromDuration(EXERCISE5.pageWithinMs)})`}`,
  });
  const blipPage = firstOf(blip, 'page');
  items.push({ ok: blipPage === null, message: blipPage === null ? `${blip.name}: no page` : `${blip.name}: pages after ${formatPromDuration(blipPage)} (it spent ${pct((2 * MINUTE) / (slo.errorBudget * slo.periodMs))} of the period's budget: wake nobody for that)` });
  const slowPage = firstOf(slow, 'page');
  const slowTicket = firstOf(slow, 'ticket');
  items.push({ ok: slowPage === null, message: slowPage === null ? `${slow.name}: no page` : `${slow.name}: pages after ${formatPromDuration(slowPage)}; a slow burn is a ticket, not a page` });
  items.push({
    ok: slowTicket !== null && slowTicket <= EXERCISE5.ticketWithinMs,
    message: slowTicket === null ? `${slow.name}: no ticket; at this rate the budget is gone in 15 days and nobody is told` : `${slow.name}: ticket after ${formatPromDuration(slowTicket)}`,
  });
  return result('exercise-5', items);
}

// ---------------------------------------------------------------------------

export const EXERCISES = ['exercise-1', 'exercise-2', 'exercise-3', 'exercise-4', 'exercise-5'] as const;
export type ExerciseName = (typeof EXERCISES)[number];

/** Check one answer file; `run` (a runs/<id> folder or summary.json) is for exercise 4 and defaults to the recorded run. */
export async function checkAnswer(exercise: string, answerPath: string, options: { run?: string } = {}): Promise<CheckResult> {
  if (!(EXERCISES as readonly string[]).includes(exercise)) throw new SloError(SLO_ERROR_CODE.badInput, `unknown exercise '${exercise}' (one of ${EXERCISES.join(', ')})`);
  let text: string;
  try {
    text = await readFile(answerPath, 'utf8');
  } catch {
    throw new SloError(SLO_ERROR_CODE.badInput, `cannot read the answer file ${answerPath}`);
  }
  const shipped = new Map((await loadSloSpecs()).map((slo) => [slo.id, slo]));
  const spec = (id: string) => {
    const slo = shipped.get(id);
    if (slo === undefined) throw new SloError(SLO_ERROR_CODE.specNotFound, `the workshop needs the shipped SLO '${id}' in slo/specs`);
    return slo;
  };
  switch (exercise as ExerciseName) {
    case 'exercise-1':
      return checkExercise1(text, answerPath);
    case 'exercise-2':
      return checkExercise2(text, answerPath, await loadHistory());
    case 'exercise-3':
      return checkExercise3(text, answerPath, spec(EXERCISE3.sloId));
    case 'exercise-4':
      return checkExercise4(text, answerPath, spec('checkout-availability'), await loadRun(options.run ?? join(WORKSHOP_DATA, 'payment-outage-run.json')));
    case 'exercise-5':
      return checkExercise5(text, answerPath, spec('checkout-availability'));
  }
}
