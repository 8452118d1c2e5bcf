// The configuration of the chaos process (chaos/main.ts), handed over by the
// supervisor in one JSON environment variable, validated here once so the
// runner can import the type and the variable name without starting anything.

import { z } from 'zod';
import { PROXY_MODES } from './fault.ts';
import { expected, nameSchema, parseWith } from './fault-spec.ts';
import { upstreamOrigin } from './http-proxy.ts';
import { isLoopback } from './proxy-server.ts';
import { upstreamAddress } from './tcp-proxy.ts';

export const CHAOS_CONFIG_ENV = 'FAULTLINE_CHAOS_CONFIG';

const port = z.int(expected('an integer port')).min(0, { error: 'must be 0..65535' }).max(65535, { error: 'must be 0..65535' });

const chaosConfigSchema = z.strictObject({
  /** Host of the admin API and the proxies; default 127.0.0.1. */
  host: z.string(expected('a string')).min(1, { error: 'must not be empty' }).optional(),
  /** Default 8474 (Toxiproxy's); 0 picks a free port. */
  adminPort: port.optional(),
  /** Run seed for the proxies' fault draws; default 0. */
  seed: z.int(expected('an integer')).optional(),
  /** Bearer token for the admin API; required when host is not loopback. */
  token: z.string(expected('a string')).min(1, { error: 'must not be empty' }).optional(),
  proxies: z
    .array(
      z
        .strictObject({
          name: nameSchema.refine((name) => name !== 'admin', { error: '"admin" is reserved for the admin port' }),
          upstream: z.string(expected('a string of the form http://host:port')),
          /** http (default): per-request HTTP faults; tcp: a byte-stream proxy (the gRPC edge). */
          mode: z.enum(PROXY_MODES, { error: `must be one of ${PROXY_MODES.join(', ')}` }).optional(),
          listenPort: port.optional(),
        })
        .superRefine((proxy, context) => {
          if (typeof proxy.upstream !== 'string') return;
          try {
            if (proxy.mode === 'tcp') upstreamAddress(proxy.upstream);
            else upstreamOrigin(proxy.upstream);
          } catch (error) {
            context.addIssue({ code: 'custom', path: ['upstream'], message: (error as Error).message.replace(/^upstream: /, '') });
          }
        }),
      expected('an array'),
    )
    .superRefine((proxies, context) => {
      const seen = new Set<string>();
      proxies.forEach((proxy, index) => {
        if (seen.has(proxy.name)) context.addIssue({ code: 'custom', path: [index, 'name'], message: `duplicate proxy name ${proxy.name}` });
        seen.add(proxy.name);
      });
    }),
}).superRefine((config, context) => {
  const host = config.host ?? '127.0.0.1';
  if (!isLoopback(host) && config.token === undefined) {
    context.addIssue({ code: 'custom', path: ['token'], message: `required when host (${host}) is not a loopback address` });
  }
});

export type ChaosConfig = z.input<typeof chaosConfigSchema>;

/** Validate a config; throws an InvalidSpecError naming every bad field (prefixed with the variable name). */
export function parseChaosConfig(value: unknown): z.output<typeof chaosConfigSchema> {
  return parseWith(chaosConfigSchema, value, CHAOS_CONFIG_ENV);
}
