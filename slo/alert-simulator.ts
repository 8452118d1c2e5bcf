// The multiwindow, multi-burn-rate alerts of an SLO evaluated over counts in
// plain TypeScript, the way Prometheus evaluates the generated rules: at each
// evaluation time t a window w holds the events of the samples stamped in
// (t - w, t], its error ratio is bad / total (none when total is 0), and a
// tier is active when both its windows are above factor x budget, firing once
// it has been active for its `for` duration. The run report and the workshop
// use it where no Prometheus runs, and the promtool fixtures use it to
// predict when each alert fires; promtool then checks that Prometheus agrees.

import type { AlertTier, SloDefinition } from './spec.ts';

/** Events counted in the interval that ends at `t` (ms). */
export interface CountSample {
  t: number;
  good: number;
  total: number;
}

export interface TierState {
  tier: string;
  severity: AlertTier['severity'];
  longRatio: number | null;
  shortRatio: number | null;
  /** Both windows above the threshold. */
  active: boolean;
  /** Active for at least the tier's `for`. */
  firing: boolean;
}

export interface Evaluation {
  t: number;
  tiers: TierState[];
}

export interface FiringInterval {
  tier: string;
  severity: AlertTier['severity'];
  /** First evaluation at which it fired. */
  from: number;
  /** First evaluation at which it no longer fired; null while still firing at the last one. */
  to: number | null;
}

export interface SimulationOptions {
  /** Windows and `for` are divided by this, as in the lab's rules. Default 1. */
  timeScale?: number;
  /** Evaluation times (ms); default: every sample's time. */
  evaluateAt?: readonly number[];
}

export interface Simulation {
  evaluations: Evaluation[];
  intervals: FiringInterval[];
}

/** Prefix sums over samples sorted by time, for window sums in O(log n). */
export interface CountIndex {
  times: number[];
  good: number[];
  total: number[];
}

export function indexCounts(samples: readonly CountSample[]): CountIndex {
  const sorted = [...samples].sort((a, b) => a.t - b.t);
  const index: CountIndex = { times: [], good: [0], total: [0] };
  for (const sample of sorted) {
    if (!(sample.total >= 0 && sample.good >= 0 && sample.good <= sample.total)) {
      throw new RangeError(`sample at ${sample.t}: needs 0 <= good <= total (got good ${sample.good}, total ${sample.total})`);
    }
    index.times.push(sample.t);
    index.good.push((index.good.at(-1) as number) + sample.good);
    index.total.push((index.total.at(-1) as number) + sample.total);
  }
  return index;
}

/** Number of samples stamped at or before t. */
function countUpTo(times: readonly number[], t: number): number {
  let lo = 0;
  let hi = times.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((times[mid] as number) <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Good and total events of the samples stamped in (from, to]. */
export function windowCounts(index: CountIndex, from: number, to: number): { good: number; total: number } {
  const end = countUpTo(index.times, to);
  const start = countUpTo(index.times, from);
  return {
    good: (index.good[end] as number) - (index.good[start] as number),
    total: (index.total[end] as number) - (index.total[start] as number),
  };
}

/** The error ratio of the window (t - w, t], or null when it holds no events. */
export function windowErrorRatio(index: CountIndex, t: number, windowMs: number): number | null {
  const { good, total } = windowCounts(index, t - windowMs, t);
  return total > 0 ? (total - good) / total : null;
}

export function simulateAlerts(slo: SloDefinition, samples: readonly CountSample[], options: SimulationOptions = {}): Simulation {
  const scale = options.timeScale ?? 1;
  const index = indexCounts(samples);
  const times = options.evaluateAt ?? index.times;
  const activeSince = new Map<string, number>();
  const open = new Map<string, FiringInterval>();
  const intervals: FiringInterval[] = [];
  const evaluations: Evaluation[] = [];
  for (const t of times) {
    const tiers = slo.alerting.tiers.map((tier): TierState => {
      const threshold = tier.burnFactor * slo.errorBudget;
      const longRatio = windowErrorRatio(index, t, tier.longMs / scale);
      const shortRatio = windowErrorRatio(index, t, tier.shortMs / scale);
      const active = longRatio !== null && shortRatio !== null && longRatio > threshold && shortRatio > threshold;
      if (!active) activeSince.delete(tier.name);
      else if (!activeSince.has(tier.name)) activeSince.set(tier.name, t);
      const firing = active && t - (activeSince.get(tier.name) as number) >= tier.forMs / scale;
      const current = open.get(tier.name);
      if (firing && current === undefined) {
        const interval: FiringInterval = { tier: tier.name, severity: tier.severity, from: t, to: null };
        open.set(tier.name, interval);
        intervals.push(interval);
      } else if (!firing && current !== undefined) {
        current.to = t;
        open.delete(tier.name);
      }
      return { tier: tier.name, severity: tier.severity, longRatio, shortRatio, active, firing };
    });
    evaluations.push({ t, tiers });
  }
  return { evaluations, intervals };
}
