// limit_data, in Toxiproxy's name and unit: the connection is closed once
// `bytes` bytes have gone through on the stream. The count belongs to the
// connection and survives updates of the toxic, as Toxiproxy keeps it. In http
// mode the count is per request: the body of the request (upstream) or answer
// (downstream) is cut after `bytes` bytes and the client connection closed.

import { z } from 'zod';
import type { FaultType, HttpModeFault } from '../fault.ts';
import { type CommonOptions, matchAll, nonNegativeInt, parseWith, resolveCommon } from '../fault-spec.ts';
import type { StageContext, ToxicStage } from '../toxic-stage.ts';

const attributesSchema = z.strictObject({
  // Toxiproxy's default: 0, the connection closed at its first data.
  bytes: nonNegativeInt('bytes').default(0),
});

export type LimitDataAttributes = z.output<typeof attributesSchema>;

export const limitDataType: FaultType<LimitDataAttributes> = {
  type: 'limit_data',
  collection: 'toxics',
  defaultStream: 'downstream',
  modes: ['http', 'tcp'],
  attributes: attributesSchema,
  create(common, attributes): HttpModeFault {
    const { bytes } = attributes;
    const createStage = ({ state, close }: StageContext): ToxicStage => ({
      async *process(chunk) {
        const sent = state.transmitted ?? 0;
        const remaining = Math.max(0, bytes - sent);
        const data = chunk.data.length > remaining ? chunk.data.subarray(0, remaining) : chunk.data;
        if (data.length > 0) {
          state.transmitted = sent + data.length;
          yield { data, at: chunk.at };
        }
        if (bytes - (state.transmitted ?? 0) <= 0) close();
      },
    });
    return {
      ...common,
      type: 'limit_data',
      collection: 'toxics',
      modes: limitDataType.modes,
      attributes: Object.freeze({ bytes }),
      matches: matchAll,
      decide: () => ({ kind: 'shape', stage: createStage }),
      createStage,
    };
  },
};

export interface LimitDataOptions extends CommonOptions {
  /** Bytes let through before the connection is closed. */
  bytes: number;
}

/** `limitData({ bytes: 1024 })`: the connection closes after 1 KiB from the upstream. */
export function limitData(options: LimitDataOptions): HttpModeFault {
  const common = resolveCommon(limitDataType.type, limitDataType.defaultStream, options);
  return limitDataType.create(common, parseWith(attributesSchema, { bytes: options.bytes }, 'attributes')) as HttpModeFault;
}
