// A game day: faults from a chosen set of presets broken into the shop at
// random times, each for a random while, until the time is up or the
// instructor stops it, which removes every fault it applied. The whole plan is
// drawn up front from a seed (the project's mulberry32), so a class can replay
// the same day and the console can show what is coming. The clock is
// injected: tests drive it by hand, the console uses real timers.

import { z } from 'zod';
import { createRandom } from '../../demo-services/kit/random.ts';
import { durationMs, formatIssues } from '../../demo-services/kit/schema.ts';
import type { FaultBoard } from './fault-board.ts';
import { CONSOLE_ERROR, ConsoleInputError, presets, type FaultPreset } from './fault-presets.ts';

/** How long a game day without a `duration` may run: it is planned this far, and ends here unless stopped sooner. */
export const DEFAULT_GAME_DAY_MS = 60 * 60_000;

/** A game day holds at most this many faults at once: more is no longer a lesson. */
export const MAX_CONCURRENT_LIMIT = 10;

/** Faults closer together than this are noise, not a lesson (and would make a long plan slow to draw). */
export const MIN_MEAN_INTERVAL_MS = 1_000;

const positiveDuration = durationMs.refine((ms) => ms > 0, 'must be longer than 0 ms');

/** Preset ids, read once: the game day's input is checked against them. */
const presetsById = (): Map<string, FaultPreset> => new Map(presets().map((preset) => [preset.id, preset]));

const choiceSchema = z
  .union([
    z.string(),
    z.strictObject({
      preset: z.string(),
      /** Only these targets (each one the preset accepts); absent: any it accepts. */
      targets: z.array(z.string()).min(1).optional(),
    }),
  ])
  // On the field, not the whole: checked even when another field is wrong, so every problem is named at once.
  .superRefine((choice, ctx) => {
    const known = presetsById();
    const id = typeof choice === 'string' ? choice : choice.preset;
    const preset = known.get(id);
    if (!preset) {
      ctx.addIssue({ code: 'custom', message: `no preset '${id}' (presets: ${[...known.keys()].join(', ')})` });
      return;
    }
    if (typeof choice === 'string') return;
    choice.targets?.forEach((target, j) => {
      if (!preset.targets.includes(target)) ctx.addIssue({ code: 'custom', path: ['targets', j], message: `preset '${id}' cannot act on '${target}' (it takes ${preset.targets.join(', ')})` });
    });
  });

const gameDaySchema = z.strictObject({
  seed: z.int(),
  /** Preset ids, or `{ preset, targets }` to narrow where it may strike. */
  presets: z.array(choiceSchema).min(1),
  /** Mean time between two faults starting ('30s', or milliseconds); the gaps are exponential (a Poisson process). */
  meanInterval: durationMs.refine((ms) => ms >= MIN_MEAN_INTERVAL_MS, `must be at least ${MIN_MEAN_INTERVAL_MS} ms: a game day is for people to follow`),
  /** Each fault lasts a uniform draw in [min, max]. */
  faultDuration: z
    .strictObject({ min: positiveDuration, max: positiveDuration })
    .refine((range) => range.min <= range.max, { path: ['min'], message: 'must not be longer than max' }),
  /** A fault that would start while this many are active is left out of the plan. */
  maxConcurrent: z.int().min(1).max(MAX_CONCURRENT_LIMIT).default(2),
  /** When the day ends; absent: DEFAULT_GAME_DAY_MS, or whenever it is stopped. */
  duration: positiveDuration.optional(),
});

/** A game day as the console sends it (durations as '30s' or milliseconds). */
export type GameDayInput = z.input<typeof gameDaySchema>;
export type GameDayConfig = z.output<typeof gameDaySchema>;

export interface PlannedFault {
  /** Position in the plan. */
  index: number;
  /** Offset from the start of the day. */
  atMs: number;
  preset: string;
  target: string;
  durationMs: number;
}

export interface GameDayPlan {
  config: GameDayConfig;
  /** How long the day runs: its duration, or DEFAULT_GAME_DAY_MS. */
  totalMs: number;
  steps: PlannedFault[];
}

/** The input, validated; ConsoleInputError listing every bad path. */
export function parseGameDay(input: unknown): GameDayConfig {
  const result = gameDaySchema.safeParse(input);
  if (!result.success) throw new ConsoleInputError(CONSOLE_ERROR.invalidGameDay, `game day: ${formatIssues(result.error).join('; ')}`);
  return result.data;
}

/** Faults of which two cannot share a target at once (the board refuses the second). */
function exclusiveKey(preset: FaultPreset, target: string): string | undefined {
  return preset.faultType === 'process' || preset.faultType === 'down' ? `${preset.faultType} ${target}` : undefined;
}

/**
 * The whole day, drawn from the seed: arrivals with exponential gaps, each a uniformly chosen
 * preset of the set on a uniformly chosen target, for a uniform duration, cut at the end of the
 * day. An arrival that finds maxConcurrent faults active, or its target already held by a fault
 * that excludes it, is left out. The draws do not depend on what is left out: the same seed and
 * set give the same plan.
 */
export function planGameDay(input: unknown): GameDayPlan {
  const config = parseGameDay(input);
  const totalMs = config.duration ?? DEFAULT_GAME_DAY_MS;
  const byId = presetsById();
  const choices = config.presets.map((choice) => {
    const preset = byId.get(typeof choice === 'string' ? choice : choice.preset) as FaultPreset;
    return { preset, targets: (typeof choice === 'string' ? undefined : choice.targets) ?? preset.targets };
  });
  const random = createRandom(config.seed);
  const steps: PlannedFault[] = [];
  let atMs = 0;
  for (;;) {
    // Exponential gap, mean meanInterval; 1 - next() is in (0, 1], so the log is finite.
    atMs += Math.max(1, Math.round(-config.meanInterval * Math.log(1 - random.next())));
    if (atMs >= totalMs) break;
    const { preset, targets } = random.pick(choices);
    const target = random.pick(targets);
    const drawn = config.faultDuration.min + Math.round(random.next() * (config.faultDuration.max - config.faultDuration.min));
    const durationMs = Math.min(drawn, totalMs - atMs);
    const overlapping = steps.filter((step) => step.atMs <= atMs && atMs < step.atMs + step.durationMs);
    const key = exclusiveKey(preset, target);
    const held = key !== undefined && overlapping.some((step) => exclusiveKey(byId.get(step.preset) as FaultPreset, step.target) === key);
    if (overlapping.length >= config.maxConcurrent || held) continue;
    steps.push({ index: steps.length, atMs, preset: preset.id, target, durationMs });
  }
  return { config, totalMs, steps };
}

/** Time for the scheduler: Date.now and timers in production, a hand-driven clock in tests. */
export interface Clock {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout(callback, ms) {
    const timer = setTimeout(callback, ms);
    // The console's server keeps the process alive, not a game day's next fault.
    timer.unref();
    return timer;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** One planned fault as it went. */
export interface StepOutcome extends PlannedFault {
  /** The console fault's name, once applied. */
  name?: string;
  /** When it was applied and removed, as offsets from the start. */
  appliedAtMs?: number;
  removedAtMs?: number;
  ok: boolean;
  error?: string;
}

export interface GameDayState {
  /** Started, and neither finished nor stopped. */
  running: boolean;
  /** How it ended: every step done, or stopped. */
  ended?: 'finished' | 'stopped';
  seed: number;
  startedAt?: string;
  elapsedMs: number;
  totalMs: number;
  /** The next fault to be applied, and in how long. */
  next?: PlannedFault & { inMs: number };
  /** Every step applied (or tried) so far, in order. */
  applied: StepOutcome[];
  /** Names of its faults active now. */
  active: string[];
}

export interface GameDay {
  /** The whole plan, for display. */
  plan(): readonly PlannedFault[];
  /** Start the clock; ConsoleInputError if it was started before. */
  start(): void;
  /** Cancel the rest and remove every fault it applied that is still active. */
  stop(): Promise<{ removed: string[]; errors: string[] }>;
  state(): GameDayState;
  /** Resolves when the day has finished or been stopped. */
  done: Promise<void>;
  /** Resolves once no step is under way (tests advance a fake clock, then wait for this). */
  idle(): Promise<void>;
}

type Event = { atMs: number; action: 'apply' | 'remove'; step: PlannedFault };

/** A game day over a fault board; validated and planned at once (ConsoleInputError on bad input), started by start(). */
export function createGameDay(input: unknown, deps: { board: Pick<FaultBoard, 'apply' | 'remove'>; clock?: Clock }): GameDay {
  const { config, totalMs, steps } = planGameDay(input);
  const clock = deps.clock ?? realClock;
  const origin = `game-day ${config.seed}`;
  // Removals first at equal times: a fault ending frees its slot for the one starting.
  const events: Event[] = steps
    .flatMap((step): Event[] => [
      { atMs: step.atMs, action: 'apply', step },
      { atMs: step.atMs + step.durationMs, action: 'remove', step },
    ])
    .sort((a, b) => a.atMs - b.atMs || Number(a.action === 'apply') - Number(b.action === 'apply') || a.step.index - b.step.index);
  const outcomes = new Map<number, StepOutcome>();
  const active = new Set<number>();
  let startedAt: number | undefined;
  let ended: GameDayState['ended'];
  let cursor = 0;
  let timer: unknown;
  let chain = Promise.resolve();
  let finish: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (finish = resolve));
  const offset = () => clock.now() - (startedAt ?? clock.now());

  const fire = async (event: Event): Promise<void> => {
    const { step } = event;
    if (event.action === 'apply') {
      const outcome: StepOutcome = { ...step, appliedAtMs: offset(), ok: true };
      outcomes.set(step.index, outcome);
      try {
        outcome.name = (await deps.board.apply(step.preset, step.target, { origin })).name;
        active.add(step.index);
      } catch (error) {
        // Refused (a console click holds the target, the lab said no): the day goes on without it.
        outcome.ok = false;
        outcome.error = (error as Error).message;
      }
      return;
    }
    if (active.has(step.index)) await removeStep(step.index);
  };

  /** 'removed', 'gone' (removed by hand in the console meanwhile: nothing left to do), or what went wrong. */
  const removeStep = async (index: number): Promise<'removed' | 'gone' | { error: string }> => {
    const outcome = outcomes.get(index) as StepOutcome;
    active.delete(index);
    try {
      await deps.board.remove(outcome.name as string);
      return 'removed';
    } catch (error) {
      if (error instanceof ConsoleInputError && error.code === CONSOLE_ERROR.unknownFault.code) return 'gone';
      outcome.ok = false;
      outcome.error = (error as Error).message;
      return { error: outcome.error };
    } finally {
      outcome.removedAtMs = offset();
    }
  };

  const end = (how: 'finished' | 'stopped'): void => {
    ended ??= how;
    finish();
  };

  // One timer at a time, for the next event; due events run one after another.
  const schedule = (): void => {
    if (ended) return;
    const event = events[cursor];
    if (!event) {
      // The day ends at its time, not at its last fault.
      const left = totalMs - offset();
      if (left <= 0) return end('finished');
      timer = clock.setTimeout(() => {
        timer = undefined;
        chain = chain.then(runDue);
      }, left);
      return;
    }
    timer = clock.setTimeout(() => {
      timer = undefined;
      chain = chain.then(runDue);
    }, Math.max(0, (startedAt as number) + event.atMs - clock.now()));
  };
  const runDue = async (): Promise<void> => {
    for (let event = events[cursor]; !ended && event && event.atMs <= offset(); event = events[cursor]) {
      cursor += 1;
      await fire(event);
    }
    schedule();
  };

  return {
    plan: () => steps,
    start() {
      if (startedAt !== undefined) throw new ConsoleInputError(CONSOLE_ERROR.gameDayRunning, `game day ${config.seed} was already started`);
      startedAt = clock.now();
      schedule();
    },
    async stop() {
      if (timer !== undefined) clock.clearTimeout(timer);
      timer = undefined;
      end('stopped');
      // A step under way completes first, so its fault is known and removed below.
      await chain;
      const removed: string[] = [];
      const errors: string[] = [];
      for (const index of [...active]) {
        const name = outcomes.get(index)?.name as string;
        const result = await removeStep(index);
        if (result === 'removed') removed.push(name);
        else if (result !== 'gone') errors.push(`${name}: ${result.error}`);
      }
      return { removed, errors };
    },
    state() {
      const pending = events.slice(cursor).find((event) => event.action === 'apply');
      const elapsedMs = startedAt === undefined ? 0 : offset();
      return {
        running: startedAt !== undefined && ended === undefined,
        ...(ended ? { ended } : {}),
        seed: config.seed,
        ...(startedAt !== undefined ? { startedAt: new Date(startedAt).toISOString() } : {}),
        elapsedMs,
        totalMs,
        ...(pending && !ended ? { next: { ...pending.step, inMs: Math.max(0, pending.atMs - elapsedMs) } } : {}),
        applied: [...outcomes.values()].map((outcome) => ({ ...outcome })),
        active: [...active].map((index) => outcomes.get(index)?.name as string),
      };
    },
    done,
    async idle() {
      let seen: Promise<void>;
      do {
        seen = chain;
        await seen;
      } while (seen !== chain);
    },
  };
}
