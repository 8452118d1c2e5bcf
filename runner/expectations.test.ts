// Expectations judged from made-up measurements: a real load recorder fed
// samples and hand-made spans, so each rule (which failures pressure can make
// INCONCLUSIVE, what the attempts bound counts, what fail-fast is judged on)
// is pinned without starting a lab.

import { describe, expect, it } from 'vitest';
import type { FlatSpan } from '../collector/trace-query.ts';
import { LOAD_LABEL, SPAN_ATTR, SPAN_EVENT } from '../demo-services/kit/conventions.ts';
import { PROBLEM_TAG } from '../load/http-client.ts';
import { createLoadRecorder, type LoadRecorder } from '../load/recorder.ts';
import { answersOf, burstSizes, evaluateExpectations, expectationPhases, runVerdict, type ExpectationResult } from './expectations.ts';
import { DEFAULT_PRESSURE_LIMITS, phasePressure, type PhasePressure } from './pressure.ts';
import { parseScenario, type Scenario } from './scenario.ts';

const START = 1_800_000_000_000;

function scenario(expectations: unknown[], extra: Record<string, unknown> = {}): Scenario {
  return parseScenario(
    {
      name: 'unit',
      description: 'unit',
      policies: { checkout: { payment: { retry: { maxAttempts: 3 } } } },
      phases: [
        { name: 'baseline', duration: '10s' },
        { name: 'outage', duration: '10s' },
      ],
      load: { executor: 'constant-arrival-rate', rate: 1, timeUnit: '1s', preAllocatedVUs: 1, maxVUs: 1, journey: 'checkout' },
      faults: [{ name: 'bank-outage', type: 'http_error', edge: 'payment->bank', phase: 'outage' }],
      expectations,
      ...extra,
    },
    'unit.yaml',
  );
}

let spanCounter = 0;
function span(fields: Partial<FlatSpan> & { traceId: string }): FlatSpan {
  spanCounter += 1;
  return { spanId: `s${spanCounter}`, name: 'span', kind: 1, service: 'checkout', startMs: START, endMs: START + 1, durationMs: 1, attributes: {}, events: [], status: { code: 0 }, ...fields };
}

/** A root span in the outage plus `charges` Charge and `refunds` Refund attempts from checkout to payment. */
function checkoutTrace(id: string, charges: number, refunds: number): FlatSpan[] {
  const at = START + 12_000;
  const attempt = (method: string) => span({ traceId: id, parentSpanId: 'root', kind: 3, startMs: at, name: `payment.Payment/${method}`, attributes: { [SPAN_ATTR.dependency]: 'payment', 'rpc.method': method } });
  return [span({ traceId: id, kind: 2, service: 'gateway', startMs: at }), ...Array.from({ length: charges }, () => attempt('Charge')), ...Array.from({ length: refunds }, () => attempt('Refund'))];
}

function transitionSpan(atOffsetMs: number, from: string, to: string): FlatSpan {
  return span({
    traceId: `t-${atOffsetMs}`,
    parentSpanId: 'x',
    attributes: { [SPAN_ATTR.dependency]: 'payment' },
    events: [{ name: SPAN_EVENT.circuitTransition, timeMs: START + atOffsetMs, attributes: { [SPAN_ATTR.circuitFrom]: from, [SPAN_ATTR.circuitTo]: to } }],
  });
}

function recordRequests(recorder: LoadRecorder, fromOffsetMs: number, count: number, latencyMs: number, ok: boolean, tags: Record<string, string> = {}): void {
  for (let i = 0; i < count; i += 1) {
    const at = START + fromOffsetMs + i * 10;
    recorder.record({ intendedStartMs: at, sentAtMs: at, endMs: at + latencyMs, status: ok ? 201 : 503, ok, ...(ok ? {} : { errorClass: 'status' as const }), tags });
  }
}

/** Pressure with the outage phase over the CPU limit (or nothing over, when calm). */
function pressure(busyOutage: boolean): PhasePressure[] {
  const samples = Array.from({ length: 20 }, (_, i) => ({ atMs: START + (i + 1) * 1_000, cpuSome: busyOutage && i >= 10 ? 0.9 : 0.1, runQueuePerCore: 0.5, runnerLoopP99Ms: 2, runnerLoopMaxMs: 3 }));
  return phasePressure(
    [
      { name: 'baseline', fromMs: START, toMs: START + 10_000 },
      { name: 'outage', fromMs: START + 10_000, toMs: START + 20_000 },
    ],
    { samples, lags: [], arrivals: () => ({ dropped: 0, due: 10 }) },
    DEFAULT_PRESSURE_LIMITS,
  );
}

const failFast = {
  name: 'fail fast',
  type: 'threshold',
  metric: 'http_req_duration',
  threshold: 'p(95)<100',
  during: { circuitOpen: { service: 'checkout', dependency: 'payment' } },
  filter: { failed: true, problem: 'dependency-circuit-open' },
};

function judge(expectations: unknown[], setup: (recorder: LoadRecorder) => void, spans: FlatSpan[], busy: boolean | undefined): ExpectationResult[] {
  const recorder = createLoadRecorder();
  setup(recorder);
  return evaluateExpectations({
    scenario: scenario(expectations),
    startedAt: START,
    endedAt: START + 20_000,
    recorder,
    spans,
    ...(busy === undefined ? {} : { pressure: pressure(busy) }),
  });
}

const openInOutage = [transitionSpan(11_000, 'closed', 'open'), transitionSpan(19_000, 'open', 'closed')];

describe('fail fast, judged on short-circuited failures only', () => {
  const slowShortCircuits = (recorder: LoadRecorder) => {
    recordRequests(recorder, 12_000, 50, 150, false, { [PROBLEM_TAG]: 'dependency-circuit-open' });
    // Failures of another kind in the same window (a probe that timed out) must not count.
    recordRequests(recorder, 12_005, 10, 2_000, false, { [PROBLEM_TAG]: 'dependency-timeout' });
  };

  it('says how many short-circuited requests it judged, of how many failed', () => {
    const [result] = judge([failFast], slowShortCircuits, openInOutage, false);
    expect(result).toMatchObject({ status: 'fail', ok: false });
    expect(result?.measured).toBe('150ms over 50 dependency-circuit-open requests (of 60 failed)');
  });

  it('passes when the short-circuited requests are fast, whatever the other failures took', () => {
    const [result] = judge(
      [failFast],
      (recorder) => {
        recordRequests(recorder, 12_000, 50, 20, false, { [PROBLEM_TAG]: 'dependency-circuit-open' });
        recordRequests(recorder, 12_005, 10, 2_000, false, { [PROBLEM_TAG]: 'dependency-timeout' });
      },
      openInOutage,
      false,
    );
    expect(result).toMatchObject({ status: 'pass', ok: true });
  });

  it('is INCONCLUSIVE, with the figure, when it missed in a phase the machine was too busy to measure', () => {
    const [result] = judge([failFast], slowShortCircuits, openInOutage, true);
    expect(result?.status).toBe('inconclusive');
    expect(result?.ok).toBe(false);
    expect(result?.inconclusive).toBe('cpu pressure 90% during outage, limit 60%');
  });

  // Open from +11s, half-open at +14s (a probe fails), open again until +19s. Baseline checkouts take 100 ms,
  // so one arriving in the last 100 ms before +14s may reach the breaker half-open and become a slow probe.
  const probing = [transitionSpan(11_000, 'closed', 'open'), transitionSpan(14_000, 'open', 'half_open'), transitionSpan(14_005, 'half_open', 'open'), transitionSpan(19_000, 'open', 'closed')];
  const withProbes = (recorder: LoadRecorder) => {
    recordRequests(recorder, 1_000, 20, 100, true);
    recordRequests(recorder, 12_000, 50, 20, false, { [PROBLEM_TAG]: 'dependency-circuit-open' });
    // Arrived 50 ms before half-open: let through as probes, failed, waited out Retry-After, then refused.
    recordRequests(recorder, 13_950, 4, 1_200, false, { [PROBLEM_TAG]: 'dependency-circuit-open' });
  };

  it('counts the probes that arrived just before half-open when the window is the whole not-closed time', () => {
    const [result] = judge([failFast], withProbes, probing, false);
    expect(result).toMatchObject({ status: 'fail' });
    expect(result?.measured).toBe('1.20s over 54 dependency-circuit-open requests (of 54 failed)');
  });

  it('leaves them out with reachTimeFrom: each open stretch ends early by the reference phase\'s p95', () => {
    const refused = { ...failFast, during: { circuitOpen: { service: 'checkout', dependency: 'payment', reachTimeFrom: 'baseline' } } };
    const [result] = judge([refused], withProbes, probing, false);
    expect(result).toMatchObject({ status: 'pass' });
    expect(result?.expected).toBe("http_req_duration p(95)<100 (arriving while checkout->payment open, less baseline's p95 before each half-open, dependency-circuit-open only)");
    expect(result?.measured).toBe("20ms over 50 dependency-circuit-open requests (of 50 failed); each open stretch less baseline's p95 100ms");
  });

  it('names a reachTimeFrom phase that does not exist', () => {
    const refused = { ...failFast, during: { circuitOpen: { service: 'checkout', dependency: 'payment', reachTimeFrom: 'warmup' } } };
    expect(() => scenario([refused])).toThrow("expectations.0.during.circuitOpen.reachTimeFrom: no phase named 'warmup'");
  });

  it('is a plain FAIL when the breaker never opened, however busy the machine was', () => {
    const [result] = judge([failFast], slowShortCircuits, [], true);
    expect(result).toMatchObject({ status: 'fail', measured: 'the window never happened (the circuit never opened)' });
  });
});

describe('the share of requests that failed with one problem type', () => {
  const unreachable = { name: 'no refused recommendations', type: 'threshold', metric: 'http_req_failed', threshold: 'rate<0.01', during: 'outage', filter: { problem: 'dependency-unreachable' } };
  const mixed = (problem: string) => (recorder: LoadRecorder) => {
    recordRequests(recorder, 11_000, 30, 10, true);
    recordRequests(recorder, 11_005, 10, 10, false, { [PROBLEM_TAG]: problem });
  };

  it('counts those failures against every request of the window', () => {
    const [result] = judge([unreachable], mixed('dependency-unreachable'), [], false);
    expect(result).toMatchObject({ status: 'fail', expected: 'http_req_failed rate<0.01 (outage, dependency-unreachable only)', measured: '25.00% (10/40) dependency-unreachable' });
    expect(judge([unreachable], mixed('dependency-timeout'), [], false)[0]).toMatchObject({ status: 'pass', measured: '0.00% (0/40) dependency-unreachable' });
  });

  it('is a FAIL however busy the machine was when slowness cannot cause that failure', () => {
    expect(judge([unreachable], mixed('dependency-unreachable'), [], true)[0]?.status).toBe('fail');
  });

  it('is INCONCLUSIVE under pressure when the failure is one slowness can cause (a timeout)', () => {
    const timeouts = { ...unreachable, filter: { problem: 'dependency-timeout' } };
    expect(judge([timeouts], mixed('dependency-timeout'), [], true)[0]?.status).toBe('inconclusive');
  });

  it('is a FAIL however busy the machine was when too few requests failed that way: slowness only adds timeouts', () => {
    const enoughTimeouts = { ...unreachable, threshold: 'rate>0.5', filter: { problem: 'dependency-timeout' } };
    expect(judge([enoughTimeouts], mixed('dependency-timeout'), [], true)[0]).toMatchObject({ status: 'fail', measured: '25.00% (10/40) dependency-timeout' });
  });
});

describe('pressure and the verdict', () => {
  const errorRate = { name: 'healthy outage', type: 'threshold', metric: 'http_req_failed', threshold: 'rate<0.01', during: 'outage' };
  const baselineRate = { ...errorRate, name: 'healthy baseline', during: 'baseline' };

  it('keeps a PASS measured under pressure, and a failure in a calm phase stays FAIL', () => {
    const results = judge([errorRate, baselineRate], (recorder) => {
      recordRequests(recorder, 11_000, 10, 10, true);
      recordRequests(recorder, 1_000, 10, 10, false);
    }, [], true);
    expect(results.map((r) => r.status)).toEqual(['pass', 'fail']);
    expect(runVerdict(results)).toBe('fail');
  });

  it('makes the run INCONCLUSIVE when the only failures were measured under pressure', () => {
    const results = judge([errorRate, baselineRate], (recorder) => {
      recordRequests(recorder, 11_000, 10, 10, false);
      recordRequests(recorder, 1_000, 10, 10, true);
    }, [], true);
    expect(results.map((r) => r.status)).toEqual(['inconclusive', 'pass']);
    expect(runVerdict(results)).toBe('inconclusive');
  });

  it("leaves out of a phase its requests still in flight when the next phase's fault began: they met the fault", () => {
    const tail = (latencyMs: number) => (recorder: LoadRecorder) => {
      recordRequests(recorder, 1_000, 98, 10, true);
      recordRequests(recorder, 9_900, 2, latencyMs, false, { [PROBLEM_TAG]: 'dependency-failed' });
    };
    expect(judge([baselineRate], tail(300), [], false)[0]).toMatchObject({ status: 'pass', measured: '0.00% (0/98); 2 still in flight when bank-outage began left out' });
    expect(judge([baselineRate], tail(50), [], false)[0]).toMatchObject({ status: 'fail', measured: '2.00% (2/100): 2 HTTP 503 dependency-failed' });
  });

  it('names the failures by kind, and a kind no slowness explains is a FAIL however busy the machine', () => {
    const stockOut = (recorder: LoadRecorder) => {
      recordRequests(recorder, 11_000, 30, 10, true);
      recordRequests(recorder, 11_005, 2, 10, false, { [PROBLEM_TAG]: 'insufficient-stock' });
      recordRequests(recorder, 11_010, 1, 10, false, { [PROBLEM_TAG]: 'dependency-timeout' });
    };
    expect(judge([errorRate], stockOut, [], true)[0]).toMatchObject({
      status: 'fail',
      measured: '9.09% (3/33): 2 HTTP 503 insufficient-stock, 1 HTTP 503 dependency-timeout',
    });
    const timeoutsOnly = (recorder: LoadRecorder) => {
      recordRequests(recorder, 11_000, 30, 10, true);
      recordRequests(recorder, 11_005, 3, 10, false, { [PROBLEM_TAG]: 'dependency-timeout' });
    };
    expect(judge([errorRate], timeoutsOnly, [], true)[0]?.status).toBe('inconclusive');
  });

  it('never makes a failure INCONCLUSIVE without pressure figures', () => {
    const results = judge([errorRate], (recorder) => recordRequests(recorder, 11_000, 10, 10, false), [], undefined);
    expect(results[0]?.status).toBe('fail');
  });

  it('counts a circuit that never changed state as FAIL, and one that moved at the wrong time as INCONCLUSIVE under pressure', () => {
    const circuit = { name: 'breaker', type: 'circuit', service: 'checkout', dependency: 'payment', opensDuring: 'outage', closesAfter: 'outage' };
    expect(judge([circuit], () => undefined, [], true)[0]?.status).toBe('fail');
    const late = [transitionSpan(11_000, 'closed', 'open')];
    expect(judge([circuit], () => undefined, late, true)[0]?.status).toBe('inconclusive');
    expect(judge([circuit], () => undefined, late, false)[0]?.status).toBe('fail');
  });
});

describe('a latency limit with an allowance from the baseline', () => {
  const noHang = { name: 'no hang', type: 'threshold', metric: 'http_req_duration', threshold: 'p(99)<1500', allowance: { phase: 'baseline', factor: 2 }, during: 'outage' };

  it("moves the limit with the shop's own work, and says so", () => {
    const [result] = judge([noHang], (recorder) => {
      recordRequests(recorder, 1_000, 100, 300, true);
      recordRequests(recorder, 11_000, 100, 1_900, false);
    }, [], false);
    expect(result).toMatchObject({ status: 'pass', measured: "1.90s over 100 requests; limit 2.10s = 1.50s + 2x baseline's 300ms" });
  });

  it('caps the allowance at its max when one is given', () => {
    const capped = { ...noHang, allowance: { phase: 'baseline', factor: 2, max: '200ms' } };
    const [result] = judge([capped], (recorder) => {
      recordRequests(recorder, 1_000, 100, 600, true);
      recordRequests(recorder, 11_000, 100, 1_800, false);
    }, [], false);
    expect(result).toMatchObject({ status: 'fail', measured: "1.80s over 100 requests; limit 1.70s = 1.50s + 2x baseline's 600ms (capped)" });
  });

  it('at most doubles the limit: a hang fails however slow the baseline was', () => {
    const [result] = judge([noHang], (recorder) => {
      recordRequests(recorder, 1_000, 100, 3_800, true);
      recordRequests(recorder, 11_000, 100, 5_800, false);
    }, [], false);
    expect(result).toMatchObject({ status: 'fail', measured: "5.80s over 100 requests; limit 3.00s = 1.50s + 2x baseline's 3.80s (capped)" });
  });

  /** CPU pressure of the baseline's ten seconds, then the outage's. */
  const pressured = (baseline: number, outage: number) =>
    phasePressure(
      [
        { name: 'baseline', fromMs: START, toMs: START + 10_000 },
        { name: 'outage', fromMs: START + 10_000, toMs: START + 20_000 },
      ],
      { samples: Array.from({ length: 20 }, (_, i) => ({ atMs: START + (i + 1) * 1_000, cpuSome: i < 10 ? baseline : outage, runQueuePerCore: 1, runnerLoopP99Ms: 1, runnerLoopMaxMs: 1 })), lags: [], arrivals: () => ({ dropped: 0, due: 10 }) },
      DEFAULT_PRESSURE_LIMITS,
    );
  const neededAllowance = (pressure: PhasePressure[]) => {
    const recorder = createLoadRecorder();
    recordRequests(recorder, 1_000, 100, 600, true);
    recordRequests(recorder, 11_000, 100, 2_000, false);
    return evaluateExpectations({ scenario: scenario([noHang]), startedAt: START, endedAt: START + 20_000, recorder, spans: [], pressure })[0];
  };

  it('is INCONCLUSIVE when it passed only thanks to an allowance measured under more pressure than its window', () => {
    const needed = neededAllowance(pressured(0.95, 0.1));
    expect(needed?.status).toBe('inconclusive');
    expect(needed?.inconclusive).toBe('passed only with the allowance from baseline, measured under more pressure than the window it excuses: cpu pressure 95% during baseline, limit 60%');
  });

  it("keeps a PASS within an explicit max whatever the baseline's pressure: the max is the scenario's reasoned bound", () => {
    const recorder = createLoadRecorder();
    recordRequests(recorder, 1_000, 100, 600, true);
    recordRequests(recorder, 11_000, 100, 1_700, false);
    const bounded = { ...noHang, allowance: { phase: 'baseline', factor: 2, max: '300ms' } };
    const [result] = evaluateExpectations({ scenario: scenario([bounded]), startedAt: START, endedAt: START + 20_000, recorder, spans: [], pressure: pressured(0.95, 0.1) });
    expect(result).toMatchObject({ status: 'pass', measured: "1.70s over 100 requests; limit 1.80s = 1.50s + 2x baseline's 600ms (capped)" });
  });

  it('keeps the PASS when the window it excuses was measured under pressure too (a busy neighbour slows the whole run)', () => {
    expect(neededAllowance(pressured(0.95, 0.9))?.status).toBe('pass');
    expect(neededAllowance(pressured(0.1, 0.1))?.status).toBe('pass');
  });
});

describe('payment attempts per checkout', () => {
  const bound = { name: 'bounded', type: 'trace', during: 'outage', count: { service: 'checkout', dependency: 'payment', operation: 'Charge' }, max: 'retry-policy' };

  it('counts Charge attempts, not the Refunds that compensate them', () => {
    const [result] = judge([bound], () => undefined, checkoutTrace('a', 3, 3), false);
    expect(result).toMatchObject({ status: 'pass', measured: 'max 3, mean 3.00 over 1 traces' });
    const all = { ...bound, count: { service: 'checkout', dependency: 'payment' } };
    expect(judge([all], () => undefined, checkoutTrace('a', 3, 3), false)[0]).toMatchObject({ status: 'fail', measured: 'max 6, mean 6.00 over 1 traces, 1 over the limit' });
  });

  it('is a count: a trace over the bound FAILs even on a busy machine', () => {
    expect(judge([bound], () => undefined, checkoutTrace('a', 4, 0), true)[0]?.status).toBe('fail');
  });

  it('judges the mean: a breaker keeps most checkouts from reaching the dependency', () => {
    const spared = { name: 'spared', type: 'trace', during: 'outage', count: { service: 'checkout', dependency: 'payment', operation: 'Charge' }, mean: 1 };
    const withBreaker = [...checkoutTrace('a', 3, 0), ...checkoutTrace('b', 0, 0), ...checkoutTrace('c', 0, 0), ...checkoutTrace('d', 0, 0)];
    expect(judge([spared], () => undefined, withBreaker, false)[0]).toMatchObject({ status: 'pass', measured: 'max 3, mean 0.75 over 4 traces' });
    const withoutBreaker = [...checkoutTrace('a', 3, 0), ...checkoutTrace('b', 3, 0)];
    expect(judge([spared], () => undefined, withoutBreaker, false)[0]?.status).toBe('fail');
  });
});

describe('store reads per burst (per: overlapping)', () => {
  const perBurst = {
    name: 'one read per key at a time',
    type: 'trace',
    during: 'outage',
    count: { service: 'catalog', dependency: 'catalog-db' },
    per: { overlapping: ['db.namespace', 'faultline.store.key'] },
    max: 1,
  };
  /** A store read of `key` in database `db`, from offset `fromMs` for `forMs`. */
  const read = (db: string, key: string, fromMs: number, forMs = 200, fields: Partial<FlatSpan> = {}) =>
    span({
      traceId: `t${fromMs}-${db}-${key}`,
      parentSpanId: 'server',
      kind: 3,
      service: 'catalog',
      name: 'SELECT products',
      startMs: START + fromMs,
      endMs: START + fromMs + forMs,
      attributes: { [SPAN_ATTR.dependency]: 'catalog-db', 'db.namespace': db, 'faultline.store.key': key },
      ...fields,
    });

  it('groups reads of one key in one database that overlap, directly or through each other', () => {
    const spans = [
      read('catalog-1', '10:0', 11_000),
      read('catalog-1', '10:0', 11_100),
      read('catalog-1', '10:0', 11_250), // overlaps the second only: the same burst
      read('catalog-1', '10:0', 11_450), // starts as the third ends: a new burst
      read('catalog-2', '10:0', 11_000), // another database
      read('catalog-1', 'sku-1', 11_000), // another key
      read('catalog-1', '10:0', 9_000), // before the phase
    ];
    const sizes = burstSizes(spans.slice(0, 6), ['db.namespace', 'faultline.store.key']);
    expect(sizes.sort()).toEqual([1, 1, 1, 3]);
    expect(judge([perBurst], () => undefined, spans, false)[0]).toMatchObject({
      status: 'fail',
      expected: 'at most 1 catalog->catalog-db calls per burst (overlapping spans with the same db.namespace, faultline.store.key) (outage)',
      measured: 'max 3, mean 1.50 over 6 calls in 4 bursts, 1 over the limit',
    });
  });

  it('passes one read per key per expiry (coalesced), and judges the mean too', () => {
    const coalesced = [read('catalog-1', '10:0', 11_000), read('catalog-1', '10:0', 13_000), read('catalog-2', '10:0', 11_050), read('catalog-1', 'sku-1', 11_020)];
    expect(judge([perBurst], () => undefined, coalesced, false)[0]).toMatchObject({ status: 'pass', measured: 'max 1, mean 1.00 over 4 calls in 4 bursts' });
    const mean = { ...perBurst, max: undefined, mean: 1.2 };
    expect(judge([mean], () => undefined, [...coalesced, read('catalog-1', '10:0', 11_010)], false)[0]).toMatchObject({ status: 'fail', measured: 'max 2, mean 1.25 over 5 calls in 4 bursts' });
  });

  it('counts only client spans of the service calling the dependency', () => {
    const others = [read('catalog-1', '10:0', 11_000), read('catalog-1', '10:0', 11_010, 200, { kind: 1 }), read('catalog-1', '10:0', 11_020, 200, { service: 'cart' }), read('catalog-1', '10:0', 11_030, 200, { attributes: { [SPAN_ATTR.dependency]: 'other', 'db.namespace': 'catalog-1', 'faultline.store.key': '10:0' } })];
    expect(judge([perBurst], () => undefined, others, false)[0]).toMatchObject({ status: 'pass', measured: 'max 1, mean 1.00 over 1 calls in 1 bursts' });
  });

  it('is a count: a stampede FAILs even on a busy machine, and no reads at all FAIL too', () => {
    expect(judge([perBurst], () => undefined, [read('catalog-1', '10:0', 11_000), read('catalog-1', '10:0', 11_100)], true)[0]?.status).toBe('fail');
    expect(judge([perBurst], () => undefined, [], true)[0]).toMatchObject({ status: 'fail', measured: 'no catalog->catalog-db calls started during outage' });
  });

  it('refuses an empty attribute list', () => {
    expect(() => scenario([{ ...perBurst, per: { overlapping: [] } }])).toThrow(/per\.overlapping/);
  });
});

describe('work done for callers that gave up (wasted-work)', () => {
  const wasted = { name: 'no work for nobody', type: 'wasted-work', during: 'outage', service: 'checkout', dependency: 'inventory', max: 1 };
  /** A checkout->inventory call at +12 s that ends after `clientMs` (failed or not) and the inventory's server span under it, from `serverMs` for 2 ms, with `status`. */
  const call = (id: string, clientMs: number, clientFailed: boolean, serverMs: number | undefined, status = 201): FlatSpan[] => {
    const at = START + 12_000;
    const client = span({ traceId: id, parentSpanId: 'root', kind: 3, startMs: at, endMs: at + clientMs, name: 'POST', attributes: { [SPAN_ATTR.dependency]: 'inventory' }, status: { code: clientFailed ? 2 : 0 } });
    if (serverMs === undefined) return [client];
    const server = span({ traceId: id, parentSpanId: client.spanId, kind: 2, service: 'inventory', startMs: at + serverMs, endMs: at + serverMs + 2, name: 'POST /reservations', attributes: { 'http.response.status_code': status }, status: { code: status >= 500 ? 2 : 0 } });
    return [client, server];
  };

  it('counts a success the dependency began after its caller gave up, and nothing else', () => {
    const spans = [
      ...call('late', 300, true, 650), // done for nobody
      ...call('late-too', 300, true, 900), // done for nobody
      ...call('refused', 300, true, 650, 504), // dropped at the door: its deadline had passed
      ...call('in-time', 300, true, 120), // done in time, the answer lost on the way back: not the caller giving up
      ...call('begun-in-time', 300, true, 299), // begun before the caller gave up, ended after: not work started for nobody
      ...call('answered', 200, false, 150), // an ordinary call
      ...call('never-arrived', 300, true, undefined),
    ];
    expect(judge([wasted], () => undefined, spans, false)[0]).toMatchObject({ status: 'fail', measured: '2 done for nobody, of 6 failed calls (7 calls)' });
    expect(judge([{ ...wasted, max: 2 }], () => undefined, spans, false)[0]?.status).toBe('pass');
  });

  it('counts a server span that could not answer (its caller hung up) when a call it made onward succeeded', () => {
    // The inventory's server span ends in error without a status (the connection closed before its answer)...
    const hungUp = (id: string, onward: 'ok' | 'failed' | 'none', status?: number): FlatSpan[] => {
      const [client, server] = call(id, 300, true, 650) as [FlatSpan, FlatSpan];
      const closed = { ...server, status: { code: 2 }, attributes: status === undefined ? {} : { 'http.response.status_code': status } };
      if (onward === 'none') return [client, closed];
      // ...under it an internal span, under that its own call onward (and the other service's answer, not its own work).
      const inner = span({ traceId: id, parentSpanId: closed.spanId, kind: 1, service: 'inventory', name: 'bank call' });
      const onwardCall = span({ traceId: id, parentSpanId: inner.spanId, kind: 3, service: 'inventory', name: 'POST', status: { code: onward === 'ok' ? 0 : 2 } });
      const answer = span({ traceId: id, parentSpanId: onwardCall.spanId, kind: 3, service: 'bank', name: 'POST' });
      return [client, closed, inner, onwardCall, answer];
    };
    const spans = [...hungUp('charged', 'ok'), ...hungUp('onward-failed', 'failed'), ...hungUp('nothing-onward', 'none'), ...hungUp('refused', 'ok', 503)];
    expect(judge([{ ...wasted, max: 0 }], () => undefined, spans, false)[0]).toMatchObject({ status: 'fail', measured: '1 done for nobody, of 4 failed calls (4 calls)' });
  });

  it('only counts calls of that caller to that dependency started in the phase', () => {
    const baseline = call('baseline', 300, true, 650).map((s) => ({ ...s, startMs: s.startMs - 10_000, endMs: s.endMs - 10_000 }));
    const otherDependency = call('other', 300, true, 650).map((s) => (s.kind === 3 ? { ...s, attributes: { [SPAN_ATTR.dependency]: 'payment' } } : s));
    expect(judge([{ ...wasted, max: 0 }], () => undefined, [...baseline, ...otherDependency, ...call('ok', 100, false, 50)], false)[0]).toMatchObject({ status: 'pass', measured: '0 done for nobody, of 0 failed calls (1 calls)' });
  });

  it('is a count: over the bound it FAILs however busy the machine was, and no calls at all is a FAIL too', () => {
    expect(judge([{ ...wasted, max: 0 }], () => undefined, call('late', 300, true, 650), true)[0]?.status).toBe('fail');
    expect(judge([wasted], () => undefined, [], true)[0]).toMatchObject({ status: 'fail', measured: 'no checkout->inventory calls during outage' });
  });

  it('is measured in its phase, which must exist', () => {
    const s = scenario([wasted]);
    expect(expectationPhases(s.expectations[0] as Scenario['expectations'][number], { scenario: s, spans: [], startedAt: START, endedAt: START + 20_000 })).toEqual(['outage']);
    expect(() => scenario([{ ...wasted, during: 'nowhere' }])).toThrow(/during: no phase named 'nowhere'/);
  });
});

describe("a service's answers with one status (answers)", () => {
  const refused = { name: 'the bank refuses nothing', type: 'answers', during: 'outage', service: 'bank', status: 503, max: 0 };
  /** A bank server span from `fromMs` (after the run's start) for `forMs`, answered `status`. */
  const answer = (id: string, fromMs: number, forMs: number, status: number, service = 'bank'): FlatSpan =>
    span({ traceId: id, kind: 2, service, startMs: START + fromMs, endMs: START + fromMs + forMs, name: 'POST /charges', attributes: { 'http.response.status_code': status } });

  it('counts the answers with that status started in the phase, and how many the service had in flight at once', () => {
    const spans = [answer('a', 12_000, 50, 201), answer('b', 12_010, 50, 503), answer('c', 12_020, 50, 201), answer('d', 12_200, 50, 201), answer('e', 5_000, 50, 503), answer('f', 12_000, 50, 503, 'payment')];
    expect(answersOf(spans, 'bank', 503, { fromMs: START + 10_000, toMs: START + 20_000 })).toEqual({ answers: 4, withStatus: 1, peakInFlight: 3 });
    expect(judge([refused], () => undefined, spans, false)[0]).toMatchObject({ status: 'fail', measured: '1 of 4 answers 503; at most 3 in flight at once' });
    expect(judge([{ ...refused, max: 1 }], () => undefined, spans, false)[0]?.status).toBe('pass');
  });

  it('over the bound it FAILs on a calm machine and is INCONCLUSIVE on a busy one (a stall bunches arrivals); no answers at all is a FAIL', () => {
    expect(judge([refused], () => undefined, [answer('b', 12_010, 50, 503)], false)[0]?.status).toBe('fail');
    expect(judge([refused], () => undefined, [answer('b', 12_010, 50, 503)], true)[0]?.status).toBe('inconclusive');
    expect(judge([refused], () => undefined, [], true)[0]).toMatchObject({ status: 'fail', measured: 'no bank answers during outage' });
    expect(() => scenario([{ ...refused, during: 'nowhere' }])).toThrow(/during: no phase named 'nowhere'/);
  });

  it("over the bound on a busy machine it FAILs when no lab process's event loop was late past the limit (nothing stalled a caller)", () => {
    const withLoops = (loopMs: number): PhasePressure[] => {
      const samples = Array.from({ length: 20 }, (_, i) => ({ atMs: START + (i + 1) * 1_000, cpuSome: i >= 10 ? 0.9 : 0.1, runQueuePerCore: 0.5, runnerLoopP99Ms: 2, runnerLoopMaxMs: 3, labLoopP99Ms: loopMs, labLoopWorst: 'payment-1' }));
      const phases = [
        { name: 'baseline', fromMs: START, toMs: START + 10_000 },
        { name: 'outage', fromMs: START + 10_000, toMs: START + 20_000 },
      ];
      return phasePressure(phases, { samples, lags: [], arrivals: () => ({ dropped: 0, due: 10 }) }, DEFAULT_PRESSURE_LIMITS);
    };
    const run = (loopMs: number) =>
      evaluateExpectations({ scenario: scenario([refused]), startedAt: START, endedAt: START + 20_000, recorder: createLoadRecorder(), spans: [answer('b', 12_010, 50, 503)], pressure: withLoops(loopMs) })[0];
    expect(run(40)).toMatchObject({ status: 'fail', measured: '1 of 1 answers 503; at most 1 in flight at once; lab event loops at most 40ms late (p99, payment-1), so no stall bunched the calls' });
    expect(run(400)?.status).toBe('inconclusive');
  });
});

describe('the phases an expectation is measured in', () => {
  it('follows the window: a phase, the whole run, the fault (and its resolution time) for an alert', () => {
    const s = scenario([
      { name: 'a', type: 'threshold', metric: 'http_req_failed', threshold: 'rate<0.01' },
      { name: 'b', type: 'alert', alert: 'X', fault: 'bank-outage', firesWithin: '5s' },
      { name: 'c', type: 'books' },
    ]);
    const run = { scenario: s, spans: [], startedAt: START, endedAt: START + 20_000 };
    expect(s.expectations.map((e) => expectationPhases(e, run))).toEqual([['baseline', 'outage'], ['outage'], []]);
  });
});

describe('one journey, and shedding no slowness explains (filter.journey, slowness)', () => {
  const browse = { [LOAD_LABEL.journey]: 'browse' };
  const shedBrowse = { name: 'no browse shed', type: 'threshold', metric: 'http_req_failed', threshold: 'rate<0.01', during: 'outage', filter: { journey: 'browse', problem: 'overloaded' }, slowness: { phase: 'baseline', factor: 3 } };
  const shop = { gateway: { loadShedding: { maxInFlight: 20 } }, policies: { gateway: { checkout: { bulkhead: { enabled: true, maxConcurrent: 6, maxQueued: 0 } } } } };
  /** 100 baseline requests of `baselineMs` each; in the outage 100 browse (40 shed) and 100 slow checkouts. */
  const run = (expectations: unknown[], baselineMs: number, busy: boolean) => {
    const recorder = createLoadRecorder();
    recordRequests(recorder, 0, 100, baselineMs, true, browse);
    recordRequests(recorder, 10_000, 60, 10, true, browse);
    recordRequests(recorder, 10_003, 40, 1, false, { ...browse, [PROBLEM_TAG]: 'overloaded' });
    recordRequests(recorder, 10_006, 100, 4_000, true, { [LOAD_LABEL.journey]: 'checkout' });
    return evaluateExpectations({ scenario: scenario(expectations, shop), startedAt: START, endedAt: START + 20_000, recorder, spans: [], pressure: pressure(busy) });
  };

  it('counts only the requests of that journey', () => {
    const [result] = run([{ ...shedBrowse, slowness: undefined }], 20, false);
    expect(result).toMatchObject({ status: 'fail', expected: 'http_req_failed rate<0.01 (outage, browse journey, overloaded only)', measured: '40.00% (40/100) overloaded' });
  });

  it('makes shedding a FAIL under pressure when slowness alone could not have filled the gateway', () => {
    // 20 requests a second x 20 ms x 3 = 1.2 in flight, + 6 bulkhead slots < 20.
    const [shed, all] = run([shedBrowse, { ...shedBrowse, name: 'browse available', filter: { journey: 'browse' } }], 20, true);
    expect(shed).toMatchObject({ status: 'fail', measured: expect.stringContaining("20.0/s x 20ms (baseline mean) x 3 = 1.2 in flight, + 6 bulkhead slots < 20 (maxInFlight): the shedding is the shop's") });
    expect(all).toMatchObject({ status: 'fail', measured: expect.stringMatching(/^40\.00% \(40\/100\): 40 HTTP 503 overloaded; slowness alone/) });
  });

  it('leaves it INCONCLUSIVE under pressure when this machine is slow enough to fill the gateway by itself', () => {
    // 20 a second x 250 ms x 3 = 15 in flight, + 6 >= 20.
    const [shed] = run([shedBrowse], 250, true);
    expect(shed).toMatchObject({ status: 'inconclusive', measured: expect.stringContaining('= 15.0 in flight, + 6 bulkhead slots >= 20 (maxInFlight)') });
    expect(run([{ ...shedBrowse, slowness: undefined }], 20, true)[0]?.status).toBe('inconclusive');
  });

  it('does not excuse the other slowness problems', () => {
    const recorder = createLoadRecorder();
    recordRequests(recorder, 0, 100, 20, true, browse);
    recordRequests(recorder, 10_000, 50, 10, false, { ...browse, [PROBLEM_TAG]: 'dependency-timeout' });
    const [result] = evaluateExpectations({
      scenario: scenario([{ ...shedBrowse, filter: { journey: 'browse' } }], shop),
      startedAt: START,
      endedAt: START + 20_000,
      recorder,
      spans: [],
      pressure: pressure(true),
    });
    expect(result?.status).toBe('inconclusive');
  });

  it('is for error rates only, and its phase must exist; the journey must be one of the shop', () => {
    expect(() => scenario([{ ...shedBrowse, metric: 'http_req_duration', threshold: 'p(95)<100', slowness: { phase: 'nope', factor: 3 } }])).toThrow(
      /expectations\.0\.slowness: only for http_req_failed thresholds.*expectations\.0\.slowness\.phase: no phase named 'nope'|expectations\.0\.slowness\.phase: no phase named 'nope'.*expectations\.0\.slowness: only for http_req_failed/,
    );
    expect(() => scenario([{ ...shedBrowse, filter: { journey: 'shopping' } }])).toThrow(/expectations\.0\.filter\.journey/);
  });
});

describe('timeouts no slowness explains (problem dependency-timeout, slowness)', () => {
  const timedOut = { name: 'no timeouts', type: 'threshold', metric: 'http_req_failed', threshold: 'rate<0.01', during: 'outage', filter: { problem: 'dependency-timeout' }, slowness: { phase: 'baseline', factor: 2 } };
  const shop = (enabled: boolean) => ({ gateway: { loadShedding: { enabled, maxInFlight: 6 }, routeTimeout: '5s' } });
  /** 100 baseline requests of `baselineMs` each; in the outage 70 served and 30 answered 504 dependency-timeout at the route timeout. */
  const run = (expectations: unknown[], baselineMs: number, busy: boolean, shedding = false) => {
    const recorder = createLoadRecorder();
    recordRequests(recorder, 0, 100, baselineMs, true);
    recordRequests(recorder, 10_000, 70, 3_000, true);
    recordRequests(recorder, 10_005, 30, 5_000, false, { [PROBLEM_TAG]: 'dependency-timeout' });
    return evaluateExpectations({ scenario: scenario(expectations, shop(shedding)), startedAt: START, endedAt: START + 20_000, recorder, spans: [], pressure: pressure(busy) });
  };

  it('makes timeouts a FAIL under pressure when the queue shedding allows could not have waited the route timeout', () => {
    // 6 in flight x 200 ms x 2 = 2.4 s < 5 s, although shedding is off in this run: with it on, no request would have waited that long.
    const [result] = run([timedOut], 200, true);
    expect(result).toMatchObject({
      status: 'fail',
      measured: "30.00% (30/100) dependency-timeout; slowness alone: 6 in flight (maxInFlight, off in this run) x 200ms (baseline mean) x 2 = 2.40s of waiting < 5.00s (routeTimeout): the timeouts are the shop's",
    });
    expect(run([timedOut], 200, true, true)[0]?.measured).toContain('6 in flight (maxInFlight) x');
  });

  it('leaves them INCONCLUSIVE under pressure when this machine is slow enough to time out behind that queue', () => {
    // 6 x 450 ms x 2 = 5.4 s >= 5 s.
    expect(run([timedOut], 450, true)[0]).toMatchObject({ status: 'inconclusive', measured: expect.stringContaining('= 5.40s of waiting >= 5.00s (routeTimeout)') });
    expect(run([{ ...timedOut, slowness: undefined }], 200, true)[0]?.status).toBe('inconclusive');
    expect(run([timedOut], 200, false)[0]?.status).toBe('fail');
  });
});

describe('failed-spans', () => {
  const expectation = { name: 'the failures are sku-13s', type: 'failed-spans', during: 'outage', service: 'gateway', attribute: 'faultline.sku', value: 'sku-13', maxOther: 1 };
  const answered = (id: string, sku: string | undefined, status: number, offsetMs = 12_000) =>
    span({ traceId: id, kind: 2, service: 'gateway', startMs: START + offsetMs, attributes: { 'http.response.status_code': status, ...(sku ? { 'faultline.sku': sku } : {}) } });

  it('holds when the 5xx answers carry the value, with at most maxOther others; timeouts and baseline spans do not count', () => {
    const spans = [answered('a', 'sku-13', 503), answered('b', 'sku-13', 502), answered('c', 'sku-4', 502), answered('d', 'sku-5', 504), answered('e', 'sku-6', 200), answered('f', 'sku-7', 502, 2_000)];
    const [result] = judge([expectation], () => undefined, spans, false);
    expect(result).toMatchObject({ status: 'pass', measured: '2 with faultline.sku=sku-13, 1 other (sku-4 x1)' });
  });

  it('fails on a count of other failures however busy the machine; none of the value at all is inconclusive under pressure', () => {
    const spans = [answered('a', 'sku-13', 503), answered('c', 'sku-4', 502), answered('g', undefined, 502)];
    expect(judge([expectation], () => undefined, spans, true)[0]).toMatchObject({ status: 'fail', measured: '1 with faultline.sku=sku-13, 2 other ((none) x1, sku-4 x1)' });
    expect(judge([expectation], () => undefined, [answered('c', 'sku-4', 502)], true)[0]?.status).toBe('inconclusive');
    expect(judge([expectation], () => undefined, [answered('c', 'sku-4', 502)], false)[0]?.status).toBe('fail');
  });
});
