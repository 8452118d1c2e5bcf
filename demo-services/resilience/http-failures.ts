// How HTTP answers and network failures of a dependency map onto the
// resilience policies (which errors are retryable) and back onto the
// problem+json the caller's own client sees.

import type { DependencyResponse } from '../kit/dependency-client.ts';
import { DependencyError } from '../kit/dependency-client.ts';
import { ProblemError, problemType } from '../kit/problem.ts';
import { CircuitOpenError, TimeoutError, UpstreamStatusError, parseRetryAfter } from './errors.ts';

/** Statuses that say "try again later" rather than "your request is wrong". */
const RETRYABLE_STATUSES = new Set([429, 502, 503, 504]);

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
