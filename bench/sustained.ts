// When a load-generator step "sustained" its arrival rate (bench/load-generator.ts).
// A pure judgement over what the step measured, so the rule is tested apart
// from the machine.
//
// A constant-arrival-rate step of S seconds at R/s schedules R × S arrivals.
// It is sustained when all four hold:
//
// 1. At most 1 % of the scheduled arrivals were dropped (all VUs busy).
//    (Rule 3 implies it; it stays as its own rule for a clear reason.)
// 2. No request failed.
// 3. At least 99 % of the scheduled arrivals completed within the step. The
//    step's window closes at its end plus the p99 bound below (the last
//    arrival is due at the very end and may take up to the bound); what
//    completes later, in the executor's graceful stop, does not count. The
//    old rule counted those completions as throughput, and asked only 97 %:
//    a generator that fell 3 % behind and caught up in the grace period passed.
// 4. The honest p99 (from each arrival's intended start) is within the bound
//        p99 bound = baseline p99 + connections / R
//    - baseline p99: the honest p99 of the same generator, same connections,
//      at a low rate (the bench's --moderate-rate) in the same round, just
//      before the search. It is what a request costs with no queue on this
//      machine in this window: loopback, the server, timer lateness, and
//      whatever stalls the machine had then.
//    - connections / R: one turn of the connection pool at rate R. By
//      Little's law the requests in flight are R × latency, so a latency
//      above C / R means more requests in flight than the C connections can
//      carry: a queue in front of the pool, which only grows when arrivals
//      outrun completions, i.e. when the generator (or the server) falls
//      behind. 64 connections at 20,000/s: 3.2 ms. This is a bound on the
//      tail, not a model of it: a p99 past it says more than 1 % of the
//      step's requests took longer than an unloaded request plus a full
//      turn of the pool.
//    The old rule looked at no latency at all: steps passed with an honest
//    p50 of 23-40 ms against a server that answers in well under 1 ms.

/** Share of scheduled arrivals that may be dropped. */
export const MAX_DROPPED_SHARE = 0.01;
/** Share of scheduled arrivals that must complete within the step's window. */
export const MIN_IN_WINDOW_SHARE = 0.99;

export interface StepMeasure {
  /** Arrivals per second the step scheduled. */
  rate: number;
  /** Arrivals the step's schedule asked for (rate × seconds). */
  scheduled: number;
  /** Arrivals that found every VU busy. */
  dropped: number;
  /** Requests that failed (error, timeout, non-2xx). */
  failed: number;
  /** Requests that completed successfully by the end of the step plus the p99 bound. */
  completedInWindow: number;
  /** Honest p99 latency (ms, from intended start) of the step's requests. */
  p99Ms: number;
}

export interface Judgement {
  sustained: boolean;
  /** Why not, one short phrase per rule broken; empty when sustained. */
  reasons: string[];
}

function check(field: string, value: number, integer: boolean): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (integer && !Number.isInteger(value))) {
    throw new RangeError(`${field}: must be ${integer ? 'an integer' : 'a number'} >= 0 (got ${String(value)})`);
  }
}

/** The p99 bound of a step at `rate`/s over `connections` connections, given the round's low-rate baseline p99 (ms). */
export function p99BoundMs(baselineP99Ms: number, connections: number, rate: number): number {
  check('baselineP99Ms', baselineP99Ms, false);
  if (!(connections >= 1) || !Number.isInteger(connections)) throw new RangeError(`connections: must be an integer >= 1 (got ${String(connections)})`);
  if (!(rate > 0) || !Number.isFinite(rate)) throw new RangeError(`rate: must be a number > 0 (got ${String(rate)})`);
  return baselineP99Ms + (1_000 * connections) / rate;
}

/** Judge one step against the four rules in the opening comment; `boundMs` from p99BoundMs (Infinity: latency not judged). */
export function judgeStep(step: StepMeasure, boundMs: number): Judgement {
  check('rate', step.rate, false);
  check('scheduled', step.scheduled, true);
  check('dropped', step.dropped, true);
  check('failed', step.failed, true);
  check('completedInWindow', step.completedInWindow, true);
  check('p99Ms', step.p99Ms, false);
  if (typeof boundMs !== 'number' || Number.isNaN(boundMs) || boundMs < 0) throw new RangeError(`boundMs: must be a number >= 0, or Infinity to leave latency unjudged (got ${String(boundMs)})`);
  if (step.dropped + step.failed + step.completedInWindow > step.scheduled) {
    throw new RangeError(`dropped + failed + completedInWindow: must be <= scheduled (${step.dropped} + ${step.failed} + ${step.completedInWindow} > ${step.scheduled})`);
  }
  if (step.scheduled === 0) return { sustained: false, reasons: ['nothing scheduled'] };
  const reasons: string[] = [];
  const pct = (share: number): string => `${(share * 100).toFixed(1)} %`;
  const droppedShare = step.dropped / step.scheduled;
  if (droppedShare > MAX_DROPPED_SHARE) reasons.push(`dropped ${pct(droppedShare)} > ${pct(MAX_DROPPED_SHARE)}`);
  if (step.failed > 0) reasons.push(`${step.failed} failed`);
  const inWindowShare = step.completedInWindow / step.scheduled;
  if (inWindowShare < MIN_IN_WINDOW_SHARE) reasons.push(`completed within the step ${pct(inWindowShare)} < ${pct(MIN_IN_WINDOW_SHARE)}`);
  if (step.p99Ms > boundMs) reasons.push(`p99 ${step.p99Ms.toFixed(2)} ms > bound ${boundMs.toFixed(2)} ms`);
  return { sustained: reasons.length === 0, reasons };
}
