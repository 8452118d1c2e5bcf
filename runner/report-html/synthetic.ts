// Made-up run records of any length with the shape of a real payment-outage
// run (baseline, outage with a fault window, recovery; breaker transitions,
// alerts, traces with retries), for the report's tests and its size benchmark
// (bench/report-size.ts: a one-hour run). Deterministic for a given length.

import type { FlatSpan } from '../../collector/trace-query.ts';
import { SPAN_ATTR, SPAN_EVENT } from '../../demo-services/kit/conventions.ts';
import type { ExpectationResult } from '../expectations.ts';
import type { FaultRecord } from '../fault-timeline.ts';
import type { RunSummary } from '../report.ts';
import type { RunRecord } from './render.ts';

const START = Date.parse('2026-01-01T10:00:00.000Z');

/** A small deterministic generator (mulberry32), so two calls make the same run. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface SyntheticOptions {
  seconds: number;
  /** Requests a second. Default 20. */
  rate?: number;
  /** Traces kept (a real run keeps every one; the benchmark keeps as many as a run of that length would). Default: one per request. */
  traces?: number;
  expectations?: ExpectationResult[];
}

export function syntheticRun(options: SyntheticOptions): RunRecord {
  const { seconds } = options;
  const rate = options.rate ?? 20;
  const rand = random(seconds);
  const third = Math.floor(seconds / 3);
  const phases = [
    { name: 'baseline', startMs: 0, endMs: third * 1_000 },
    { name: 'outage', startMs: third * 1_000, endMs: 2 * third * 1_000 },
    { name: 'recovery', startMs: 2 * third * 1_000, endMs: seconds * 1_000 },
  ];
  const inOutage = (s: number) => s >= third && s < 2 * third;
  const timeSeries = Array.from({ length: seconds }, (_, s) => {
    const failed = inOutage(s) ? Math.round(rate * (0.4 + 0.2 * rand())) : rand() < 0.02 ? 1 : 0;
    const base = inOutage(s) ? 900 : 60;
    const p50 = base * (0.8 + 0.4 * rand());
    const p95 = base * (2 + rand());
    const p99 = base * (3 + 2 * rand());
    // Failures by kind: mostly the open breaker's 503s, some timeouts, now and then a rarer kind (15 in all, so "other" is needed).
    const errors: Record<string, number> = {};
    for (let i = 0; i < failed; i++) {
      const r = rand();
      const kind = r < 0.6 ? 'HTTP 503 dependency-circuit-open' : r < 0.8 ? 'timeout' : r < 0.9 ? 'HTTP 502 bad-gateway' : `HTTP 500 kind-${Math.floor(rand() * 12)}`;
      errors[kind] = (errors[kind] ?? 0) + 1;
    }
    return {
      t: START / 1_000 + s,
      started: rate,
      ok: rate - failed,
      failed,
      dropped: rand() < 0.01 ? 1 : 0,
      p50,
      p95,
      p99,
      // From the send time: the generator queued a little in the outage, so the gap shows there.
      sentP50: p50 * (inOutage(s) ? 0.7 : 0.95),
      sentP95: p95 * (inOutage(s) ? 0.6 : 0.95),
      sentP99: p99 * (inOutage(s) ? 0.5 : 0.95),
      inFlight: Math.round(rate * (p50 / 1_000) * 100) / 100,
      ...(failed > 0 ? { errors } : {}),
    };
  });
  const circuit: Array<{ timeMs: number; offsetMs: number; from: string; to: string }> = [];
  for (let s = third + 2; s < 2 * third; s += 4) {
    circuit.push({ timeMs: START + s * 1_000, offsetMs: s * 1_000, from: 'closed', to: 'open' });
    circuit.push({ timeMs: START + (s + 1.5) * 1_000, offsetMs: (s + 1.5) * 1_000, from: 'open', to: 'half_open' });
    circuit.push({ timeMs: START + (s + 2) * 1_000, offsetMs: (s + 2) * 1_000, from: 'half_open', to: s + 4 >= 2 * third ? 'closed' : 'open' });
    if (s + 4 < 2 * third) circuit.pop();
  }
  const expectations: ExpectationResult[] = options.expectations ?? [
    { name: 'the payment breaker opens during the outage and closes after it', type: 'circuit', expected: 'opens during outage, closed again after outage', measured: `opened at +${third + 2}s`, ok: true, status: 'pass' },
    { name: 'the baseline is healthy', type: 'threshold', expected: 'http_req_failed rate<0.01 (baseline)', measured: '0.50% (4/800)', ok: true, status: 'pass' },
    { name: 'the error rate is back under 1% in the recovery phase', type: 'threshold', expected: 'http_req_failed rate<0.01 (recovery)', measured: '3.00% (24/800)', ok: false, status: 'inconclusive', inconclusive: 'cpu pressure 81% during recovery, limit 60%' },
  ];
  const summary: RunSummary = {
    id: `synthetic-${seconds}s`,
    scenario: 'payment-outage',
    description: 'A made-up run of the report benchmark.',
    verdict: 'inconclusive',
    startedAt: new Date(START).toISOString(),
    endedAt: new Date(START + seconds * 1_000).toISOString(),
    durationMs: seconds * 1_000,
    options: { disabled: [], timeScale: 1, seed: 42 },
    scenarioSource: { file: 'scenarios/payment-outage.yaml', sha256: '0'.repeat(64) },
    environment: { commit: 'f'.repeat(40), node: 'v24.0.0', machine: '2 x synthetic cpu', prometheus: 'prometheus, version 2.45.3', alertmanager: 'alertmanager, version 0.26.0' },
    // payment-1 killed a quarter in and restarted two seconds later.
    processEvents: [
      { timeMs: START + Math.floor(seconds / 4) * 1_000, offsetMs: Math.floor(seconds / 4) * 1_000, instance: 'payment-1', event: 'killed' },
      { timeMs: START + Math.floor(seconds / 4) * 1_000 + 5, offsetMs: Math.floor(seconds / 4) * 1_000 + 5, instance: 'payment-1', event: 'exited', code: null, signal: 'SIGKILL' },
      { timeMs: START + Math.floor(seconds / 4) * 1_000 + 2_000, offsetMs: Math.floor(seconds / 4) * 1_000 + 2_000, instance: 'payment-1', event: 'restarted', pid: 4242, tookMs: 1_900 },
    ],
    metricSeries: {
      stepMs: 1_000,
      t: Array.from({ length: seconds }, (_, s) => START / 1_000 + s),
      series: {
        retries: Array.from({ length: seconds }, (_, s) => (inOutage(s) ? Math.round(rate * (1 + rand())) : 0)),
        attemptsPerCall: Array.from({ length: seconds }, (_, s) => (inOutage(s) ? 2 + rand() : 1)),
        bulkheadRejected: Array.from({ length: seconds }, (_, s) => (inOutage(s) && rand() < 0.3 ? Math.round(3 * rand()) : 0)),
        rateLimited: Array.from({ length: seconds }, () => 0),
        shed: Array.from({ length: seconds }, (_, s) => (inOutage(s) && rand() < 0.1 ? 1 : 0)),
      },
      queries: { retries: '', attemptsPerCall: '', bulkheadRejected: '', rateLimited: '', shed: '' },
      breakers: [
        { service: 'checkout', dependency: 'payment', values: Array.from({ length: seconds }, (_, s) => (inOutage(s) ? (s % 5 === 0 ? 1 : 2) : 0)) },
        { service: 'payment', dependency: 'bank', values: Array.from({ length: seconds }, () => 0) },
      ],
    },
    pressure: phases.map((p) => ({
      phase: p.name,
      seconds: (p.endMs - p.startMs) / 1_000,
      cpuPressure: { mean: 0.3, max: 0.5 + 0.3 * rand() },
      runQueuePerCore: { mean: 1, max: 2 },
      generatorLagMs: { p99: 20 + 40 * rand(), max: 90, iterations: rate * (p.endMs - p.startMs) / 1_000 },
      runnerLoopDelayMs: { p99: 12, max: 30 },
      eventLoopDelayMs: { max: 40 + 80 * rand(), process: 'checkout' },
      dropped: { count: 0, due: 100 },
      overLimits: [],
    })),
    phases,
    faults: [{ name: 'bank-outage', target: 'payment->bank', type: 'http_error', startMs: third * 1_000, endMs: 2 * third * 1_000 }],
    load: {
      summary: {
        count: rate * seconds,
        failed: timeSeries.reduce((n, p) => n + p.failed, 0),
        failRate: timeSeries.reduce((n, p) => n + p.failed, 0) / (rate * seconds),
        rps: rate,
        dropped: 0,
        errors: { status: 10, timeout: 3, refused: 0, reset: 0, other: 0 },
        latency: { p50: 70, p90: 600, p95: 900, p99: 2_400, max: 4_800, avg: 300 },
        naiveLatency: { p50: 65, p90: 500, p95: 700, p99: 1_200, max: 4_000, avg: 200 },
      },
      steps: [
        ['checkout', '*', rate * seconds, 12, 1],
        ['checkout', 'list-products', (rate * seconds) / 2, 0, 0.5],
        ['checkout', 'checkout', (rate * seconds) / 2, 12, 2],
      ].map(([journey, step, count, failed, f]) => ({
        journey,
        step,
        count,
        failed,
        latency: { p50: 70 * (f as number), p90: 600 * (f as number), p95: 900, p99: 2_400, max: 4_800, avg: 300 },
        naiveLatency: { p50: 65 * (f as number), p90: 500 * (f as number), p95: 700, p99: 1_200, max: 4_000, avg: 200 },
      })),
    },
    expectations,
    timeSeries,
    circuit,
    telemetry: { spans: 0, traces: 0 },
    monitoring: {
      available: true,
      alerts: [{ alertname: 'CheckoutAvailabilityBudgetBurn', labels: { slo_tier: 'page-1h' }, firedAtMs: (third + 3) * 1_000, notifiedAtMs: (third + 4) * 1_000, resolvedAtMs: (2 * third + 5) * 1_000 }],
    },
    books: { ok: true, orders: { confirmed: 100 }, charges: { total: 100 }, violations: [] },
    files: {},
  };
  const faultRecords: FaultRecord[] = [
    { time: new Date(START + third * 1_000).toISOString(), offsetMs: third * 1_000 + 3, action: 'apply', fault: 'bank-outage', type: 'http_error', target: 'payment->bank', ok: true },
    { time: new Date(START + 2 * third * 1_000).toISOString(), offsetMs: 2 * third * 1_000 + 2, action: 'remove', fault: 'bank-outage', type: 'http_error', target: 'payment->bank', ok: true },
  ];
  const spans: FlatSpan[] = [];
  const traceCount = options.traces ?? rate * seconds;
  for (let i = 0; i < traceCount; i++) {
    const at = START + Math.floor((i / traceCount) * seconds * 1_000);
    const outage = inOutage(Math.floor((at - START) / 1_000));
    const traceId = i.toString(16).padStart(32, '0');
    const duration = outage ? 300 + 900 * rand() : 30 + 60 * rand();
    const span = (n: number, name: string, service: string, parent: string | undefined, from: number, to: number, failed: boolean, events: FlatSpan['events'] = []): FlatSpan => ({
      traceId,
      spanId: `${i.toString(16).padStart(12, '0')}${n.toString(16).padStart(4, '0')}`,
      ...(parent ? { parentSpanId: parent } : {}),
      name,
      kind: parent ? 3 : 2,
      service,
      startMs: from,
      endMs: to,
      durationMs: to - from,
      attributes: { [SPAN_ATTR.dependency]: 'payment' },
      events,
      status: { code: failed ? 2 : 0 },
    });
    const root = span(1, 'POST /checkout', 'gateway', undefined, at, at + duration, outage && rand() < 0.5);
    const retries = outage ? [1, 2].map((attempt) => ({ name: SPAN_EVENT.retry, timeMs: at + attempt * 100, attributes: { [SPAN_ATTR.retryAttempt]: attempt + 1, [SPAN_ATTR.retryDelayMs]: 40 } })) : [];
    spans.push(root, span(2, 'payment Charge', 'checkout', root.spanId, at + 5, at + duration - 5, outage, retries));
  }
  summary.telemetry = { spans: spans.length, traces: traceCount };
  return { summary, spans, faultRecords, logs: [] };
}
