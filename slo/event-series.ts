// Which concrete series one good event and one bad event increment, worked
// out from an SLO's queries, so that promtool fixtures can be generated for
// any spec (compact or OpenSLO) instead of hand-written per SLO. For each kind
// of event it finds, per metric, a label set that every selector that must
// count the event matches exactly once and that no selector that must not
// count it matches: e.g. for `bad: x_count{job="a",code=~"5.."}` over
// `total: x_count{job="a"}` a bad event is x_count{job="a",code="500"} and a
// good one x_count{job="a",code="200"}; for a latency SLI a fast request
// increments both the le="0.25" bucket and the count, a slow one the count
// only. Label values come from the matchers themselves and from the lab's
// conventions; the result is verified before it is returned, and promtool's
// own run of the fixtures checks the rest.

import { LABEL, LATENCY_BUCKETS, OUTCOMES } from '../demo-services/kit/conventions.ts';
import { SLO_ERROR_CODE, SloError } from './errors.ts';
import { type LabelMatcher, matcherMatches, readQuery, type Selector, selectorMatches, type Series } from './promql.ts';
import type { SloDefinition } from './spec.ts';

export interface EventSeries {
  /** Series one good event increments. */
  good: Series[];
  /** Series one bad event increments. */
  bad: Series[];
}

const VALUE_POOL: Readonly<Record<string, readonly string[]>> = {
  [LABEL.status]: ['200', '201', '204', '400', '404', '429', '500', '502', '503', '504', '0'],
  [LABEL.route]: ['/api/x', '/x'],
  [LABEL.method]: ['GET', 'POST'],
  [LABEL.outcome]: OUTCOMES,
  le: [...LATENCY_BUCKETS.map(String), '+Inf'],
};
const FALLBACK_VALUES = ['x', 'y', '0', '1'];

const NEGATE: Readonly<Record<LabelMatcher['op'], LabelMatcher['op']>> = { '=': '!=', '!=': '=', '=~': '!~', '!~': '=~' };

/** Strings a regex of the simple kind written in SLI queries probably matches ('5..' -> '500', '/api/.+' -> '/api/x'). */
function samplesOf(pattern: string): string[] {
  const alternatives = pattern.includes('(') ? [pattern] : pattern.split('|');
  return alternatives.map((alternative) =>
    alternative
      .replace(/^\^|\$$/g, '')
      .replace(/\.[+*]/g, 'x')
      .replace(/\[0-9\]|\\d/g, '0')
      .replace(/\\(.)/g, '$1')
      .replace(/(?<!\\)\./g, '0'),
  );
}

function candidates(label: string, constraints: readonly LabelMatcher[]): string[] {
  const values: string[] = [];
  for (const c of constraints) {
    if (c.op === '=') values.push(c.value);
    if (c.op === '=~') values.push(...samplesOf(c.value));
  }
  values.push(...(VALUE_POOL[label] ?? []), ...FALLBACK_VALUES, '');
  return [...new Set(values)];
}

/** A label set satisfying every matcher, or undefined. An absent label reads as ''. */
function solve(matchers: readonly LabelMatcher[]): Record<string, string> | undefined {
  const byLabel = new Map<string, LabelMatcher[]>();
  for (const m of matchers) byLabel.set(m.label, [...(byLabel.get(m.label) ?? []), m]);
  const labels: Record<string, string> = {};
  for (const [label, constraints] of byLabel) {
    const value = candidates(label, constraints).find((v) => constraints.every((c) => matcherMatches(c, v)));
    if (value === undefined) return undefined;
    if (value !== '') labels[label] = value;
  }
  return labels;
}

/** One label set matching all of `must` and none of `mustNot` (trying each way to break each of mustNot). */
function solveAvoiding(must: readonly Selector[], mustNot: readonly Selector[]): Record<string, string> | undefined {
  const base = must.flatMap((s) => s.matchers);
  const search = (i: number, extra: LabelMatcher[]): Record<string, string> | undefined => {
    if (i === mustNot.length) return solve([...base, ...extra]);
    for (const m of (mustNot[i] as Selector).matchers) {
      const found = search(i + 1, [...extra, { label: m.label, op: NEGATE[m.op], value: m.value }]);
      if (found !== undefined) return found;
    }
    return undefined;
  };
  return search(0, []);
}

function seriesFor(name: string, must: readonly Selector[], mustNot: readonly Selector[]): Series[] | undefined {
  const together = solveAvoiding(must, mustNot);
  if (together !== undefined) return [{ name, labels: together }];
  // Selectors that no single series satisfies (le="0.25" and le="+Inf" buckets): one series each.
  const split: Series[] = [];
  for (const selector of must) {
    const labels = solveAvoiding([selector], [...must.filter((s) => s !== selector), ...mustNot]);
    if (labels === undefined) return undefined;
    split.push({ name, labels });
  }
  return split;
}

function namesOf(selectors: readonly Selector[], path: string): string[] {
  for (const s of selectors) {
    if (s.name === undefined) throw new SloError(SLO_ERROR_CODE.fixture, `${path}: a selector without a metric name cannot be turned into fixture series`);
  }
  return [...new Set(selectors.map((s) => s.name as string))];
}

function eventOf(must: readonly Selector[], mustNot: readonly Selector[], what: string, slo: SloDefinition): Series[] {
  const series: Series[] = [];
  for (const name of namesOf([...must, ...mustNot], slo.id)) {
    const mine = must.filter((s) => s.name === name);
    if (mine.length === 0) continue;
    const found = seriesFor(name, mine, mustNot.filter((s) => s.name === name));
    if (found === undefined) {
      throw new SloError(SLO_ERROR_CODE.fixture, `${slo.id}: cannot find label values for a ${what} event on ${name} that the SLI queries count exactly as they should`);
    }
    series.push(...found);
  }
  return series;
}

function verify(slo: SloDefinition, series: readonly Series[], countedBy: readonly Selector[], notCountedBy: readonly Selector[], what: string): void {
  for (const selector of countedBy) {
    const hits = series.filter((s) => selectorMatches(selector, s)).length;
    if (hits !== 1) throw new SloError(SLO_ERROR_CODE.fixture, `${slo.id}: a ${what} event would be counted ${hits} times by a selector of ${selector.name ?? 'the query'}`);
  }
  for (const selector of notCountedBy) {
    if (series.some((s) => selectorMatches(selector, s))) throw new SloError(SLO_ERROR_CODE.fixture, `${slo.id}: a ${what} event would be counted by a selector it must not match`);
  }
}

/** The series a good and a bad event increment for this SLO's SLI. Throws SloError (FL_SLO_FIXTURE) when it cannot tell. */
export function eventSeries(slo: SloDefinition): EventSeries {
  const events = readQuery(slo.sli.events).selectors;
  const total = readQuery(slo.sli.total).selectors;
  const goodMust = slo.sli.form === 'good' ? [...events, ...total] : total;
  const goodMustNot = slo.sli.form === 'good' ? [] : events;
  const badMust = slo.sli.form === 'bad' ? [...events, ...total] : total;
  const badMustNot = slo.sli.form === 'bad' ? [] : events;
  const good = eventOf(goodMust, goodMustNot, 'good', slo);
  const bad = eventOf(badMust, badMustNot, 'bad', slo);
  verify(slo, good, goodMust, goodMustNot, 'good');
  verify(slo, bad, badMust, badMustNot, 'bad');
  return { good, bad };
}
