// How HTTP answers and network failures of a dependency map onto the
// resilience policies (which errors are retryable, which count against a
// breaker) and back onto the problem+json the caller's own client sees.
//
// Client errors stay client errors: a dependency's 4xx refusal says the
// request was wrong or cannot be done, not that the dependency is unwell.
// It is never retried, never counts against a breaker, and the statuses
// that describe what the client sent (validation 400/422, 402, 409, 410,
// 413) reach the client as they are, with the dependency's problem members
// (its `errors` naming each bad field), never as a 502. The other 4xx
// (401, 403, 404, 405...) mean this service asked wrongly: 502.

import type { DependencyResponse } from '../kit/dependency-client.ts';
import { DependencyError } from '../kit/dependency-client.ts';
import { ProblemError, problemType, type Problem } from '../kit/problem.ts';
import { CircuitOpenError, TimeoutError, UpstreamStatusError, parseRetryAfter } from './errors.ts';

/** Statuses that say "try again later" rather than "your request is wrong". */
const RETRYABLE_STATUSES = new Set([429, 502, 503, 504]);

/** A dependency's 4xx refusals that describe what our client sent, passed on to it unchanged. */
const PASSED_ON_STATUSES = new Set([400, 402, 409, 410, 413, 422]);
/** Problem members the answering service fills in for its own reply. */
const OWN_MEMBERS = new Set(['status', 'instance', 'trace_id']);

/** A 4xx that refuses the request (not 408 or 429, which say "try again"). */
export function isRefusalStatus(status: number): boolean {
  return status >= 400 && status < 500 && status !== 408 && status !== 429;
}

/**
 * The problem a dependency's refusal becomes for our client: the
 * dependency's own problem (type, title, detail, `errors` and any other
 * member) at its status when that status describes the client's request,
 * else a 502 saying the dependency refused us.
 */
export function refusalFor(dependency: string, status: number, body: unknown): ProblemError {
  const problem = (typeof body === 'object' && body !== null && !Array.isArray(body) ? body : {}) as Partial<Problem>;
  if (!PASSED_ON_STATUSES.has(status)) {
    return new ProblemError({
      type: problemType('dependency-refused'),
      title: `${dependency} refused the request`,
      status: 502,
      detail: `${dependency} answered ${status}${typeof problem.detail === 'string' ? `: ${problem.detail}` : ''}`,
    });
  }
  const members = Object.fromEntries(Object.entries(problem).filter(([key]) => !OWN_MEMBERS.has(key)));
  return new ProblemError({
    ...members,
    type: typeof problem.type === 'string' ? problem.type : problemType(`${dependency}-refused`),
    title: typeof problem.title === 'string' ? problem.title : `${dependency} refused`,
    status,
    detail: typeof problem.detail === 'string' ? problem.detail : `${dependency} answered ${status}`,
  });
}

/** Whether an error says the dependency is unhealthy (for a breaker): not a refusal, which is an answer. */
export function isDependencyFailure(error: unknown): boolean {
  if (error instanceof ProblemError) return false;
  if (error instanceof UpstreamStatusError) return !isRefusalStatus(error.status);
  return true;
}

export function upstreamErrorFor(dependency: string, response: DependencyResponse): UpstreamStatusError {
  return new UpstreamStatusError(dependency, response.status, response.body, parseRetryAfter(response.headers['retry-after']));
}

/** Retryable for an idempotent call: transient statuses, timeouts and network failures. */
export function isTransient(error: unknown): boolean {
  if (error instanceof UpstreamStatusError) return RETRYABLE_STATUSES.has(error.status);
  if (error instanceof TimeoutError) return true;
  if (error instanceof DependencyError) return error.code !== 'FL_DEP_ABORTED';
  return false;
}

/** The problem our client sees when a dependency call finally failed. */
export function problemForFailure(dependency: string, error: unknown): ProblemError {
  if (error instanceof CircuitOpenError) {
    return new ProblemError({
      type: problemType('dependency-circuit-open'),
      title: `${dependency} unavailable (circuit open)`,
      status: 503,
      detail: `calls to ${dependency} are failing; not calling it for now`,
    }, { 'retry-after': '1' });
  }
  if (error instanceof TimeoutError || (error instanceof DependencyError && error.code === 'FL_DEP_TIMEOUT')) {
    return new ProblemError({ type: problemType('dependency-timeout'), title: `${dependency} timed out`, status: 504, detail: error.message });
  }
  if (error instanceof UpstreamStatusError) {
    if (isRefusalStatus(error.status)) return refusalFor(dependency, error.status, error.body);
    return new ProblemError({
      type: problemType('dependency-failed'),
      title: `${dependency} failed`,
      status: 502,
      detail: `${dependency} answered ${error.status}`,
    });
  }
  return new ProblemError({
    type: problemType('dependency-unreachable'),
    title: `${dependency} unreachable`,
    status: 502,
    detail: (error as Error).message,
  });
}
