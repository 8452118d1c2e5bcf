// A service's guarded calls by dependency, tunable while traffic flows: an
// instructor switches a retry off or tightens a breaker through the admin
// listener (policy-routes.ts) and sees the effect in the same run, without a
// restart that would reset every breaker and cache. A live call runs each call
// under the policy current when the call starts, so a change never cuts a call
// in flight. A change is validated with the scenarios' own schema, and the
// stateful parts survive a change that leaves their settings alone: an open
// breaker stays open when only the retry count moved. A part whose settings
// change starts afresh and says so in its gauges. Every change is kept (time,
// dependency, before, after) and logged.

import { isDeepStrictEqual } from 'node:util';
import type { z } from 'zod';
import type { Logger } from '../kit/logger.ts';
import type { ResilienceMetrics } from '../kit/metrics.ts';
import type { Bulkhead } from './bulkhead.ts';
import type { CircuitBreaker } from './circuit-breaker.ts';
import { dependencyPolicySchema, type DependencyPolicy } from './policy-config.ts';
import {
  createResilientCall,
  publishedBreaker,
  publishedBudget,
  publishedBulkhead,
  type ResilienceParts,
  type ResilientCall,
  type ResilientCallOptions,
} from './resilient-call.ts';

/** Changes kept for GET /admin/policies; older ones are only in the log. */
const HISTORY_LIMIT = 200;

/** One bad field of a policy, by its path inside the policy (`retry.maxAttempts`). */
export interface PolicyIssue {
  field: string;
  message: string;
}

export class PolicyValidationError extends Error {
  readonly code = 'FL_POLICY_INVALID';
  readonly issues: readonly PolicyIssue[];
  constructor(dependency: string, issues: readonly PolicyIssue[]) {
    super(`${dependency}: ${issues.map((issue) => `${issue.field}: ${issue.message}`).join('; ')}`);
    this.name = 'PolicyValidationError';
    this.issues = issues;
  }
}

export class UnknownDependencyError extends Error {
  readonly code = 'FL_POLICY_UNKNOWN_DEPENDENCY';
  readonly dependency: string;
  readonly known: readonly string[];
  constructor(dependency: string, known: readonly string[]) {
    super(`no guarded calls to '${dependency}' here; known: ${known.length ? known.join(', ') : '(none)'}`);
    this.name = 'UnknownDependencyError';
    this.dependency = dependency;
    this.known = known;
  }
}

type Plain = Record<string, unknown>;

/** A JSON object: not null, not an array. */
export function isPlainObject(value: unknown): value is Plain {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The field names `root` accepts at `path`, for a message about an unknown one. */
function fieldsAt(root: unknown, path: readonly PropertyKey[]): string[] {
  let schema: unknown = root;
  for (const key of path) {
    while (typeof (schema as { unwrap?: unknown }).unwrap === 'function') schema = (schema as { unwrap(): unknown }).unwrap();
    schema = (schema as { shape?: Record<PropertyKey, unknown> }).shape?.[key];
    if (schema === undefined) return [];
  }
  while (typeof (schema as { unwrap?: unknown }).unwrap === 'function') schema = (schema as { unwrap(): unknown }).unwrap();
  return Object.keys((schema as { shape?: object }).shape ?? {});
}

const pathOf = (path: readonly PropertyKey[]): string => path.map(String).join('.') || '(root)';

/** A zod issue in the lab's words: `must be <= 10`, `unknown field (retry has: ...)`. */
function issuesOf(issue: z.core.$ZodIssue, root: unknown): PolicyIssue[] {
  const field = pathOf(issue.path);
  switch (issue.code) {
    case 'too_big':
      return [{ field, message: `must be ${issue.inclusive ? '<=' : '<'} ${String(issue.maximum)}` }];
    case 'too_small':
      return [{ field, message: `must be ${issue.inclusive ? '>=' : '>'} ${String(issue.minimum)}` }];
    case 'invalid_type':
      return [{ field, message: issue.expected === 'int' ? 'must be a whole number' : `must be a ${issue.expected}` }];
    case 'invalid_value':
      return [{ field, message: `must be one of ${issue.values.map((value) => JSON.stringify(value)).join(', ')}` }];
    case 'invalid_union': {
      const expected = issue.errors.flatMap((branch) => branch.flatMap((inner) => (inner.code === 'invalid_type' ? [inner.expected] : [])));
      return [{ field, message: expected.length ? `must be a ${expected.join(' or a ')}` : issue.message }];
    }
    case 'unrecognized_keys': {
      const known = fieldsAt(root, issue.path);
      const where = issue.path.length ? pathOf(issue.path) : 'a policy';
      return issue.keys.map((key) => ({ field: pathOf([...issue.path, key]), message: `unknown field${known.length ? ` (${where} has: ${known.join(', ')})` : ''}` }));
    }
    default:
      return [{ field, message: issue.message }];
  }
}

/** Every bad field of a failed parse against `root` (a dependency's policy unless said), each named by its path. */
export function policyIssues(error: z.ZodError, root: z.ZodType = dependencyPolicySchema): PolicyIssue[] {
  return error.issues.flatMap((issue) => issuesOf(issue, root));
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/** A policy as written or already normalised, parsed into its normalised, frozen form; or every bad field. */
export function validatePolicy(value: unknown): { policy: DependencyPolicy; issues?: undefined } | { policy?: undefined; issues: PolicyIssue[] } {
  const parsed = dependencyPolicySchema.safeParse(value);
  if (!parsed.success) return { issues: policyIssues(parsed.error) };
  // Through JSON: no `deadline: undefined` left to make equal policies differ, and the form GET answers.
  return { policy: deepFreeze(JSON.parse(JSON.stringify(parsed.data)) as DependencyPolicy) };
}

/**
 * RFC 7396 JSON Merge Patch: objects merge key by key, `null` removes a key
 * (its default applies again), anything else replaces. Built with
 * Object.fromEntries, so a `__proto__` key stays a key (and is refused as
 * unknown) instead of changing a prototype.
 */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return patch;
  const merged = new Map(Object.entries(isPlainObject(target) ? target : {}));
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) merged.delete(key);
    else merged.set(key, mergePatch(merged.get(key), value));
  }
  return Object.fromEntries(merged);
}

/** The paths whose values differ between two policies (`retry.maxAttempts`). */
export function changedFields(before: unknown, after: unknown, path: string[] = []): string[] {
  if (isPlainObject(before) && isPlainObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])];
    return keys.flatMap((key) => changedFields(before[key], after[key], [...path, key]));
  }
  return isDeepStrictEqual(before, after) ? [] : [path.join('.')];
}

export interface LiveCall extends ResilientCall {
  readonly dependency: string;
  /** The policy calls starting now run under. */
  readonly policy: DependencyPolicy;
  /**
   * Validate a whole policy and run new calls under it; calls in flight finish
   * under the old one. Throws PolicyValidationError naming every bad field.
   */
  reconfigure(policy: unknown): DependencyPolicy;
}

export interface LiveCallOptions extends Omit<ResilientCallOptions, 'policy' | 'parts'> {
  /** As a scenario writes it, or already normalised. */
  policy: unknown;
}

export function createLiveCall(options: LiveCallOptions): LiveCall {
  const { dependency, metrics, logger } = options;
  const validated = validatePolicy(options.policy);
  if (validated.issues) throw new PolicyValidationError(dependency, validated.issues);
  let policy = validated.policy;
  let parts: ResilienceParts = { breaker: undefined, bulkhead: undefined, budget: undefined };

  /** The parts `next` needs: the current ones where their settings are unchanged, fresh ones (published) where not. */
  const partsFor = (next: DependencyPolicy, previous: DependencyPolicy | undefined): ResilienceParts => {
    const same = <K extends 'circuitBreaker' | 'bulkhead'>(key: K) => previous !== undefined && isDeepStrictEqual(previous[key], next[key]);
    const breaker: CircuitBreaker | undefined = !next.circuitBreaker.enabled
      ? undefined
      : parts.breaker && same('circuitBreaker')
        ? parts.breaker
        : publishedBreaker(dependency, next.circuitBreaker, metrics, logger, () => parts.breaker === breaker);
    const bulkhead: Bulkhead | undefined = !next.bulkhead.enabled
      ? undefined
      : parts.bulkhead && same('bulkhead')
        ? parts.bulkhead
        : publishedBulkhead(dependency, next.bulkhead, metrics, () => parts.bulkhead === bulkhead);
    const budget = !next.retry.budget.enabled
      ? undefined
      : parts.budget && previous !== undefined && isDeepStrictEqual(previous.retry.budget, next.retry.budget)
        ? parts.budget
        : publishedBudget(dependency, next.retry.budget, metrics);
    return { breaker, bulkhead, budget };
  };

  /** What the gauges must say once `next` replaces `previous`: a replaced breaker's state is gone, a removed part's gauges too. */
  const publishSwap = (previous: ResilienceParts, next: ResilienceParts): void => {
    if (previous.breaker && previous.breaker !== next.breaker) {
      if (!next.breaker) metrics.switchedOff(dependency, 'circuitBreaker');
      else if (previous.breaker.state !== next.breaker.state) {
        metrics.circuitTransition(dependency, previous.breaker.state, next.breaker.state);
        logger.warn({ dependency, from: previous.breaker.state, to: next.breaker.state, reason: 'policy changed' }, 'circuit breaker transition');
      }
    }
    if (previous.bulkhead && previous.bulkhead !== next.bulkhead) {
      if (!next.bulkhead) metrics.switchedOff(dependency, 'bulkhead');
      else {
        metrics.bulkheadInFlight(dependency, 0);
        metrics.bulkheadQueued(dependency, 0);
      }
    }
    if (previous.budget && !next.budget) metrics.switchedOff(dependency, 'retryBudget');
  };

  const build = (next: DependencyPolicy, previous: DependencyPolicy | undefined): ResilientCall => {
    const before = parts;
    parts = partsFor(next, previous);
    publishSwap(before, parts);
    return createResilientCall({ ...options, policy: next, parts });
  };
  let inner = build(policy, undefined);

  return {
    dependency,
    get policy() {
      return policy;
    },
    get breaker() {
      return parts.breaker;
    },
    // The inner call is picked as the call starts: it keeps it to the end, retries included.
    execute: (fn, signal, call) => inner.execute(fn, signal, call),
    reconfigure(next) {
      const checked = validatePolicy(next);
      if (checked.issues) throw new PolicyValidationError(dependency, checked.issues);
      if (isDeepStrictEqual(checked.policy, policy)) return policy;
      inner = build(checked.policy, policy);
      policy = checked.policy;
      return policy;
    },
  };
}

/** What a caller allows of a change beyond the schema: the gateway applies only a bulkhead and a retry. */
export interface CallerRules {
  /** Fields of a change (a patch, or a whole policy) this caller refuses, with the reason. */
  refuse?(change: Readonly<Plain>): PolicyIssue[];
  /** What this caller makes of a valid policy; `written` is the policy as merged or sent, before defaults. */
  shape?(policy: DependencyPolicy, written: Readonly<Plain>): DependencyPolicy;
}

export interface PolicyChange {
  /** ISO 8601. */
  at: string;
  dependency: string;
  action: 'patch' | 'replace' | 'reset';
  /** The paths that changed (`retry.maxAttempts`). */
  changed: string[];
  before: DependencyPolicy;
  after: DependencyPolicy;
}

export interface RegisterOptions extends Omit<LiveCallOptions, 'metrics' | 'logger'> {
  rules?: CallerRules;
}

export interface PolicyRegistry {
  /** A live call to `dependency`, listed and tunable through the registry; one per dependency. */
  register(options: RegisterOptions): LiveCall;
  /** Every registered dependency's current policy. */
  policies(): Record<string, DependencyPolicy>;
  /** One dependency's current policy; throws UnknownDependencyError. */
  policy(dependency: string): DependencyPolicy;
  /** The changes so far, oldest first (the last HISTORY_LIMIT). */
  history(): readonly PolicyChange[];
  /** Merge a deep-partial policy (JSON Merge Patch) over the current one; the change, or undefined when it changed nothing. */
  patch(dependency: string, patch: unknown): PolicyChange | undefined;
  /** A whole policy, defaults filled; the change, or undefined when it changed nothing. */
  replace(dependency: string, policy: unknown): PolicyChange | undefined;
  /** Every dependency back to the policy it started with; the changes this made. */
  reset(): PolicyChange[];
}

export function createPolicyRegistry(options: { metrics: ResilienceMetrics; logger: Logger }): PolicyRegistry {
  const { metrics, logger } = options;
  const entries = new Map<string, { call: LiveCall; initial: DependencyPolicy; rules: CallerRules }>();
  const changes: PolicyChange[] = [];

  const entryOf = (dependency: string) => {
    const entry = entries.get(dependency);
    if (!entry) throw new UnknownDependencyError(dependency, [...entries.keys()]);
    return entry;
  };

  const commit = (dependency: string, action: PolicyChange['action'], next: DependencyPolicy): PolicyChange | undefined => {
    const { call } = entryOf(dependency);
    const before = call.policy;
    const after = call.reconfigure(next);
    if (after === before) return undefined;
    const change: PolicyChange = { at: new Date().toISOString(), dependency, action, changed: changedFields(before, after), before, after };
    changes.push(change);
    if (changes.length > HISTORY_LIMIT) changes.shift();
    logger.info({ dependency, action, changed: change.changed, before, after }, 'resilience policy changed');
    return change;
  };

  /** Validate `written` (merged or whole) and the change against the caller's rules, every issue at once, then apply it. */
  const apply = (dependency: string, action: 'patch' | 'replace', change: unknown, written: (current: DependencyPolicy) => unknown): PolicyChange | undefined => {
    const { call, rules } = entryOf(dependency);
    if (!isPlainObject(change)) throw new PolicyValidationError(dependency, [{ field: '(root)', message: 'must be an object' }]);
    const whole = written(call.policy) as Plain;
    const checked = validatePolicy(whole);
    const issues = [...(checked.issues ?? []), ...(rules.refuse?.(change) ?? [])];
    if (checked.issues || issues.length) throw new PolicyValidationError(dependency, issues);
    return commit(dependency, action, rules.shape ? rules.shape(checked.policy, whole) : checked.policy);
  };

  return {
    register({ rules = {}, ...call }) {
      if (entries.has(call.dependency)) throw new Error(`calls to ${call.dependency} are already registered`);
      const live = createLiveCall({ ...call, metrics, logger });
      entries.set(call.dependency, { call: live, initial: live.policy, rules });
      return live;
    },
    policies: () => Object.fromEntries([...entries].map(([dependency, entry]) => [dependency, entry.call.policy])),
    policy: (dependency) => entryOf(dependency).call.policy,
    history: () => [...changes],
    patch: (dependency, patch) => apply(dependency, 'patch', patch, (current) => mergePatch(current, patch)),
    replace: (dependency, policy) => apply(dependency, 'replace', policy, () => policy),
    reset: () => [...entries].flatMap(([dependency, entry]) => commit(dependency, 'reset', entry.initial) ?? []),
  };
}
