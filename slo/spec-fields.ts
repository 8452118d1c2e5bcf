// Field schemas every SLO spec spelling shares (names, labels, annotations,
// alert names, queries), in a module of their own so that spec.ts and
// sloth-dialect.ts can both build on them.

import { z } from 'zod';

export const dnsName = z
  .string()
  .max(63)
  .regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/, 'must be lowercase letters, digits and dashes (RFC 1123), starting and ending with a letter or digit');

/**
 * Labels the generator sets itself; a spec may not override them. `severity`
 * and `tier` are not among them: they are the user's (Sloth's page_alert
 * labels set severity: critical for Alertmanager routes; the generator's own
 * tier label is slo_tier).
 */
export const RESERVED_LABELS = new Set(['alertname', 'slo_tier', 'slo_long_window', 'slo_short_window', 'slo_burn_factor', 'slo_time_to_exhaustion']);

export function labelNameProblem(name: string): string | undefined {
  if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(name)) return 'must be a Prometheus label name (letters, digits, underscores)';
  if (name.startsWith('__') || name.startsWith('sloth_') || RESERVED_LABELS.has(name)) return `is reserved (names starting with __ or sloth_, and ${[...RESERVED_LABELS].join(', ')})`;
  return undefined;
}

/** A record whose keys are checked one by one, so each bad key is reported at its own path. */
export function keyedRecord<T extends z.ZodType>(value: T, check: (key: string) => string | undefined) {
  return z.record(z.string(), value).superRefine((record, ctx) => {
    for (const key of Object.keys(record)) {
      const problem = check(key);
      if (problem !== undefined) ctx.addIssue({ code: 'custom', path: [key], message: problem });
    }
  });
}

export const labels = keyedRecord(z.string(), labelNameProblem);
export const annotations = keyedRecord(z.string(), (name) => (/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(name) ? undefined : 'must be a Prometheus annotation name'));
export const alertName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be a Prometheus alert name (letters, digits, underscores)');

export const query = z.string().min(1);
