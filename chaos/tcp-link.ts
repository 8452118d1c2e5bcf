// One direction of one proxied TCP connection (Toxiproxy's ToxicLink): bytes
// read from `source` go through the stages of the toxics active on this
// direction, in the order they were added, and out to `dest`. With no stage
// selected and no partition a chunk is written straight through (the cost of
// the fast path is one branch), otherwise chunks queue with the time they
// were read and a pump passes them through the stages one at a time, so
// order is kept and latency measured from when the bytes arrived.
//
// The source keeps being read while stages hold data (up to HIGH_WATER bytes
// queued), so a latency toxic delays a stream without cutting its throughput,
// as Toxiproxy's does. When the toxics change, stages of removed or updated
// toxics are stopped (a wait in progress ends and passes the data on) and new
// ones drawn against their toxicity, on live connections too.

import type { Socket } from 'node:net';
import type { Fault, Stream } from './fault.ts';
import type { Gate } from './gate.ts';
import { type ActiveStage, type Chunk, passEnd, passThrough, type StageControls, type StopReason, type ToxicStage } from './toxic-stage.ts';
import type { RandomSource } from '../demo-services/kit/random.ts';

/** Bytes a link queues before it stops reading its source (backpressure). */
const HIGH_WATER = 1 << 20;

export interface LinkOptions {
  direction: Stream;
  source: Socket;
  dest: Socket;
  gate: Gate;
  /** This link's own seeded stream: toxicity draws per connection, then jitter and slice sizes. */
  random: RandomSource;
  controls: StageControls;
}

export interface Link {
  /** Bring the stages in line with the proxy's toxics. */
  refresh(faults: readonly Fault[]): void;
  /** The connection is over: stop the stages, drop what is queued. */
  stop(): void;
}

interface Entry {
  fault: Fault;
  abort: AbortController;
  state: Record<string, number>;
  stage: ToxicStage | undefined;
}

const END = Symbol('end');

function drained(dest: Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      dest.off('drain', done);
      dest.off('close', done);
      resolve();
    };
    dest.once('drain', done);
    dest.once('close', done);
  });
}

export function createLink(options: LinkOptions): Link {
  const { direction, source, dest, gate, random, controls } = options;
  const entries = new Map<string, Entry>();
  let chain: ActiveStage[] = [];
  const queue: Array<Chunk | typeof END> = [];
  let queuedBytes = 0;
  let pumping = false;
  let waitingDrain = false;
  let stopped = false;
  const stopping = new AbortController();

  const resume = (): void => {
    if (!stopped && !waitingDrain && queuedBytes < HIGH_WATER) source.resume();
  };

  const write = async (chunk: Chunk): Promise<void> => {
    if (!gate.open) await gate.wait(stopping.signal);
    if (stopped || dest.destroyed) return;
    if (!dest.write(chunk.data)) await drained(dest);
  };

  const pump = async (): Promise<void> => {
    pumping = true;
    try {
      while (queue.length > 0 && !stopped) {
        const item = queue.shift() as Chunk | typeof END;
        if (item === END) {
          await passEnd(chain.slice());
          if (!gate.open) await gate.wait(stopping.signal);
          if (stopped) return;
          dest.end();
          continue;
        }
        queuedBytes -= item.data.length;
        resume();
        await passThrough(chain.slice(), 0, item, write);
      }
    } catch {
      controls.reset();
    } finally {
      pumping = false;
    }
  };

  source.on('data', (data: Buffer) => {
    if (stopped) return;
    if (!pumping && chain.length === 0 && gate.open) {
      if (!dest.write(data)) {
        waitingDrain = true;
        source.pause();
        dest.once('drain', () => {
          waitingDrain = false;
          resume();
        });
      }
      return;
    }
    queue.push({ data, at: performance.now() });
    queuedBytes += data.length;
    if (queuedBytes >= HIGH_WATER) source.pause();
    if (!pumping) void pump();
  });
  source.on('end', () => {
    if (stopped) return;
    queue.push(END);
    if (!pumping) void pump();
  });

  const retire = (entry: Entry, reason: StopReason): void => {
    entry.abort.abort();
    entry.stage?.stop?.(reason);
  };

  return {
    refresh(faults) {
      if (stopped) return;
      const wanted = faults.filter((fault) => fault.stream === direction && fault.createStage !== undefined);
      const names = new Set(wanted.map((fault) => fault.name));
      for (const [name, entry] of entries) {
        if (names.has(name)) continue;
        entries.delete(name);
        retire(entry, 'removed');
        if (stopped) return;
      }
      for (const fault of wanted) {
        const existing = entries.get(fault.name);
        if (existing?.fault === fault) continue;
        if (existing) retire(existing, 'replaced');
        const state = existing?.state ?? {};
        // Toxiproxy draws the toxicity when a stage starts on a connection, and again when its toxic is updated.
        const selected = random() < fault.toxicity;
        const stage = selected ? fault.createStage?.({ random, state, close: controls.close, reset: controls.reset }) : undefined;
        entries.set(fault.name, { fault, abort: new AbortController(), state, stage });
      }
      chain = wanted.flatMap((fault) => {
        const entry = entries.get(fault.name);
        return entry?.stage ? [{ stage: entry.stage, signal: entry.abort.signal }] : [];
      });
    },
    stop() {
      if (stopped) return;
      stopped = true;
      stopping.abort();
      queue.length = 0;
      for (const entry of entries.values()) retire(entry, 'closed');
      entries.clear();
      chain = [];
    },
  };
}
