// Breaker state over a run, read from the traces: every transition is a span
// event on the call that caused it, with its exact time. The verdict uses
// this rather than scraped metrics, so it also proves the telemetry arrived.

import type { FlatSpan } from '../collector/trace-query.ts';
import { SPAN_ATTR, SPAN_EVENT, type CircuitState } from '../demo-services/kit/conventions.ts';

export interface CircuitTransition {
  timeMs: number;
  from: CircuitState;
  to: CircuitState;
}

export function circuitTransitions(spans: FlatSpan[], service: string, dependency: string): CircuitTransition[] {
  const transitions: CircuitTransition[] = [];
  for (const span of spans) {
    if (span.service !== service || span.attributes[SPAN_ATTR.dependency] !== dependency) continue;
    for (const event of span.events) {
      if (event.name !== SPAN_EVENT.circuitTransition) continue;
      transitions.push({
        timeMs: event.timeMs,
        from: event.attributes[SPAN_ATTR.circuitFrom] as CircuitState,
        to: event.attributes[SPAN_ATTR.circuitTo] as CircuitState,
      });
    }
  }
  return transitions.sort((a, b) => a.timeMs - b.timeMs);
}

/** Intervals during which the breaker was not closed (open or probing), clipped to the run's end. */
export function openIntervals(transitions: CircuitTransition[], endMs: number): Array<{ fromMs: number; toMs: number }> {
  const intervals: Array<{ fromMs: number; toMs: number }> = [];
  let openedAt: number | undefined;
  for (const transition of transitions) {
    if (transition.from === 'closed' && transition.to !== 'closed') openedAt = transition.timeMs;
    if (transition.to === 'closed' && openedAt !== undefined) {
      intervals.push({ fromMs: openedAt, toMs: transition.timeMs });
      openedAt = undefined;
    }
  }
  if (openedAt !== undefined) intervals.push({ fromMs: openedAt, toMs: endMs });
  return intervals;
}

/**
 * The stretches in which the breaker was open (not half-open), each ended `leadMs` early:
 * a request that arrives in the last `leadMs` of a stretch may reach the breaker after it
 * went half-open and be let through as a probe, and so is not one the open breaker refused.
 * Stretches that the lead swallows are left out.
 */
export function openStateIntervals(transitions: CircuitTransition[], endMs: number, leadMs = 0): Array<{ fromMs: number; toMs: number }> {
  const intervals: Array<{ fromMs: number; toMs: number }> = [];
  let openedAt: number | undefined;
  const close = (atMs: number) => {
    if (openedAt !== undefined && atMs - leadMs > openedAt) intervals.push({ fromMs: openedAt, toMs: atMs - leadMs });
    openedAt = undefined;
  };
  for (const transition of transitions) {
    if (transition.to === 'open') {
      if (openedAt === undefined) openedAt = transition.timeMs;
    } else if (transition.from === 'open') close(transition.timeMs);
  }
  close(endMs);
  return intervals;
}
