// Client-side load balancing over a service's replicas: round robin or least
// outstanding requests, with passive health checks (outlier ejection as in
// Envoy): an instance that fails `consecutiveFailures` times in a row is
// ejected for `ejectionMs`, then re-admitted and judged again. At least one
// instance always stays in rotation, so a total outage is seen, not hidden.
// Pure, on an injected clock.

export type BalancingStrategy = 'round-robin' | 'least-outstanding';

export interface BalancerOptions {
  strategy: BalancingStrategy;
  consecutiveFailures: number;
  ejectionMs: number;
}

export interface BalancerEvent {
  instance: string;
  event: 'ejected' | 'readmitted';
}

export interface Lease {
  instance: string;
  /** Report the outcome once: ok = the instance answered (any status below 500). */
  done(ok: boolean): void;
}

export interface Balancer {
  pick(): Lease;
  /** For /metrics and tests: the instances in rotation right now. */
  healthy(): string[];
  onEvent(listener: (event: BalancerEvent) => void): void;
}

interface InstanceState {
  name: string;
  outstanding: number;
  failures: number;
  ejectedUntil: number;
}

export function createBalancer(instances: string[], options: BalancerOptions, now: () => number = () => performance.now()): Balancer {
  if (instances.length === 0) throw new Error('a balancer needs at least one instance');
  const states: InstanceState[] = instances.map((name) => ({ name, outstanding: 0, failures: 0, ejectedUntil: 0 }));
  const listeners: Array<(event: BalancerEvent) => void> = [];
  const emit = (event: BalancerEvent) => listeners.forEach((listener) => listener(event));
  let cursor = 0;

  const inRotation = (at: number): InstanceState[] => {
    for (const state of states) {
      if (state.ejectedUntil !== 0 && state.ejectedUntil <= at) {
        state.ejectedUntil = 0;
        state.failures = 0;
        emit({ instance: state.name, event: 'readmitted' });
      }
    }
    const healthy = states.filter((state) => state.ejectedUntil === 0);
    return healthy.length > 0 ? healthy : states;
  };

  return {
    pick() {
      const candidates = inRotation(now());
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
          if (ok) {
            chosen.failures = 0;
            return;
          }
          chosen.failures += 1;
          const others = states.filter((state) => state !== chosen && state.ejectedUntil === 0).length;
          if (chosen.failures >= options.consecutiveFailures && chosen.ejectedUntil === 0 && others > 0) {
            chosen.ejectedUntil = now() + options.ejectionMs;
            emit({ instance: chosen.name, event: 'ejected' });
          }
        },
      };
    },
    healthy: () => inRotation(now()).map((state) => state.name),
    onEvent: (listener) => void listeners.push(listener),
  };
}
