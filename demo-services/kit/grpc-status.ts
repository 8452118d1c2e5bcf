// How a failure crosses a gRPC hop and comes back as the same failure. The
// server turns a problem (what the HTTP API would answer) into a gRPC status
// with the HTTP status, problem type and retry hint in trailing metadata; the
// client turns the status back into the errors the resilience policies
// classify (UpstreamStatusError for "failed, maybe retry", TimeoutError for
// an attempt that ran out of time, DependencyError when nobody answered) or
// into a refusal that carries the problem. Pure: codes are the numbers fixed
// by the gRPC spec, so this module does not load grpc-js.

import { GRPC_METADATA } from './conventions.ts';
import { DependencyError } from './dependency-client.ts';
import type { Problem } from './problem.ts';
import { TimeoutError, UpstreamStatusError } from '../resilience/errors.ts';

/** gRPC status codes (https://grpc.github.io/grpc/core/md_doc_statuscodes.html). */
export const GRPC_CODE = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;
export type GrpcCode = (typeof GRPC_CODE)[keyof typeof GRPC_CODE];

/** Codes that say the server (or the way to it) failed, as 5xx does for HTTP: these count against SLOs and instance health. */
export const GRPC_SERVER_ERROR_CODES: readonly GrpcCode[] = [
  GRPC_CODE.CANCELLED,
  GRPC_CODE.UNKNOWN,
  GRPC_CODE.DEADLINE_EXCEEDED,
  GRPC_CODE.INTERNAL,
  GRPC_CODE.UNAVAILABLE,
  GRPC_CODE.DATA_LOSS,
];

/**
 * Codes a gRPC server counts as its own errors in rpc.server.call.duration's
 * error.type (the semantic conventions' list for gRPC servers); a client
 * counts every code but OK.
 */
export const GRPC_SERVER_SIDE_ERROR_CODES: readonly GrpcCode[] = [
  GRPC_CODE.UNKNOWN,
  GRPC_CODE.DEADLINE_EXCEEDED,
  GRPC_CODE.UNIMPLEMENTED,
  GRPC_CODE.INTERNAL,
  GRPC_CODE.UNAVAILABLE,
  GRPC_CODE.DATA_LOSS,
];

const NAME_OF_CODE = new Map<number, string>(Object.entries(GRPC_CODE).map(([name, code]) => [code, name]));

/** The status name of a gRPC code (`UNAVAILABLE` for 14), as logs and rpc.status_code spell it; an unknown number stays a number. */
export function grpcCodeName(code: number): string {
  return NAME_OF_CODE.get(code) ?? String(code);
}

/** The names of gRPC codes, for selectors: `grpcCodeNames(GRPC_SERVER_ERROR_CODES)`. */
export function grpcCodeNames(codes: readonly number[]): string[] {
  return codes.map(grpcCodeName);
}

/** The gRPC code for an HTTP status a handler would have answered. */
export function grpcCodeForHttpStatus(status: number): GrpcCode {
  switch (status) {
    case 400:
    case 422:
      return GRPC_CODE.INVALID_ARGUMENT;
    case 401:
      return GRPC_CODE.UNAUTHENTICATED;
    case 402:
      return GRPC_CODE.FAILED_PRECONDITION;
    case 403:
      return GRPC_CODE.PERMISSION_DENIED;
    case 404:
      return GRPC_CODE.NOT_FOUND;
    case 409:
      return GRPC_CODE.ABORTED;
    case 429:
      return GRPC_CODE.RESOURCE_EXHAUSTED;
    case 501:
      return GRPC_CODE.UNIMPLEMENTED;
    case 502:
    case 503:
      return GRPC_CODE.UNAVAILABLE;
    case 504:
      return GRPC_CODE.DEADLINE_EXCEEDED;
    default:
      return status >= 500 ? GRPC_CODE.INTERNAL : status >= 400 ? GRPC_CODE.FAILED_PRECONDITION : GRPC_CODE.UNKNOWN;
  }
}

/** The HTTP status for a gRPC code (Google's API mapping), used when the server sent no HTTP status of its own. */
export function httpStatusForGrpcCode(code: number): number {
  const table: Record<number, number> = {
    [GRPC_CODE.OK]: 200,
    [GRPC_CODE.CANCELLED]: 499,
    [GRPC_CODE.INVALID_ARGUMENT]: 400,
    [GRPC_CODE.DEADLINE_EXCEEDED]: 504,
    [GRPC_CODE.NOT_FOUND]: 404,
    [GRPC_CODE.ALREADY_EXISTS]: 409,
    [GRPC_CODE.PERMISSION_DENIED]: 403,
    [GRPC_CODE.RESOURCE_EXHAUSTED]: 429,
    [GRPC_CODE.FAILED_PRECONDITION]: 400,
    [GRPC_CODE.ABORTED]: 409,
    [GRPC_CODE.OUT_OF_RANGE]: 400,
    [GRPC_CODE.UNIMPLEMENTED]: 501,
    [GRPC_CODE.UNAVAILABLE]: 503,
    [GRPC_CODE.UNAUTHENTICATED]: 401,
  };
  return table[code] ?? 500;
}

/** What a server sends for a failed call: status, details and trailing metadata entries. */
export interface GrpcFailure {
  code: GrpcCode;
  details: string;
  metadata: Record<string, string>;
}

/** The gRPC status for a problem; `retryAfterMs` travels as a hint when the caller should wait before trying again. */
export function grpcFailureForProblem(problem: Problem, retryAfterMs?: number): GrpcFailure {
  return {
    code: grpcCodeForHttpStatus(problem.status),
    details: problem.detail ?? problem.title,
    metadata: {
      [GRPC_METADATA.httpStatus]: String(problem.status),
      [GRPC_METADATA.problemTitle]: problem.title,
      ...(problem.type ? { [GRPC_METADATA.problemType]: problem.type } : {}),
      ...(retryAfterMs !== undefined ? { [GRPC_METADATA.retryAfterMs]: String(Math.max(0, Math.round(retryAfterMs))) } : {}),
    },
  };
}

/** A gRPC answer that refuses the request (invalid, declined, conflict): an answer, not a failure of the dependency. */
export class GrpcRefusedError extends Error {
  readonly code = 'FL_GRPC_REFUSED';
  readonly dependency: string;
  readonly grpcCode: number;
  /** The HTTP status of the same refusal on the HTTP API. */
  readonly httpStatus: number;
  readonly problemType: string | undefined;
  readonly problemTitle: string | undefined;
  readonly details: string;
  constructor(dependency: string, fields: { grpcCode: number; httpStatus: number; problemType?: string; problemTitle?: string; details: string }) {
    super(`${dependency} refused: ${fields.details}`);
    this.name = 'GrpcRefusedError';
    this.dependency = dependency;
    this.grpcCode = fields.grpcCode;
    this.httpStatus = fields.httpStatus;
    this.problemType = fields.problemType;
    this.problemTitle = fields.problemTitle;
    this.details = fields.details;
  }
}

/** A gRPC error as the client sees it (grpc-js ServiceError, reduced to what the mapping reads). */
export interface GrpcErrorLike {
  code?: number;
  details?: string;
  message?: string;
  /** Trailing metadata, first value per key. */
  metadata: Record<string, string | undefined>;
}

/**
 * The error a failed call becomes on the client. `localDeadline` is set when
 * the client's own deadline passed (nothing came back in time).
 */
export function clientErrorFor(dependency: string, error: GrpcErrorLike, context: { attemptBudgetMs: number; localDeadline: boolean }): Error {
  const code = error.code ?? GRPC_CODE.UNKNOWN;
  const details = error.details ?? error.message ?? 'no details';
  const sentStatus = Number(error.metadata[GRPC_METADATA.httpStatus]);
  const answered = Number.isInteger(sentStatus) && sentStatus >= 400 && sentStatus <= 599;
  if (!answered) {
    // No answer from the service itself: our deadline passed, or the transport failed.
    if (code === GRPC_CODE.DEADLINE_EXCEEDED && context.localDeadline) return new TimeoutError(`${dependency} attempt`, context.attemptBudgetMs);
    if (code === GRPC_CODE.UNAVAILABLE || code === GRPC_CODE.CANCELLED || code === GRPC_CODE.INTERNAL || code === GRPC_CODE.UNKNOWN) {
      return new DependencyError('FL_DEP_NETWORK', dependency, `${grpcCodeName(code)}: ${details}`);
    }
  }
  const status = answered ? sentStatus : httpStatusForGrpcCode(code);
  const retryAfter = Number(error.metadata[GRPC_METADATA.retryAfterMs]);
  const retryAfterMs = Number.isFinite(retryAfter) && retryAfter >= 0 ? retryAfter : undefined;
  if (status >= 500 || status === 429) return new UpstreamStatusError(dependency, status, { grpcCode: code, details }, retryAfterMs);
  return new GrpcRefusedError(dependency, {
    grpcCode: code,
    httpStatus: status,
    details,
    ...(error.metadata[GRPC_METADATA.problemType] ? { problemType: error.metadata[GRPC_METADATA.problemType] } : {}),
    ...(error.metadata[GRPC_METADATA.problemTitle] ? { problemTitle: error.metadata[GRPC_METADATA.problemTitle] } : {}),
  });
}
