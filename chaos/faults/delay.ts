// An HTTP fault that adds a delay to the requests it matches: `delay` ms plus
// a uniform draw in ± `jitter` ms. Unlike the latency toxic it lives among the
// HTTP faults, so it can be narrowed by path, method and header ("POST
// /charges takes 2 s longer"). Upstream (the default) holds the request
// before it is forwarded; downstream holds the answer.

import { z } from 'zod';
import type { FaultType, HttpModeFault } from '../fault.ts';
import { type CommonOptions, MAX_TIMER_MS, milliseconds, parseWith, resolveCommon } from '../fault-spec.ts';
import { createRequestMatcher, type MatchAttributes, matchAttributes, matchShape } from '../request-match.ts';

const attributesSchema = z
  .strictObject({
    delay: milliseconds(),
    jitter: milliseconds().default(0),
    ...matchShape,
  })
  .refine((a) => a.delay > MAX_TIMER_MS || a.jitter > MAX_TIMER_MS || a.delay + a.jitter <= MAX_TIMER_MS, {
    path: ['jitter'],
    error: `delay + jitter must be at most ${MAX_TIMER_MS} (milliseconds; the longest a timer can wait)`,
  });

export type DelayAttributes = z.output<typeof attributesSchema>;

export const delayType: FaultType<DelayAttributes> = {
  type: 'delay',
  collection: 'http_faults',
  defaultStream: 'upstream',
  modes: ['http'],
  attributes: attributesSchema,
  create(common, attributes): HttpModeFault {
    const { delay, jitter } = attributes;
    return {
      ...common,
      type: 'delay',
      collection: 'http_faults',
      modes: delayType.modes,
      attributes: Object.freeze({ delay, jitter, ...matchAttributes(attributes) }),
      matches: createRequestMatcher(attributes),
      decide(random) {
        return { kind: 'delay', ms: Math.max(0, jitter === 0 ? delay : delay + (random() * 2 - 1) * jitter) };
      },
    };
  },
};

export interface DelayOptions extends CommonOptions, MatchAttributes {
  /** Added milliseconds. */
  delay: number;
  /** Spread in milliseconds (uniform in delay ± jitter); default 0. */
  jitter?: number;
}

/** `delay({ delay: 2000, path: '/charges', method: 'POST' })`: charges take 2 s longer. */
export function delay(options: DelayOptions): HttpModeFault {
  const common = resolveCommon(delayType.type, delayType.defaultStream, options);
  const attributes = parseWith(
    attributesSchema,
    { delay: options.delay, jitter: options.jitter, path: options.path, method: options.method, header: options.header },
    'attributes',
  );
  return delayType.create(common, attributes) as HttpModeFault;
}
