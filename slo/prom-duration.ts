// Durations as Prometheus writes them ('5m', '1h30m', '833ms') and as OpenSLO
// writes them ('30d', '1w'). Recording-rule names and the sloth_window label
// use the nominal window ('ratio_rate5m'), while the expressions use the
// window actually evaluated, which the lab's time scale shrinks; both come
// from here so that a name and its range never disagree. The k6 spelling used
// by the compact spec form is parsed by demo-services/kit/durations.ts.

const UNITS: ReadonlyArray<readonly [string, number]> = [
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1_000],
  ['ms', 1],
];

/** Milliseconds (rounded to a whole millisecond) in Prometheus' spelling, largest unit first: 90 min is '1h30m'. */
export function formatPromDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`not a duration: ${ms}`);
  let rest = Math.round(ms);
  if (rest === 0) return '0s';
  let out = '';
  for (const [unit, size] of UNITS) {
    const count = Math.floor(rest / size);
    if (count > 0) {
      out += `${count}${unit}`;
      rest -= count * size;
    }
  }
  return out;
}

const OPENSLO_UNITS: Readonly<Record<string, number>> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };

/**
 * An OpenSLO duration shorthand ('30d', '1w', '1h') in milliseconds. Calendar
 * units (M, Q, Y) have no fixed length, so a rolling window cannot use them;
 * the message says so instead of guessing a month.
 */
export function parseOpenSloDuration(text: string): number {
  const match = /^(\d+)([mhdwMQY])$/.exec(text.trim());
  if (!match) throw new RangeError(`'${text}' is not an OpenSLO duration (a whole number and one of m, h, d, w: '30d', '1h')`);
  const [, amount, unit] = match as unknown as [string, string, string];
  const size = OPENSLO_UNITS[unit];
  if (size === undefined) throw new RangeError(`'${text}': calendar units (M, Q, Y) have no fixed length; write the window in days, e.g. '30d'`);
  const ms = Number(amount) * size;
  if (ms <= 0) throw new RangeError(`'${text}' must be longer than zero`);
  return ms;
}
