// Errors the runner and CLI expect: each has a stable code, and the CLI prints
// its message as one line (a stack trace is only printed for a bug).

export class FaultlineError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'FaultlineError';
    this.code = code;
  }
}

export const ERROR_CODE = {
  scenarioNotFound: 'FL_SCENARIO_NOT_FOUND',
  scenarioInvalid: 'FL_SCENARIO_INVALID',
  portInUse: 'FL_PORT_IN_USE',
  startFailed: 'FL_START_FAILED',
  badOption: 'FL_BAD_OPTION',
  interrupted: 'FL_INTERRUPTED',
  monitoringUnavailable: 'FL_MONITORING_UNAVAILABLE',
  monitoringStart: 'FL_MONITORING_START',
  monitoringQuery: 'FL_MONITORING_QUERY',
} as const;
