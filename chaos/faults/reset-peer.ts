// reset_peer, in Toxiproxy's name and unit: the first data on the stream
// starts a timer, and `timeout` ms later (at once when 0) the connection is
// reset: a TCP RST to both peers, so the client sees ECONNRESET. The data is
// not passed on. In http mode the client connection is reset `timeout` ms
// after the request arrived: upstream, the request is never forwarded;
// downstream, the upstream does the work and its answer is withheld.

import { z } from 'zod';
import type { FaultType, HttpModeFault } from '../fault.ts';
import { type CommonOptions, matchAll, milliseconds, parseWith, resolveCommon } from '../fault-spec.ts';

const attributesSchema = z.strictObject({
  timeout: milliseconds().default(0),
});

export type ResetPeerAttributes = z.output<typeof attributesSchema>;

export const resetPeerType: FaultType<ResetPeerAttributes> = {
  type: 'reset_peer',
  collection: 'toxics',
  defaultStream: 'downstream',
  modes: ['http', 'tcp'],
  attributes: attributesSchema,
  create(common, attributes): HttpModeFault {
    const { timeout } = attributes;
    return {
      ...common,
      type: 'reset_peer',
      collection: 'toxics',
      modes: resetPeerType.modes,
      attributes: Object.freeze({ timeout }),
      matches: matchAll,
      decide: () => ({ kind: 'reset', afterMs: timeout }),
      createStage({ reset }) {
        let timer: NodeJS.Timeout | undefined;
        return {
          // eslint-disable-next-line require-yield -- the data never gets through
          async *process() {
            timer ??= setTimeout(reset, timeout);
          },
          stop() {
            clearTimeout(timer);
          },
        };
      },
    };
  },
};

export interface ResetPeerOptions extends CommonOptions {
  /** Milliseconds from the first data to the reset; default 0 (at once). */
  timeout?: number;
}

/** `resetPeer({ timeout: 100 })`: ECONNRESET 100 ms after the first bytes. */
export function resetPeer(options: ResetPeerOptions = {}): HttpModeFault {
  const common = resolveCommon(resetPeerType.type, resetPeerType.defaultStream, options);
  return resetPeerType.create(common, parseWith(attributesSchema, { timeout: options.timeout }, 'attributes')) as HttpModeFault;
}
