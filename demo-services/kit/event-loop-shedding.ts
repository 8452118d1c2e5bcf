// Admission control on the event loop's delay, as Fastify's under-pressure
// plugin does with `maxEventLoopDelay`: while this process's event loop runs
// later than `maxDelay`, a new request is answered 503 `overloaded` with
// Retry-After at once, before the service spends anything on it. A Node
// service has one thread: when its CPU work outgrows it (a hot code path, a
// hog), every request waits behind every other and the wait grows without
// bound. Refusing the excess at the door keeps the requests it admits fast and
// tells callers (a balancer, a retrying client) at once to go elsewhere or come
// back later, instead of after a timeout.
//
// Why a timer re-armed every few milliseconds and not
// perf_hooks.monitorEventLoopDelay: that histogram has to be read and reset on
// an interval (under-pressure takes its mean over the last second), so what it
// says is an average up to a second old, and a stall the loop is still in
// does not show at all. The timer knows how late it fired (the delay of the
// stall that just ended), and at admission the lateness of its next tick (now
// less when it was due) is the delay of the stall the loop is still in: the
// requests read in the same turn right after a long callback see it at once.
//
// `maxDelay` counts a delay less the time the main thread waited for a CPU in
// it (thread-time.ts): a loop late by tens of ms because the machine did not
// run the process (a busy neighbour) is not overloaded, and refusing work then
// would only add errors to the slowness, while one late through its own work
// (busy, or blocked in a synchronous call) is, so the limit can sit low enough
// to keep admitted requests fast. `maxStall` bounds the delay whatever its
// cause: a loop seconds behind, even for want of a CPU, is reading requests
// their callers have given up on.
//
// A delay over the limit keeps the door shut for `window` (the worst delay of
// the last `window` is the one judged): the requests that queued behind a
// stall are all read and refused, cheaply, instead of one being let in at the
// first on-time tick to stall the loop again while the rest wait unread.

import type { NextFunction, Request, Response } from 'express';
import { z } from 'zod';
import { ProblemError, problemType } from './problem.ts';
import { durationMs } from './schema.ts';
import { runQueueWaitMs } from './thread-time.ts';

/** How often the delay is sampled: under-pressure's resolution; short enough that one slow request shows. */
export const SAMPLE_INTERVAL_MS = 10;

/** `services.<name>.eventLoopShedding`: the switch and its threshold. */
export const eventLoopSheddingSchema = z.strictObject({
  enabled: z.boolean().default(true),
  /** New requests are refused while the event loop runs later than this through its own work (less its thread's wait for a CPU)... */
  maxDelay: durationMs.refine((ms) => ms >= 1 && ms <= 10_000, 'must be between 1ms and 10s').default(100),
  /** ...or later than this, whatever the cause (wall-clock time). */
  maxStall: durationMs.refine((ms) => ms >= 1 && ms <= 60_000, 'must be between 1ms and 60s').default(1_000),
  /** The delay judged is the worst of the last `window`, so one over the limit refuses for this long. */
  window: durationMs.refine((ms) => ms >= 0 && ms <= 60_000, 'must be between 0 and 60s').default(100),
  /** What a refusal's Retry-After says, rounded up to whole seconds. */
  retryAfter: durationMs.refine((ms) => ms >= 1 && ms <= 3_600_000, 'must be between 1ms and 1h').default(1_000),
});
export type EventLoopSheddingPolicy = z.output<typeof eventLoopSheddingSchema>;

export interface EventLoopDelayMonitor {
  /**
   * How late the event loop runs now through its own work, in ms: the last tick's delay, or that of
   * the tick due and not yet run, each less the time the main thread waited for a CPU since the
   * tick before.
   */
  delay(): number;
  /** How late it runs now whatever the cause (wall clock), in ms. */
  stall(): number;
  stop(): void;
}

/**
 * Samples the event loop's delay with a timer every `intervalMs`. `now` (wall clock) and `waited`
 * (the main thread's total wait for a CPU), both in ms, are replaceable so that the arithmetic can
 * be tested with fake time.
 */
export function monitorEventLoopDelay(options: { intervalMs?: number; windowMs?: number; now?: () => number; waited?: () => number } = {}): EventLoopDelayMonitor {
  const intervalMs = options.intervalMs ?? SAMPLE_INTERVAL_MS;
  const windowMs = options.windowMs ?? 0;
  const now = options.now ?? (() => performance.now());
  const waited = options.waited ?? runQueueWaitMs;
  let due = now() + intervalMs;
  let waitedAtTick = waited();
  let last = 0;
  let lastStall = 0;
  // The worst tick of the window, and when it was.
  let worst = 0;
  let worstAt = -Infinity;
  let worstStall = 0;
  let worstStallAt = -Infinity;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = (): void => {
    timer = setTimeout(tick, intervalMs);
    // The sampler never keeps a process alive by itself.
    timer.unref?.();
  };
  const tick = (): void => {
    const at = now();
    const waitedNow = waited();
    lastStall = Math.max(0, at - due);
    last = Math.max(0, lastStall - (waitedNow - waitedAtTick));
    if (last >= worst || at - worstAt > windowMs) [worst, worstAt] = [last, at];
    if (lastStall >= worstStall || at - worstStallAt > windowMs) [worstStall, worstStallAt] = [lastStall, at];
    due = at + intervalMs;
    waitedAtTick = waitedNow;
    arm();
  };
  arm();
  return {
    delay: () => {
      const at = now();
      return Math.max(last, at - worstAt <= windowMs ? worst : 0, at - due - (waited() - waitedAtTick));
    },
    stall: () => {
      const at = now();
      return Math.max(lastStall, at - worstStallAt <= windowMs ? worstStall : 0, at - due);
    },
    stop: () => clearTimeout(timer),
  };
}

export interface EventLoopShedding {
  /** Express middleware: refuse (503 overloaded) while the delay is over the limit; mount before any work. */
  middleware(req: Request, res: Response, next: NextFunction): void;
  stop(): void;
}

/**
 * The admission check. `exempt` paths (probes, metrics, the admin API) are never refused: a loaded
 * service is still alive, and its metrics are how anyone sees that it is loaded.
 */
export function createEventLoopShedding(options: {
  policy: EventLoopSheddingPolicy;
  exempt: (path: string) => boolean;
  monitor?: EventLoopDelayMonitor;
  /** Called for every refusal, with the delay through its own work and the stall (metrics, logs). */
  onShed?: (delayMs: number, stallMs: number) => void;
}): EventLoopShedding {
  const { policy } = options;
  const monitor = options.monitor ?? monitorEventLoopDelay({ windowMs: policy.window });
  const retryAfter = String(Math.max(1, Math.ceil(policy.retryAfter / 1_000)));
  return {
    middleware(req, _res, next) {
      if (!policy.enabled || options.exempt(req.path)) {
        next();
        return;
      }
      const delay = monitor.delay();
      const stall = monitor.stall();
      if (delay <= policy.maxDelay && stall <= policy.maxStall) {
        next();
        return;
      }
      options.onShed?.(delay, stall);
      const detail = delay > policy.maxDelay
        ? `event loop ${Math.round(delay)} ms late through its own work, over the ${policy.maxDelay} ms limit; shedding load`
        : `event loop ${Math.round(stall)} ms late, over the ${policy.maxStall} ms limit; shedding load`;
      next(new ProblemError({ type: problemType('overloaded'), title: 'Service overloaded', status: 503, detail }, { 'retry-after': retryAfter }));
    },
    stop: () => monitor.stop(),
  };
}
