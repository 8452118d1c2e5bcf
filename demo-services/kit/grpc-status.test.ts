import { describe, expect, it } from 'vitest';
import { GRPC_METADATA } from './conventions.ts';
import { DependencyError } from './dependency-client.ts';
import { GRPC_CODE, GrpcRefusedError, clientErrorFor, grpcCodeForHttpStatus, grpcCodeName, grpcFailureForProblem, httpStatusForGrpcCode } from './grpc-status.ts';
import { problemType } from './problem.ts';
import { TimeoutError, UpstreamStatusError } from '../resilience/errors.ts';

const remote = { attemptBudgetMs: 800, localDeadline: false };

describe('gRPC status mapping', () => {
  it('maps the problems payment answers onto the gRPC codes a caller expects', () => {
    expect(grpcCodeName(grpcCodeForHttpStatus(400))).toBe('INVALID_ARGUMENT');
    expect(grpcCodeName(grpcCodeForHttpStatus(402))).toBe('FAILED_PRECONDITION');
    expect(grpcCodeName(grpcCodeForHttpStatus(429))).toBe('RESOURCE_EXHAUSTED');
    expect(grpcCodeName(grpcCodeForHttpStatus(502))).toBe('UNAVAILABLE');
    expect(grpcCodeName(grpcCodeForHttpStatus(503))).toBe('UNAVAILABLE');
    expect(grpcCodeName(grpcCodeForHttpStatus(504))).toBe('DEADLINE_EXCEEDED');
    expect(grpcCodeName(grpcCodeForHttpStatus(500))).toBe('INTERNAL');
    expect(httpStatusForGrpcCode(GRPC_CODE.UNAVAILABLE)).toBe(503);
    expect(httpStatusForGrpcCode(99)).toBe(500);
  });

  it('round-trips a server failure with its HTTP status and retry hint into the error the retry policy reads', () => {
    const failure = grpcFailureForProblem({ type: problemType('bulkhead-full'), title: 'payment busy', status: 429, detail: 'payment: bulkhead full' }, 250);
    expect(failure.code).toBe(GRPC_CODE.RESOURCE_EXHAUSTED);
    const error = clientErrorFor('payment', { code: failure.code, details: failure.details, metadata: failure.metadata }, remote);
    expect(error).toBeInstanceOf(UpstreamStatusError);
    expect(error).toMatchObject({ status: 429, retryAfterMs: 250, message: 'payment answered 429' });

    const bankDown = grpcFailureForProblem({ title: 'bank failed', status: 502, detail: 'bank answered 503' });
    expect(clientErrorFor('payment', { ...bankDown, metadata: bankDown.metadata }, remote)).toMatchObject({ status: 502, message: 'payment answered 502' });
  });

  it('turns a refusal into a GrpcRefusedError carrying the problem, not a failure', () => {
    const declined = grpcFailureForProblem({ type: problemType('charge-declined'), title: 'Charge declined', status: 402, detail: 'bank answered 402' });
    const error = clientErrorFor('payment', declined, remote);
    expect(error).toBeInstanceOf(GrpcRefusedError);
    expect(error).toMatchObject({ httpStatus: 402, grpcCode: GRPC_CODE.FAILED_PRECONDITION, problemType: problemType('charge-declined'), problemTitle: 'Charge declined', details: 'bank answered 402' });
  });

  it('tells "no answer" and "our deadline passed" apart from an answer', () => {
    expect(clientErrorFor('payment', { code: GRPC_CODE.DEADLINE_EXCEEDED, details: 'Deadline exceeded', metadata: {} }, { attemptBudgetMs: 800, localDeadline: true })).toBeInstanceOf(TimeoutError);
    const down = clientErrorFor('payment', { code: GRPC_CODE.UNAVAILABLE, details: 'No connection established', metadata: {} }, remote);
    expect(down).toBeInstanceOf(DependencyError);
    expect(down.message).toBe('payment: UNAVAILABLE: No connection established');
    // A status without the service's own HTTP status still maps by code.
    expect(clientErrorFor('payment', { code: GRPC_CODE.INVALID_ARGUMENT, details: 'bad', metadata: {} }, remote)).toMatchObject({ httpStatus: 400 });
    expect(clientErrorFor('payment', { code: GRPC_CODE.RESOURCE_EXHAUSTED, details: 'busy', metadata: { [GRPC_METADATA.retryAfterMs]: 'soon' } }, remote)).toMatchObject({ status: 429, retryAfterMs: undefined });
  });
});
