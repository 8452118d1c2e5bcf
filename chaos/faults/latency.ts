// Latency with jitter, in Toxiproxy's names and units: `latency` ms plus a
// uniform draw in [-jitter, +jitter] ms, never below zero. In http mode,
// upstream delays the request before it is forwarded and downstream delays the
// answer, drawn per request. In tcp mode every chunk is held until `latency`
// (± jitter, drawn per chunk) after it was read, as Toxiproxy does, so a
// stream is delayed without its throughput being cut.

import { z } from 'zod';
import type { FaultType, HttpModeFault } from '../fault.ts';
import { type CommonOptions, MAX_TIMER_MS, matchAll, milliseconds, parseWith, resolveCommon } from '../fault-spec.ts';
import { sleep } from '../toxic-stage.ts';

// Toxiproxy's defaults: every attribute 0 (a toxic posted without attributes is a no-op latency).
const attributesSchema = z
  .strictObject({
    latency: milliseconds().default(0),
    jitter: milliseconds().default(0),
  })
  .refine((a) => a.latency > MAX_TIMER_MS || a.jitter > MAX_TIMER_MS || a.latency + a.jitter <= MAX_TIMER_MS, {
    path: ['jitter'],
    error: `latency + jitter must be at most ${MAX_TIMER_MS} (milliseconds; the longest a timer can wait)`,
  });

export type LatencyAttributes = z.output<typeof attributesSchema>;

export const latencyType: FaultType<LatencyAttributes> = {
  type: 'latency',
  collection: 'toxics',
  defaultStream: 'downstream',
  modes: ['http', 'tcp'],
  attributes: attributesSchema,
  create(common, attributes): HttpModeFault {
    const { latency, jitter } = attributes;
    const draw = (random: () => number): number => Math.max(0, jitter === 0 ? latency : latency + (random() * 2 - 1) * jitter);
    return {
      ...common,
      type: 'latency',
      collection: 'toxics',
      modes: latencyType.modes,
      attributes: Object.freeze({ latency, jitter }),
      matches: matchAll,
      decide(random) {
        return { kind: 'delay', ms: draw(random) };
      },
      createStage({ random }) {
        return {
          async *process(chunk, signal) {
            await sleep(chunk.at + draw(random) - performance.now(), signal);
            yield chunk;
          },
        };
      },
    };
  },
};

export interface LatencyOptions extends CommonOptions {
  /** Added delay in whole milliseconds. */
  latency: number;
  /** Spread in milliseconds: the delay is uniform in latency ± jitter. Default 0. */
  jitter?: number;
}

/** `latency({ latency: 200, jitter: 50 })`: 150..250 ms added to each request (http) or chunk (tcp) it applies to. */
export function latency(options: LatencyOptions): HttpModeFault {
  const common = resolveCommon(latencyType.type, latencyType.defaultStream, options);
  const attributes = parseWith(attributesSchema, { latency: options.latency, jitter: options.jitter }, 'attributes');
  return latencyType.create(common, attributes) as HttpModeFault;
}
