// The gateway's per-dependency policies: a scenario's `policies.gateway.<dependency>`
// reaches the gateway as `config.policies.<dependency>`, and the calls it
// forwards to that dependency then go through a ResilientCall. A bulkhead and a
// retry apply here. The gateway's timeout is its route timeout (one for every
// route, `gateway.routeTimeout`). It retries only reads (GET), and only when no
// answer came back (the connection was refused or closed: Envoy's
// `retry_on: connect-failure,reset`), on a replica the read has not tried: a
// retried POST /api/checkout whose first attempt reached checkout would place
// the order twice unless the client sent an Idempotency-Key, and the gateway
// cannot tell a request that never arrived from one whose answer was lost. A
// retry is opt-in: written under policies.gateway.<dependency>, else off. A
// breaker belongs to the services that call their dependencies (checkout ->
// payment). So a scenario that writes timeout, circuitBreaker or deadline
// under policies.gateway is refused when it is read (gatewayCallProblems), and
// the parsed scenario shows them off.
//
// A full bulkhead answers at once with 503 `bulkhead-full` and Retry-After:
// the gateway is out of room for that dependency (not the client's fault, so
// not 429), and the request never reached it.

import { ProblemError, problemType } from '../kit/problem.ts';
import type { BulkheadRejectedError } from '../resilience/bulkhead.ts';
import { DependencyError } from '../kit/dependency-client.ts';
import { dependencyPolicySchema, type DependencyPolicy } from '../resilience/policy-config.ts';

/** The keys of a dependency policy the gateway applies; the rest it does not have. */
const GATEWAY_CALL_KEYS: ReadonlySet<string> = new Set(['bulkhead', 'retry']);

/**
 * What is wrong with a raw scenario document's `policies.gateway` (as written, before defaults):
 * every key but `bulkhead` and `retry` under a dependency is refused, with the reason. A policy switched off
 * (`retry: { enabled: false }`) says what is already so and is allowed (so is a parsed scenario
 * handed back, whose gateway policies gatewayOnly switched off).
 */
export function gatewayCallProblems(document: unknown): string[] {
  const policies = (document as { policies?: unknown } | null)?.policies;
  const gateway = typeof policies === 'object' && policies !== null ? (policies as Record<string, unknown>).gateway : undefined;
  if (typeof gateway !== 'object' || gateway === null) return [];
  const problems: string[] = [];
  for (const [dependency, policy] of Object.entries(gateway)) {
    if (typeof policy !== 'object' || policy === null) continue;
    for (const [key, value] of Object.entries(policy)) {
      if (GATEWAY_CALL_KEYS.has(key)) continue;
      const off = typeof value === 'object' && value !== null && (value as { enabled?: unknown }).enabled === false;
      if (off) continue;
      problems.push(
        `policies.gateway.${dependency}.${key}: the gateway applies only a bulkhead and a retry of reads per dependency; ` +
          (key === 'timeout' || key === 'deadline'
            ? 'its timeout is gateway.routeTimeout, the same for every route'
            : 'breakers belong to the services that call their dependencies (policies.checkout.payment)'),
      );
    }
  }
  return problems;
}

/**
 * The policy the gateway applies to its calls to a dependency: the configured bulkhead and, when
 * written, the retry of reads; nothing else (no attempt timeout, no breaker: the route timeout
 * stays the only time limit).
 */
export function gatewayCallPolicy(raw: unknown): DependencyPolicy {
  const parsed = dependencyPolicySchema.parse(raw ?? {});
  return gatewayOnly(parsed, raw);
}

/**
 * A parsed policy with what the gateway does not apply switched off (so pages and switches say so).
 * `written`: the policy as written; its retry stays only if it names one (a retry at the gateway is
 * opt-in, though the schema's default is on).
 */
export function gatewayOnly(policy: DependencyPolicy, written: unknown): DependencyPolicy {
  const { deadline: _deadline, ...rest } = policy;
  const retryWritten = typeof written === 'object' && written !== null && (written as { retry?: unknown }).retry !== undefined;
  return {
    ...rest,
    timeout: { ...policy.timeout, enabled: false },
    retry: retryWritten ? policy.retry : { ...policy.retry, enabled: false },
    circuitBreaker: { ...policy.circuitBreaker, enabled: false },
  };
}

/** Requests the gateway may send again: reads. */
export function isRetriedMethod(method: string): boolean {
  return method === 'GET';
}

/**
 * Failures of a forwarded read the gateway retries on another replica: no answer came back because
 * the connection was refused or closed (a dead instance). A timeout is not (the route timeout is the
 * read's whole budget), nor is an answer, a 5xx included: it is relayed as the service gave it.
 */
export function isConnectFailure(error: unknown): boolean {
  return error instanceof DependencyError && (error.code === 'FL_DEP_REFUSED' || error.code === 'FL_DEP_RESET' || error.code === 'FL_DEP_NETWORK');
}

/** The problem a full bulkhead becomes at the gateway: 503, fast, with Retry-After. */
export function bulkheadFullProblem(dependency: string, error: BulkheadRejectedError): ProblemError {
  return new ProblemError(
    {
      type: problemType('bulkhead-full'),
      title: `${dependency} busy`,
      status: 503,
      detail: `${error.message}: too many requests to ${dependency} in flight at the gateway; try again shortly`,
    },
    { 'retry-after': '1' },
  );
}
