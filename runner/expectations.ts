// Turns what a run measured into one verdict per expectation, each with the
// measured value beside what was expected. Pure: it reads the load recorder,
// the spans and the run's clock; it starts nothing.
//
// A failure that depends on timing (latency, error rates, when a breaker or an
// alert moved), measured in a phase the machine was too busy to measure, is
// INCONCLUSIVE, with the reason: outside pressure only slows the shop and the
// load generator, so it can explain a FAIL but never a PASS (pressure.ts).
// Failures that no amount of slowness explains (the breaker never changed
// state at all, a count of attempts, the books) stay FAIL.

import type { FlatSpan } from '../collector/trace-query.ts';
import { LOAD_LABEL, SPAN_ATTR } from '../demo-services/kit/conventions.ts';
import { formatMs } from '../demo-services/kit/units.ts';
import { dependencyPolicySchema } from '../demo-services/resilience/policy-config.ts';
import type { LoadRecorder, SummaryFilter } from '../load/recorder.ts';
import type { ClientBackoff } from '../load/retry-after.ts';
import { PROBLEM_TAG } from '../load/http-client.ts';
import { evaluateThreshold, parseThreshold, type Threshold } from '../load/thresholds.ts';
import type { BooksReport } from './books.ts';
import { circuitTransitions, openIntervals, openStateIntervals } from './circuit-history.ts';
import type { Expectation, Scenario, Window } from './scenario.ts';
import { phaseWindows } from './scenario.ts';
import { faultWindows } from './fault-timeline.ts';
import { alertMatches, type AlertInterval } from './slo-run-report.ts';
import type { PhasePressure } from './pressure.ts';
import { formatMiB, peakRss, type MemorySample } from './memory-limit.ts';

export type ExpectationStatus = 'pass' | 'fail' | 'inconclusive' | 'skip';

export interface ExpectationResult {
  name: string;
  type: Expectation['type'];
  status: ExpectationStatus;
  /** Held, or could not be judged here (skip); false for fail and inconclusive. */
  ok: boolean;
  expected: string;
  measured: string;
  /** Why it could not be judged on this machine (it then counts as held, and is shown as SKIP). */
  skipped?: string;
  /** Why a failure was not judged: the machine was too busy in the phases it was measured in. */
  inconclusive?: string;
}

/** What an evaluator returns: `definitive` marks a failure that no slowness can explain. */
type Evaluated = Omit<ExpectationResult, 'status'> & {
  definitive?: boolean;
  /** A pass that needed the allowance measured in this phase: it stands only if that phase was measured calmly. */
  passedOnAllowanceFrom?: string;
};

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
  /** Per-phase pressure (pressure.ts); without it nothing is inconclusive. */
  pressure?: readonly PhasePressure[];
  /** Resident memory of every lab process as the supervisor sampled it (memory-limit.ts); absent where it could not be read. */
  memory?: readonly MemorySample[];
  /** What the clients that honour Retry-After held back and sent (load/retry-after.ts); absent when no client is named. */
  backoff?: Pick<ClientBackoff, 'counts'>;
}

/**
 * Problem types a slow machine can cause by itself: timeouts, the protections timeouts trip (an
 * open breaker, a full bulkhead, shedding, rate limiting), and what a dependency answers when its
 * own call timed out (dependency-failed, internal). A failure of any other type (a refused
 * connection, a refusal, a conflict) is not explained by slowness.
 */
const SLOWNESS_PROBLEMS: ReadonlySet<string> = new Set([
  'dependency-timeout',
  'deadline-exceeded',
  'dependency-circuit-open',
  'bulkhead-full',
  'overloaded',
  'rate-limited',
  'dependency-failed',
  'internal',
]);

/**
 * Whether a slow machine alone can explain a failure of this kind (errorKind): a client timeout,
 * or an answer whose problem type is one of SLOWNESS_PROBLEMS. A refused connection or a problem
 * type outside them is a fact about the shop; a reset or an untyped status could be either.
 */
function slownessCanCause(kind: string): boolean {
  if (kind === 'refused') return false;
  const problem = /^HTTP \d+ (\S+)$/.exec(kind)?.[1];
  return problem === undefined || ['status', 'timeout', 'reset', 'other'].includes(problem) || SLOWNESS_PROBLEMS.has(problem);
}

/** Expectation types whose failure can come from a slow machine rather than the shop. */
// `answers` too: a count, but of arrivals, and a machine that stalls a caller for a second bunches
// what it sends like a herd (the bank's rate limit cannot tell them apart).
const TIMING_SENSITIVE: ReadonlySet<Expectation['type']> = new Set(['threshold', 'circuit', 'alert', 'no-alert', 'failed-spans', 'answers']);

/** The verdict of a run: any failure fails it; otherwise any inconclusive makes it inconclusive. */
export function runVerdict(results: readonly ExpectationResult[]): 'pass' | 'fail' | 'inconclusive' {
  if (results.some((r) => r.status === 'fail')) return 'fail';
  return results.some((r) => r.status === 'inconclusive') ? 'inconclusive' : 'pass';
}

const SPAN_KIND_SERVER = 2;
const SPAN_KIND_CLIENT = 3;

export function evaluateExpectations(run: RunMeasurements): ExpectationResult[] {
  return run.scenario.expectations.map((expectation) => judge(expectation, evaluate(expectation, run), run));
}

/** Pass, fail, skip, or inconclusive when a timing-sensitive failure was measured under too much pressure. */
function judge(expectation: Expectation, result: Evaluated, run: RunMeasurements): ExpectationResult {
  const { definitive, passedOnAllowanceFrom, ...rest } = result;
  if (rest.skipped) return { ...rest, status: 'skip' };
  if (rest.ok && passedOnAllowanceFrom !== undefined && run.pressure) {
    // The allowance grows with the pressure it was measured under, and so does what it excuses when
    // that was measured under pressure too (a busy neighbour slows the whole run). Only a reference
    // phase over the limits excusing a window within them can pass what a calm machine would fail.
    const reasons = run.pressure.find((p) => p.phase === passedOnAllowanceFrom)?.overLimits ?? [];
    const window = new Set(expectationPhases(expectation, run, { withReference: false }));
    const windowCalm = run.pressure.filter((p) => window.has(p.phase)).every((p) => p.overLimits.length === 0);
    if (reasons.length && windowCalm) {
      return { ...rest, ok: false, status: 'inconclusive', inconclusive: `passed only with the allowance from ${passedOnAllowanceFrom}, measured under more pressure than the window it excuses: ${summarizeReasons(reasons)}` };
    }
  }
  if (rest.ok) return { ...rest, status: 'pass' };
  if (definitive || !TIMING_SENSITIVE.has(expectation.type) || !run.pressure) return { ...rest, status: 'fail' };
  const phases = new Set(expectationPhases(expectation, run));
  const reasons = run.pressure.filter((p) => phases.has(p.phase)).flatMap((p) => p.overLimits);
  return reasons.length ? { ...rest, status: 'inconclusive', inconclusive: summarizeReasons(reasons) } : { ...rest, status: 'fail' };
}

/** The first two reasons in full, then how many more (summary.json keeps every phase's figures). */
function summarizeReasons(reasons: readonly string[]): string {
  return reasons.length <= 2 ? reasons.join('; ') : `${reasons.slice(0, 2).join('; ')}; and ${reasons.length - 2} more`;
}

/** The phases an expectation's measurement comes from. */
export function expectationPhases(
  expectation: Expectation,
  run: Pick<RunMeasurements, 'scenario' | 'spans' | 'startedAt' | 'endedAt'>,
  options: { withReference?: boolean } = {},
): string[] {
  const all = phaseWindows(run.scenario);
  const overlapping = (fromMs: number, toMs: number) => all.filter((p) => p.startMs < toMs && p.endMs > fromMs).map((p) => p.name);
  const from = (name: string) => all.slice(Math.max(0, all.findIndex((p) => p.name === name))).map((p) => p.name);
  switch (expectation.type) {
    case 'threshold': {
      const window = expectation.during;
      const reference = expectation.allowance && options.withReference !== false ? [expectation.allowance.phase] : [];
      if (window === undefined) return all.map((p) => p.name);
      if (typeof window === 'string') return [...new Set([window, ...reference])];
      const ranges = openIntervals(circuitTransitions(run.spans, window.circuitOpen.service, window.circuitOpen.dependency), run.endedAt);
      return [...new Set([...ranges.flatMap((range) => overlapping(range.fromMs - run.startedAt, range.toMs - run.startedAt)), ...reference])];
    }
    case 'circuit':
      return from(expectation.opensDuring);
    case 'alert': {
      const fault = faultWindows(run.scenario).find((window) => window.name === expectation.fault);
      return fault ? overlapping(fault.startMs, fault.endMs + (expectation.resolvesWithin ?? expectation.firesWithin)) : [];
    }
    case 'no-alert':
    case 'trace':
    case 'wasted-work':
    case 'failed-spans':
    case 'answers':
      return [expectation.during];
    case 'memory':
      return expectation.during === undefined ? all.map((p) => p.name) : [expectation.during];
    case 'books':
      return [];
  }
}

function evaluate(expectation: Expectation, run: RunMeasurements): Evaluated {
  {
    try {
      switch (expectation.type) {
        case 'threshold':
          return evaluateThresholdExpectation(expectation, run);
        case 'circuit':
          return evaluateCircuit(expectation, run);
        case 'trace':
          return evaluateTrace(expectation, run);
        case 'wasted-work':
          return evaluateWastedWork(expectation, run);
        case 'failed-spans':
          return evaluateFailedSpans(expectation, run);
        case 'answers':
          return evaluateAnswers(expectation, run);
        case 'books':
          return evaluateBooks(expectation, run);
        case 'alert':
          return evaluateAlert(expectation, run);
        case 'no-alert':
          return evaluateNoAlert(expectation, run);
        case 'memory':
          return evaluateMemory(expectation, run);
      }
    } catch (error) {
      return { name: expectation.name, type: expectation.type, ok: false, definitive: true, expected: '-', measured: `could not evaluate: ${(error as Error).message}` };
    }
  }
}

function phaseRange(run: RunMeasurements, phase: string): { fromMs: number; toMs: number } {
  const window = phaseWindows(run.scenario).find((candidate) => candidate.name === phase);
  if (!window) throw new Error(`no phase named ${phase}`);
  return { fromMs: run.startedAt + window.startMs, toMs: run.startedAt + window.endMs };
}

/**
 * A phase as a request filter: its requests by intended start, less those still in flight when a
 * fault began at its end. Those met the fault: on a busy machine more of a calm baseline's last
 * checkouts are still under way when the bank starts failing, and their failures are the outage's.
 */
function phaseFilter(run: RunMeasurements, phase: string): { fromMs: number; toMs: number; answeredBeforeMs?: number; faultAtEnd?: string } {
  const range = phaseRange(run, phase);
  const atEnd = faultWindows(run.scenario).find((fault) => run.startedAt + fault.startMs === range.toMs);
  return atEnd ? { ...range, answeredBeforeMs: range.toMs, faultAtEnd: atEnd.name } : range;
}

function windowRanges(run: RunMeasurements, window: Window | undefined): Array<{ fromMs: number; toMs: number }> | undefined {
  if (window === undefined) return undefined;
  if (typeof window === 'string') return [phaseRange(run, window)];
  const { service, dependency, reachTimeFrom } = window.circuitOpen;
  const transitions = circuitTransitions(run.spans, service, dependency);
  if (reachTimeFrom === undefined) return openIntervals(transitions, run.endedAt);
  return openStateIntervals(transitions, run.endedAt, reachTimeMs(run, reachTimeFrom));
}

/** How long a request may take to reach a breaker: the p95 latency of the phase's successful requests. */
function reachTimeMs(run: RunMeasurements, phase: string): number {
  const { faultAtEnd: _fault, ...filter } = phaseFilter(run, phase);
  return run.recorder.distribution({ ...filter, ok: true }).p(95);
}

function describeWindow(window: Window | undefined): string {
  if (window === undefined) return 'whole run';
  if (typeof window === 'string') return window;
  const { service, dependency, reachTimeFrom } = window.circuitOpen;
  return reachTimeFrom === undefined ? `while ${service}->${dependency} open` : `arriving while ${service}->${dependency} open, less ${reachTimeFrom}'s p95 before each half-open`;
}

function evaluateThresholdExpectation(expectation: Extract<Expectation, { type: 'threshold' }>, run: RunMeasurements): Evaluated {
  if (expectation.metric === 'deferred_requests' || expectation.metric === 'requests_before_retry_after') return evaluateBackoffCount(expectation, run);
  const problem = expectation.filter?.problem;
  const journey = expectation.filter?.journey;
  const clientGroup = expectation.filter?.client;
  const which = `${clientGroup ? `, ${clientGroup} clients` : ''}${journey ? `, ${journey} journey` : ''}${problem ? `, ${problem} only` : expectation.filter?.failed === true ? ', failed requests' : expectation.filter?.failed === false ? ', successful requests' : ''}`;
  const base = { name: expectation.name, type: expectation.type, expected: `${expectation.metric} ${expectation.threshold} (${describeWindow(expectation.during)}${which})` };
  const ranges = windowRanges(run, expectation.during);
  // A phase's requests still in flight when the next phase's fault began are left out (phaseFilter).
  const phase = typeof expectation.during === 'string' ? phaseFilter(run, expectation.during) : undefined;
  const answeredBefore = phase?.answeredBeforeMs;
  const tagged = { ...(journey ? { [LOAD_LABEL.journey]: journey } : {}), ...(clientGroup ? { [LOAD_LABEL.client]: clientGroup } : {}) };
  const journeyTags = Object.keys(tagged).length ? { tags: tagged } : {};
  const within: SummaryFilter = { ...(ranges ? { ranges } : {}), ...(answeredBefore !== undefined ? { answeredBeforeMs: answeredBefore } : {}), ...journeyTags };
  const leftOut = answeredBefore === undefined ? 0 : run.recorder.summary({ ...(ranges ? { ranges } : {}), ...journeyTags }).count - run.recorder.summary(within).count;
  const leftOutNote = leftOut > 0 ? `; ${leftOut} still in flight when ${phase?.faultAtEnd} began left out` : '';
  // The window is the breaker's open time: that it never opened is a fact about the shop, not the machine.
  if (ranges && ranges.length === 0) return { ...base, ok: false, definitive: true, measured: 'the window never happened (the circuit never opened)' };
  const filter: SummaryFilter = {
    ...within,
    ...(expectation.filter?.failed !== undefined ? { ok: !expectation.filter.failed } : {}),
    ...(problem ? { ok: false, tags: { ...within.tags, [PROBLEM_TAG]: problem } } : {}),
  };
  const summary = run.recorder.summary(filter);
  // Timeouts the gateway answered are judged by how long its queue could be; anything else by how full slowness keeps it.
  const bound = expectation.slowness ? (problem === 'dependency-timeout' ? timeoutBound(expectation.slowness, run) : sheddingBound(expectation.slowness, run, ranges)) : undefined;
  if (expectation.metric === 'http_req_duration') {
    const distribution = run.recorder.distribution(filter);
    if (distribution.count === 0) return { ...base, ok: false, definitive: problem !== undefined, measured: problem ? `no ${problem} failures in the window` : 'no requests in the window' };
    const threshold = parseThreshold(expectation.threshold);
    const allowed = expectation.allowance ? allowanceOf(threshold, expectation.allowance, run) : undefined;
    const outcome = evaluateThreshold(allowed ? { ...threshold, value: threshold.value + allowed.allowance } : threshold, distribution);
    const needed = allowed !== undefined && outcome.ok && !evaluateThreshold(threshold, distribution).ok;
    // Say how many of the window's failures the filter kept, so a reader sees what was judged.
    const of = problem ? ` (of ${run.recorder.summary({ ...within, ok: false }).count} failed)` : '';
    const reachFrom = typeof expectation.during === 'object' ? expectation.during.circuitOpen.reachTimeFrom : undefined;
    const lead = reachFrom === undefined ? '' : `; each open stretch less ${reachFrom}'s p95 ${formatMs(reachTimeMs(run, reachFrom))}`;
    const capped = allowed !== undefined && allowed.allowance < (expectation.allowance?.factor ?? 0) * allowed.reference ? ' (capped)' : '';
    const limit = allowed ? `; limit ${formatMs(threshold.value + allowed.allowance)} = ${formatMs(threshold.value)} + ${expectation.allowance?.factor}x ${expectation.allowance?.phase}'s ${formatMs(allowed.reference)}${capped}` : '';
    return {
      ...base,
      ok: outcome.ok,
      measured: `${formatMs(outcome.actual)} over ${distribution.count}${problem ? ` ${problem}` : ''} requests${of}${limit}${lead}${leftOutNote}`,
      // An explicit `max` is the scenario's reasoned bound on what any allowance may excuse (the
      // fail-fast limit stays under half the timeout a refused call must not wait for): a pass
      // within it stands whatever the reference phase's pressure. Only the default cap is voided.
      ...(needed && expectation.allowance && expectation.allowance.max === undefined ? { passedOnAllowanceFrom: expectation.allowance.phase } : {}),
    };
  }
  if (expectation.metric === 'http_req_failed' && problem) {
    // The share of the window's requests that failed with this one problem type.
    const all = run.recorder.summary(within);
    if (all.count === 0) return { ...base, ok: false, measured: 'no requests in the window' };
    const rate = summary.count / all.count;
    const outcome = evaluateThreshold(expectation.threshold, { p: () => 0, rate, count: summary.count });
    return {
      ...base,
      ok: outcome.ok,
      // A failure a busy machine cannot cause (a dependency's error answered as is) is a fact about the
      // shop; so is too few failures of any type (`rate>0.1` of timeouts): slowness only adds them.
      definitive: !SLOWNESS_PROBLEMS.has(problem) || ['>', '>='].includes(parseThreshold(expectation.threshold).operator) || ((problem === 'overloaded' || problem === 'dependency-timeout') && bound?.holds === true),
      measured: `${(rate * 100).toFixed(2)}% (${summary.count}/${all.count}) ${problem}${leftOutNote}${bound ? `; ${bound.note}` : ''}`,
    };
  }
  if (expectation.metric === 'http_req_failed') {
    if (summary.count === 0) return { ...base, ok: false, measured: 'no requests in the window' };
    const outcome = evaluateThreshold(expectation.threshold, { p: () => 0, rate: summary.failRate, count: summary.failed });
    const kinds = run.recorder.failureKinds(filter);
    const shown = kinds.slice(0, 3).map(({ kind, count }) => `${count} ${kind}`);
    const more = kinds.length > 3 ? `, ${kinds.length - 3} more kinds` : '';
    return {
      ...base,
      ok: outcome.ok,
      // Which failures, so a reader (and the verdict) can tell a slow machine from a broken shop.
      definitive: kinds.some(({ kind }) => !slownessCanCause(kind) || (bound?.holds === true && OVERLOADED_KIND.test(kind))),
      measured: `${(summary.failRate * 100).toFixed(2)}% (${summary.failed}/${summary.count})${shown.length ? `: ${shown.join(', ')}${more}` : ''}${leftOutNote}${bound && kinds.some(({ kind }) => OVERLOADED_KIND.test(kind)) ? `; ${bound.note}` : ''}`,
    };
  }
  const count = expectation.metric === 'iterations' ? summary.count : summary.dropped;
  const outcome = evaluateThreshold(expectation.threshold, { p: () => 0, count, rate: count });
  return { ...base, ok: outcome.ok, measured: String(count) };
}

/**
 * A count of what clients honouring Retry-After did (load/retry-after.ts), in the window, of one
 * client group or all. A count of the client's own behaviour: no slow machine sends a request early
 * or holds one back, so a failure is always a FAIL.
 */
function evaluateBackoffCount(expectation: Extract<Expectation, { type: 'threshold' }>, run: RunMeasurements): Evaluated {
  const group = expectation.filter?.client;
  const what = expectation.metric === 'deferred_requests' ? 'deferred' : 'early';
  const base = { name: expectation.name, type: expectation.type, expected: `${expectation.metric} ${expectation.threshold} (${describeWindow(expectation.during)}${group ? `, ${group} clients` : ''})` };
  if (!run.backoff) return { ...base, ok: false, definitive: true, measured: 'no client honours Retry-After in this run (name them in load.clients or load.streams)' };
  const ranges = windowRanges(run, expectation.during) ?? [{ fromMs: -Infinity, toMs: Infinity }];
  let count = 0;
  let limited = 0;
  for (const range of ranges) {
    const counts = run.backoff.counts({ ...(group ? { group } : {}), fromMs: range.fromMs, toMs: range.toMs });
    count += counts[what];
    limited += counts.limited;
  }
  const outcome = evaluateThreshold(expectation.threshold, { p: () => 0, count, rate: count });
  return { ...base, ok: outcome.ok, definitive: true, measured: `${count} (${limited} answered 429 in the window)` };
}

/** The errorKind of an answer the gateway's load shedding gave. */
const OVERLOADED_KIND = /^HTTP \d+ overloaded$/;

/**
 * Whether slowness alone could have made the gateway answer `dependency-timeout`: a request waited
 * the whole route timeout. With load shedding as the scenario configures it (on, or switched off in
 * this run), at most `maxInFlight` requests are in flight at the gateway, so an admitted request
 * waits at worst for every one of them served one after another (as if the shop had one worker),
 * each taking the mean latency of the reference phase's successful requests in this run (which
 * already holds the shop's own work and this machine's slowness today) times `factor`. The serial
 * worst case is what makes the mean, not a tail, the right figure: a service with more than one
 * worker, or requests not all at their slowest, wait far less. When that is under the route timeout, the
 * shop with its shedding would not have timed out on this machine today: a timeout measured is a
 * queue that nothing bounded, a fact about the shop, and a failure of it is definitive. A slower
 * machine raises the estimate, and past the route timeout the failure goes back to the pressure rule.
 */
export function timeoutBound(
  slowness: { phase: string; factor: number },
  run: Pick<RunMeasurements, 'scenario' | 'recorder' | 'startedAt' | 'endedAt'>,
): { holds: boolean; note: string } {
  const { routeTimeout } = run.scenario.gateway;
  const { enabled, maxInFlight } = run.scenario.gateway.loadShedding;
  const reference = run.recorder.summary({ ...phaseRange(run as RunMeasurements, slowness.phase), ok: true });
  if (reference.count === 0) return { holds: false, note: `no successful requests in ${slowness.phase} to measure this machine by` };
  const mean = reference.latency.avg;
  const wait = maxInFlight * mean * slowness.factor;
  const holds = wait < routeTimeout;
  return {
    holds,
    note: `slowness alone: ${maxInFlight} in flight (maxInFlight${enabled ? '' : ', off in this run'}) x ${formatMs(mean)} (${slowness.phase} mean) x ${slowness.factor} = ${formatMs(wait)} of waiting ${holds ? '<' : '>='} ${formatMs(routeTimeout)} (routeTimeout)${holds ? ': the timeouts are the shop\'s' : ''}`,
  };
}

/**
 * Whether slowness alone could have made the gateway shed: `overloaded` means `maxInFlight` requests
 * were in flight at the gateway. By Little's law the requests in flight are the arrival rate times
 * how long each stays; every request in flight at the gateway is in flight at the load generator
 * too, so the window's request rate (all journeys) times the mean latency of the reference phase's
 * successful requests in this same run (what the shop's own work costs on this machine today),
 * times `factor` (a window that much slower than the reference), is what a slow machine alone keeps
 * in flight. Add every slot the gateway's bulkheads may hold (maxConcurrent + maxQueued of each
 * `policies.gateway` dependency, on or off: with the pattern, the slow dependency holds at most
 * that). When the sum stays under maxInFlight, the shop with its bulkheads would not have shed on
 * this machine, so shedding measured is a dependency holding slots no pattern freed: a fact about
 * the shop, not the machine, and a failure of it is definitive. The reference phase's latency is
 * measured, not assumed, so a slower machine raises the estimate and the bound stops holding
 * (the failure then goes back to the pressure rule and may be INCONCLUSIVE).
 */
export function sheddingBound(
  slowness: { phase: string; factor: number },
  run: Pick<RunMeasurements, 'scenario' | 'recorder' | 'startedAt' | 'endedAt'>,
  ranges: ReadonlyArray<{ fromMs: number; toMs: number }> | undefined,
): { holds: boolean; note: string } {
  const shedding = run.scenario.gateway.loadShedding;
  if (!shedding.enabled) return { holds: false, note: 'the gateway sheds nothing (loadShedding off)' };
  const window = ranges ?? [{ fromMs: run.startedAt, toMs: run.endedAt }];
  const seconds = window.reduce((sum, range) => sum + (range.toMs - range.fromMs), 0) / 1_000;
  const rate = seconds > 0 ? run.recorder.summary({ ranges: window }).count / seconds : 0;
  const reference = run.recorder.summary({ ...phaseRange(run as RunMeasurements, slowness.phase), ok: true });
  if (reference.count === 0) return { holds: false, note: `no successful requests in ${slowness.phase} to measure this machine by` };
  const slow = (rate * reference.latency.avg * slowness.factor) / 1_000;
  const held = Object.values(run.scenario.policies.gateway ?? {}).reduce((sum, policy) => sum + policy.bulkhead.maxConcurrent + policy.bulkhead.maxQueued, 0);
  const holds = slow + held < shedding.maxInFlight;
  return {
    holds,
    note: `slowness alone: ${rate.toFixed(1)}/s x ${formatMs(reference.latency.avg)} (${slowness.phase} mean) x ${slowness.factor} = ${slow.toFixed(1)} in flight, + ${held} bulkhead slots ${holds ? '<' : '>='} ${shedding.maxInFlight} (maxInFlight)${holds ? ': the shedding is the shop\'s' : ''}`,
  };
}

function evaluateCircuit(expectation: Extract<Expectation, { type: 'circuit' }>, run: RunMeasurements): Evaluated {
  const base = {
    name: expectation.name,
    type: expectation.type,
    expected: `opens during ${expectation.opensDuring}, closed again after ${expectation.closesAfter}`,
  };
  const transitions = circuitTransitions(run.spans, expectation.service, expectation.dependency);
  const at = (ms: number) => `+${((ms - run.startedAt) / 1_000).toFixed(1)}s`;
  if (transitions.length === 0) return { ...base, ok: false, definitive: true, measured: 'the circuit never changed state' };
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

function evaluateTrace(expectation: Extract<Expectation, { type: 'trace' }>, run: RunMeasurements): Evaluated {
  const { service, dependency, operation } = expectation.count;
  let max = expectation.max;
  if (max === 'retry-policy') {
    const policy = run.scenario.policies[service]?.[dependency] ?? dependencyPolicySchema.parse({});
    max = policy.retry.enabled ? policy.retry.maxAttempts : 1;
  }
  const burst = expectation.per?.overlapping;
  const unit = burst ? `burst (overlapping spans with the same ${burst.join(', ')})` : 'trace';
  const calls = `${service}->${dependency}${operation ? ` ${operation}` : ''} ${burst ? 'calls' : 'attempts'} per ${unit}`;
  const limits = [max !== undefined ? `at most ${max}` : '', expectation.mean !== undefined ? `${max !== undefined ? 'and ' : ''}at most ${expectation.mean} on average` : ''].filter(Boolean).join(' ');
  const base = { name: expectation.name, type: expectation.type, expected: `${limits} ${calls} (${expectation.during})` };
  const range = phaseRange(run, expectation.during);
  const counted = (span: FlatSpan) =>
    span.service === service && span.kind === SPAN_KIND_CLIENT && span.attributes[SPAN_ATTR.dependency] === dependency && (operation === undefined || isOperation(span, operation));
  let counts: number[];
  if (burst) {
    counts = burstSizes(
      run.spans.filter((span) => counted(span) && span.startMs >= range.fromMs && span.startMs < range.toMs),
      burst,
    );
  } else {
    const roots = new Map<string, number>();
    for (const span of run.spans) {
      if (!span.parentSpanId && span.startMs >= range.fromMs && span.startMs < range.toMs) roots.set(span.traceId, 0);
    }
    for (const span of run.spans) {
      if (roots.has(span.traceId) && counted(span)) roots.set(span.traceId, (roots.get(span.traceId) ?? 0) + 1);
    }
    counts = [...roots.values()];
  }
  // Attempts are counts: no machine is too slow to count them, so a failure here is always a FAIL.
  if (counts.length === 0) return { ...base, ok: false, definitive: true, measured: burst ? `no ${service}->${dependency} calls started during ${expectation.during}` : `no traces started during ${expectation.during}` };
  const worst = Math.max(...counts);
  const average = counts.reduce((sum, count) => sum + count, 0) / counts.length;
  const over = max === undefined ? 0 : counts.filter((count) => count > (max as number)).length;
  const ok = over === 0 && (expectation.mean === undefined || average <= expectation.mean);
  const total = burst ? `${counts.reduce((sum, count) => sum + count, 0)} calls in ${counts.length} bursts` : `${counts.length} traces`;
  return { ...base, ok, definitive: true, measured: `max ${worst}, mean ${average.toFixed(2)} over ${total}${over ? `, ${over} over the limit` : ''}` };
}

/**
 * Spans in bursts: those with the same values of `attributes` whose [start, end) intervals overlap,
 * directly or through others (one cache fill's store reads); the size of each burst.
 */
export function burstSizes(spans: readonly FlatSpan[], attributes: readonly string[]): number[] {
  const groups = new Map<string, FlatSpan[]>();
  for (const span of spans) {
    const key = JSON.stringify(attributes.map((attribute) => span.attributes[attribute] ?? null));
    const group = groups.get(key);
    if (group) group.push(span);
    else groups.set(key, [span]);
  }
  const sizes: number[] = [];
  for (const group of groups.values()) {
    group.sort((a, b) => a.startMs - b.startMs);
    let size = 0;
    let endMs = -Infinity;
    for (const span of group) {
      if (size > 0 && span.startMs >= endMs) {
        sizes.push(size);
        size = 0;
      }
      size += 1;
      endMs = size === 1 ? span.endMs : Math.max(endMs, span.endMs);
    }
    if (size > 0) sizes.push(size);
  }
  return sizes;
}

/**
 * Work a dependency did for a caller that had already given up: client spans of service calling
 * dependency, started in the phase, that failed (the caller timed out or went away), each with a
 * server span of the dependency under it that did its work (didWork) and began only after the client
 * span had ended: the work was started for nobody. (Work begun in time whose answer came late is not
 * counted: a stall in the middle of it is no deadline's business.) A count: a busy machine slows
 * both sides alike, so it is always a definitive verdict.
 */
export function wastedWork(spans: readonly FlatSpan[], service: string, dependency: string, range: { fromMs: number; toMs: number }): { calls: number; failed: number; wasted: number } {
  const failedCalls = new Map<string, FlatSpan>();
  let calls = 0;
  for (const span of spans) {
    if (span.service !== service || span.kind !== SPAN_KIND_CLIENT || span.attributes[SPAN_ATTR.dependency] !== dependency) continue;
    if (span.startMs < range.fromMs || span.startMs >= range.toMs) continue;
    calls += 1;
    if (span.status.code === SPAN_STATUS_ERROR) failedCalls.set(span.spanId, span);
  }
  const childrenOf = new Map<string, FlatSpan[]>();
  for (const span of spans) {
    if (span.parentSpanId === undefined) continue;
    const siblings = childrenOf.get(span.parentSpanId);
    if (siblings) siblings.push(span);
    else childrenOf.set(span.parentSpanId, [span]);
  }
  let wasted = 0;
  for (const span of spans) {
    if (span.kind !== SPAN_KIND_SERVER || span.service !== dependency || span.parentSpanId === undefined) continue;
    const caller = failedCalls.get(span.parentSpanId);
    if (caller && span.startMs > caller.endMs && didWork(span, childrenOf)) wasted += 1;
  }
  return { calls, failed: failedCalls.size, wasted };
}

/**
 * A server span that did its work: it succeeded, or it answered nothing (its caller had hung up, so
 * the span ends in error without a status) while a call it made onward succeeded: checkout charged
 * a card for an order whose customer had been told it failed. A refusal (a 4xx or 5xx answered) did
 * nothing, whatever it may have called.
 */
function didWork(span: FlatSpan, childrenOf: ReadonlyMap<string, readonly FlatSpan[]>): boolean {
  if (succeeded(span)) return true;
  if (span.attributes['http.response.status_code'] !== undefined) return false;
  const stack = [...(childrenOf.get(span.spanId) ?? [])];
  while (stack.length > 0) {
    const inner = stack.pop() as FlatSpan;
    // Its own spans only: the dependency's calls onward, not what answered them.
    if (inner.service !== span.service) continue;
    if (inner.kind === SPAN_KIND_CLIENT && succeeded(inner)) return true;
    stack.push(...(childrenOf.get(inner.spanId) ?? []));
  }
  return false;
}

const SPAN_STATUS_ERROR = 2;

/** A span that ended well: not an error, and not answered with a 4xx or 5xx. */
function succeeded(span: FlatSpan): boolean {
  const status = span.attributes['http.response.status_code'];
  return span.status.code !== SPAN_STATUS_ERROR && !(typeof status === 'number' && status >= 400);
}

function evaluateWastedWork(expectation: Extract<Expectation, { type: 'wasted-work' }>, run: RunMeasurements): Evaluated {
  const { service, dependency, during, max } = expectation;
  const base = { name: expectation.name, type: expectation.type, expected: `at most ${max} ${service}->${dependency} calls done by ${dependency} after ${service} gave up (${during})` };
  const { calls, failed, wasted } = wastedWork(run.spans, service, dependency, phaseRange(run, during));
  // Nothing to judge is a fact about the run (no spans, no traffic), not about the machine.
  if (calls === 0) return { ...base, ok: false, definitive: true, measured: `no ${service}->${dependency} calls during ${during}` };
  return { ...base, ok: wasted <= max, definitive: true, measured: `${wasted} done for nobody, of ${failed} failed calls (${calls} calls)` };
}

/**
 * The failed server spans of `service` started in `range`, counted by their value of `attribute`
 * (`(none)` where a span has none), most first. Failed: answered with a 5xx, but not a 504 (a
 * timeout is a slow machine's as much as the shop's), nor a request whose client left unanswered.
 */
export function failedSpansBy(spans: readonly FlatSpan[], service: string, attribute: string, range: { fromMs: number; toMs: number }): Array<{ value: string; count: number }> {
  const counts = new Map<string, number>();
  for (const span of spans) {
    if (span.service !== service || span.kind !== SPAN_KIND_SERVER || span.startMs < range.fromMs || span.startMs >= range.toMs) continue;
    const status = span.attributes['http.response.status_code'];
    if (typeof status !== 'number' || status < 500 || status === 504) continue;
    const raw = span.attributes[attribute];
    const value = raw === undefined || raw === null ? '(none)' : String(raw);
    counts.set(value, (counts.get(value) ?? 0) + 1);
  }
  return [...counts].map(([value, count]) => ({ value, count })).sort((a, b) => b.count - a.count || a.value.localeCompare(b.value));
}

/**
 * A service's answers in `range` (its server spans by start): how many, how many with `status`, and
 * the most it was working on at once (overlapping server spans), to show how hard a burst hit it.
 */
export function answersOf(spans: readonly FlatSpan[], service: string, status: number, range: { fromMs: number; toMs: number }): { answers: number; withStatus: number; peakInFlight: number } {
  const mine = spans.filter((span) => span.service === service && span.kind === SPAN_KIND_SERVER && span.startMs >= range.fromMs && span.startMs < range.toMs);
  const edges = mine.flatMap((span) => [{ at: span.startMs, step: 1 }, { at: span.endMs, step: -1 }]).sort((a, b) => a.at - b.at || a.step - b.step);
  let inFlight = 0;
  let peakInFlight = 0;
  for (const edge of edges) {
    inFlight += edge.step;
    peakInFlight = Math.max(peakInFlight, inFlight);
  }
  return { answers: mine.length, withStatus: mine.filter((span) => span.attributes['http.response.status_code'] === status).length, peakInFlight };
}

function evaluateAnswers(expectation: Extract<Expectation, { type: 'answers' }>, run: RunMeasurements): Evaluated {
  const { service, status, max, during } = expectation;
  const base = { name: expectation.name, type: expectation.type, expected: `at most ${max} ${service} answers with status ${status} (${during})` };
  const { answers, withStatus, peakInFlight } = answersOf(run.spans, service, status, phaseRange(run, during));
  // Nothing answered is a fact about the run (no spans, no traffic), not about the machine. Too many
  // answers of a kind is the shop's where the phase was measured calmly (TIMING_SENSITIVE), or where
  // no lab process's event loop was late past its limit: a busy machine bunches a caller's calls only
  // by stalling the loop that sends them (the timers due in a stall fire together), and a load
  // generator behind its schedule or a busy CPU that never stalled a loop that long bunches nothing.
  if (answers === 0) return { ...base, ok: false, definitive: true, measured: `no ${service} answers during ${during}` };
  const loop = run.pressure?.find((p) => p.phase === during)?.eventLoopDelayMs;
  const loopsOnTime = loop !== undefined && loop.max <= run.scenario.pressure.eventLoopDelay;
  const loopNote = loop ? `; lab event loops at most ${formatMs(loop.max)} late (p99, ${loop.process})${loopsOnTime ? ', so no stall bunched the calls' : ''}` : '';
  return { ...base, ok: withStatus <= max, definitive: loopsOnTime, measured: `${withStatus} of ${answers} answers ${status}; at most ${peakInFlight} in flight at once${loopNote}` };
}

function evaluateFailedSpans(expectation: Extract<Expectation, { type: 'failed-spans' }>, run: RunMeasurements): Evaluated {
  const { service, attribute, value, maxOther, during } = expectation;
  const base = { name: expectation.name, type: expectation.type, expected: `failed ${service} spans with ${attribute}=${value}, at most ${maxOther} with another value (${during})` };
  const groups = failedSpansBy(run.spans, service, attribute, phaseRange(run, during));
  const found = groups.find((group) => group.value === value)?.count ?? 0;
  const others = groups.filter((group) => group.value !== value);
  const other = others.reduce((sum, group) => sum + group.count, 0);
  const shown = others.slice(0, 3).map((group) => `${group.value} x${group.count}`).join(', ');
  // Counts of answers a slow machine does not give (no timeouts): definitive once the fault was seen
  // to bite; none of the value at all may be a machine too starved to send the read.
  return {
    ...base,
    ok: found > 0 && other <= maxOther,
    definitive: found > 0,
    measured: `${found} with ${attribute}=${value}, ${other} other${other ? ` (${shown}${others.length > 3 ? ', ...' : ''})` : ''}`,
  };
}

/**
 * factor x the same aggregation over the successful requests of a reference phase of this run, at
 * most `max` (by default the threshold itself: the limit can at most double), so no slowness turns
 * a hang into a pass.
 */
function allowanceOf(threshold: Threshold, allowance: { phase: string; factor: number; max?: number | undefined }, run: RunMeasurements): { allowance: number; reference: number } {
  const { faultAtEnd: _fault, ...filter } = phaseFilter(run, allowance.phase);
  const reference = evaluateThreshold(threshold, run.recorder.distribution({ ...filter, ok: true })).actual;
  return { allowance: Math.min(allowance.max ?? threshold.value, allowance.factor * reference), reference };
}

/** Whether a client span is a call of this RPC method or route: `rpc.method` (Charge), or a span name ending in `/Charge`. */
export function isOperation(span: FlatSpan, operation: string): boolean {
  const method = span.attributes['rpc.method'];
  if (typeof method === 'string') return method === operation || method.endsWith(`/${operation}`);
  return span.name === operation || span.name.endsWith(`/${operation}`) || span.name.endsWith(` ${operation}`);
}

function evaluateBooks(expectation: Extract<Expectation, { type: 'books' }>, run: RunMeasurements): Evaluated {
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

function alertsOrSkip(run: RunMeasurements, base: Omit<Evaluated, 'ok' | 'measured'>): AlertInterval[] | Evaluated {
  const alerting = run.alerting ?? { available: false, reason: 'alerts were not collected' };
  if (!alerting.available) return { ...base, ok: true, measured: 'not measured', skipped: alerting.reason };
  return alerting.alerts;
}

function evaluateAlert(expectation: Extract<Expectation, { type: 'alert' }>, run: RunMeasurements): Evaluated {
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

function evaluateNoAlert(expectation: Extract<Expectation, { type: 'no-alert' }>, run: RunMeasurements): Evaluated {
  const what = describeAlert(expectation.alert, expectation.labels);
  const base = { name: expectation.name, type: expectation.type, expected: `${what.startsWith('any alert') ? `no alert${what.slice('any alert'.length)}` : `no ${what}`} fires during ${expectation.during}` };
  const alerts = alertsOrSkip(run, base);
  if (!Array.isArray(alerts)) return alerts;
  const phase = phaseWindows(run.scenario).find((window) => window.name === expectation.during);
  if (!phase) throw new Error(`no phase named ${expectation.during}`);
  const fired = alerts.filter((alert) => alertMatches(alert, expectation.alert, expectation.labels) && alert.firedAtMs >= phase.startMs && alert.firedAtMs < phase.endMs);
  if (fired.length === 0) return { ...base, ok: true, measured: `none fired (${alerts.length} in the whole run)` };
  const first = fired[0] as AlertInterval;
  return { ...base, ok: false, measured: `${fired.length} fired, first ${first.alertname} ${first.labels.slo_tier ?? ''} at +${formatMs(first.firedAtMs)}` };
}

/**
 * The most resident memory an instance held in the window, from the supervisor's samples. A size,
 * not a time: a busy machine slows a leak down, it never makes a process hold more, so a failure is
 * always a FAIL. Where no process could be sampled (no /proc) it is skipped, not failed.
 */
function evaluateMemory(expectation: Extract<Expectation, { type: 'memory' }>, run: RunMeasurements): Evaluated {
  const window = expectation.during ?? 'whole run';
  const base = { name: expectation.name, type: expectation.type, expected: `${expectation.instance} holds at most ${formatMiB(expectation.max)} resident (${window})` };
  if (!run.memory || run.memory.length === 0) return { ...base, ok: true, measured: 'not measured', skipped: 'resident memory could not be sampled on this machine (no /proc)' };
  const range = expectation.during === undefined ? { fromMs: run.startedAt, toMs: run.endedAt } : phaseRange(run, expectation.during);
  const peak = peakRss(run.memory, expectation.instance, range);
  if (!peak) return { ...base, ok: false, definitive: true, measured: `${expectation.instance} was never sampled (${window})` };
  return { ...base, ok: peak.bytes <= expectation.max, definitive: true, measured: `peak ${formatMiB(peak.bytes)} over ${peak.count} samples` };
}
