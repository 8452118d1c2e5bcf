// Traffic shapes as data. The usual load-test profiles (smoke, average,
// stress, spike, soak, diurnal, bursts) are each a pure function of a peak
// rate and a total duration that returns ramping-arrival-rate stages, so a
// scenario names a shape instead of hand-writing stage lists, and a shape can
// be plotted or tested without sending a request. Durations are integer
// milliseconds that add up exactly to the requested total.

import { LoadOptionsError } from './schedule.ts';

export interface ShapeStage {
  /** Rate (per second) at the end of the stage. */
  target: number;
  /** Milliseconds. */
  duration: number;
}

/** What ramping-arrival-rate needs from a shape (timeUnit 1s). */
export interface ShapeStages {
  startRate: number;
  stages: ShapeStage[];
}

export const SHAPE_NAMES = ['smoke', 'average', 'stress', 'spike', 'soak', 'diurnal', 'bursts'] as const;
export type ShapeName = (typeof SHAPE_NAMES)[number];

/** The shortest run a shape is built for: every stage gets at least a few milliseconds. */
export const MIN_SHAPE_DURATION_MS = 1_000;

/** A shape as (fraction of the total duration, fraction of the peak rate at the end of the segment) points. */
type Profile = { start: number; points: ReadonlyArray<readonly [number, number]> };

function build(profile: Profile, peakRate: number, durationMs: number): ShapeStages {
  const stages: ShapeStage[] = [];
  let fraction = 0;
  let previousBoundary = 0;
  for (const [share, level] of profile.points) {
    fraction += share;
    const boundary = Math.round(fraction * durationMs);
    const duration = boundary - previousBoundary;
    previousBoundary = boundary;
    if (duration > 0) stages.push({ target: level * peakRate, duration });
  }
  // Rounding must not lose or add time: the last stage absorbs the remainder.
  stages[stages.length - 1]!.duration += durationMs - previousBoundary;
  return { startRate: profile.start * peakRate, stages };
}

function check(peakRate: number, durationMs: number): void {
  const problems: string[] = [];
  if (typeof peakRate !== 'number' || !Number.isFinite(peakRate) || peakRate <= 0) problems.push(`peakRate: must be a number > 0 (got ${String(peakRate)})`);
  if (!Number.isInteger(durationMs) || durationMs < MIN_SHAPE_DURATION_MS) {
    problems.push(`duration: must be an integer number of ms >= ${MIN_SHAPE_DURATION_MS} (got ${String(durationMs)})`);
  }
  if (problems.length > 0) throw new LoadOptionsError(problems);
}

/** A minimal sanity run: 1/s (or the peak if lower), flat. */
export function smoke(peakRate: number, durationMs: number): ShapeStages {
  check(peakRate, durationMs);
  const rate = Math.min(1, peakRate);
  return { startRate: rate, stages: [{ target: rate, duration: durationMs }] };
}

/** Typical load: ramp up over 10 %, hold the peak for 80 %, ramp down over 10 %. */
export function average(peakRate: number, durationMs: number): ShapeStages {
  check(peakRate, durationMs);
  return build({ start: 0, points: [[0.1, 1], [0.8, 1], [0.1, 0]] }, peakRate, durationMs);
}

/** Stairs to the peak (50 %, 75 %, 100 %), each held, then down: where does it break? */
export function stress(peakRate: number, durationMs: number): ShapeStages {
  check(peakRate, durationMs);
  return build({ start: 0, points: [[0.1, 0.5], [0.2, 0.5], [0.1, 0.75], [0.2, 0.75], [0.1, 1], [0.2, 1], [0.1, 0]] }, peakRate, durationMs);
}

/** A 10 % baseline, a sudden jump to the peak in the middle, and back: does it recover? */
export function spike(peakRate: number, durationMs: number): ShapeStages {
  check(peakRate, durationMs);
  return build({ start: 0.1, points: [[0.4, 0.1], [0.02, 1], [0.16, 1], [0.02, 0.1], [0.4, 0.1]] }, peakRate, durationMs);
}

/** Long and flat at the peak, short ramps: leaks and slow degradation. */
export function soak(peakRate: number, durationMs: number): ShapeStages {
  check(peakRate, durationMs);
  return build({ start: 0, points: [[0.05, 1], [0.9, 1], [0.05, 0]] }, peakRate, durationMs);
}

/** Hours in the compressed day; each becomes one linear stage. */
export const DIURNAL_SEGMENTS = 24;
/** Night-time rate as a fraction of the peak. */
export const DIURNAL_TROUGH = 0.2;

/** The daily level at `fraction` of a day that starts at midnight: a raised cosine, trough at night, peak at noon. */
export function diurnalLevel(fraction: number): number {
  return DIURNAL_TROUGH + ((1 - DIURNAL_TROUGH) * (1 - Math.cos(2 * Math.PI * fraction))) / 2;
}

/** A smoothed day compressed into the duration: 24 linear segments along diurnalLevel. */
export function diurnal(peakRate: number, durationMs: number): ShapeStages {
  check(peakRate, durationMs);
  const points: Array<[number, number]> = [];
  for (let hour = 1; hour <= DIURNAL_SEGMENTS; hour += 1) points.push([1 / DIURNAL_SEGMENTS, diurnalLevel(hour / DIURNAL_SEGMENTS)]);
  return build({ start: diurnalLevel(0), points }, peakRate, durationMs);
}

/** Bursts in a run. */
export const BURST_COUNT = 4;
/** Baseline between bursts as a fraction of the peak. */
export const BURST_BASELINE = 0.2;

/** A 20 % baseline with four short bursts to the peak (sharp 1 % edges, 4 % at the peak), evenly spaced. */
export function bursts(peakRate: number, durationMs: number): ShapeStages {
  check(peakRate, durationMs);
  const burstShare = 0.06;
  const gap = (1 - BURST_COUNT * burstShare) / (BURST_COUNT + 1);
  const points: Array<[number, number]> = [[gap, BURST_BASELINE]];
  for (let i = 0; i < BURST_COUNT; i += 1) points.push([0.01, 1], [0.04, 1], [0.01, BURST_BASELINE], [gap, BURST_BASELINE]);
  return build({ start: BURST_BASELINE, points }, peakRate, durationMs);
}

const SHAPES: Readonly<Record<ShapeName, (peakRate: number, durationMs: number) => ShapeStages>> = { smoke, average, stress, spike, soak, diurnal, bursts };

/** The stages of a named shape; unknown names are a LoadOptionsError listing the known ones. */
export function shapeStages(name: string, peakRate: number, durationMs: number): ShapeStages {
  if (!(SHAPE_NAMES as readonly string[]).includes(name)) throw new LoadOptionsError([`shape: unknown shape '${name}' (known: ${SHAPE_NAMES.join(', ')})`]);
  return SHAPES[name as ShapeName](peakRate, durationMs);
}
