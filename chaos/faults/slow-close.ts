// slow_close, in Toxiproxy's name and unit: when one side closes, the close
// reaches the other side `delay` ms later. Downstream (the default), the
// upstream's FIN reaches the client late; upstream, the client's FIN reaches
// the upstream late. Only tcp-mode proxies tie a client connection to an
// upstream one, so http-mode proxies refuse it.

import { z } from 'zod';
import type { Fault, FaultType } from '../fault.ts';
import { type CommonOptions, matchAll, milliseconds, parseWith, resolveCommon } from '../fault-spec.ts';
import { sleep } from '../toxic-stage.ts';

const attributesSchema = z.strictObject({
  // Toxiproxy's default: 0, a close passed on at once.
  delay: milliseconds().default(0),
});

export type SlowCloseAttributes = z.output<typeof attributesSchema>;

export const slowCloseType: FaultType<SlowCloseAttributes> = {
  type: 'slow_close',
  collection: 'toxics',
  defaultStream: 'downstream',
  modes: ['tcp'],
  attributes: attributesSchema,
  create(common, attributes): Fault {
    const { delay } = attributes;
    return {
      ...common,
      type: 'slow_close',
      collection: 'toxics',
      modes: slowCloseType.modes,
      attributes: Object.freeze({ delay }),
      matches: matchAll,
      createStage() {
        return {
          async *process(chunk) {
            yield chunk;
          },
          async end(signal) {
            await sleep(delay, signal);
          },
        };
      },
    };
  },
};

export interface SlowCloseOptions extends CommonOptions {
  /** Milliseconds by which a close is delayed. */
  delay: number;
}

/** `slowClose({ delay: 500 })`: the upstream's close reaches the client 500 ms late. */
export function slowClose(options: SlowCloseOptions): Fault {
  const common = resolveCommon(slowCloseType.type, slowCloseType.defaultStream, options);
  return slowCloseType.create(common, parseWith(attributesSchema, { delay: options.delay }, 'attributes'));
}
