// The engine behind k6's closed-model executors (constant-vus, ramping-vus,
// per-vu-iterations): a number of VUs, each running iterations back to back,
// so the load a VU offers falls when the system under test slows down. That
// is the point of a closed model (it behaves like a fixed user population)
// and also its limit (it hides latency: coordinated omission), which is why
// every iteration's intendedStartMs here is simply when it actually started.
//
// The VU count follows a step plan computed up front (vuSteps, pure): a list
// of (offset, count) points. When the count falls, the VUs with the highest
// ids stop after their current iteration; one still busy after
// gracefulRampDown has its signal aborted and counts as interrupted. At the
// end of the run every VU stops starting iterations and in-flight ones get
// gracefulStop before they are aborted.

import { systemClock } from '../clock.ts';
import type { Clock } from '../clock.ts';
import { LoadOptionsError } from '../schedule.ts';
import { RunStoppedError } from './constant-arrival-rate.ts';
import type { ExecutorResult, ExecutorRuntime, ExecutorSnapshot, IterationContext, IterationFunction } from './constant-arrival-rate.ts';

export interface VuStep {
  /** Offset from the start of the run, ms. */
  atMs: number;
  vus: number;
}

export interface VuPlan {
  /** Sorted by atMs; the first step is at 0. */
  steps: readonly VuStep[];
  /** The run stops starting iterations here. */
  durationMs: number;
  /** Each VU stops after this many iterations (per-vu-iterations). */
  iterationsPerVU?: number;
  gracefulRampDownMs: number;
  gracefulStopMs: number;
}

/**
 * The VU count over a list of linear stages, as the points where it changes:
 * going up, VU k is added when the line reaches k; going down, the count
 * becomes k when the line falls to k.
 */
export function vuSteps(startVUs: number, stages: ReadonlyArray<{ target: number; durationMs: number }>): VuStep[] {
  const steps: VuStep[] = [{ atMs: 0, vus: startVUs }];
  let from = startVUs;
  let at = 0;
  for (const stage of stages) {
    const to = stage.target;
    if (to !== from) {
      const direction = to > from ? 1 : -1;
      for (let k = from + direction; direction > 0 ? k <= to : k >= to; k += direction) {
        steps.push({ atMs: at + (stage.durationMs * (k - from)) / (to - from), vus: k });
      }
    }
    at += stage.durationMs;
    from = to;
  }
  // Merge steps that land on the same instant (zero-length stages): the last one wins.
  const merged: VuStep[] = [];
  for (const step of steps) {
    if (merged.length > 0 && merged[merged.length - 1]!.atMs === step.atMs) merged[merged.length - 1] = step;
    else merged.push(step);
  }
  return merged;
}

export function maxVUsOf(steps: readonly VuStep[]): number {
  return steps.reduce((max, step) => Math.max(max, step.vus), 0);
}

export function checkVuCount(field: string, value: unknown, problems: string[], min = 0): number {
  if (!Number.isInteger(value) || (value as number) < min) {
    problems.push(`${field}: must be an integer >= ${min} (got ${String(value)})`);
    return min;
  }
  return value as number;
}

interface Vu {
  id: number;
  /** False once the VU must not start another iteration. */
  active: boolean;
  running: boolean;
  iterations: number;
  controller: AbortController;
  rampDownTimer: ReturnType<typeof setTimeout> | undefined;
}

/** Run a closed-model VU plan; resolves when every VU has stopped (or the run was aborted). Never rejects. */
export async function runVuPlan(plan: VuPlan, iteration: IterationFunction, runtime: ExecutorRuntime = {}): Promise<ExecutorResult> {
  if (plan.steps.length === 0 || plan.steps[0]!.atMs !== 0) throw new LoadOptionsError(['stages: the VU plan must start at offset 0']);
  return new Promise<ExecutorResult>((resolve) => new VuRun(plan, iteration, runtime, resolve).start());
}

class VuRun {
  private readonly plan: VuPlan;
  private readonly iteration: IterationFunction;
  private readonly runtime: ExecutorRuntime;
  private readonly resolve: (result: ExecutorResult) => void;
  private readonly clock: Clock;
  private readonly hardStop = new AbortController();
  private readonly vus = new Map<number, Vu>();
  private phase: 'running' | 'stopping' | 'done' = 'running';
  private startMono = 0;
  private nextStep = 0;
  private nextIteration = 0;
  private started = 0;
  private completed = 0;
  private failed = 0;
  private interrupted = 0;
  private maxAllocated = 0;
  private stepTimer: ReturnType<typeof setTimeout> | undefined;
  private endTimer: ReturnType<typeof setTimeout> | undefined;
  private graceTimer: ReturnType<typeof setTimeout> | undefined;
  private tickTimer: ReturnType<typeof setInterval> | undefined;
  private hookFailureReported = false;
  private readonly onAbort = (): void => this.finish(true);

  constructor(plan: VuPlan, iteration: IterationFunction, runtime: ExecutorRuntime, resolve: (result: ExecutorResult) => void) {
    this.plan = plan;
    this.iteration = iteration;
    this.runtime = runtime;
    this.resolve = resolve;
    this.clock = runtime.clock ?? systemClock;
  }

  start(): void {
    this.startMono = this.clock.now();
    const signal = this.runtime.signal;
    if (signal?.aborted) {
      this.finish(true);
      return;
    }
    signal?.addEventListener('abort', this.onAbort, { once: true });
    if (this.runtime.onTick) {
      const every = this.runtime.tickIntervalMs ?? 1_000;
      this.tickTimer = setInterval(() => this.guard(this.runtime.onTick, this.snapshot()), every);
    }
    this.endTimer = setTimeout(() => this.beginStopping(), this.plan.durationMs);
    this.applySteps();
  }

  private elapsed(): number {
    return this.clock.now() - this.startMono;
  }

  private applySteps(): void {
    this.stepTimer = undefined;
    if (this.phase !== 'running') return;
    const { steps } = this.plan;
    let target: number | undefined;
    while (this.nextStep < steps.length && steps[this.nextStep]!.atMs <= this.elapsed()) {
      target = steps[this.nextStep]!.vus;
      this.nextStep += 1;
    }
    if (target !== undefined) this.scaleTo(target);
    if (this.nextStep < steps.length) {
      const delay = Math.max(0, Math.ceil(steps[this.nextStep]!.atMs - this.elapsed()));
      this.stepTimer = setTimeout(() => this.applySteps(), delay);
    }
  }

  private scaleTo(target: number): void {
    for (let id = 1; id <= target; id += 1) {
      const vu = this.vus.get(id);
      if (vu === undefined) {
        const fresh: Vu = { id, active: true, running: false, iterations: 0, controller: new AbortController(), rampDownTimer: undefined };
        this.vus.set(id, fresh);
        void this.loop(fresh);
      } else if (!vu.active) {
        // Ramped down but still busy: take it back instead of starting a second loop for the same id.
        vu.active = true;
        if (vu.rampDownTimer !== undefined) clearTimeout(vu.rampDownTimer);
        vu.rampDownTimer = undefined;
        if (vu.controller.signal.aborted) vu.controller = new AbortController();
      }
    }
    for (const vu of this.vus.values()) {
      if (vu.id > target && vu.active) {
        vu.active = false;
        if (vu.running) vu.rampDownTimer = setTimeout(() => vu.controller.abort(new RunStoppedError('graceful stop expired')), this.plan.gracefulRampDownMs);
      }
    }
    this.maxAllocated = Math.max(this.maxAllocated, this.vus.size);
  }

  private async loop(vu: Vu): Promise<void> {
    const limit = this.plan.iterationsPerVU ?? Infinity;
    while (vu.active && this.phase === 'running' && vu.iterations < limit) {
      const signal = AbortSignal.any([this.hardStop.signal, vu.controller.signal]);
      const ctx: IterationContext = { vu: vu.id, iteration: this.nextIteration, intendedStartMs: this.clock.wallNow(), signal };
      this.nextIteration += 1;
      vu.iterations += 1;
      vu.running = true;
      this.started += 1;
      let error: unknown;
      let threw = false;
      try {
        await this.iteration(ctx);
      } catch (caught) {
        threw = true;
        error = caught;
      }
      vu.running = false;
      if (this.isDone()) return;
      if (vu.controller.signal.aborted) {
        this.interrupted += 1;
      } else {
        this.completed += 1;
        if (threw) this.failed += 1;
      }
      if (threw) this.guard(this.runtime.onIterationError, error, ctx);
      // An iteration that resolved without waiting on I/O or timers never let the event loop turn:
      // yield once, so such an iteration cannot starve the run's own timers.
      if (this.clock.wallNow() - ctx.intendedStartMs < 1) await new Promise<void>((resolve) => setImmediate(resolve));
    }
    if (vu.rampDownTimer !== undefined) clearTimeout(vu.rampDownTimer);
    if (this.vus.get(vu.id) === vu && !vu.active) this.vus.delete(vu.id);
    if (this.phase === 'running' && this.plan.iterationsPerVU !== undefined && this.allRunsDone()) this.beginStopping();
    if (this.phase === 'stopping' && this.busy() === 0) this.finish(false);
  }

  /** A method, not a field read, so TypeScript does not keep the narrowing from before an await. */
  private isDone(): boolean {
    return this.phase === 'done';
  }

  private allRunsDone(): boolean {
    for (const vu of this.vus.values()) if (vu.iterations < (this.plan.iterationsPerVU ?? Infinity)) return false;
    return this.nextStep >= this.plan.steps.length;
  }

  private busy(): number {
    let count = 0;
    for (const vu of this.vus.values()) if (vu.running) count += 1;
    return count;
  }

  private beginStopping(): void {
    if (this.phase !== 'running') return;
    this.phase = 'stopping';
    if (this.stepTimer !== undefined) clearTimeout(this.stepTimer);
    if (this.endTimer !== undefined) clearTimeout(this.endTimer);
    if (this.busy() === 0) {
      this.finish(false);
      return;
    }
    this.graceTimer = setTimeout(() => this.finish(false), this.plan.gracefulStopMs);
  }

  private finish(aborted: boolean): void {
    if (this.phase === 'done') return;
    this.phase = 'done';
    for (const timer of [this.stepTimer, this.endTimer, this.graceTimer]) if (timer !== undefined) clearTimeout(timer);
    if (this.tickTimer !== undefined) clearInterval(this.tickTimer);
    this.runtime.signal?.removeEventListener('abort', this.onAbort);
    const inFlight = this.busy();
    for (const vu of this.vus.values()) if (vu.rampDownTimer !== undefined) clearTimeout(vu.rampDownTimer);
    const result: ExecutorResult = {
      planned: this.started,
      scheduled: this.started,
      started: this.started,
      completed: this.completed,
      failed: this.failed,
      dropped: 0,
      interrupted: this.interrupted + inFlight,
      durationMs: this.elapsed(),
      aborted,
      maxAllocatedVUs: this.maxAllocated,
    };
    if (aborted || inFlight > 0) this.hardStop.abort(new RunStoppedError(aborted ? 'aborted' : 'graceful stop expired'));
    this.resolve(result);
  }

  private snapshot(): ExecutorSnapshot {
    const inFlight = this.busy();
    return {
      elapsedMs: this.elapsed(),
      planned: this.started,
      scheduled: this.started,
      started: this.started,
      completed: this.completed,
      failed: this.failed,
      dropped: 0,
      inFlight,
      allocatedVUs: this.vus.size,
    };
  }

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
