// A toxic as a byte-stream stage, Toxiproxy's ToxicStub in Node terms. In a
// tcp-mode proxy every connection has two links (client to upstream, upstream
// to client), and each link passes every chunk it reads through the stages of
// the toxics active on it, in the order they were added; a stage may wait,
// split, drop or cut. The same stages shape request and response bodies in an
// http-mode proxy (bandwidth, slicer, limit_data, slow_body), so one
// implementation serves both modes.
//
// A stage is created per connection and direction when the toxicity draw
// selects it (Toxiproxy's per-connection toxicity), and stopped when its toxic
// is removed or replaced: its signal aborts, and any wait in progress ends at
// once, passing the data on ("don't drop data on the floor", as Toxiproxy says).

import { setTimeout as sleepFor } from 'node:timers/promises';
import type { RandomSource } from '../demo-services/kit/random.ts';

/** Bytes read from one side, with when they were read (performance.now()). */
export interface Chunk {
  data: Buffer;
  at: number;
}

/** What a stage may do to the whole connection. */
export interface StageControls {
  /** Close the connection gracefully (FIN to both peers) once what was already passed on is flushed. */
  close(): void;
  /** Reset the connection (RST to both peers), discarding what is unsent. */
  reset(): void;
}

export interface StageContext extends StageControls {
  /** This link's seeded random stream (jitter, slice sizes). */
  random: RandomSource;
  /** Per connection, direction and toxic name; survives updates of the toxic (limit_data's byte count). */
  state: Record<string, number>;
}

/** Why a stage stops: its toxic was replaced by an update, removed, or the connection ended. */
export type StopReason = 'replaced' | 'removed' | 'closed';

export interface ToxicStage {
  /** Pass one chunk on: yield what goes out, in order, possibly after waiting; yield nothing to drop it. */
  process(chunk: Chunk, signal: AbortSignal): AsyncIterable<Chunk>;
  /** The input ended (FIN); resolves when the end may pass on. */
  end?(signal: AbortSignal): Promise<void>;
  /** Clear timers; a toxic may act on removal (timeout closes the connections it held). */
  stop?(reason: StopReason): void;
}

/** A stage bound to the abort signal of its toxic's lifetime on one link. */
export interface ActiveStage {
  stage: ToxicStage;
  signal: AbortSignal;
}

/** Sleep unless `signal` aborts first; false when it did. */
export async function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return false;
  if (!(ms > 0)) return true;
  try {
    await sleepFor(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}

/** Wait until `signal` aborts (a stall that only a change of toxics ends). */
export function untilAborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

/**
 * Pass `chunk` through `stages[index..]` and hand what comes out to `sink`,
 * piece by piece as each stage yields it (a slice leaves the slicer and goes
 * through the latency stage before the next slice is cut). A stage whose
 * signal has aborted is skipped.
 */
export async function passThrough(
  stages: readonly ActiveStage[],
  index: number,
  chunk: Chunk,
  sink: (chunk: Chunk) => Promise<void>,
): Promise<void> {
  const active = stages[index];
  if (!active) {
    await sink(chunk);
    return;
  }
  if (active.signal.aborted) {
    await passThrough(stages, index + 1, chunk, sink);
    return;
  }
  for await (const out of active.stage.process(chunk, active.signal)) {
    await passThrough(stages, index + 1, out, sink);
  }
}

/** Run every stage's end in order (slow_close waits here). */
export async function passEnd(stages: readonly ActiveStage[]): Promise<void> {
  for (const active of stages) {
    if (!active.signal.aborted && active.stage.end) await active.stage.end(active.signal);
  }
}

/**
 * Paces bytes at a fixed rate on a virtual clock, as Toxiproxy's bandwidth
 * toxic does: each piece is released once the time its bytes take at the rate
 * has passed since the previous piece (or since now, after an idle spell), so
 * timer slack does not accumulate into a lower rate.
 */
export interface Pacer {
  /** Wait until `bytes` more may go; false when aborted (the caller passes the rest on at once). */
  wait(bytes: number, signal: AbortSignal): Promise<boolean>;
}

export function createPacer(bytesPerMs: number): Pacer {
  let next = 0;
  return {
    async wait(bytes, signal) {
      if (bytesPerMs <= 0) {
        await untilAborted(signal);
        return false;
      }
      const now = performance.now();
      next = Math.max(next, now) + bytes / bytesPerMs;
      return sleep(next - now, signal);
    },
  };
}
