// Errors of the SLO tooling. Each has a stable code, and its message is one
// line naming the file and field at fault, so the CLI can print it as is.

export const SLO_ERROR_CODE = {
  specInvalid: 'FL_SLO_SPEC_INVALID',
  specNotFound: 'FL_SLO_SPEC_NOT_FOUND',
  badOption: 'FL_SLO_BAD_OPTION',
  fixture: 'FL_SLO_FIXTURE',
  badInput: 'FL_SLO_BAD_INPUT',
} as const;

export type SloErrorCode = (typeof SLO_ERROR_CODE)[keyof typeof SLO_ERROR_CODE];

export class SloError extends Error {
  readonly code: SloErrorCode;
  /** Every problem found, one line each (the message joins them). */
  readonly problems: readonly string[];

  constructor(code: SloErrorCode, problems: string | readonly string[]) {
    const list = typeof problems === 'string' ? [problems] : problems;
    super(list.join('; '));
    this.name = 'SloError';
    this.code = code;
    this.problems = list;
  }
}
