import { describe, expect, it } from 'vitest';
import { formatPromDuration, parseOpenSloDuration } from './prom-duration.ts';

describe('formatPromDuration', () => {
  it('writes the largest units first, as Prometheus does', () => {
    expect(formatPromDuration(5 * 60_000)).toBe('5m');
    expect(formatPromDuration(30 * 86_400_000)).toBe('30d');
    expect(formatPromDuration(90 * 60_000)).toBe('1h30m');
    expect(formatPromDuration((30 * 86_400_000) / 100)).toBe('7h12m');
    expect(formatPromDuration(300_000 / 360)).toBe('833ms');
    expect(formatPromDuration(0)).toBe('0s');
  });

  it('rejects what is not a duration', () => {
    expect(() => formatPromDuration(-1)).toThrow(RangeError);
    expect(() => formatPromDuration(Number.NaN)).toThrow(RangeError);
  });
});

describe('parseOpenSloDuration', () => {
  it('reads the OpenSLO shorthand', () => {
    expect(parseOpenSloDuration('30d')).toBe(30 * 86_400_000);
    expect(parseOpenSloDuration('1w')).toBe(7 * 86_400_000);
    expect(parseOpenSloDuration('5m')).toBe(300_000);
  });

  it('refuses calendar units and junk with a reason', () => {
    expect(() => parseOpenSloDuration('1M')).toThrow(/calendar units/);
    expect(() => parseOpenSloDuration('30 days')).toThrow(/not an OpenSLO duration/);
    expect(() => parseOpenSloDuration('0d')).toThrow(/longer than zero/);
  });
});
