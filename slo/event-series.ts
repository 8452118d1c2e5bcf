// Which concrete series one good event and one bad event increment, worked
// out from an SLO's queries, so that promtool fixtures can be generated for
// any spec (compact or OpenSLO) instead of hand-written per SLO. For each kind
// of event it finds, per metric, a label set that every selector that must
// count the event matches exactly once and that no selector that must not
// count it matches: e.g. for `bad: x_count{job="a",code=~"5.."}` over
// `total: x_count{job="a"}` a bad event is x_count{job="a",code="500"} and a
// good one x_count{job="a",code="200"}; for a latency SLI a fast request
// increments both the le="0.25" bucket and the count, a slow one the count
// only. Label values come from the matchers themselves (a regular expression
// gives strings it matches: '5..' gives '500', '(5..|429)' gives '500' and
// '429', '/api/(cart|checkout).*' gives '/api/cart'; randexp, seeded from the
// pattern, so the fixtures are the same on every run) and from the lab's
// conventions; the result is verified before it is returned, and promtool's
// own run of the fixtures checks the rest.

import randexpModule from 'randexp';
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

/** Strings a regex of the simple kind written in SLI queries probably matches ('5..' -> '500', '/api/.+' -> '/api/x'): readable first guesses. */
function guessesOf(pattern: string): string[] {
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

// randexp's types describe `exports.default`, but its module.exports is the class itself.
const RandExp = randexpModule as unknown as typeof randexpModule.default;

/** A small deterministic generator (mulberry32) seeded from the pattern, so a pattern always yields the same strings. */
function seededRandom(pattern: string): () => number {
  let seed = 0x9e3779b9;
  for (let i = 0; i < pattern.length; i += 1) seed = Math.imul(seed ^ pattern.charCodeAt(i), 0x85ebca6b);
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** How many strings to draw per pattern beyond the shortest: enough to reach each branch of the alternations SLI queries use. */
export const REGEX_SAMPLES = 24;

/**
 * Strings a Prometheus regular expression (fully anchored) matches: the
 * readable guesses, the shortest string (every choice at its minimum), then
 * seeded draws over letters and digits. Syntax JavaScript does not read (RE2's
 * (?i) flag group, \pL) leaves the guesses only.
 */
export function samplesOf(pattern: string): string[] {
  const out = new Set(guessesOf(pattern));
  let generator: InstanceType<typeof RandExp>;
  try {
    generator = new RandExp(`^(?:${pattern})$`);
  } catch {
    return [...out];
  }
  generator.max = 3;
  generator.defaultRange.subtract(0, 0x10ffff);
  generator.defaultRange.add(0x30, 0x39).add(0x61, 0x7a);
  generator.randInt = (a: number) => a;
  out.add(generator.gen());
  const random = seededRandom(pattern);
  generator.randInt = (a: number, b: number) => a + Math.floor(random() * (b - a + 1));
  for (let i = 0; i < REGEX_SAMPLES; i += 1) out.add(generator.gen());
  return [...out];
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

/** `a - b` split at its top-level minus (outside brackets, braces and quotes), or undefined. */
function splitDifference(query: string): [string, string] | undefined {
  let text = query.trim();
  while (text.startsWith('(') && text.endsWith(')') && splitAt(text.slice(1, -1)) !== -2) text = text.slice(1, -1).trim();
  const at = splitAt(text);
  return at < 0 ? undefined : [text.slice(0, at).trim(), text.slice(at + 1).trim()];
}

/** Index of the one top-level binary '-', -1 when there is none, -2 when the brackets do not balance. */
function splitAt(text: string): number {
  let depth = 0;
  let quote: string | undefined;
  let found = -1;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i] as string;
    if (quote !== undefined) {
      if (c === '\\') i += 1;
      else if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'" || c === '`') quote = c;
    else if ('([{'.includes(c)) depth += 1;
    else if (')]}'.includes(c)) {
      depth -= 1;
      if (depth < 0) return -2;
    } else if (c === '-' && depth === 0 && found === -1 && text.slice(0, i).trim() !== '') found = i;
  }
  return depth === 0 ? found : -2;
}

function sameSelectors(a: string, b: string): boolean {
  const key = (query: string) => JSON.stringify(readQuery(query).selectors);
  return key(a) === key(b);
}

/**
 * The SLI as the fixtures count it. Sloth's latency SLIs write the bad events
 * as total minus good (`count - bucket{le="0.25"}`): that is read as the good
 * events `bucket{le="0.25"}` over the total, which is the same ratio.
 */
function countedSli(slo: SloDefinition): { form: 'good' | 'bad'; events: string } {
  const form = slo.sli.form as 'good' | 'bad';
  if (form !== 'bad') return { form, events: slo.sli.events };
  const parts = splitDifference(slo.sli.events);
  if (parts !== undefined && sameSelectors(parts[0], slo.sli.total)) return { form: 'good', events: parts[1] };
  return { form, events: slo.sli.events };
}

/** The series a good and a bad event increment for this SLO's SLI. Throws SloError (FL_SLO_FIXTURE) when it cannot tell. */
export function eventSeries(slo: SloDefinition): EventSeries {
  if (slo.sli.form === 'ratio') {
    throw new SloError(SLO_ERROR_CODE.fixture, `${slo.id}: a raw error-ratio SLI (Sloth's sli.raw) counts no events, so no input series can be worked out for it; write it as sli.events to get promtool tests`);
  }
  const counted = countedSli(slo);
  const events = readQuery(counted.events).selectors;
  const total = readQuery(slo.sli.total).selectors;
  const goodMust = counted.form === 'good' ? [...events, ...total] : total;
  const goodMustNot = counted.form === 'good' ? [] : events;
  const badMust = counted.form === 'bad' ? [...events, ...total] : total;
  const badMustNot = counted.form === 'bad' ? [] : events;
  const good = eventOf(goodMust, goodMustNot, 'good', slo);
  const bad = eventOf(badMust, badMustNot, 'bad', slo);
  verify(slo, good, goodMust, goodMustNot, 'good');
  verify(slo, bad, badMust, badMustNot, 'bad');
  return { good, bad };
}
