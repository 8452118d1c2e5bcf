// Errors of the chaos parts, as classes with stable codes, so the admin API can
// map them to HTTP statuses (400, 404, 409) in one place and callers can test
// `error.code` instead of parsing messages.

export type ChaosErrorCode =
  | 'CHAOS_INVALID_SPEC'
  | 'CHAOS_NOT_FOUND'
  | 'CHAOS_CONFLICT'
  | 'CHAOS_UNAUTHORIZED'
  | 'CHAOS_CONFIG';

export class ChaosError extends Error {
  readonly code: ChaosErrorCode;
  constructor(code: ChaosErrorCode, message: string) {
    super(message);
    this.name = 'ChaosError';
    this.code = code;
  }
}

/** A fault or proxy spec that failed validation; the message names every bad field (`attributes.latency: must be >= 0`). */
export class InvalidSpecError extends ChaosError {
  readonly fields: readonly string[];
  constructor(problems: ReadonlyArray<{ field: string; message: string }>) {
    super('CHAOS_INVALID_SPEC', problems.map((problem) => `${problem.field}: ${problem.message}`).join('; '));
    this.name = 'InvalidSpecError';
    this.fields = problems.map((problem) => problem.field);
  }
}

export class NotFoundError extends ChaosError {
  constructor(message: string) {
    super('CHAOS_NOT_FOUND', message);
    this.name = 'NotFoundError';
  }
}

export class ConflictError extends ChaosError {
  constructor(message: string) {
    super('CHAOS_CONFLICT', message);
    this.name = 'ConflictError';
  }
}
