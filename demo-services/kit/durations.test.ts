import { describe, expect, it } from 'vitest';
import { DurationError, formatDuration, parseDuration } from './durations.ts';

describe('parseDuration', () => {
  it.each([
    ['30s', 30_000],
    ['500ms', 500],
    ['1m30s', 90_000],
    ['2h', 7_200_000],
    ['1h2m3s4ms', 3_723_004],
    ['1.5s', 1_500],
    ['.5s', 500],
    ['250us', 0.25],
    ['250µs', 0.25],
    ['1000000ns', 1],
    [' 10s ', 10_000],
    ['0', 0],
    [0, 0],
    [1234.5, 1234.5],
  ])('%j is %d ms', (input, expected) => {
    expect(parseDuration(input)).toBeCloseTo(expected, 9);
  });

  it.each([
    ['', 'is empty'],
    ['30', 'has no unit'],
    ['30x', 'unknown unit "x"'],
    ['1m30', '"30" has no unit'],
    ['1m 30s', 'unexpected " 30s"'],
    ['s', 'unexpected "s"'],
    ['-5s', 'must not be negative'],
    ['1y', 'unknown unit "y"'],
  ])('rejects %j (%s)', (input, reason) => {
    const error = catchError(() => parseDuration(input, 'scenarios.checkout.duration'));
    expect(error).toBeInstanceOf(DurationError);
    expect(error).toMatchObject({ code: 'FL_BAD_DURATION', value: input, field: 'scenarios.checkout.duration' });
    expect((error as Error).message).toContain(`scenarios.checkout.duration: invalid duration ${JSON.stringify(input)}`);
    expect((error as Error).message).toContain(reason);
  });

  it('rejects negative, non-finite and non-string values', () => {
    expect(() => parseDuration(-1)).toThrow(/invalid duration -1: must not be negative/);
    expect(() => parseDuration(Number.NaN)).toThrow(DurationError);
    expect(() => parseDuration(Infinity)).toThrow(/finite/);
    expect(() => parseDuration({} as unknown as string)).toThrow(/invalid duration object/);
  });
});

describe('formatDuration', () => {
  it('writes the k6 spelling and round-trips through parseDuration', () => {
    expect(formatDuration(90_000)).toBe('1m30s');
    expect(formatDuration(250)).toBe('250ms');
    expect(formatDuration(7_200_000)).toBe('2h');
    expect(formatDuration(0)).toBe('0s');
    for (const ms of [1, 999, 1_000, 61_500, 3_723_004]) expect(parseDuration(formatDuration(ms))).toBeCloseTo(ms, 6);
  });
});

function catchError(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}
