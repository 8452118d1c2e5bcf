import { describe, expect, it } from 'vitest';
import { budgetConsumed, budgetConsumedBy, burnFactor, canFire, detectionTimeMs, timeToExhaustionMs, WORKBOOK_TIERS } from './burn-rate.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe('burn factors', () => {
  it("give the workbook's 14.4, 6, 3 and 1 for a 30-day period", () => {
    expect(WORKBOOK_TIERS.map((t) => burnFactor(t.budgetConsumed, 30 * DAY, t.longMs))).toEqual([14.4, 6, 3, 1]);
  });

  it('are the same shares of budget for any other period', () => {
    expect(WORKBOOK_TIERS.map((t) => burnFactor(t.budgetConsumed, 28 * DAY, t.longMs))).toEqual([13.44, 5.6, 2.8, 0.933333333333]);
    expect(WORKBOOK_TIERS.map((t) => burnFactor(t.budgetConsumed, 7 * DAY, t.longMs))).toEqual([3.36, 1.4, 0.7, 0.233333333333]);
    expect(budgetConsumedBy(14.4, 30 * DAY, HOUR)).toBe(0.02);
  });

  it('pair the workbook windows: 1h/5m and 6h/30m page, 1d/2h and 3d/6h ticket', () => {
    expect(WORKBOOK_TIERS.map((t) => [t.severity, t.longMs / 60_000, t.shortMs / 60_000])).toEqual([
      ['page', 60, 5],
      ['page', 360, 30],
      ['ticket', 1440, 120],
      ['ticket', 4320, 360],
    ]);
  });
});

describe('what a burn means', () => {
  it('exhausts a 30-day budget in 50 hours at 14.4x', () => {
    expect(timeToExhaustionMs(30 * DAY, 14.4) / HOUR).toBeCloseTo(50, 9);
  });

  it('cannot fire when factor x budget reaches 100% of events', () => {
    expect(canFire(14.4, 0.001)).toBe(true);
    expect(canFire(14.4, 0.1)).toBe(false);
    expect(canFire(10, 0.1)).toBe(false);
  });

  it('detects a full outage of a 99.9% SLO in 52 seconds on the 1h window, a 99% one in 8.6 minutes', () => {
    const fast = { longMs: HOUR, shortMs: 5 * 60_000, burnFactor: 14.4 };
    expect(detectionTimeMs(fast, 0.001, 1)).toBeCloseTo(51_840, 6);
    expect(detectionTimeMs(fast, 0.01, 1) / 60_000).toBeCloseTo(8.64, 9);
    expect(detectionTimeMs(fast, 0.001, 0.01)).toBe(Infinity);
  });

  it('spends budget in proportion to burn rate and time', () => {
    expect(budgetConsumed(0.002, 0.001, 36 * HOUR, 30 * DAY)).toBeCloseTo(0.1, 12);
    expect(budgetConsumed(1, 0.001, 43.2 * 60_000, 30 * DAY)).toBeCloseTo(1, 12);
  });
});
