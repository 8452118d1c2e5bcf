// The scheduler on a hand-driven clock over a real fault board whose lab is a
// recording FaultTarget: pure logic, no timers, no sockets.

import { describe, expect, it } from 'vitest';
import type { FaultTarget } from '../fault-timeline.ts';
import { createFaultBoard } from './fault-board.ts';
import { createGameDay, DEFAULT_GAME_DAY_MS, planGameDay, type Clock, type GameDay, type GameDayInput, type PlannedFault } from './game-day.ts';

function fakeClock(start = 1_000_000) {
  let now = start;
  let nextId = 0;
  const timers = new Map<number, { at: number; callback: () => void }>();
  const clock: Clock = {
    now: () => now,
    setTimeout(callback, ms) {
      timers.set(++nextId, { at: now + ms, callback });
      return nextId;
    },
    clearTimeout: (handle) => void timers.delete(handle as number),
  };
  return {
    clock,
    pending: () => timers.size,
    /** Move time forward, firing each timer at its time and letting the day finish what it fired. */
    async advance(ms: number, day: GameDay): Promise<void> {
      const end = now + ms;
      for (;;) {
        const due = [...timers].filter(([, timer]) => timer.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
        if (!due) break;
        timers.delete(due[0]);
        now = Math.max(now, due[1].at);
        due[1].callback();
        await day.idle();
      }
      now = end;
    },
  };
}

/** A lab that tracks what is active and the most that ever was at once. */
function countingTarget(refuse: (fault: { name: string }) => boolean = () => false) {
  const active = new Set<string>();
  const log: string[] = [];
  let most = 0;
  const target: FaultTarget = {
    async apply(fault) {
      if (refuse(fault)) throw new Error(`refused ${fault.name}`);
      active.add(fault.name);
      log.push(`apply ${fault.name}`);
      most = Math.max(most, active.size);
    },
    async remove(fault) {
      active.delete(fault.name);
      log.push(`remove ${fault.name}`);
    },
  };
  return { target, active, log, most: () => most };
}

const DAY: GameDayInput = {
  seed: 42,
  presets: ['errors-50', 'latency-1s', { preset: 'pause', targets: ['bank', 'inventory'] }, 'cpu-burn-50', 'down'],
  meanInterval: '20s',
  faultDuration: { min: '10s', max: '60s' },
  maxConcurrent: 2,
  duration: '30m',
};

/** The most planned faults active at any one instant. */
function mostAtOnce(steps: readonly PlannedFault[]): number {
  return Math.max(0, ...steps.map((step) => steps.filter((other) => other.atMs <= step.atMs && step.atMs < other.atMs + other.durationMs).length));
}

describe('game day plan', () => {
  it('is the same for the same seed and set, and another for another seed', () => {
    const first = planGameDay(DAY).steps;
    expect(first.length).toBeGreaterThan(10);
    expect(planGameDay({ ...DAY }).steps).toEqual(first);
    expect(planGameDay({ ...DAY, seed: 43 }).steps).not.toEqual(first);
    expect(planGameDay({ ...DAY, presets: ['errors-50', 'latency-1s'] }).steps).not.toEqual(first);
  });

  it('keeps within maxConcurrent, the day, the duration range and the set', () => {
    for (const maxConcurrent of [1, 2, 4]) {
      const { steps, totalMs } = planGameDay({ ...DAY, meanInterval: '5s', maxConcurrent });
      expect(mostAtOnce(steps)).toBeLessThanOrEqual(maxConcurrent);
      if (maxConcurrent > 1) expect(mostAtOnce(steps)).toBe(maxConcurrent);
      expect(totalMs).toBe(30 * 60_000);
      for (const step of steps) {
        expect(step.atMs + step.durationMs).toBeLessThanOrEqual(totalMs);
        if (step.atMs + step.durationMs < totalMs) {
          expect(step.durationMs).toBeGreaterThanOrEqual(10_000);
          expect(step.durationMs).toBeLessThanOrEqual(60_000);
        }
        expect(['errors-50', 'latency-1s', 'pause', 'cpu-burn-50', 'down']).toContain(step.preset);
        if (step.preset === 'pause') expect(['bank', 'inventory']).toContain(step.target);
      }
      expect(steps.map((step) => step.atMs)).toEqual([...steps.map((step) => step.atMs)].sort((a, b) => a - b));
    }
  });

  it('never plans two pauses of one instance at once', () => {
    const { steps } = planGameDay({ ...DAY, presets: [{ preset: 'pause', targets: ['bank'] }], meanInterval: '1s', maxConcurrent: 5 });
    expect(steps.length).toBeGreaterThan(5);
    expect(mostAtOnce(steps)).toBe(1);
  });

  it('plans an hour when no duration is given', () => {
    const { duration: _duration, ...untimed } = DAY;
    const plan = planGameDay(untimed);
    expect(plan.totalMs).toBe(DEFAULT_GAME_DAY_MS);
    expect(plan.steps.at(-1)?.atMs).toBeGreaterThan(30 * 60_000);
  });

  it('reports every bad field at once with its path', () => {
    expect(() =>
      planGameDay({
        seed: 1.5,
        presets: ['nope', { preset: 'errors-10', targets: ['checkout->payment'] }],
        meanInterval: '0s',
        faultDuration: { min: '1m', max: '10s' },
        maxConcurrent: 0,
        colour: 'red',
      }),
    ).toThrow(
      expect.objectContaining({
        code: 'CONSOLE_INVALID_GAME_DAY',
        status: 400,
        message: expect.stringMatching(
          /^game day: .*seed: .*presets\.0: no preset 'nope'.*presets\.1\.targets\.0: preset 'errors-10' cannot act on 'checkout->payment'.*meanInterval: must be at least 1000 ms.*faultDuration\.min: must not be longer than max.*maxConcurrent: .*colour/,
        ),
      }),
    );
    expect(() => planGameDay({ ...DAY, colour: 'red' })).toThrow(/Unrecognized key.*colour/);
    expect(() => planGameDay({ ...DAY, faultDuration: { min: 'soon', max: '1s' } })).toThrow(/faultDuration\.min: /);
  });
});

describe('game day run', () => {
  it('applies and removes each planned fault at its time, through the board', async () => {
    const { clock, advance, pending } = fakeClock();
    const lab = countingTarget();
    const board = createFaultBoard({ target: lab.target, startedAt: clock.now(), now: clock.now });
    const day = createGameDay(DAY, { board, clock });
    const plan = day.plan();
    expect(day.state()).toMatchObject({ running: false, seed: 42, elapsedMs: 0, totalMs: 30 * 60_000, applied: [], active: [] });
    day.start();
    expect(day.state().next).toEqual({ ...plan[0], inMs: plan[0]?.atMs });
    const first = plan[0] as PlannedFault;
    await advance(first.atMs - 1, day);
    expect(lab.active.size).toBe(0);
    await advance(1, day);
    expect(day.state().applied).toEqual([{ ...first, name: 'console-' + first.preset + '-1', appliedAtMs: first.atMs, ok: true }]);
    expect(day.state().active).toEqual([`console-${first.preset}-1`]);
    expect(board.active()[0]).toMatchObject({ preset: first.preset, target: first.target, origin: 'game-day 42' });
    await advance(first.durationMs, day);
    expect(day.state().applied[0]?.removedAtMs).toBe(first.atMs + first.durationMs);

    await advance(30 * 60_000, day);
    await day.done;
    expect(day.state()).toMatchObject({ running: false, ended: 'finished', active: [] });
    expect(day.state().applied.map(({ preset, target, appliedAtMs, ok }) => ({ preset, target, atMs: appliedAtMs, ok }))).toEqual(
      plan.map(({ preset, target, atMs }) => ({ preset, target, atMs, ok: true })),
    );
    expect(lab.active.size).toBe(0);
    expect(lab.most()).toBe(2);
    expect(lab.log.filter((line) => line.startsWith('apply'))).toHaveLength(plan.length);
    expect(pending()).toBe(0);
  });

  it('stop removes every fault it applied and cancels the rest', async () => {
    const { clock, advance, pending } = fakeClock();
    const lab = countingTarget();
    const board = createFaultBoard({ target: lab.target, startedAt: clock.now(), now: clock.now });
    // Long faults, often: two are active most of the time.
    const day = createGameDay({ ...DAY, meanInterval: '5s', faultDuration: { min: '5m', max: '10m' } }, { board, clock });
    day.start();
    await advance(10 * 60_000, day);
    expect(lab.active.size).toBe(2);
    const applied = day.state().applied.length;
    // A fault removed by hand in the console meanwhile is not an error for the day.
    await board.remove(day.state().active[0] as string);
    const summary = await day.stop();
    expect(summary.errors).toEqual([]);
    expect(summary.removed).toHaveLength(1);
    expect(lab.active.size).toBe(0);
    expect(board.active()).toEqual([]);
    expect(day.state()).toMatchObject({ running: false, ended: 'stopped', active: [] });
    expect(day.state().next).toBeUndefined();
    expect(pending()).toBe(0);
    await advance(60 * 60_000, day);
    expect(day.state().applied).toHaveLength(applied);
    await day.done;
  });

  it('holds no more than maxConcurrent of its faults at once, and goes on past one the board refuses', async () => {
    const { clock, advance } = fakeClock();
    let refused = 0;
    // Every third application fails in the lab.
    const lab = countingTarget(() => ++refused % 3 === 0);
    const board = createFaultBoard({ target: lab.target, startedAt: clock.now(), now: clock.now });
    const day = createGameDay({ ...DAY, meanInterval: '3s', maxConcurrent: 3 }, { board, clock });
    day.start();
    await advance(30 * 60_000, day);
    await day.done;
    expect(lab.most()).toBeLessThanOrEqual(3);
    const outcomes = day.state().applied;
    expect(outcomes.length).toBe(day.plan().length);
    expect(outcomes.filter((outcome) => !outcome.ok).length).toBeGreaterThan(0);
    expect(outcomes.find((outcome) => !outcome.ok)?.error).toMatch(/^refused console-/);
    expect(lab.active.size).toBe(0);
  });

  it('cannot be started twice', () => {
    const { clock } = fakeClock();
    const day = createGameDay(DAY, { board: createFaultBoard({ target: countingTarget().target, startedAt: 0 }), clock });
    day.start();
    expect(() => day.start()).toThrow(expect.objectContaining({ code: 'CONSOLE_GAME_DAY_RUNNING', status: 409 }));
  });
});
