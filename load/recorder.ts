// Where the load generator keeps what happened, so that performance numbers
// can be trusted. Latency is kept twice, in HDR histograms (microseconds, 3
// significant digits): from the INTENDED start (the honest number, what a
// user arriving on schedule experienced, queueing included) and from the
// moment the request went on the wire (the naive number most tools report;
// the gap between the two is coordinated omission made visible).
//
// Beside the all-time histograms it keeps a bounded ring of samples for
// windowed and tag-filtered queries (columnar typed arrays: half a million
// samples cost ~15 MB, not the ~100 MB of as many objects) and one small
// histogram per second for the time series. Windows select samples by
// intended start, so a request that stalled is charged to the second in
// which the user wanted it, not to the second in which it finally ended.
//
// The per-second histograms are kept packed (a few KB each, so an hour of
// seconds fits), but recording into a packed histogram costs about five
// times a plain one (~0.5 µs against ~0.1 µs a value, a large share of the
// generator's own CPU at tens of thousands of requests a second). So the
// few seconds samples are arriving for record into plain histograms from a
// small pool, and a second is packed in one pass (per distinct value, not per
// sample) when its plain histogram is needed for a newer second; the counts,
// and so the percentiles, are the same either way. Each second keeps two
// histograms, one per basis (intended start and send time), moved together.
//
// For the run report it also keeps, per second: failures by kind (status,
// problem type or transport error), the mean number of requests on the wire,
// and, for all time, latency per journey and step (the `journey` and `step`
// tags the journeys put on every request).

import { build } from 'hdr-histogram-js';
import type { Histogram } from 'hdr-histogram-js';
import { LOAD_LABEL } from '../demo-services/kit/conventions.ts';

export type ErrorClass = 'status' | 'timeout' | 'refused' | 'reset' | 'other';

export interface RequestSample {
  /** When the schedule wanted the iteration to start (epoch ms). */
  intendedStartMs: number;
  /** When the request was actually written to a connection (epoch ms). */
  sentAtMs: number;
  /** When the response was fully read, or the failure was known (epoch ms). */
  endMs: number;
  /** HTTP status; 0 when there was no response. */
  status: number;
  ok: boolean;
  errorClass?: ErrorClass;
  tags: Record<string, string>;
}

export interface SummaryFilter {
  /** Inclusive, on intendedStartMs. */
  fromMs?: number;
  /** Exclusive, on intendedStartMs. */
  toMs?: number;
  ok?: boolean;
  /** Every given tag must match. */
  tags?: Record<string, string>;
  /** Only samples whose intendedStartMs falls in one of these [fromMs, toMs) ranges (e.g. while a breaker was open). */
  ranges?: ReadonlyArray<{ fromMs: number; toMs: number }>;
  /** Only samples answered (endMs) before this time: a phase's requests still in flight when the next phase's fault began are that fault's. */
  answeredBeforeMs?: number;
}

/** Whether an intended start time passes the filter's time bounds and ranges. */
function inWindow(filter: SummaryFilter, at: number): boolean {
  if (filter.fromMs !== undefined && at < filter.fromMs) return false;
  if (filter.toMs !== undefined && at >= filter.toMs) return false;
  return filter.ranges === undefined || filter.ranges.some((range) => at >= range.fromMs && at < range.toMs);
}

/** Milliseconds. */
export interface LatencySummary {
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  max: number;
  avg: number;
}

export interface LoadSummary {
  count: number;
  failed: number;
  failRate: number;
  /** count / window seconds (window: the filter's bounds, else first intended start to last end). */
  rps: number;
  /** Dropped iterations in the time window (ok and tags filters do not apply to them). */
  dropped: number;
  errors: Record<ErrorClass, number>;
  /** From intended start: the honest number. */
  latency: LatencySummary;
  /** From actual send: what a tool with coordinated omission would report. */
  naiveLatency: LatencySummary;
}

export interface TimeSeriesPoint {
  /** Epoch second (by intended start). */
  t: number;
  /** Requests intended to start in this second that have been recorded (ok + failed). */
  started: number;
  ok: number;
  failed: number;
  dropped: number;
  /** Milliseconds from intended start; 0 when the second has no requests. */
  p50: number;
  p95: number;
  p99: number;
  /** Milliseconds from the send time, of the same requests; the gap to p50..p99 is coordinated omission. */
  sentP50: number;
  sentP95: number;
  sentP99: number;
  /** Mean number of requests on the wire (sent, not yet answered) during this wall-clock second. */
  inFlight: number;
  /** Failed requests of this second by kind (errorKind), only when there were any. */
  errors?: Record<string, number>;
}

/** Tag under which a failed sample keeps the last segment of its RFC 9457 problem type (`dependency-circuit-open`); set by http-client.ts. */
export const PROBLEM_TAG = 'problem';

/**
 * A failure's kind, as the report groups them: `HTTP 503 dependency-circuit-open`
 * (status and problem type), `HTTP 200 other` (a failed check), or the
 * transport error when there was no response (`timeout`, `refused`, `reset`).
 */
export function errorKind(sample: Pick<RequestSample, 'status' | 'errorClass' | 'tags'>): string {
  const problem = sample.tags[PROBLEM_TAG];
  if (sample.status > 0) {
    const cls = sample.errorClass ?? 'status';
    return `HTTP ${sample.status}${problem ? ` ${problem}` : cls === 'status' ? '' : ` ${cls}`}`;
  }
  return sample.errorClass ?? 'other';
}

/** Latency of one journey's step (or a whole journey, step `*`), for all time. */
export interface StepSummary {
  journey: string;
  /** `*` for the journey's requests of every step. */
  step: string;
  count: number;
  failed: number;
  /** From intended start. */
  latency: LatencySummary;
  /** From the send time. */
  naiveLatency: LatencySummary;
}

/** A latency distribution in milliseconds; its shape fits evaluateThreshold's values. */
export interface LatencyDistribution {
  count: number;
  /** Percentile q in 0..100 (as in `p(95)`); 0 when empty. */
  p: (q: number) => number;
  avg: number;
  min: number;
  max: number;
}

export type LatencyBasis = 'intended' | 'sent';

export interface RecorderStats {
  recorded: number;
  retained: number;
  evicted: number;
  dropped: number;
}

export interface LoadRecorder {
  record(sample: RequestSample): void;
  recordDropped(intendedStartMs: number): void;
  summary(filter?: SummaryFilter): LoadSummary;
  /** Per second of intended start, oldest first; from `fromSecond` (epoch second) on when given, so a live view asks only for its last few. */
  timeSeries(fromSecond?: number): TimeSeriesPoint[];
  /** Per journey (step `*`) and per journey step, busiest journey first, its steps after it in the order first seen. */
  steps(): StepSummary[];
  /** A snapshot of the latency distribution (from intended start unless basis is 'sent'). */
  distribution(filter?: SummaryFilter, basis?: LatencyBasis): LatencyDistribution;
  /** The failures of the filter's requests by kind (errorKind), most frequent first. */
  failureKinds(filter?: SummaryFilter): Array<{ kind: string; count: number }>;
  stats(): RecorderStats;
}

export interface LoadRecorderOptions {
  /** Samples kept for windowed queries; the oldest are dropped beyond it. Default 500_000. */
  maxSamples?: number;
  /**
   * Seconds of per-second figures (timeSeries) kept behind the newest; older seconds are
   * forgotten. Default: every second, as a run's report needs. A recorder that lives for a
   * session (`faultline up`'s background load) sets it: each kept second costs about 3 KiB,
   * 10 MiB an hour at 25 requests a second, measured.
   */
  maxSeconds?: number;
}

const HIGHEST_US = 120_000_000;
const ERROR_CLASSES: readonly ErrorClass[] = ['status', 'timeout', 'refused', 'reset', 'other'];

function newHistogram(packed = false): Histogram {
  return build({
    bitBucketSize: packed ? 'packed' : 32,
    lowestDiscernibleValue: 1,
    highestTrackableValue: HIGHEST_US,
    numberOfSignificantValueDigits: 3,
  });
}

function toMicros(ms: number): number {
  if (!(ms > 0)) return 0;
  return Math.min(Math.round(ms * 1_000), HIGHEST_US);
}

function describe(histogram: Histogram): LatencySummary {
  if (histogram.totalCount === 0) return { p50: 0, p90: 0, p95: 0, p99: 0, max: 0, avg: 0 };
  const at = (q: number): number => histogram.getValueAtPercentile(q) / 1_000;
  return { p50: at(50), p90: at(90), p95: at(95), p99: at(99), max: histogram.maxValue / 1_000, avg: histogram.mean / 1_000 };
}

function distributionOf(histogram: Histogram): LatencyDistribution {
  const empty = histogram.totalCount === 0;
  return {
    count: histogram.totalCount,
    p: (q: number) => (empty ? 0 : histogram.getValueAtPercentile(q) / 1_000),
    avg: empty ? 0 : histogram.mean / 1_000,
    min: empty ? 0 : histogram.getValueAtPercentile(0) / 1_000,
    max: empty ? 0 : histogram.maxValue / 1_000,
  };
}

function emptyErrors(): Record<ErrorClass, number> {
  return { status: 0, timeout: 0, refused: 0, reset: 0, other: 0 };
}

/** A second's two histograms: from intended start and from the send time. */
type HistogramPair = [intended: Histogram, sent: Histogram];

interface SecondBucket {
  /** Epoch second. */
  t: number;
  ok: number;
  failed: number;
  dropped: number;
  /** Packed, once the second has left the hot pool (or took a sample older than every hot second). */
  histogram: HistogramPair | undefined;
  /** Plain, while samples for this second are still arriving; never set together with `histogram`. */
  hot: HistogramPair | undefined;
  /** Failures by kind id (see kinds in createLoadRecorder). */
  errors: Map<number, number> | undefined;
  /**
   * The second's p50, p95, p99 (from intended start, then from send) as of `n` samples. A
   * percentile of a packed histogram costs about 2 ms (hdr-histogram-js walks every bucket), so a
   * second is read again only when a sample has arrived since: asked every second, the whole run's
   * series cost 1.6 s of CPU 120 s into a run at 50 requests a second (docs/benchmarks.md).
   */
  percentiles: { n: number; values: Percentiles } | undefined;
}

/** All-time latency of one journey step. */
interface StepGroup {
  journey: string;
  step: string;
  count: number;
  failed: number;
  intended: Histogram;
  sent: Histogram;
}

/** Plain histograms lent to the most recent seconds (see the opening comment). */
const HOT_SECONDS = 3;

/** A second with no samples: every percentile 0, as timeSeries reports it. */
const NO_PERCENTILES: Readonly<Percentiles> = [0, 0, 0, 0, 0, 0];

/** p50, p95, p99 from intended start, then the same from the send time, in ms. */
type Percentiles = [number, number, number, number, number, number];

/** Columnar ring buffer of samples; grows geometrically up to its capacity, then overwrites the oldest. */
class SampleRing {
  readonly capacity: number;
  size = 0;
  evicted = 0;
  private head = 0;
  intended: Float64Array;
  sent: Float64Array;
  end: Float64Array;
  status: Uint16Array;
  /** 0 = ok, otherwise 1 + index in ERROR_CLASSES; 255 = failed without a class. */
  outcome: Uint8Array;
  tagSet: Uint32Array;

  constructor(capacity: number) {
    this.capacity = capacity;
    const initial = Math.min(capacity, 4_096);
    this.intended = new Float64Array(initial);
    this.sent = new Float64Array(initial);
    this.end = new Float64Array(initial);
    this.status = new Uint16Array(initial);
    this.outcome = new Uint8Array(initial);
    this.tagSet = new Uint32Array(initial);
  }

  push(intended: number, sent: number, end: number, status: number, outcome: number, tagSet: number): void {
    let slot: number;
    if (this.size < this.capacity) {
      if (this.size === this.intended.length) this.grow();
      slot = this.size;
      this.size += 1;
    } else {
      slot = this.head;
      this.head = (this.head + 1) % this.capacity;
      this.evicted += 1;
    }
    this.intended[slot] = intended;
    this.sent[slot] = sent;
    this.end[slot] = end;
    this.status[slot] = Math.max(0, Math.min(status, 65_535));
    this.outcome[slot] = outcome;
    this.tagSet[slot] = tagSet;
  }

  /** Visit retained slots oldest first. */
  forEach(visit: (slot: number) => void): void {
    const length = this.intended.length;
    for (let i = 0; i < this.size; i += 1) visit((this.head + i) % length);
  }

  private grow(): void {
    const next = Math.min(this.capacity, this.intended.length * 2);
    const copy = <T extends Float64Array | Uint16Array | Uint8Array | Uint32Array>(from: T, make: (n: number) => T): T => {
      const to = make(next);
      to.set(from);
      return to;
    };
    this.intended = copy(this.intended, (n) => new Float64Array(n));
    this.sent = copy(this.sent, (n) => new Float64Array(n));
    this.end = copy(this.end, (n) => new Float64Array(n));
    this.status = copy(this.status, (n) => new Uint16Array(n));
    this.outcome = copy(this.outcome, (n) => new Uint8Array(n));
    this.tagSet = copy(this.tagSet, (n) => new Uint32Array(n));
  }
}

export function createLoadRecorder(options: LoadRecorderOptions = {}): LoadRecorder {
  const maxSamples = options.maxSamples ?? 500_000;
  if (!Number.isInteger(maxSamples) || maxSamples < 1) {
    throw new RangeError(`maxSamples: must be an integer >= 1 (got ${String(maxSamples)})`);
  }
  const maxSeconds = options.maxSeconds ?? Number.POSITIVE_INFINITY;
  if (maxSeconds !== Number.POSITIVE_INFINITY && (!Number.isInteger(maxSeconds) || maxSeconds < 1)) {
    throw new RangeError(`maxSeconds: must be an integer >= 1 (got ${String(maxSeconds)})`);
  }

  const honest = newHistogram();
  const naive = newHistogram();
  const ring = new SampleRing(maxSamples);
  // Intended starts of dropped iterations, for windowed counts (ring: overwrite the oldest at capacity).
  const droppedRing: number[] = [];
  let droppedHead = 0;
  const seconds = new Map<number, SecondBucket>();
  // Tag sets are interned: samples store a small id, queries test each distinct set once.
  const tagSetIds = new Map<string, number>();
  const tagSets: Record<string, string>[] = [];
  const errors = emptyErrors();
  let recorded = 0;
  let failed = 0;
  let dropped = 0;
  let firstIntended = Infinity;
  let lastEnd = -Infinity;

  // The second most samples fall into: the last one used, found without a Map lookup.
  let lastSecond = Number.NaN;
  let lastBucket: SecondBucket | undefined;
  // Failure kinds interned (few distinct ones), and milliseconds on the wire per wall-clock second.
  const kindIds = new Map<string, number>();
  const kinds: string[] = [];
  const busyMs = new Map<number, number>();
  let busySecond = Number.NaN;
  let busyOpen = 0;
  // Journey steps: a tag set's group, found by the tag set's id (undefined: not looked up yet; -1: untagged).
  const groupOfTagSet: number[] = [];
  const groups: StepGroup[] = [];
  const groupIds = new Map<string, number>();

  // The newest second seen; with maxSeconds, seconds more than that far behind it are forgotten.
  let newestSecond = Number.NEGATIVE_INFINITY;
  function forgetBefore(cutoff: number): void {
    for (const t of seconds.keys()) if (t < cutoff) seconds.delete(t);
    for (const t of busyMs.keys()) if (t < cutoff) busyMs.delete(t);
  }

  function bucket(ms: number): SecondBucket {
    const t = Math.floor(ms / 1_000);
    if (t === lastSecond && lastBucket !== undefined) return lastBucket;
    let found = seconds.get(t);
    if (found === undefined) {
      found = { t, ok: 0, failed: 0, dropped: 0, histogram: undefined, hot: undefined, errors: undefined, percentiles: undefined };
      seconds.set(t, found);
      if (t > newestSecond) {
        newestSecond = t;
        if (maxSeconds !== Number.POSITIVE_INFINITY) forgetBefore(t - maxSeconds);
      }
    }
    lastSecond = t;
    lastBucket = found;
    return found;
  }

  // Seconds holding a plain histogram, and plain histograms free for reuse.
  const hotSeconds: SecondBucket[] = [];
  const spareHot: HistogramPair[] = [];

  /** Pack a hot second: its counts move into packed histograms and its plain ones go back to the pool. */
  function cool(second: SecondBucket): void {
    const hot = second.hot as HistogramPair;
    const packed: HistogramPair = [newHistogram(true), newHistogram(true)];
    packed[0].add(hot[0]);
    packed[1].add(hot[1]);
    second.histogram = packed;
    second.hot = undefined;
    hot[0].reset();
    hot[1].reset();
    spareHot.push(hot);
  }

  /** Where this second's latencies go: its hot histograms, new ones (cooling the oldest hot second), or its packed ones. */
  function secondHistogram(second: SecondBucket): HistogramPair {
    if (second.hot !== undefined) return second.hot;
    if (second.histogram !== undefined) return second.histogram;
    if (hotSeconds.length >= HOT_SECONDS) {
      let oldest = 0;
      for (let i = 1; i < hotSeconds.length; i += 1) if ((hotSeconds[i] as SecondBucket).t < (hotSeconds[oldest] as SecondBucket).t) oldest = i;
      const coldest = hotSeconds[oldest] as SecondBucket;
      // A first sample for a second older than every hot one (a straggler): straight into a packed histogram.
      if (second.t < coldest.t) {
        second.histogram = [newHistogram(true), newHistogram(true)];
        return second.histogram;
      }
      cool(coldest);
      hotSeconds[oldest] = second;
    } else {
      hotSeconds.push(second);
    }
    second.hot = spareHot.pop() ?? [newHistogram(), newHistogram()];
    return second.hot;
  }

  // Journeys pass the same (usually frozen) tags object with every request of
  // a step: remember the id per object, and the contents it had, so the
  // common case costs a WeakMap lookup and a comparison, not a sorted JSON key.
  const internedByObject = new WeakMap<Record<string, string>, { id: number; snapshot: Record<string, string>; size: number }>();

  function sameTags(tags: Record<string, string>, snapshot: Record<string, string>, size: number): boolean {
    let n = 0;
    for (const key in tags) {
      if (tags[key] !== snapshot[key]) return false;
      n += 1;
    }
    return n === size;
  }

  function internTags(tags: Record<string, string>): number {
    const known = internedByObject.get(tags);
    if (known !== undefined && sameTags(tags, known.snapshot, known.size)) return known.id;
    const entries = Object.entries(tags).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const key = JSON.stringify(entries);
    let id = tagSetIds.get(key);
    if (id === undefined) {
      id = tagSets.length;
      tagSets.push({ ...tags });
      tagSetIds.set(key, id);
    }
    internedByObject.set(tags, { id, snapshot: tagSets[id] as Record<string, string>, size: entries.length });
    return id;
  }

  function record(sample: RequestSample): void {
    const { intendedStartMs, sentAtMs, endMs } = sample;
    if (!Number.isFinite(intendedStartMs) || !Number.isFinite(sentAtMs) || !Number.isFinite(endMs)) {
      throw new RangeError(`record: intendedStartMs, sentAtMs and endMs must be finite epoch ms (got ${intendedStartMs}, ${sentAtMs}, ${endMs})`);
    }
    const honestUs = toMicros(endMs - intendedStartMs);
    const naiveUs = toMicros(endMs - sentAtMs);
    honest.recordValue(honestUs);
    naive.recordValue(naiveUs);
    recorded += 1;
    let outcome = 0;
    if (!sample.ok) {
      failed += 1;
      const errorClass = sample.errorClass ?? 'other';
      errors[errorClass] += 1;
      outcome = 1 + ERROR_CLASSES.indexOf(errorClass);
    }
    if (intendedStartMs < firstIntended) firstIntended = intendedStartMs;
    if (endMs > lastEnd) lastEnd = endMs;
    const second = bucket(intendedStartMs);
    if (sample.ok) second.ok += 1;
    else {
      second.failed += 1;
      const kind = errorKind(sample);
      let id = kindIds.get(kind);
      if (id === undefined) {
        id = kinds.length;
        kinds.push(kind);
        kindIds.set(kind, id);
      }
      second.errors ??= new Map();
      second.errors.set(id, (second.errors.get(id) ?? 0) + 1);
    }
    const pair = secondHistogram(second);
    pair[0].recordValue(honestUs);
    pair[1].recordValue(naiveUs);
    onTheWire(sentAtMs, endMs);
    const tagSet = internTags(sample.tags);
    const group = groupOf(tagSet);
    if (group !== undefined) {
      group.count += 1;
      if (!sample.ok) group.failed += 1;
      group.intended.recordValue(honestUs);
      group.sent.recordValue(naiveUs);
    }
    ring.push(intendedStartMs, sentAtMs, endMs, sample.status, outcome, tagSet);
  }

  /** Charge a request's time on the wire to the wall-clock seconds it spans (at most an hour of them). */
  function onTheWire(fromMs: number, toMs: number): void {
    let from = fromMs;
    const to = Math.min(toMs, fromMs + 3_600_000);
    while (from < to) {
      const s = Math.floor(from / 1_000);
      const edge = Math.min(to, (s + 1) * 1_000);
      // Most requests fall in the second the last one did: add there, and file it in the map when the second changes.
      if (s !== busySecond) {
        if (!Number.isNaN(busySecond)) busyMs.set(busySecond, (busyMs.get(busySecond) ?? 0) + busyOpen);
        busySecond = s;
        busyOpen = 0;
      }
      busyOpen += edge - from;
      from = edge;
    }
  }

  function busyIn(second: number): number {
    return (busyMs.get(second) ?? 0) + (second === busySecond ? busyOpen : 0);
  }

  /** The journey step of a tag set (by its `journey` and `step` tags), made on first sight; undefined when it has neither. */
  function groupOf(tagSet: number): StepGroup | undefined {
    let id = groupOfTagSet[tagSet];
    if (id === undefined) {
      const tags = tagSets[tagSet] as Record<string, string>;
      const journey = tags[LOAD_LABEL.journey];
      const step = tags[LOAD_LABEL.step];
      if (journey === undefined && step === undefined) id = -1;
      else {
        const key = JSON.stringify([journey ?? '', step ?? '']);
        id = groupIds.get(key);
        if (id === undefined) {
          id = groups.length;
          groups.push({ journey: journey ?? '', step: step ?? '', count: 0, failed: 0, intended: newHistogram(), sent: newHistogram() });
          groupIds.set(key, id);
        }
      }
      groupOfTagSet[tagSet] = id;
    }
    return id < 0 ? undefined : groups[id];
  }

  function recordDropped(intendedStartMs: number): void {
    if (!Number.isFinite(intendedStartMs)) throw new RangeError(`recordDropped: intendedStartMs must be a finite epoch ms (got ${intendedStartMs})`);
    dropped += 1;
    bucket(intendedStartMs).dropped += 1;
    if (droppedRing.length < maxSamples) {
      droppedRing.push(intendedStartMs);
    } else {
      droppedRing[droppedHead] = intendedStartMs;
      droppedHead = (droppedHead + 1) % maxSamples;
    }
  }

  function isUnfiltered(filter: SummaryFilter | undefined): boolean {
    return (
      filter === undefined ||
      (filter.fromMs === undefined &&
        filter.toMs === undefined &&
        filter.ranges === undefined &&
        filter.answeredBeforeMs === undefined &&
        filter.ok === undefined &&
        (filter.tags === undefined || Object.keys(filter.tags).length === 0))
    );
  }

  /** Visit retained samples that match the filter. */
  function select(filter: SummaryFilter, visit: (slot: number) => void): void {
    const wanted = filter.tags;
    let tagMatch: Uint8Array | undefined;
    if (wanted !== undefined && Object.keys(wanted).length > 0) {
      tagMatch = new Uint8Array(tagSets.length);
      tagSets.forEach((tags, id) => {
        tagMatch![id] = Object.entries(wanted).every(([key, value]) => tags[key] === value) ? 1 : 0;
      });
    }
    ring.forEach((slot) => {
      const intended = ring.intended[slot] as number;
      if (!inWindow(filter, intended)) return;
      if (filter.answeredBeforeMs !== undefined && (ring.end[slot] as number) >= filter.answeredBeforeMs) return;
      if (filter.ok !== undefined && (ring.outcome[slot] === 0) !== filter.ok) return;
      if (tagMatch !== undefined && tagMatch[ring.tagSet[slot] as number] !== 1) return;
      visit(slot);
    });
  }

  function countDropped(filter: SummaryFilter | undefined): number {
    if (filter?.fromMs === undefined && filter?.toMs === undefined && filter?.ranges === undefined) return dropped;
    let n = 0;
    for (const at of droppedRing) if (inWindow(filter, at)) n += 1;
    return n;
  }

  function rate(count: number, filter: SummaryFilter | undefined, first: number, last: number): number {
    if (count === 0) return 0;
    if (filter?.ranges !== undefined) {
      const covered = filter.ranges.reduce((sum, range) => sum + Math.max(0, Math.min(range.toMs, filter.toMs ?? Infinity) - Math.max(range.fromMs, filter.fromMs ?? -Infinity)), 0);
      return covered > 0 ? (count * 1_000) / covered : 0;
    }
    const from = filter?.fromMs ?? first;
    const to = filter?.toMs ?? last;
    const windowMs = to - from;
    return windowMs > 0 ? (count * 1_000) / windowMs : 0;
  }

  function summary(filter?: SummaryFilter): LoadSummary {
    if (isUnfiltered(filter)) {
      return {
        count: recorded,
        failed,
        failRate: recorded === 0 ? 0 : failed / recorded,
        rps: rate(recorded, undefined, firstIntended, lastEnd),
        dropped,
        errors: { ...errors },
        latency: describe(honest),
        naiveLatency: describe(naive),
      };
    }
    const chosen = filter as SummaryFilter;
    const honestPart = newHistogram();
    const naivePart = newHistogram();
    const partErrors = emptyErrors();
    let count = 0;
    let partFailed = 0;
    let first = Infinity;
    let last = -Infinity;
    select(chosen, (slot) => {
      const intended = ring.intended[slot] as number;
      const end = ring.end[slot] as number;
      honestPart.recordValue(toMicros(end - intended));
      naivePart.recordValue(toMicros(end - (ring.sent[slot] as number)));
      count += 1;
      const outcome = ring.outcome[slot] as number;
      if (outcome !== 0) {
        partFailed += 1;
        partErrors[ERROR_CLASSES[outcome - 1] ?? 'other'] += 1;
      }
      if (intended < first) first = intended;
      if (end > last) last = end;
    });
    return {
      count,
      failed: partFailed,
      failRate: count === 0 ? 0 : partFailed / count,
      rps: rate(count, chosen, first, last),
      dropped: countDropped(chosen),
      errors: partErrors,
      latency: describe(honestPart),
      naiveLatency: describe(naivePart),
    };
  }

  function failureKinds(filter: SummaryFilter = {}): Array<{ kind: string; count: number }> {
    const counts = new Map<string, number>();
    select({ ...filter, ok: false }, (slot) => {
      const outcome = ring.outcome[slot] as number;
      const kind = errorKind({ status: ring.status[slot] as number, errorClass: ERROR_CLASSES[outcome - 1] ?? 'other', tags: tagSets[ring.tagSet[slot] as number] ?? {} });
      counts.set(kind, (counts.get(kind) ?? 0) + 1);
    });
    return [...counts].map(([kind, count]) => ({ kind, count })).sort((a, b) => b.count - a.count || (a.kind < b.kind ? -1 : 1));
  }

  function distribution(filter?: SummaryFilter, basis: LatencyBasis = 'intended'): LatencyDistribution {
    const snapshot = newHistogram();
    if (isUnfiltered(filter)) {
      snapshot.add(basis === 'intended' ? honest : naive);
    } else {
      select(filter as SummaryFilter, (slot) => {
        const start = basis === 'intended' ? ring.intended[slot] : ring.sent[slot];
        snapshot.recordValue(toMicros((ring.end[slot] as number) - (start as number)));
      });
    }
    return distributionOf(snapshot);
  }

  /** A second's latency percentiles in ms, read from its histograms only when samples arrived since the last read. */
  function secondPercentiles(second: SecondBucket): Readonly<Percentiles> {
    const n = second.ok + second.failed;
    if (second.percentiles?.n === n) return second.percentiles.values;
    const pair = second.hot ?? second.histogram;
    const at = (h: Histogram | undefined, q: number): number => (h === undefined || h.totalCount === 0 ? 0 : h.getValueAtPercentile(q) / 1_000);
    second.percentiles = { n, values: [at(pair?.[0], 50), at(pair?.[0], 95), at(pair?.[0], 99), at(pair?.[1], 50), at(pair?.[1], 95), at(pair?.[1], 99)] };
    return second.percentiles.values;
  }

  function timeSeries(fromSecond = Number.NEGATIVE_INFINITY): TimeSeriesPoint[] {
    if (seconds.size === 0) return [];
    let first = Infinity;
    let last = -Infinity;
    for (const t of seconds.keys()) {
      if (t < first) first = t;
      if (t > last) last = t;
    }
    first = Math.max(first, Math.ceil(fromSecond));
    const points: TimeSeriesPoint[] = [];
    for (let t = first; t <= last; t += 1) {
      const b = seconds.get(t);
      const [p50, p95, p99, sentP50, sentP95, sentP99] = b === undefined ? NO_PERCENTILES : secondPercentiles(b);
      const point: TimeSeriesPoint = {
        t,
        started: (b?.ok ?? 0) + (b?.failed ?? 0),
        ok: b?.ok ?? 0,
        failed: b?.failed ?? 0,
        dropped: b?.dropped ?? 0,
        p50,
        p95,
        p99,
        sentP50,
        sentP95,
        sentP99,
        inFlight: Math.round(busyIn(t) / 10) / 100,
      };
      if (b?.errors !== undefined) point.errors = Object.fromEntries([...b.errors].map(([id, n]) => [kinds[id] as string, n]));
      points.push(point);
    }
    return points;
  }

  function steps(): StepSummary[] {
    const journeys = new Map<string, StepGroup[]>();
    for (const group of groups) journeys.set(group.journey, [...(journeys.get(group.journey) ?? []), group]);
    const rows: Array<{ total: number; rows: StepSummary[] }> = [];
    for (const [journey, list] of journeys) {
      const row = (step: string, members: StepGroup[]): StepSummary => {
        let intended = members[0]!.intended;
        let sent = members[0]!.sent;
        if (members.length > 1) {
          intended = newHistogram();
          sent = newHistogram();
          for (const m of members) {
            intended.add(m.intended);
            sent.add(m.sent);
          }
        }
        return { journey, step, count: members.reduce((n, m) => n + m.count, 0), failed: members.reduce((n, m) => n + m.failed, 0), latency: describe(intended), naiveLatency: describe(sent) };
      };
      const all = row('*', list);
      rows.push({ total: all.count, rows: [all, ...list.map((g) => row(g.step, [g]))] });
    }
    return rows.sort((a, b) => b.total - a.total).flatMap((r) => r.rows);
  }

  function stats(): RecorderStats {
    return { recorded, retained: ring.size, evicted: ring.evicted, dropped };
  }

  return { record, recordDropped, summary, timeSeries, steps, distribution, failureKinds, stats };
}
