import { describe, expect, it } from 'vitest';
import { createRandom, deriveSeed, mulberry32 } from './random.ts';

describe('seeded random', () => {
  it('repeats the same sequence for the same seed and differs for another', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const c = mulberry32(43);
    const seqA = Array.from({ length: 5 }, () => a());
    expect(Array.from({ length: 5 }, () => b())).toEqual(seqA);
    expect(Array.from({ length: 5 }, () => c())).not.toEqual(seqA);
    expect(seqA.every((x) => x >= 0 && x < 1)).toBe(true);
  });

  it('int covers its inclusive range roughly uniformly', () => {
    const random = createRandom(7);
    const counts = [0, 0, 0];
    for (let i = 0; i < 30_000; i += 1) counts[random.int(1, 3) - 1]! += 1;
    for (const count of counts) expect(count).toBeGreaterThan(9_000);
    expect(counts.reduce((s, n) => s + n, 0)).toBe(30_000);
  });

  it('derives distinct, stable per-iteration seeds', () => {
    const seeds = new Set(Array.from({ length: 10_000 }, (_, i) => deriveSeed(1, i)));
    expect(seeds.size).toBe(10_000);
    expect(deriveSeed(1, 5)).toBe(deriveSeed(1, 5));
    expect(deriveSeed(1, 5)).not.toBe(deriveSeed(2, 5));
  });

  it('pick refuses an empty list', () => {
    expect(createRandom(1).pick(['a'])).toBe('a');
    expect(() => createRandom(1).pick([])).toThrow(RangeError);
  });
});

describe('seeded random as a plain source (fault sampling)', () => {
  it('gives equal sequences for equal seeds and different ones otherwise', () => {
    const a = mulberry32(99);
    const b = mulberry32(99);
    const c = mulberry32(100);
    const first = Array.from({ length: 50 }, () => a());
    expect(Array.from({ length: 50 }, () => b())).toEqual(first);
    expect(Array.from({ length: 50 }, () => c())).not.toEqual(first);
  });

  it('stays in [0, 1) and spreads evenly', () => {
    const random = mulberry32(3);
    const buckets = Array<number>(10).fill(0);
    let min = 1;
    let max = 0;
    for (let i = 0; i < 100_000; i += 1) {
      const value = random();
      min = Math.min(min, value);
      max = Math.max(max, value);
      buckets[Math.floor(value * 10)]! += 1;
    }
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThan(1);
    for (const count of buckets) expect(Math.abs(count - 10_000)).toBeLessThan(500);
  });

  it('derives distinct, stable seeds per stream name', () => {
    expect(deriveSeed(1, 'bank')).toBe(deriveSeed(1, 'bank'));
    expect(deriveSeed(1, 'bank')).not.toBe(deriveSeed(1, 'catalog'));
    expect(deriveSeed(1, 'bank')).not.toBe(deriveSeed(2, 'bank'));
  });
});
