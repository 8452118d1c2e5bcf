// Ratios as users write them in scenarios and policies ('99.9%' or 0.999),
// and milliseconds as people read them in tables. Durations ('800ms',
// '1m30s') have their own module, durations.ts.

export class UnitError extends Error {
  readonly code = 'FL_BAD_UNIT';
  constructor(message: string) {
    super(message);
    this.name = 'UnitError';
  }
}

/** `'99.9%'` or `0.999` to a ratio in [0, 1]. */
export function parseRatio(value: string | number): number {
  const ratio = typeof value === 'number' ? value : value.trim().endsWith('%') ? Number(value.trim().slice(0, -1)) / 100 : Number(value);
  if (!Number.isFinite(ratio) || ratio < 0 || ratio > 1) {
    throw new UnitError(`'${value}' is not a ratio: expected a number from 0 to 1 or a percentage like '99.9%'`);
  }
  return ratio;
}

/** Milliseconds as a short human string for tables and logs. */
export function formatMs(ms: number): string {
  if (ms < 1) return `${ms.toFixed(2)}ms`;
  if (ms < 1_000) return `${Math.round(ms)}ms`;
  return `${(ms / 1_000).toFixed(ms < 10_000 ? 2 : 1)}s`;
}
