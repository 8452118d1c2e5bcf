// The collector's own Prometheus metrics, in a registry of its own so that an
// embedded collector (in a test or the runner's process) never mixes its
// series with the host's. Names come from the shared conventions.
import { Counter, Registry } from 'prom-client';
import { LAB_METRIC, LABEL } from '../demo-services/kit/conventions.ts';

export type TelemetrySignal = 'traces';

export interface SignalCounters {
  received: Counter.Internal;
  dropped: Counter.Internal;
  exported: Counter.Internal;
}

export interface CollectorMetrics {
  registry: Registry;
  /** Counters bound to one signal's label, created at zero so they show before the first span. */
  forSignal(signal: TelemetrySignal): SignalCounters;
}

export function createCollectorMetrics(): CollectorMetrics {
  const registry = new Registry();
  const labelNames = [LABEL.signal] as const;
  const received = new Counter({
    name: LAB_METRIC.collectorReceived,
    help: 'Items (spans) received over OTLP, including those later dropped',
    labelNames,
    registers: [registry],
  });
  const dropped = new Counter({
    name: LAB_METRIC.collectorDropped,
    help: 'Items (spans) received but not kept: write queue full or write failed',
    labelNames,
    registers: [registry],
  });
  const exported = new Counter({
    name: LAB_METRIC.collectorExported,
    help: 'Items (spans) written to the run directory',
    labelNames,
    registers: [registry],
  });
  return {
    registry,
    forSignal(signal) {
      const labels = { [LABEL.signal]: signal };
      const counters = { received: received.labels(labels), dropped: dropped.labels(labels), exported: exported.labels(labels) };
      for (const counter of Object.values(counters)) counter.inc(0);
      return counters;
    },
  };
}
