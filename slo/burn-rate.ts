// The arithmetic of error budgets and multiwindow, multi-burn-rate alerts
// (Google SRE Workbook, "Alerting on SLOs"). A burn rate of 1 spends exactly
// the budget over the SLO period; an alert tier fires when both its long and
// its short window burn faster than its factor. The workbook states the tiers
// for a 30-day period as factors (14.4, 6, 3, 1); they are really shares of
// the budget spent within the long window (2% in 1h, 5% in 6h, 10% in 1d,
// 10% in 3d), so the factor for any period is share x period / long window
// and a 28-day SLO gets 13.44, 5.6, 2.8 and 0.93.

export type Severity = 'page' | 'ticket';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** One tier as the workbook states it: a share of the budget spent within the long window. */
export interface WorkbookTier {
  severity: Severity;
  longMs: number;
  shortMs: number;
  budgetConsumed: number;
}

export const WORKBOOK_TIERS: readonly WorkbookTier[] = Object.freeze([
  { severity: 'page', longMs: HOUR, shortMs: 5 * 60_000, budgetConsumed: 0.02 },
  { severity: 'page', longMs: 6 * HOUR, shortMs: 30 * 60_000, budgetConsumed: 0.05 },
  { severity: 'ticket', longMs: DAY, shortMs: 2 * HOUR, budgetConsumed: 0.1 },
  { severity: 'ticket', longMs: 3 * DAY, shortMs: 6 * HOUR, budgetConsumed: 0.1 },
]);

/** The windows Sloth always records (its dashboards read them), in this order. */
export const STANDARD_WINDOWS_MS: readonly number[] = Object.freeze([5 * 60_000, 30 * 60_000, HOUR, 2 * HOUR, 6 * HOUR, DAY, 3 * DAY]);

/** The workbook's rule of thumb for a tier given only its long window: the short window is a twelfth of it. */
export const SHORT_WINDOW_DIVISOR = 12;

/** Rounds away float noise (0.02 x 720 is 14.400000000000002) so factors read and render as people write them. */
export function tidy(value: number): number {
  return Number(value.toPrecision(12));
}

/** The burn rate at which `budgetConsumed` of the budget goes within `longMs`. */
export function burnFactor(budgetConsumed: number, periodMs: number, longMs: number): number {
  return tidy((budgetConsumed * periodMs) / longMs);
}

/** The share of the budget a burn at `factor` spends within `longMs` (the inverse of burnFactor). */
export function budgetConsumedBy(factor: number, periodMs: number, longMs: number): number {
  return tidy((factor * longMs) / periodMs);
}

/** How long a whole period's budget lasts at this burn rate. */
export function timeToExhaustionMs(periodMs: number, factor: number): number {
  return periodMs / factor;
}

/** An error ratio above factor x budget must exist: a tier whose threshold is 100% or more can never fire. */
export function canFire(factor: number, errorBudget: number): boolean {
  return factor * errorBudget < 1;
}

/** The error-ratio threshold of a tier. */
export function errorRatioThreshold(factor: number, errorBudget: number): number {
  return tidy(factor * errorBudget);
}

/**
 * How long an incident with this error ratio takes to trip a tier whose
 * windows were clean before it (the long window is the slower one): the long
 * window's ratio is errorRatio x elapsed / long, which must exceed the threshold.
 * Infinity when the incident is too mild to ever trip it.
 */
export function detectionTimeMs(tier: { longMs: number; shortMs: number; burnFactor: number }, errorBudget: number, errorRatio: number): number {
  const threshold = tier.burnFactor * errorBudget;
  if (errorRatio <= threshold) return Infinity;
  return (threshold / errorRatio) * Math.max(tier.longMs, tier.shortMs);
}

/** The share of a period's budget that an error ratio spends over a stretch of time, traffic being steady. */
export function budgetConsumed(errorRatio: number, errorBudget: number, durationMs: number, periodMs: number): number {
  return (errorRatio / errorBudget) * (durationMs / periodMs);
}
