// What an SLO says about a stretch of traffic, from counts alone: the SLI over
// the window, the error ratio and burn rate, the share of the period's error
// budget the window spent, and when each alert tier would have fired. The
// runner can call it with a run's per-second counts (no Prometheus needed),
// and the workshop checker uses it to mark learners' answers.

import { simulateAlerts, indexCounts, windowCounts, type CountSample, type FiringInterval } from './alert-simulator.ts';
import { SLO_ERROR_CODE, SloError } from './errors.ts';
import type { SloDefinition } from './spec.ts';

export type { CountSample } from './alert-simulator.ts';

export interface SloReportOptions {
  /** The lab time scale the SLO is lived at (the period and windows are divided by it). Default 1. */
  timeScale?: number;
  /** Window start (ms, exclusive) and end (ms, inclusive); default: all the samples. */
  from?: number;
  to?: number;
  /** Length of one sample's interval (ms), to place the start of the first one; default: the smallest gap between samples. */
  stepMs?: number;
}

export interface SloReport {
  id: string;
  objective: number;
  errorBudget: number;
  /** The period as lived at this time scale. */
  periodMs: number;
  window: { from: number; to: number; durationMs: number };
  events: { good: number; bad: number; total: number };
  /** good / total; null without traffic. */
  sli: number | null;
  /** bad / total; null without traffic. */
  errorRatio: number | null;
  /** errorRatio / errorBudget: 1 spends the budget exactly over the period. null without traffic. */
  burnRate: number | null;
  /** Share of the period's whole budget spent in the window: burnRate x duration / period. */
  budgetConsumed: number;
  /** 1 - budgetConsumed: what is left if the rest of the period is clean. */
  budgetRemaining: number;
  /** Whether the window met the objective on its own (null without traffic). */
  met: boolean | null;
  /** Alert tiers that fired in the window (evaluated at every sample, with all samples as history). */
  alerts: FiringInterval[];
}

function inferStep(samples: readonly CountSample[]): number | undefined {
  const times = [...new Set(samples.map((s) => s.t))].sort((a, b) => a - b);
  let step: number | undefined;
  for (let i = 1; i < times.length; i += 1) {
    const gap = (times[i] as number) - (times[i - 1] as number);
    if (step === undefined || gap < step) step = gap;
  }
  return step;
}

export function sloReport(slo: SloDefinition, samples: readonly CountSample[], options: SloReportOptions = {}): SloReport {
  const scale = options.timeScale ?? 1;
  if (!Number.isFinite(scale) || scale < 1) throw new SloError(SLO_ERROR_CODE.badOption, `timeScale: must be a number >= 1 (got ${scale})`);
  if (samples.length === 0 && (options.from === undefined || options.to === undefined)) {
    throw new SloError(SLO_ERROR_CODE.badInput, 'samples: none given, and no from/to to bound an empty window');
  }
  const index = indexCounts(samples);
  const step = options.stepMs ?? inferStep(samples);
  if (options.from === undefined && step === undefined) throw new SloError(SLO_ERROR_CODE.badInput, 'stepMs: needed to place the start of a single sample');
  const to = options.to ?? (index.times.at(-1) as number);
  const from = options.from ?? (index.times[0] as number) - (step as number);
  if (!(to > from)) throw new SloError(SLO_ERROR_CODE.badInput, `window: 'to' (${to}) must be after 'from' (${from})`);
  const { good, total } = windowCounts(index, from, to);
  const bad = total - good;
  const periodMs = slo.periodMs / scale;
  const durationMs = to - from;
  const errorRatio = total > 0 ? bad / total : null;
  const burnRate = errorRatio === null ? null : errorRatio / slo.errorBudget;
  const budgetConsumed = burnRate === null ? 0 : (burnRate * durationMs) / periodMs;
  const alerts = simulateAlerts(slo, samples, { timeScale: scale }).intervals.filter((i) => i.from <= to && (i.to === null || i.to > from));
  return {
    id: slo.id,
    objective: slo.objective,
    errorBudget: slo.errorBudget,
    periodMs,
    window: { from, to, durationMs },
    events: { good, bad, total },
    sli: total > 0 ? good / total : null,
    errorRatio,
    burnRate,
    budgetConsumed,
    budgetRemaining: 1 - budgetConsumed,
    met: total > 0 ? good / total >= slo.objective : null,
    alerts,
  };
}
