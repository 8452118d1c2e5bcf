// An HTTP fault that dribbles a body: the answer's body (downstream, the
// default) or the request's body (upstream) goes out `chunk_size` bytes at a
// time at `bytes_per_second`, headers first and at once. It shows what a
// client does with a server that answers promptly and then crawls (a body
// read timeout, a stuck connection pool), which latency alone cannot.

import { z } from 'zod';
import type { FaultType, HttpModeFault } from '../fault.ts';
import { type CommonOptions, expected, parseWith, resolveCommon } from '../fault-spec.ts';
import { createRequestMatcher, type MatchAttributes, matchAttributes, matchShape } from '../request-match.ts';
import { pacedStage } from './bandwidth.ts';

const attributesSchema = z.strictObject({
  bytes_per_second: z.number(expected('a number of bytes per second')).positive({ error: 'must be > 0 (bytes per second)' }),
  /** Bytes per write; default a tenth of a second's worth (at least 1). */
  chunk_size: z.int(expected('an integer number of bytes')).min(1, { error: 'must be >= 1 (bytes)' }).optional(),
  ...matchShape,
});

export type SlowBodyAttributes = z.output<typeof attributesSchema>;

export const slowBodyType: FaultType<SlowBodyAttributes> = {
  type: 'slow_body',
  collection: 'http_faults',
  defaultStream: 'downstream',
  modes: ['http'],
  attributes: attributesSchema,
  create(common, attributes): HttpModeFault {
    const bytesPerSecond = attributes.bytes_per_second;
    const chunkSize = attributes.chunk_size ?? Math.max(1, Math.floor(bytesPerSecond / 10));
    return {
      ...common,
      type: 'slow_body',
      collection: 'http_faults',
      modes: slowBodyType.modes,
      attributes: Object.freeze({
        bytes_per_second: bytesPerSecond,
        ...(attributes.chunk_size === undefined ? {} : { chunk_size: attributes.chunk_size }),
        ...matchAttributes(attributes),
      }),
      matches: createRequestMatcher(attributes),
      decide: () => ({ kind: 'shape', stage: () => pacedStage(bytesPerSecond / 1000, chunkSize) }),
    };
  },
};

export interface SlowBodyOptions extends CommonOptions, MatchAttributes {
  bytesPerSecond: number;
  chunkSize?: number;
}

/** `slowBody({ bytesPerSecond: 1000 })`: answers arrive at 1 KB/s, 100 bytes at a time. */
export function slowBody(options: SlowBodyOptions): HttpModeFault {
  const common = resolveCommon(slowBodyType.type, slowBodyType.defaultStream, options);
  const attributes = parseWith(
    attributesSchema,
    {
      bytes_per_second: options.bytesPerSecond,
      chunk_size: options.chunkSize,
      path: options.path,
      method: options.method,
      header: options.header,
    },
    'attributes',
  );
  return slowBodyType.create(common, attributes) as HttpModeFault;
}
