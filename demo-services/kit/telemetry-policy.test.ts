import { describe, expect, it } from 'vitest';
import { parseAsyncTelemetryPolicy, SPAN_EXPORT_DEFAULTS } from './telemetry-policy.ts';

describe('parseAsyncTelemetryPolicy', () => {
  it("is on, with the lab's export defaults, when a service is given none", () => {
    expect(parseAsyncTelemetryPolicy(undefined)).toEqual({ enabled: true, maxQueueSize: SPAN_EXPORT_DEFAULTS.maxQueueSize, exportTimeout: SPAN_EXPORT_DEFAULTS.timeoutMillis });
  });

  it('takes durations in their spellings', () => {
    expect(parseAsyncTelemetryPolicy({ enabled: false, maxQueueSize: 64, exportTimeout: '3s' })).toEqual({ enabled: false, maxQueueSize: 64, exportTimeout: 3_000 });
  });

  it('names every bad field under policies.asyncTelemetry', () => {
    expect(() => parseAsyncTelemetryPolicy({ maxQueueSize: 0, exportTimeout: '5ms', queue: 1 })).toThrow(
      /policies\.asyncTelemetry\.maxQueueSize: .*; policies\.asyncTelemetry\.exportTimeout: .*; policies\.asyncTelemetry: Unrecognized key/,
    );
  });
});
