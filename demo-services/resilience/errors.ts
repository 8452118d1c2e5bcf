// Errors raised by resilience policies, with stable codes the services map to
// outcomes, metrics and problem responses.

export class CircuitOpenError extends Error {
  readonly code = 'FL_CIRCUIT_OPEN';
  readonly dependency: string;
  /** How long until the breaker lets calls through again, as far as it knows (Polly's BrokenCircuitException.RetryAfter). */
  readonly retryAfterMs: number | undefined;
  constructor(dependency: string, retryAfterMs?: number) {
    super(`${dependency}: circuit open, call not permitted`);
    this.name = 'CircuitOpenError';
    this.dependency = dependency;
    this.retryAfterMs = retryAfterMs;
  }
}

export class TimeoutError extends Error {
  readonly code = 'FL_TIMEOUT';
  readonly timeoutMs: number;
  constructor(what: string, timeoutMs: number) {
    super(`${what} timed out after ${timeoutMs} ms`);
    this.name = 'TimeoutError';
    this.timeoutMs = timeoutMs;
  }
}

/** A dependency answered, but with a status that means "failed, maybe retry". */
export class UpstreamStatusError extends Error {
  readonly code = 'FL_UPSTREAM_STATUS';
  readonly status: number;
  readonly retryAfterMs: number | undefined;
  readonly body: unknown;
  constructor(dependency: string, status: number, body: unknown, retryAfterMs?: number) {
    super(`${dependency} answered ${status}`);
    this.name = 'UpstreamStatusError';
    this.status = status;
    this.body = body;
    this.retryAfterMs = retryAfterMs;
  }
}

/** Retry-After as milliseconds: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (!text) return undefined;
  if (/^\d+$/.test(text.trim())) return Number(text.trim()) * 1_000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
