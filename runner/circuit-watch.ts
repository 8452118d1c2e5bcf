// Live breaker state for the progress line: scrapes a service's /metrics
// every half second. (The verdict reads exact transition times from traces.)

import { METRIC } from '../demo-services/kit/conventions.ts';
import type { CircuitState } from '../demo-services/kit/conventions.ts';
import { parseSamples } from './prom-text.ts';

export interface CircuitWatch {
  state(): CircuitState | 'unknown';
  stop(): void;
}

export function watchCircuit(serviceUrl: string, dependency: string, intervalMs = 500): CircuitWatch {
  let current: CircuitState | 'unknown' = 'unknown';
  const poll = async () => {
    try {
      const response = await fetch(`${serviceUrl}/metrics`, { signal: AbortSignal.timeout(intervalMs) });
      const samples = parseSamples(await response.text());
      const active = samples.find(
        (sample) => sample.name === METRIC.resilienceCircuitState && sample.labels.dependency === dependency && sample.value === 1,
      );
      current = (active?.labels.state as CircuitState | undefined) ?? 'unknown';
    } catch {
      current = 'unknown';
    }
  };
  const timer = setInterval(() => void poll(), intervalMs);
  void poll();
  return {
    state: () => current,
    stop: () => clearInterval(timer),
  };
}
