// Bandwidth, in Toxiproxy's name and unit: `rate` KB/s (1 KB = 1000 bytes),
// paced on a virtual clock in pieces of at most 100 ms worth of data, as
// Toxiproxy slices large chunks. A rate of 0 lets nothing through until the
// toxic changes (Toxiproxy stalls the same way). In http mode the request body
// (upstream) or the answer body (downstream) is paced, per request.

import { z } from 'zod';
import type { FaultType, HttpModeFault } from '../fault.ts';
import { type CommonOptions, matchAll, nonNegativeInt, parseWith, resolveCommon } from '../fault-spec.ts';
import { createPacer, type ToxicStage } from '../toxic-stage.ts';

const attributesSchema = z.strictObject({
  // Whole KB/s (Toxiproxy's int64); its default 0 lets nothing through.
  rate: nonNegativeInt('KB/s').default(0),
});

export type BandwidthAttributes = z.output<typeof attributesSchema>;

/** A stage that paces bytes at `bytesPerMs`, in pieces of at most `pieceBytes`. */
export function pacedStage(bytesPerMs: number, pieceBytes: number): ToxicStage {
  const pacer = createPacer(bytesPerMs);
  return {
    async *process(chunk, signal) {
      let data = chunk.data;
      while (data.length > pieceBytes) {
        if (!(await pacer.wait(pieceBytes, signal))) break;
        yield { data: data.subarray(0, pieceBytes), at: chunk.at };
        data = data.subarray(pieceBytes);
      }
      await pacer.wait(data.length, signal);
      yield { data, at: chunk.at };
    },
  };
}

export const bandwidthType: FaultType<BandwidthAttributes> = {
  type: 'bandwidth',
  collection: 'toxics',
  defaultStream: 'downstream',
  modes: ['http', 'tcp'],
  attributes: attributesSchema,
  create(common, attributes): HttpModeFault {
    const { rate } = attributes;
    // KB/s is bytes per millisecond; Toxiproxy releases at most 100 ms worth at a time.
    const createStage = (): ToxicStage => pacedStage(rate, Math.max(1, Math.floor(rate * 100)));
    return {
      ...common,
      type: 'bandwidth',
      collection: 'toxics',
      modes: bandwidthType.modes,
      attributes: Object.freeze({ rate }),
      matches: matchAll,
      decide: () => ({ kind: 'shape', stage: createStage }),
      createStage,
    };
  },
};

export interface BandwidthOptions extends CommonOptions {
  /** KB/s (1 KB = 1000 bytes). */
  rate: number;
}

/** `bandwidth({ rate: 100 })`: at most 100 KB/s on the stream it applies to. */
export function bandwidth(options: BandwidthOptions): HttpModeFault {
  const common = resolveCommon(bandwidthType.type, bandwidthType.defaultStream, options);
  return bandwidthType.create(common, parseWith(attributesSchema, { rate: options.rate }, 'attributes')) as HttpModeFault;
}
