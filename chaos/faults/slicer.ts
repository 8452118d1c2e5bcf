// slicer, in Toxiproxy's names and units: every chunk is cut into pieces of
// about `average_size` bytes (± `size_variation`), with `delay` microseconds
// between pieces, as a slow or fragmenting network delivers them. The cut
// points come from the link's seeded random stream, halving recursively as
// Toxiproxy does so pieces are evenly spread. In http mode the body of the
// request (upstream) or answer (downstream) is sliced.

import { z } from 'zod';
import type { FaultType, HttpModeFault } from '../fault.ts';
import { type CommonOptions, matchAll, microseconds, nonNegativeInt, parseWith, resolveCommon } from '../fault-spec.ts';
import { sleep, type ToxicStage } from '../toxic-stage.ts';
import type { RandomSource } from '../../demo-services/kit/random.ts';

// Toxiproxy's defaults are 0 for all three; an average_size of 0 cuts single bytes.
const attributesSchema = z
  .strictObject({
    average_size: nonNegativeInt('bytes').default(0),
    size_variation: nonNegativeInt('bytes').default(0),
    delay: microseconds().default(0),
  })
  .refine((attributes) => attributes.size_variation === 0 || attributes.size_variation < attributes.average_size, {
    path: ['size_variation'],
    error: 'must be smaller than average_size',
  });

export type SlicerAttributes = z.output<typeof attributesSchema>;

/** End offsets of the pieces of a chunk of `size` bytes. */
export function sliceEnds(size: number, averageSize: number, sizeVariation: number, random: RandomSource): number[] {
  const ends: number[] = [];
  // A piece is at least one byte: average 0 (Toxiproxy's default) slices byte by byte.
  const average = Math.max(1, averageSize);
  const cut = (start: number, end: number): void => {
    if (end - start - average <= sizeVariation) {
      ends.push(end);
      return;
    }
    const offset = sizeVariation === 0 ? 0 : Math.floor(random() * sizeVariation * 2) - sizeVariation;
    const mid = Math.min(end - 1, Math.max(start + 1, start + Math.floor((end - start) / 2) + offset));
    cut(start, mid);
    cut(mid, end);
  };
  if (size > 0) cut(0, size);
  return ends;
}

export const slicerType: FaultType<SlicerAttributes> = {
  type: 'slicer',
  collection: 'toxics',
  defaultStream: 'downstream',
  modes: ['http', 'tcp'],
  attributes: attributesSchema,
  create(common, attributes): HttpModeFault {
    const { average_size: averageSize, size_variation: sizeVariation, delay } = attributes;
    const createStage = ({ random }: { random: RandomSource }): ToxicStage => ({
      async *process(chunk, signal) {
        let start = 0;
        for (const end of sliceEnds(chunk.data.length, averageSize, sizeVariation, random)) {
          if (signal.aborted) break;
          yield { data: chunk.data.subarray(start, end), at: chunk.at };
          start = end;
          if (end < chunk.data.length) await sleep(delay / 1000, signal);
        }
        if (start < chunk.data.length) yield { data: chunk.data.subarray(start), at: chunk.at };
      },
    });
    return {
      ...common,
      type: 'slicer',
      collection: 'toxics',
      modes: slicerType.modes,
      attributes: Object.freeze({ average_size: averageSize, size_variation: sizeVariation, delay }),
      matches: matchAll,
      decide: () => ({ kind: 'shape', stage: createStage }),
      createStage,
    };
  },
};

export interface SlicerOptions extends CommonOptions {
  averageSize: number;
  /** Default 0; must be smaller than averageSize. */
  sizeVariation?: number;
  /** Microseconds between pieces; default 0. */
  delay?: number;
}

/** `slicer({ averageSize: 64, sizeVariation: 16, delay: 1000 })`: ~64-byte pieces 1 ms apart. */
export function slicer(options: SlicerOptions): HttpModeFault {
  const common = resolveCommon(slicerType.type, slicerType.defaultStream, options);
  const attributes = parseWith(
    attributesSchema,
    { average_size: options.averageSize, size_variation: options.sizeVariation, delay: options.delay },
    'attributes',
  );
  return slicerType.create(common, attributes) as HttpModeFault;
}
