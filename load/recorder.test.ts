import { describe, expect, it } from 'vitest';
import { createLoadRecorder, errorKind, PROBLEM_TAG } from './recorder.ts';
import type { RequestSample } from './recorder.ts';

const T0 = 1_700_000_000_000; // a whole epoch second

function sample(overrides: Partial<RequestSample> & { at: number; latency: number; naive?: number }): RequestSample {
  const { at, latency, naive, ...rest } = overrides;
  const endMs = T0 + at + latency;
  return {
    intendedStartMs: T0 + at,
    sentAtMs: endMs - (naive ?? latency),
    endMs,
    status: 200,
    ok: true,
    tags: { journey: 'checkout', step: 'checkout' },
    ...rest,
  };
}

describe('createLoadRecorder', () => {
  it('files a reused tags object under what it holds at each record, even if it changed in between', () => {
    const recorder = createLoadRecorder();
    const tags: Record<string, string> = { journey: 'browse', step: 'list' };
    recorder.record(sample({ at: 0, latency: 5, tags }));
    recorder.record(sample({ at: 1, latency: 5, tags }));
    tags.step = 'detail';
    recorder.record(sample({ at: 2, latency: 5, tags }));
    tags.extra = 'x';
    recorder.record(sample({ at: 3, latency: 5, tags }));
    // A different object with the same contents shares the set.
    recorder.record(sample({ at: 4, latency: 5, tags: { step: 'list', journey: 'browse' } }));
    expect(recorder.summary({ tags: { journey: 'browse', step: 'list' } }).count).toBe(3);
    expect(recorder.summary({ tags: { step: 'detail' } }).count).toBe(2);
    expect(recorder.summary({ tags: { extra: 'x' } }).count).toBe(1);
  });

  it('keeps latency from intended start and from send apart', () => {
    const recorder = createLoadRecorder();
    // 99 fast requests and one that waited 900 ms for a connection before a 100 ms exchange.
    for (let i = 0; i < 99; i += 1) recorder.record(sample({ at: i * 10, latency: 10 }));
    recorder.record(sample({ at: 990, latency: 1_000, naive: 100 }));
    const summary = recorder.summary();
    expect(summary.count).toBe(100);
    expect(summary.failed).toBe(0);
    expect(summary.latency.p50).toBeCloseTo(10, 1);
    expect(summary.latency.max).toBeCloseTo(1_000, 0);
    expect(summary.naiveLatency.max).toBeCloseTo(100, 0);
    expect(summary.latency.avg).toBeCloseTo((99 * 10 + 1_000) / 100, 0);
    // 3 significant digits: values are exact to 0.1%.
    expect(recorder.distribution(undefined, 'intended').p(100)).toBeGreaterThan(999);
    expect(recorder.distribution(undefined, 'sent').p(100)).toBeLessThan(100.1);
  });

  it('counts failures by class and computes rps over the observed span', () => {
    const recorder = createLoadRecorder();
    for (let i = 0; i < 8; i += 1) recorder.record(sample({ at: i * 250, latency: 0 }));
    recorder.record(sample({ at: 2_000, latency: 0, ok: false, status: 503, errorClass: 'status' }));
    recorder.record(sample({ at: 2_000, latency: 0, ok: false, status: 0, errorClass: 'refused' }));
    recorder.record(sample({ at: 2_000, latency: 0, ok: false, status: 0 }));
    const summary = recorder.summary();
    expect(summary.count).toBe(11);
    expect(summary.failed).toBe(3);
    expect(summary.failRate).toBeCloseTo(3 / 11, 9);
    expect(summary.errors).toEqual({ status: 1, timeout: 0, refused: 1, reset: 0, other: 1 });
    expect(summary.rps).toBeCloseTo(11 / 2, 9);
  });

  it('selects windows by intended start, and filters by outcome and tags', () => {
    const recorder = createLoadRecorder();
    for (let i = 0; i < 10; i += 1) recorder.record(sample({ at: i * 100, latency: 5 }));
    // A stalled request intended in the first second that only ended in the third.
    recorder.record(sample({ at: 950, latency: 1_500, naive: 20 }));
    for (let i = 0; i < 10; i += 1) recorder.record(sample({ at: 1_000 + i * 100, latency: 50, ok: false, status: 500, errorClass: 'status' }));
    recorder.record(sample({ at: 1_500, latency: 7, tags: { journey: 'browse', step: 'home' } }));

    const first = recorder.summary({ fromMs: T0, toMs: T0 + 1_000 });
    expect(first.count).toBe(11);
    expect(first.failed).toBe(0);
    expect(first.latency.max).toBeCloseTo(1_500, 0);
    expect(first.naiveLatency.max).toBeCloseTo(20, 1);
    expect(first.rps).toBeCloseTo(11, 9);

    const second = recorder.summary({ fromMs: T0 + 1_000, toMs: T0 + 2_000 });
    expect(second).toMatchObject({ count: 11, failed: 10 });
    expect(second.errors.status).toBe(10);

    expect(recorder.summary({ ok: false }).count).toBe(10);
    expect(recorder.summary({ ok: true }).count).toBe(12);
    expect(recorder.summary({ tags: { journey: 'browse' } })).toMatchObject({ count: 1, failed: 0 });
    expect(recorder.summary({ tags: { journey: 'checkout', step: 'checkout' }, ok: false }).count).toBe(10);
    expect(recorder.summary({ tags: { journey: 'nope' } })).toMatchObject({ count: 0, failRate: 0, rps: 0, latency: { p99: 0, max: 0 } });
    expect(recorder.distribution({ tags: { journey: 'browse' } }).p(50)).toBeCloseTo(7, 1);
  });

  it('selects a union of ranges (e.g. while a breaker was open), with drops and rate over the covered time', () => {
    const recorder = createLoadRecorder();
    for (let i = 0; i < 40; i += 1) recorder.record(sample({ at: i * 100, latency: i < 20 ? 5 : 80, ok: i % 2 === 0 }));
    recorder.recordDropped(T0 + 550);
    recorder.recordDropped(T0 + 2_500);
    const ranges = [
      { fromMs: T0 + 500, toMs: T0 + 1_000 },
      { fromMs: T0 + 3_000, toMs: T0 + 3_500 },
    ];
    const both = recorder.summary({ ranges });
    expect(both.count).toBe(10);
    expect(both.dropped).toBe(1);
    expect(both.rps).toBeCloseTo(10, 9);
    expect(recorder.summary({ ranges, ok: false }).count).toBe(5);
    const slow = recorder.distribution({ ranges: [ranges[1]!] });
    expect(slow.count).toBe(5);
    expect(slow.p(50)).toBeCloseTo(80, 0);
    expect(recorder.summary({ ranges: [] }).count).toBe(0);
  });

  it('builds a per-second series by intended start, with gaps filled and drops counted', () => {
    const recorder = createLoadRecorder();
    for (let i = 0; i < 4; i += 1) recorder.record(sample({ at: i * 250, latency: 10 }));
    recorder.record(sample({ at: 900, latency: 2_000 }));
    recorder.record(sample({ at: 3_100, latency: 30, ok: false, status: 0, errorClass: 'timeout' }));
    recorder.recordDropped(T0 + 3_200);
    recorder.recordDropped(T0 + 3_300);
    const series = recorder.timeSeries();
    const t = T0 / 1_000;
    expect(series.map((point) => point.t)).toEqual([t, t + 1, t + 2, t + 3]);
    expect(series[0]).toMatchObject({ started: 5, ok: 5, failed: 0, dropped: 0 });
    expect(series[0]!.p50).toBeCloseTo(10, 1);
    expect(series[0]!.p99).toBeCloseTo(2_000, -1);
    // Nothing intended in this second, but the 2 s request from second 0 was on the wire all through it.
    expect(series[1]).toEqual({ t: t + 1, started: 0, ok: 0, failed: 0, dropped: 0, p50: 0, p95: 0, p99: 0, sentP50: 0, sentP95: 0, sentP99: 0, inFlight: 1 });
    expect(series[3]).toMatchObject({ started: 1, ok: 0, failed: 1, dropped: 2 });
    expect(recorder.summary().dropped).toBe(2);
    expect(recorder.summary({ fromMs: T0 + 3_250 }).dropped).toBe(1);
  });

  it('gives every second the percentiles of its own samples, in whatever order seconds arrive and however many are in flight', () => {
    const recorder = createLoadRecorder();
    // Twelve seconds, samples interleaved across seconds (stragglers for old seconds after newer ones), latencies distinct per second.
    const expected = new Map<number, number[]>();
    let seed = 7;
    const random = (): number => {
      seed = (seed * 48_271) % 2_147_483_647;
      return seed / 2_147_483_647;
    };
    const order: Array<{ second: number; latency: number }> = [];
    for (let second = 0; second < 12; second += 1) {
      for (let i = 0; i < 200; i += 1) order.push({ second, latency: Math.round(1 + second * 10 + random() * 50 * (second + 1)) });
    }
    // Mostly in time order, with a quarter of the samples arriving up to eight seconds late.
    const arrival = order.map((entry, i) => ({ entry, key: i + (random() < 0.25 ? random() * 1_600 : 0) })).sort((a, b) => a.key - b.key);
    for (const { entry } of arrival) {
      recorder.record(sample({ at: entry.second * 1_000 + 10, latency: entry.latency }));
      const list = expected.get(entry.second) ?? [];
      list.push(entry.latency);
      expected.set(entry.second, list);
    }
    const series = recorder.timeSeries();
    expect(series).toHaveLength(12);
    for (const point of series) {
      const latencies = (expected.get(point.t - T0 / 1_000) ?? []).sort((a, b) => a - b);
      expect(point.started).toBe(200);
      // Nearest rank; HDR keeps 3 significant digits.
      for (const [q, got] of [[50, point.p50], [95, point.p95], [99, point.p99]] as const) {
        const want = latencies[Math.ceil((q / 100) * latencies.length) - 1]!;
        expect(Math.abs(got - want)).toBeLessThanOrEqual(want * 0.001 + 1e-9);
      }
    }
  });

  it('keeps per second the latency from the send time beside the intended start, requests on the wire, and failures by kind', () => {
    const recorder = createLoadRecorder();
    // Second 0: ten requests that queued 400 ms in the generator before a 100 ms exchange, sent one after another.
    for (let i = 0; i < 10; i += 1) recorder.record(sample({ at: i * 10, latency: 500, naive: 100 }));
    // Second 1: failures of three kinds.
    const failed = (status: number, errorClass: RequestSample['errorClass'], problem?: string) =>
      sample({ at: 1_200, latency: 50, ok: false, status, ...(errorClass ? { errorClass } : {}), tags: { journey: 'checkout', step: 'checkout', ...(problem ? { [PROBLEM_TAG]: problem } : {}) } });
    recorder.record(failed(503, 'status', 'dependency-circuit-open'));
    recorder.record(failed(503, 'status', 'dependency-circuit-open'));
    recorder.record(failed(0, 'timeout'));
    recorder.record(failed(200, 'other'));
    const [first, second] = recorder.timeSeries();
    expect(first!.p50).toBeCloseTo(500, 0);
    expect(first!.sentP50).toBeCloseTo(100, 0);
    expect(first!.sentP99).toBeCloseTo(100, 0);
    // Ten requests each 100 ms on the wire within second 0: one in flight on average.
    expect(first!.inFlight).toBe(1);
    expect(first!.errors).toBeUndefined();
    expect(second!.errors).toEqual({ 'HTTP 503 dependency-circuit-open': 2, timeout: 1, 'HTTP 200 other': 1 });
    // The same kinds for any window, most frequent first (an error-rate expectation names them).
    expect(recorder.failureKinds({ fromMs: T0 + 1_000, toMs: T0 + 2_000 })).toEqual([
      { kind: 'HTTP 503 dependency-circuit-open', count: 2 },
      { kind: 'HTTP 200 other', count: 1 },
      { kind: 'timeout', count: 1 },
    ]);
    expect(recorder.failureKinds({ fromMs: T0, toMs: T0 + 1_000 })).toEqual([]);
    expect(errorKind({ status: 502, errorClass: 'status', tags: {} })).toBe('HTTP 502');
    expect(errorKind({ status: 0, tags: {} })).toBe('other');
  });

  it('keeps all-time latency per journey and step, from intended start and from send, busiest journey first', () => {
    const recorder = createLoadRecorder({ maxSamples: 3 });
    for (let i = 0; i < 10; i += 1) recorder.record(sample({ at: i, latency: 100 + i, naive: 10, tags: { journey: 'browse', step: 'list-products' } }));
    for (let i = 0; i < 5; i += 1) recorder.record(sample({ at: i, latency: 1_000, naive: 20, ok: i > 0, tags: { journey: 'browse', step: 'view-product' } }));
    recorder.record(sample({ at: 0, latency: 7, tags: { journey: 'checkout', step: 'checkout' } }));
    recorder.record(sample({ at: 0, latency: 7, tags: {} }));
    const steps = recorder.steps();
    // The ring kept 3 samples; the step figures are all-time.
    expect(steps.map((s) => [s.journey, s.step, s.count, s.failed])).toEqual([
      ['browse', '*', 15, 1],
      ['browse', 'list-products', 10, 0],
      ['browse', 'view-product', 5, 1],
      ['checkout', '*', 1, 0],
      ['checkout', 'checkout', 1, 0],
    ]);
    expect(steps[1]!.latency.max).toBeCloseTo(109, 0);
    expect(steps[1]!.naiveLatency.max).toBeCloseTo(10, 0);
    expect(steps[0]!.latency.max).toBeCloseTo(1_000, -1);
    // The journey row merges its steps: the 8th of 100..109 and five 1000s.
    expect(steps[0]!.latency.p50).toBeCloseTo(107, 0);
  });

  it('drops the oldest samples beyond maxSamples but keeps all-time totals', () => {
    const recorder = createLoadRecorder({ maxSamples: 5 });
    for (let i = 0; i < 12; i += 1) recorder.record(sample({ at: i * 100, latency: i + 1 }));
    expect(recorder.stats()).toEqual({ recorded: 12, retained: 5, evicted: 7, dropped: 0 });
    expect(recorder.summary().count).toBe(12);
    const windowed = recorder.summary({ fromMs: T0 });
    expect(windowed.count).toBe(5);
    expect(windowed.latency.max).toBeCloseTo(12, 1);
    expect(recorder.distribution({ fromMs: T0 }).min).toBeCloseTo(8, 1);
  });

  it('with maxSeconds keeps only that many seconds of per-second figures behind the newest, and every total', () => {
    const recorder = createLoadRecorder({ maxSamples: 100, maxSeconds: 60 });
    // An hour at 3 requests a second, and one straggler for a second long forgotten.
    for (let second = 0; second < 3_600; second += 1) for (let i = 0; i < 3; i += 1) recorder.record(sample({ at: second * 1_000 + i * 300, latency: 5 }));
    recorder.record(sample({ at: 10_000, latency: 5 }));
    recorder.record(sample({ at: 3_600_000, latency: 7 }));
    const series = recorder.timeSeries();
    expect(series.length).toBe(61);
    expect(series[0]?.t).toBe(T0 / 1_000 + 3_540);
    expect(series.at(-1)).toMatchObject({ t: T0 / 1_000 + 3_600, ok: 1, p50: expect.closeTo(7, 0) });
    expect(series.at(-2)).toMatchObject({ ok: 3 });
    expect(recorder.stats().recorded).toBe(3 * 3_600 + 2);
    expect(recorder.summary().count).toBe(3 * 3_600 + 2);
    expect(() => createLoadRecorder({ maxSeconds: 0 })).toThrow(/maxSeconds: must be an integer >= 1/);
  });

  it("reads a second's percentiles again when a late sample lands in it, packed or not", () => {
    const recorder = createLoadRecorder();
    for (let second = 0; second < 10; second += 1) for (let i = 0; i < 20; i += 1) recorder.record(sample({ at: second * 1_000 + i * 50, latency: 10 }));
    const before = recorder.timeSeries();
    expect(before[0]).toMatchObject({ started: 20, p99: expect.closeTo(10, 0) });
    // A slow request intended in the first second (long since packed) ends now.
    recorder.record(sample({ at: 500, latency: 4_000 }));
    recorder.record(sample({ at: 600, latency: 4_000 }));
    const after = recorder.timeSeries();
    expect(after[0]).toMatchObject({ started: 22, p99: expect.closeTo(4_000, -1) });
    // The other seconds' percentiles are as they were (their requests on the wire are not: the late ones spanned them).
    const percentiles = (points: typeof before) => points.slice(1).map(({ t, started, p50, p95, p99, sentP50, sentP95, sentP99 }) => ({ t, started, p50, p95, p99, sentP50, sentP95, sentP99 }));
    expect(percentiles(after)).toEqual(percentiles(before));
  });

  it('grows its buffers past the initial size without losing samples', () => {
    const recorder = createLoadRecorder({ maxSamples: 20_000 });
    for (let i = 0; i < 10_000; i += 1) recorder.record(sample({ at: i, latency: (i % 100) + 1 }));
    const windowed = recorder.summary({ fromMs: T0 });
    expect(windowed.count).toBe(10_000);
    expect(windowed.latency.p50).toBeCloseTo(50, 0);
    expect(recorder.summary({ fromMs: T0 + 9_990 }).count).toBe(10);
  });

  it('rejects samples whose times are not numbers', () => {
    const recorder = createLoadRecorder();
    expect(() => recorder.record(sample({ at: 0, latency: 1, intendedStartMs: Number.NaN }))).toThrow(RangeError);
    expect(() => recorder.recordDropped(Number.POSITIVE_INFINITY)).toThrow(/recordDropped/);
    expect(() => createLoadRecorder({ maxSamples: 0 })).toThrow(/maxSamples/);
    expect(recorder.stats().recorded).toBe(0);
  });
});
