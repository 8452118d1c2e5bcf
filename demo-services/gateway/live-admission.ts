// The gateway's admission control, tunable while traffic flows: its per-client
// rate limit and its load-shedding limit, the two guards every request meets
// before it is routed. An instructor switches the rate limit off, or lowers the
// in-flight limit until the shop sheds, without a restart (which would forget
// every breaker and balancer state of the run). A change is validated with the
// scenario schema's own fields (policies.gateway.rateLimit and .loadShedding),
// applies to the requests that arrive after it, keeps what each client's token
// bucket had earned (token-bucket.ts; a reset fills every bucket, as at the
// start), and is kept (time, before, after) and
// logged, like a dependency policy's change (resilience/live-policies.ts).
//
//   GET    /admin/admission          the settings, what the gateway started with, and the changes so far
//   PATCH  /admin/admission          a deep-partial change (JSON Merge Patch; null: back to the start)
//   PUT    /admin/admission          the whole settings, defaults filled
//   POST   /admin/admission/reset    back to what the gateway started with

import { createRequire } from 'node:module';
import type expressModule from 'express';
import type { Router } from 'express';
import { isDeepStrictEqual } from 'node:util';
import { z } from 'zod';
import type { Logger } from '../kit/logger.ts';
import { changedFields, isPlainObject, mergePatch, policyIssues, PolicyValidationError, type PolicyIssue } from '../resilience/live-policies.ts';
import { answering, bodyOf } from '../resilience/policy-routes.ts';
import { gatewayPolicySchema } from './policy.ts';
import { createRateLimiter, type Admission as BucketAdmission } from './token-bucket.ts';

const require = createRequire(import.meta.url);
const express = require('express') as typeof expressModule;

/** Changes kept for GET; older ones are only in the log. */
const HISTORY_LIMIT = 200;

export const admissionSchema = z.strictObject({
  rateLimit: gatewayPolicySchema.shape.rateLimit,
  loadShedding: gatewayPolicySchema.shape.loadShedding,
});

export type AdmissionSettings = z.infer<typeof admissionSchema>;

export interface AdmissionChange {
  /** ISO 8601. */
  at: string;
  action: 'patch' | 'replace' | 'reset';
  /** The paths that changed (`rateLimit.ratePerSecond`). */
  changed: string[];
  before: AdmissionSettings;
  after: AdmissionSettings;
}

/** A refused change, answered as a policy's is (policy-routes.ts): 400 naming every bad field. */
export class AdmissionValidationError extends PolicyValidationError {
  constructor(issues: readonly PolicyIssue[]) {
    super('admission', issues);
    this.name = 'AdmissionValidationError';
  }
}

export interface LiveAdmission {
  settings(): AdmissionSettings;
  initial(): AdmissionSettings;
  history(): readonly AdmissionChange[];
  /** The rate limit's verdict for one client's request under the current settings (allowed when the limit is off). */
  admit(client: string): BucketAdmission;
  /** Whether a request arriving with `inFlight` requests already in flight is shed. */
  sheds(inFlight: number): boolean;
  patch(change: unknown): AdmissionChange | undefined;
  replace(settings: unknown): AdmissionChange | undefined;
  reset(): AdmissionChange | undefined;
}

function parse(value: unknown): AdmissionSettings {
  if (!isPlainObject(value)) throw new AdmissionValidationError([{ field: '(root)', message: 'must be an object' }]);
  const parsed = admissionSchema.safeParse(value);
  if (!parsed.success) throw new AdmissionValidationError(policyIssues(parsed.error, admissionSchema));
  return Object.freeze(JSON.parse(JSON.stringify(parsed.data)) as AdmissionSettings);
}

export function createLiveAdmission(start: AdmissionSettings, logger: Logger, now?: () => number): LiveAdmission {
  const initial = parse(start);
  let current = initial;
  const freshLimiter = () => createRateLimiter({ ratePerSecond: current.rateLimit.ratePerSecond, burst: current.rateLimit.burst }, now);
  let limiter = freshLimiter();
  const changes: AdmissionChange[] = [];

  const commit = (action: AdmissionChange['action'], next: AdmissionSettings): AdmissionChange | undefined => {
    const before = current;
    if (isDeepStrictEqual(before, next)) return undefined;
    current = next;
    // A reset is the gateway as it started: every client's bucket full again. A change keeps what each had earned.
    if (action === 'reset') limiter = freshLimiter();
    else if (before.rateLimit.ratePerSecond !== next.rateLimit.ratePerSecond || before.rateLimit.burst !== next.rateLimit.burst) {
      limiter.reconfigure({ ratePerSecond: next.rateLimit.ratePerSecond, burst: next.rateLimit.burst });
    }
    const change: AdmissionChange = { at: new Date().toISOString(), action, changed: changedFields(before, next), before, after: next };
    changes.push(change);
    if (changes.length > HISTORY_LIMIT) changes.shift();
    logger.info({ action, changed: change.changed, before, after: next }, 'gateway admission changed');
    return change;
  };

  return {
    settings: () => current,
    initial: () => initial,
    history: () => [...changes],
    admit: (client) => (current.rateLimit.enabled ? limiter.take(client) : { allowed: true, remaining: Number.POSITIVE_INFINITY }),
    sheds: (inFlight) => current.loadShedding.enabled && inFlight >= current.loadShedding.maxInFlight,
    patch(change) {
      if (!isPlainObject(change)) throw new AdmissionValidationError([{ field: '(root)', message: 'must be an object' }]);
      // null takes a field back to what the gateway started with, not to the schema's default.
      return commit('patch', parse(mergePatch(current, withStartFor(change, initial))));
    },
    replace: (settings) => commit('replace', parse(settings)),
    reset: () => commit('reset', initial),
  };
}

/** A merge patch whose nulls mean "as the gateway started": each null becomes the start's value there. */
function withStartFor(patch: Record<string, unknown>, start: unknown): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(patch).map(([key, value]) => {
      const startValue = isPlainObject(start) ? start[key] : undefined;
      if (value === null) return [key, startValue ?? null];
      return [key, isPlainObject(value) ? withStartFor(value, startValue) : value];
    }),
  );
}

/** /admin/admission on the gateway's admin listener (loopback, or a token; foreign Origins refused there). */
export function admissionRoutes(admission: LiveAdmission): Router {
  const router = express.Router();
  router.use(express.json({ type: 'application/merge-patch+json', limit: '16kb' }));
  const answer = (change: AdmissionChange | undefined) => ({ admission: admission.settings(), change: change ?? null });
  router.get('/', (_req, res) => {
    res.json({ admission: admission.settings(), initial: admission.initial(), history: admission.history() });
  });
  router.patch('/', (req, res) => {
    res.json(answer(answering(() => admission.patch(bodyOf(req)))));
  });
  router.put('/', (req, res) => {
    res.json(answer(answering(() => admission.replace(bodyOf(req)))));
  });
  router.post('/reset', (_req, res) => {
    res.json(answer(admission.reset()));
  });
  return router;
}
