// k6 spells durations as Go does ('30s', '500ms', '1m30s', '2h') and also
// accepts a bare number of milliseconds. Scenario files, executor options and
// fault timelines all take that shorthand; this module is the one place that
// turns it into milliseconds, so every caller rejects the same bad input with
// the same message. (A library such as `ms` reads '1m' as one minute but not
// '1m30s', and k6 users write the compound form.)

export class DurationError extends Error {
  readonly code = 'FL_BAD_DURATION';
  readonly value: unknown;
  readonly field: string | undefined;

  constructor(value: unknown, reason: string, field?: string) {
    const where = field === undefined ? '' : `${field}: `;
    super(`${where}invalid duration ${formatValue(value)}: ${reason}`);
    this.name = 'DurationError';
    this.value = value;
    this.field = field;
  }
}

export type DurationInput = string | number;

const UNIT_MS: Readonly<Record<string, number>> = {
  d: 86_400_000,
  h: 3_600_000,
  m: 60_000,
  s: 1_000,
  ms: 1,
  us: 0.001,
  µs: 0.001,
  μs: 0.001,
  ns: 0.000_001,
};

// One `<number><unit>` component; the whole string must be a sequence of them.
const COMPONENT = /(\d+(?:\.\d*)?|\.\d+)(d|h|ms|m|s|us|µs|μs|ns)/y;

/**
 * Parse a k6-style duration into milliseconds (may be fractional for sub-ms units).
 * `field` names the option in the error message (`scenarios.checkout.duration`).
 */
export function parseDuration(value: DurationInput, field?: string): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new DurationError(value, 'must be a finite number of milliseconds', field);
    if (value < 0) throw new DurationError(value, 'must not be negative', field);
    return value;
  }
  if (typeof value !== 'string') {
    throw new DurationError(value, "expected a string such as '30s' or a number of milliseconds", field);
  }
  const text = value.trim();
  if (text === '') throw new DurationError(value, 'is empty', field);
  if (text === '0') return 0;
  if (text.startsWith('-')) throw new DurationError(value, 'must not be negative', field);
  if (/^\d+(?:\.\d+)?$/.test(text)) {
    throw new DurationError(value, "has no unit (write '500ms', '30s', '1m30s', '2h', or pass a number of milliseconds)", field);
  }
  let total = 0;
  COMPONENT.lastIndex = 0;
  while (COMPONENT.lastIndex < text.length) {
    const at = COMPONENT.lastIndex;
    const match = COMPONENT.exec(text);
    if (match === null) {
      const rest = text.slice(at);
      const unit = /^(?:\d+(?:\.\d*)?|\.\d+)([^\d.]*)/.exec(rest)?.[1];
      const what = unit === undefined ? `unexpected ${JSON.stringify(rest)}` : unit === '' ? `${JSON.stringify(rest)} has no unit` : `unknown unit ${JSON.stringify(unit)}`;
      throw new DurationError(value, `${what} (units: d, h, m, s, ms, us, ns)`, field);
    }
    const [, amount, unit] = match;
    total += Number(amount) * (UNIT_MS[unit as string] as number);
  }
  return total;
}

/** Render milliseconds back in the k6 spelling ('1m30s', '250ms'); used in reports and error messages. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  if (ms < 0) return `-${formatDuration(-ms)}`;
  if (ms === 0) return '0s';
  if (ms < 1_000) return `${roundTo(ms, 3)}ms`;
  let rest = ms;
  let out = '';
  const hours = Math.floor(rest / 3_600_000);
  if (hours > 0) {
    out += `${hours}h`;
    rest -= hours * 3_600_000;
  }
  const minutes = Math.floor(rest / 60_000);
  if (minutes > 0) {
    out += `${minutes}m`;
    rest -= minutes * 60_000;
  }
  if (rest > 0) out += `${roundTo(rest / 1_000, 3)}s`;
  return out;
}

function roundTo(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

function formatValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') return String(value);
  if (value === null) return 'null';
  return typeof value;
}
