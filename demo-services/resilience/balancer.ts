// Client-side load balancing over a service's replicas: round robin or least
// outstanding requests, with passive health checks (outlier ejection as in
// Envoy): an instance that fails `consecutiveFailures` times in a row, or
// (with `failurePercentage`) at least that share of its last `requestVolume`
// requests, is ejected for `ejectionMs`, then re-admitted and judged again.
// The share catches an instance that fails half its calls, which a streak of
// five seldom does (1 in 32 per five calls). At least one instance always
// stays in rotation, so a total outage is seen, not hidden. `ejection: false`
// turns passive health checks off (the pattern a canary scenario removes).
// An active health check (the caller polling each instance's /readyz) marks
// instances ready or not with setReady. Pure, on an injected clock.

export type BalancingStrategy = 'round-robin' | 'least-outstanding';

export interface BalancerOptions {
  strategy: BalancingStrategy;
  consecutiveFailures: number;
  ejectionMs: number;
  /** Eject when at least this percentage of the last `requestVolume` requests failed (Envoy's failure_percentage_threshold); off when absent. */
  failurePercentage?: number | undefined;
  /** The requests the failure percentage is taken over; it is judged only once this many are seen (Envoy's failure_percentage_request_volume). */
  requestVolume?: number | undefined;
  /** false: no instance is ever ejected (passive health checks off). */
  ejection?: boolean | undefined;
}

export interface BalancerEvent {
  instance: string;
  /** ejected/readmitted: passive health checks; unready/ready: an active readiness check (setReady). */
  event: 'ejected' | 'readmitted' | 'unready' | 'ready';
}

export interface Lease {
  instance: string;
  /** Report the outcome once: ok = the instance answered (any status below 500). */
  done(ok: boolean): void;
}

export interface Balancer {
  /**
   * An instance for one request. `avoid`: instances earlier attempts of the same call went to,
   * passed over while another is in rotation (Envoy's previous_hosts retry predicate), so a
   * retry is not sent back to the instance that just failed it.
   */
  pick(avoid?: ReadonlySet<string>): Lease;
  /** An active health check's verdict on an instance: a not-ready one gets no requests while another is in rotation. */
  setReady(instance: string, ready: boolean): void;
  /** For /metrics and tests: the instances in rotation right now. */
  healthy(): string[];
  onEvent(listener: (event: BalancerEvent) => void): void;
}

interface InstanceState {
  name: string;
  outstanding: number;
  failures: number;
  ejectedUntil: number;
  /** Outcomes of the last `requestVolume` requests, oldest first: true = failed. */
  recent: boolean[];
  /** False after an active health check failed it, until one passes. */
  ready: boolean;
}

export function createBalancer(instances: string[], options: BalancerOptions, now: () => number = () => performance.now()): Balancer {
  if (instances.length === 0) throw new Error('a balancer needs at least one instance');
  const states: InstanceState[] = instances.map((name) => ({ name, outstanding: 0, failures: 0, ejectedUntil: 0, recent: [] as boolean[], ready: true }));
  const listeners: Array<(event: BalancerEvent) => void> = [];
  const emit = (event: BalancerEvent) => listeners.forEach((listener) => listener(event));
  let cursor = 0;
  const volume = options.failurePercentage !== undefined ? (options.requestVolume ?? 10) : 0;

  const inRotation = (at: number): InstanceState[] => {
    for (const state of states) {
      if (state.ejectedUntil !== 0 && state.ejectedUntil <= at) {
        state.ejectedUntil = 0;
        state.failures = 0;
        state.recent = [];
        emit({ instance: state.name, event: 'readmitted' });
      }
    }
    const healthy = states.filter((state) => state.ejectedUntil === 0 && state.ready);
    if (healthy.length > 0) return healthy;
    // Nothing healthy: rather a ready instance that was ejected than one that said it cannot serve.
    const ready = states.filter((state) => state.ready);
    return ready.length > 0 ? ready : states;
  };

  return {
    pick(avoid) {
      const rotation = inRotation(now());
      const fresh = avoid?.size ? rotation.filter((state) => !avoid.has(state.name)) : rotation;
      const candidates = fresh.length > 0 ? fresh : rotation;
      let chosen: InstanceState;
      if (options.strategy === 'round-robin') {
        chosen = candidates[cursor % candidates.length] as InstanceState;
        cursor = (cursor + 1) % Number.MAX_SAFE_INTEGER;
      } else {
        // Fewest requests in flight; ties broken in turn so load still spreads.
        const offset = cursor++ % candidates.length;
        chosen = candidates[offset] as InstanceState;
        for (let i = 1; i < candidates.length; i += 1) {
          const candidate = candidates[(offset + i) % candidates.length] as InstanceState;
          if (candidate.outstanding < chosen.outstanding) chosen = candidate;
        }
      }
      chosen.outstanding += 1;
      let settled = false;
      return {
        instance: chosen.name,
        done(ok) {
          if (settled) return;
          settled = true;
          chosen.outstanding -= 1;
          if (options.ejection === false) return;
          if (volume > 0) {
            chosen.recent.push(!ok);
            if (chosen.recent.length > volume) chosen.recent.shift();
          }
          if (ok) {
            chosen.failures = 0;
            return;
          }
          chosen.failures += 1;
          const others = states.filter((state) => state !== chosen && state.ejectedUntil === 0).length;
          const failedShare = chosen.recent.length >= volume && volume > 0 ? (chosen.recent.filter(Boolean).length * 100) / chosen.recent.length : 0;
          const outlier = chosen.failures >= options.consecutiveFailures || (options.failurePercentage !== undefined && failedShare >= options.failurePercentage);
          if (outlier && chosen.ejectedUntil === 0 && others > 0) {
            chosen.ejectedUntil = now() + options.ejectionMs;
            emit({ instance: chosen.name, event: 'ejected' });
          }
        },
      };
    },
    setReady(instance, ready) {
      const state = states.find((candidate) => candidate.name === instance);
      if (!state || state.ready === ready) return;
      state.ready = ready;
      emit({ instance, event: ready ? 'ready' : 'unready' });
    },
    healthy: () => inRotation(now()).map((state) => state.name),
    onEvent: (listener) => void listeners.push(listener),
  };
}
