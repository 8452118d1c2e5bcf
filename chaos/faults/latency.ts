// Latency with jitter, in Toxiproxy's names and units: `latency` ms plus a
// uniform draw in [-jitter, +jitter] ms, never below zero. Upstream delays the
// request before it is forwarded; downstream delays the answer.

import { z } from 'zod';
import type { Fault, FaultType } from '../fault.ts';
import { type CommonOptions, nonNegative, parseWith, resolveCommon } from '../fault-spec.ts';

const attributesSchema = z.strictObject({
  latency: nonNegative('milliseconds'),
  jitter: nonNegative('milliseconds').default(0),
});

export type LatencyAttributes = z.output<typeof attributesSchema>;

export const latencyType: FaultType<LatencyAttributes> = {
  type: 'latency',
  collection: 'toxics',
  defaultStream: 'downstream',
  attributes: attributesSchema,
  create(common, attributes): Fault {
    const { latency, jitter } = attributes;
    return {
      ...common,
      type: 'latency',
      collection: 'toxics',
      attributes: Object.freeze({ latency, jitter }),
      decide(random) {
        const ms = jitter === 0 ? latency : latency + (random() * 2 - 1) * jitter;
        return { kind: 'delay', ms: Math.max(0, ms) };
      },
    };
  },
};

export interface LatencyOptions extends CommonOptions {
  /** Added delay in milliseconds. */
  latency: number;
  /** Spread in milliseconds: the delay is uniform in latency ± jitter. Default 0. */
  jitter?: number;
}

/** `latency({ latency: 200, jitter: 50 })`: 150..250 ms added to each request it applies to. */
export function latency(options: LatencyOptions): Fault {
  const common = resolveCommon(latencyType.type, latencyType.defaultStream, options);
  const attributes = parseWith(attributesSchema, { latency: options.latency, jitter: options.jitter }, 'attributes');
  return latencyType.create(common, attributes);
}
