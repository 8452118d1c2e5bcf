import { describe, expect, it } from 'vitest';
import { formatMs, parseRatio } from './units.ts';

describe('parseRatio', () => {
  it('reads percentages and ratios', () => {
    expect(parseRatio('99.9%')).toBeCloseTo(0.999);
    expect(parseRatio(0.5)).toBe(0.5);
  });
  it('rejects values outside [0, 1]', () => {
    expect(() => parseRatio('150%')).toThrow(/not a ratio/);
    expect(() => parseRatio(2)).toThrow(/not a ratio/);
  });
});

describe('formatMs', () => {
  it('picks a readable unit', () => {
    expect(formatMs(12.4)).toBe('12ms');
    expect(formatMs(2_345)).toBe('2.35s');
  });
});
