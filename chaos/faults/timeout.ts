// timeout, in Toxiproxy's name and unit: a black hole. No data gets through;
// the connection is closed `timeout` ms after the toxic starts or after the
// last data it swallowed (Toxiproxy restarts its timer on every chunk), or
// never when timeout is 0. Removing the toxic closes the connections it held,
// as Toxiproxy's cleanup does (their byte streams have lost data).
// In http mode the request (upstream) or the answer (downstream) vanishes and
// the client connection is closed after `timeout` ms (or left hanging).

import { z } from 'zod';
import type { FaultType, HttpModeFault } from '../fault.ts';
import { type CommonOptions, matchAll, milliseconds, parseWith, resolveCommon } from '../fault-spec.ts';

const attributesSchema = z.strictObject({
  // Toxiproxy's default: 0, a black hole that never closes.
  timeout: milliseconds().default(0),
});

export type TimeoutAttributes = z.output<typeof attributesSchema>;

export const timeoutType: FaultType<TimeoutAttributes> = {
  type: 'timeout',
  collection: 'toxics',
  defaultStream: 'downstream',
  modes: ['http', 'tcp'],
  attributes: attributesSchema,
  create(common, attributes): HttpModeFault {
    const { timeout } = attributes;
    return {
      ...common,
      type: 'timeout',
      collection: 'toxics',
      modes: timeoutType.modes,
      attributes: Object.freeze({ timeout }),
      matches: matchAll,
      decide: () => ({ kind: 'blackhole', closeAfterMs: timeout }),
      createStage({ close }) {
        let timer: NodeJS.Timeout | undefined;
        const arm = (): void => {
          if (timeout <= 0) return;
          clearTimeout(timer);
          timer = setTimeout(close, timeout);
        };
        arm();
        return {
          // eslint-disable-next-line require-yield -- a black hole yields nothing
          async *process() {
            arm();
          },
          stop(reason) {
            clearTimeout(timer);
            if (reason === 'removed') close();
          },
        };
      },
    };
  },
};

export interface TimeoutOptions extends CommonOptions {
  /** Milliseconds before the connection is closed; 0 keeps it open (and silent) until the toxic is removed. */
  timeout: number;
}

/** `timeout({ timeout: 0 })`: nothing gets through, nothing is closed. */
export function timeout(options: TimeoutOptions): HttpModeFault {
  const common = resolveCommon(timeoutType.type, timeoutType.defaultStream, options);
  return timeoutType.create(common, parseWith(attributesSchema, { timeout: options.timeout }, 'attributes')) as HttpModeFault;
}
