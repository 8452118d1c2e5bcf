// The open-model executor (k6's constant-arrival-rate): iterations start on a
// fixed schedule whether or not earlier ones have finished, so a slow system
// under test cannot slow the load down and hide its own latency (coordinated
// omission). Each iteration gets the time it was SUPPOSED to start; the
// journey measures latency from there.
//
// How it keeps time: one timer at a time, armed for the next due arrival.
// Every wake-up reads the monotonic clock and starts every iteration whose
// offset has passed, each with its own intended start, so a late timer (GC
// pause, busy event loop) is caught up at once instead of shifting the rest
// of the schedule. Offsets come from the index (schedule.ts), so there is no
// drift to correct over a long run. Node's timers have millisecond
// resolution and fire up to a millisecond late (or early) against the
// monotonic clock; with the system clock the timer is armed a millisecond
// early and an arrival due within that slack starts on this wake-up, and then
// its intended start is the moment it actually started (never a time in the
// future, so latency is never measured from before the request left). A plan
// whose rate is changed live (adjustable-arrival-rate.ts) tells the run, which
// drops the armed timer and reads the next offset again.
//
// VUs are concurrency slots, as in k6: `preAllocatedVUs` exist from the
// start, more are added up to `maxVUs` when all are busy, and an iteration
// that finds all `maxVUs` busy is dropped (counted, never queued: queuing
// would be coordinated omission again, one level up).

import { systemClock } from '../clock.ts';
import type { Clock } from '../clock.ts';
import type { DurationInput } from '../../demo-services/kit/durations.ts';
import { arrivalCount, arrivalOffset, collectDuration, LoadOptionsError } from '../schedule.ts';
import type { ConstantArrivalSpec } from '../schedule.ts';

export interface ConstantArrivalRateOptions {
  /** Iterations started per `timeUnit`. */
  rate: number;
  /** Default '1s'. */
  timeUnit?: DurationInput;
  duration: DurationInput;
  /** VUs available from the start. */
  preAllocatedVUs: number;
  /** Upper bound on concurrent iterations; default preAllocatedVUs. */
  maxVUs?: number;
  /** How long to wait for in-flight iterations after the schedule ends; default '5s'. */
  gracefulStop?: DurationInput;
}

export interface IterationContext {
  /** 1-based VU (concurrency slot) id, as k6's __VU. */
  vu: number;
  /** 0-based index in the schedule; dropped iterations leave gaps. */
  iteration: number;
  /** When the schedule wanted this iteration to start (epoch ms, fractional). Measure latency from here. */
  intendedStartMs: number;
  /** Aborted when the run stops hard (abort, or graceful stop expired); work cut off this way is not the system's fault. */
  signal: AbortSignal;
}

export type IterationFunction = (ctx: IterationContext) => Promise<void>;

/** Live progress, emitted by onTick. */
export interface ExecutorSnapshot {
  elapsedMs: number;
  /** Iterations the whole schedule will start; for a schedule whose rate changes live, those whose time has come (scheduled). */
  planned: number;
  /** Iterations whose start time has come (started + dropped). */
  scheduled: number;
  started: number;
  /** Iterations that finished, successfully or not. */
  completed: number;
  /** Completed iterations that threw. */
  failed: number;
  dropped: number;
  inFlight: number;
  allocatedVUs: number;
}

export interface ExecutorResult {
  planned: number;
  /** Iterations whose start time came before the run stopped: started + dropped. */
  scheduled: number;
  started: number;
  /** Finished (resolved or threw) before the run ended. */
  completed: number;
  /** Of `completed`, how many threw. */
  failed: number;
  /** Found all maxVUs busy at their start time. */
  dropped: number;
  /** Still running when the run ended (graceful stop expired or aborted); their signal was aborted. */
  interrupted: number;
  /** Wall time of the run from first arrival to resolution (monotonic clock). */
  durationMs: number;
  /** True when runtime.signal stopped the run. */
  aborted: boolean;
  maxAllocatedVUs: number;
}

export interface DroppedIteration {
  iteration: number;
  intendedStartMs: number;
}

export interface ExecutorRuntime {
  signal?: AbortSignal;
  clock?: Clock;
  /** Progress snapshot every tickIntervalMs (default 1000) while running. */
  onTick?: (snapshot: ExecutorSnapshot) => void;
  tickIntervalMs?: number;
  /** Called for every dropped iteration (wire recorder.recordDropped here). */
  onDropped?: (dropped: DroppedIteration) => void;
  /** Called with what an iteration threw (the run goes on). */
  onIterationError?: (error: unknown, ctx: IterationContext) => void;
}

/** Reason given to iteration signals when the run stops hard. */
export class RunStoppedError extends Error {
  readonly code = 'FL_RUN_STOPPED';

  constructor(why: 'aborted' | 'graceful stop expired') {
    super(`load run stopped: ${why}`);
    this.name = 'RunStoppedError';
  }
}

/** Options after validation and unit normalisation. */
export interface ResolvedOptions {
  spec: ConstantArrivalSpec;
  preAllocatedVUs: number;
  maxVUs: number;
  gracefulStopMs: number;
}

// setTimeout cannot wait longer than 2^31-1 ms; long gaps are walked in steps.
const MAX_TIMER_MS = 60_000;
/** How early (ms) an arrival may start when the timer woke just before it (system clock only; see the opening comment). */
const TIMER_SLACK_MS = 1;

export function resolveConstantArrivalRateOptions(options: ConstantArrivalRateOptions): ResolvedOptions {
  const problems: string[] = [];
  const duration = (field: string, value: DurationInput | undefined, fallback: number): number => collectDuration(problems, field, value, fallback);
  const timeUnitMs = duration('timeUnit', options.timeUnit, 1_000);
  const durationMs = duration('duration', options.duration, 0);
  if (options.duration === undefined) problems.push('duration: is required');
  const gracefulStopMs = duration('gracefulStop', options.gracefulStop, 5_000);
  if (typeof options.rate !== 'number' || !Number.isFinite(options.rate) || options.rate <= 0) {
    problems.push(`rate: must be a number > 0 (got ${String(options.rate)})`);
  }
  if (timeUnitMs <= 0) problems.push('timeUnit: must be > 0');
  const pre = options.preAllocatedVUs;
  if (!Number.isInteger(pre) || pre < 0) problems.push(`preAllocatedVUs: must be an integer >= 0 (got ${String(pre)})`);
  const max = options.maxVUs ?? pre;
  if (!Number.isInteger(max) || max < 1) problems.push(`maxVUs: must be an integer >= 1 (got ${String(max)})`);
  else if (Number.isInteger(pre) && max < pre) problems.push(`maxVUs: must be >= preAllocatedVUs (${max} < ${pre})`);
  if (problems.length > 0) throw new LoadOptionsError(problems);
  return {
    spec: { rate: options.rate, timeUnitMs, durationMs },
    preAllocatedVUs: pre,
    maxVUs: max,
    gracefulStopMs,
  };
}

/**
 * Run `iteration` on a constant arrival-rate schedule. Resolves when the
 * schedule has ended and in-flight iterations have finished (or the graceful
 * stop expired), or promptly after runtime.signal aborts. Never rejects for
 * what an iteration does; rejects only for bad options (LoadOptionsError).
 */
export async function runConstantArrivalRate(
  options: ConstantArrivalRateOptions,
  iteration: IterationFunction,
  runtime: ExecutorRuntime = {},
): Promise<ExecutorResult> {
  const resolved = resolveConstantArrivalRateOptions(options);
  const { spec } = resolved;
  const plan: ArrivalPlan = { planned: arrivalCount(spec), durationMs: spec.durationMs, offset: (index) => arrivalOffset(spec, index) };
  return runArrivalPlan(plan, resolved, iteration, runtime);
}

/**
 * Any open-model schedule: `planned` arrivals, arrival i due `offset(i)` ms after the start
 * (non-decreasing in i, asked in increasing order). A plan whose rate changes live has
 * planned = Infinity (durationMs too, when it runs until aborted), answers Infinity for an
 * arrival that is not coming (paused, or past the end), and implements `follow`.
 */
export interface ArrivalPlan {
  planned: number;
  durationMs: number;
  offset(index: number): number;
  /**
   * Called once when the run starts, with the run's clock; the plan calls `replan` after its
   * future offsets changed, and the run reads them again at once. Returns what stops following.
   */
  follow?(elapsedMs: () => number, replan: () => void): () => void;
}

/** VU limits and stop grace shared by the arrival-rate executors. */
export interface ArrivalVUs {
  preAllocatedVUs: number;
  maxVUs: number;
  gracefulStopMs: number;
}

/** Run `iteration` on any arrival schedule (the engine behind every arrival-rate executor). */
export async function runArrivalPlan(
  plan: ArrivalPlan,
  vus: ArrivalVUs,
  iteration: IterationFunction,
  runtime: ExecutorRuntime = {},
): Promise<ExecutorResult> {
  return new Promise<ExecutorResult>((resolve) => {
    new ConstantArrivalRun(plan, vus, iteration, runtime, resolve).start();
  });
}

class ConstantArrivalRun {
  private readonly options: ArrivalVUs;
  private readonly plan: ArrivalPlan;
  private readonly iteration: IterationFunction;
  private readonly runtime: ExecutorRuntime;
  private readonly resolve: (result: ExecutorResult) => void;
  private readonly clock: Clock;
  private readonly slackMs: number;
  private readonly planned: number;
  private readonly hardStop = new AbortController();
  /**
   * Idle VUs, first in first out (as k6 hands them out): iterations rotate
   * over the pool, so each virtual user (its token, its per-client rate
   * limit) carries rate / VUs, not most of the load. A ring of maxVUs slots.
   */
  private readonly freeVUs: Int32Array;
  private freeHead = 0;
  private freeCount = 0;

  private phase: 'running' | 'stopping' | 'done' = 'running';
  private startMono = 0;
  private startWall = 0;
  private next = 0;
  private allocatedVUs = 0;
  private scheduled = 0;
  private started = 0;
  private completed = 0;
  private failed = 0;
  private dropped = 0;
  private inFlight = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private graceTimer: ReturnType<typeof setTimeout> | undefined;
  private tickTimer: ReturnType<typeof setInterval> | undefined;
  private hookFailureReported = false;
  private unfollow: (() => void) | undefined;
  private readonly onAbort = (): void => this.finish(true);

  constructor(
    plan: ArrivalPlan,
    options: ArrivalVUs,
    iteration: IterationFunction,
    runtime: ExecutorRuntime,
    resolve: (result: ExecutorResult) => void,
  ) {
    this.plan = plan;
    this.options = options;
    this.iteration = iteration;
    this.runtime = runtime;
    this.resolve = resolve;
    this.clock = runtime.clock ?? systemClock;
    this.slackMs = runtime.clock === undefined ? TIMER_SLACK_MS : 0;
    this.planned = plan.planned;
    this.freeVUs = new Int32Array(Math.max(1, options.maxVUs));
    for (let vu = 1; vu <= options.preAllocatedVUs; vu += 1) this.releaseVU(vu);
    this.allocatedVUs = options.preAllocatedVUs;
  }

  start(): void {
    this.startMono = this.clock.now();
    this.startWall = this.clock.wallNow();
    const signal = this.runtime.signal;
    if (signal?.aborted) {
      this.finish(true);
      return;
    }
    signal?.addEventListener('abort', this.onAbort, { once: true });
    this.unfollow = this.plan.follow?.(
      () => this.clock.now() - this.startMono,
      () => this.replan(),
    );
    if (this.runtime.onTick) {
      const every = this.runtime.tickIntervalMs ?? 1_000;
      this.tickTimer = setInterval(() => this.guard(this.runtime.onTick, this.snapshot()), every);
    }
    this.pump();
  }

  /** Start everything that is due, then sleep until the next arrival (or the end of the schedule). */
  private pump(): void {
    this.timer = undefined;
    if (this.phase !== 'running') return;
    const plan = this.plan;
    let elapsed = this.clock.now() - this.startMono;
    while (this.next < this.planned && plan.offset(this.next) <= elapsed + this.slackMs) {
      this.startOne(this.next);
      this.next += 1;
      if (this.phase !== 'running') return;
      elapsed = this.clock.now() - this.startMono;
    }
    const nextAt = this.next < this.planned ? plan.offset(this.next) : Infinity;
    // An open-ended plan may still have arrivals past its end (at Infinity): they never come.
    if (elapsed >= plan.durationMs && (this.next >= this.planned || nextAt >= plan.durationMs)) {
      this.beginStopping();
      return;
    }
    const wakeAt = Math.min(nextAt, plan.durationMs);
    // With slack, wake up to slackMs early (timers tend to fire late by about as much); what is then due within the slack starts at once.
    const delay = Math.min(Math.max(0, this.slackMs === 0 ? Math.ceil(wakeAt - elapsed) : Math.floor(wakeAt - elapsed - this.slackMs)), MAX_TIMER_MS);
    this.timer = setTimeout(() => this.pump(), delay);
  }

  /** The plan changed: drop the timer armed for the old next arrival and read the plan again (on a fresh tick, never inside the caller). */
  private replan(): void {
    if (this.phase !== 'running') return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.pump(), 0);
  }

  private startOne(index: number): void {
    // Started early within the timer slack: the actual start is the intended one.
    const intendedStartMs = this.slackMs === 0 ? this.startWall + this.plan.offset(index) : Math.min(this.startWall + this.plan.offset(index), this.clock.wallNow());
    this.scheduled += 1;
    let vu = this.takeVU();
    if (vu === undefined && this.allocatedVUs < this.options.maxVUs) {
      this.allocatedVUs += 1;
      vu = this.allocatedVUs;
    }
    if (vu === undefined) {
      this.dropped += 1;
      this.guard(this.runtime.onDropped, { iteration: index, intendedStartMs });
      return;
    }
    this.started += 1;
    this.inFlight += 1;
    const ctx: IterationContext = { vu, iteration: index, intendedStartMs, signal: this.hardStop.signal };
    let pending: Promise<void>;
    try {
      pending = Promise.resolve(this.iteration(ctx));
    } catch (error) {
      pending = Promise.reject(error);
    }
    const slot = vu;
    pending.then(
      () => this.settle(slot),
      (error: unknown) => {
        if (this.phase !== 'done') this.failed += 1;
        this.guard(this.runtime.onIterationError, error, ctx);
        this.settle(slot);
      },
    );
  }

  private takeVU(): number | undefined {
    if (this.freeCount === 0) return undefined;
    const vu = this.freeVUs[this.freeHead] as number;
    this.freeHead = (this.freeHead + 1) % this.freeVUs.length;
    this.freeCount -= 1;
    return vu;
  }

  private releaseVU(vu: number): void {
    this.freeVUs[(this.freeHead + this.freeCount) % this.freeVUs.length] = vu;
    this.freeCount += 1;
  }

  private settle(vu: number): void {
    if (this.phase === 'done') return;
    this.completed += 1;
    this.inFlight -= 1;
    this.releaseVU(vu);
    if (this.phase === 'stopping' && this.inFlight === 0) this.finish(false);
  }

  private beginStopping(): void {
    this.phase = 'stopping';
    if (this.inFlight === 0) {
      this.finish(false);
      return;
    }
    this.graceTimer = setTimeout(() => this.finish(false), this.options.gracefulStopMs);
  }

  private finish(aborted: boolean): void {
    if (this.phase === 'done') return;
    this.phase = 'done';
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.graceTimer !== undefined) clearTimeout(this.graceTimer);
    if (this.tickTimer !== undefined) clearInterval(this.tickTimer);
    this.runtime.signal?.removeEventListener('abort', this.onAbort);
    this.unfollow?.();
    const result: ExecutorResult = {
      planned: this.plannedSoFar(),
      scheduled: this.scheduled,
      started: this.started,
      completed: this.completed,
      failed: this.failed,
      dropped: this.dropped,
      interrupted: this.inFlight,
      durationMs: this.clock.now() - this.startMono,
      aborted,
      maxAllocatedVUs: this.allocatedVUs,
    };
    if (aborted || this.inFlight > 0) {
      this.hardStop.abort(new RunStoppedError(aborted ? 'aborted' : 'graceful stop expired'));
    }
    this.resolve(result);
  }

  /** Planned arrivals; an open-ended plan has planned as many as have come. */
  private plannedSoFar(): number {
    return Number.isFinite(this.planned) ? this.planned : this.scheduled;
  }

  private snapshot(): ExecutorSnapshot {
    return {
      elapsedMs: this.clock.now() - this.startMono,
      planned: this.plannedSoFar(),
      scheduled: this.scheduled,
      started: this.started,
      completed: this.completed,
      failed: this.failed,
      dropped: this.dropped,
      inFlight: this.inFlight,
      allocatedVUs: this.allocatedVUs,
    };
  }

  /** Run a user hook; its failure must not stop the load. */
  private guard<A extends unknown[]>(hook: ((...args: A) => void) | undefined, ...args: A): void {
    if (hook === undefined) return;
    try {
      hook(...args);
    } catch (error) {
      if (!this.hookFailureReported) {
        this.hookFailureReported = true;
        process.emitWarning(`a load executor hook threw (further hook errors are ignored): ${(error as Error)?.message ?? String(error)}`);
      }
    }
  }
}
