// Seeded randomness for the whole lab (load journeys, fault sampling, retry
// jitter). Runs must be reproducible: the same
// seed must send the same bodies, so that a regression between two runs is
// the system's, not the dice's. Math.random cannot be seeded, and a library
// is not worth it for ten lines: mulberry32 is a tiny, fast 32-bit PRNG with
// good enough statistics for picking SKUs and quantities (not for crypto).
// Each iteration derives its own generator from (seed, iteration), so what an
// iteration sends does not depend on how many others started or were dropped
// before it, nor on the order in which concurrent iterations run.

export interface Random {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [min, max] (both inclusive). */
  int(min: number, max: number): number;
  pick<T>(items: readonly T[]): T;
}

/** The mulberry32 generator: returns a function yielding uniform numbers in [0, 1). */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** A source of numbers uniformly distributed in [0, 1). */
export type RandomSource = () => number;

/**
 * Combine a seed and a stream (an iteration number, or a name such as a proxy's)
 * into one well-mixed 32-bit seed, so each stream draws its own sequence.
 */
export function deriveSeed(seed: number, stream: number | string): number {
  if (typeof stream === 'string') {
    // FNV-1a over the name, mixed with the seed.
    let hash = 0x811c9dc5 ^ (seed >>> 0);
    for (let i = 0; i < stream.length; i += 1) {
      hash ^= stream.charCodeAt(i);
      hash = Math.imul(hash, 0x01000193);
    }
    return hash >>> 0;
  }
  let h = (seed ^ Math.imul(stream + 0x9e3779b9, 0x85ebca6b)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

export function createRandom(seed: number): Random {
  const next = mulberry32(seed);
  return {
    next,
    int(min: number, max: number): number {
      return min + Math.floor(next() * (max - min + 1));
    },
    pick<T>(items: readonly T[]): T {
      if (items.length === 0) throw new RangeError('pick: no items to pick from');
      return items[Math.floor(next() * items.length)] as T;
    },
  };
}
