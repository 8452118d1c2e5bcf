// The collector's own Prometheus metrics, in a registry of its own so that an
// embedded collector (in a test or the runner's process) never mixes its
// series with the host's. Names come from the shared conventions.
import { Counter, Registry } from 'prom-client';
import { LAB_METRIC, LABEL } from '../demo-services/kit/conventions.ts';
import type { TelemetrySignal } from './otlp-signals.ts';

export type { TelemetrySignal };

export interface SignalCounters {
  received: Counter.Internal;
  dropped: Counter.Internal;
  exported: Counter.Internal;
  forwarded: Counter.Internal;
  forwardFailed: Counter.Internal;
  /** Rotation (when the files are capped): what it deleted, and how often it ran. */
  discarded: Counter.Internal;
  discardedBytes: Counter.Internal;
  discardedFiles: Counter.Internal;
  rotations: Counter.Internal;
}

export interface CollectorMetrics {
  registry: Registry;
  /** Counters bound to one signal's label, created at zero so they show before the first item. */
  forSignal(signal: TelemetrySignal): SignalCounters;
}

export function createCollectorMetrics(): CollectorMetrics {
  const registry = new Registry();
  const labelNames = [LABEL.signal] as const;
  const counter = (name: string, help: string) => new Counter({ name, help, labelNames, registers: [registry] });
  const received = counter(LAB_METRIC.collectorReceived, 'Items (spans, data points, log records) received over OTLP, including those later dropped');
  const dropped = counter(LAB_METRIC.collectorDropped, 'Items received but not kept: write queue full or write failed');
  const exported = counter(LAB_METRIC.collectorExported, 'Items written to the run directory');
  const forwarded = counter(LAB_METRIC.collectorForwarded, 'Items the upstream OTLP endpoint accepted');
  const forwardFailed = counter(LAB_METRIC.collectorForwardFailed, 'Items the upstream OTLP endpoint did not take: refused, unreachable, timed out, or too many in flight');
  const discarded = counter(LAB_METRIC.collectorDiscarded, 'Items written and later deleted because their file was rotated past the cap (items written before the collector started are not counted)');
  const discardedBytes = counter(LAB_METRIC.collectorDiscardedBytes, 'Bytes of rotated files deleted to keep a signal under its cap');
  const discardedFiles = counter(LAB_METRIC.collectorDiscardedFiles, 'Rotated files deleted to keep a signal under its cap');
  const rotations = counter(LAB_METRIC.collectorRotations, 'Times a full file was rotated (traces.jsonl -> traces.1.jsonl)');
  return {
    registry,
    forSignal(signal) {
      const labels = { [LABEL.signal]: signal };
      const counters = {
        received: received.labels(labels),
        dropped: dropped.labels(labels),
        exported: exported.labels(labels),
        forwarded: forwarded.labels(labels),
        forwardFailed: forwardFailed.labels(labels),
        discarded: discarded.labels(labels),
        discardedBytes: discardedBytes.labels(labels),
        discardedFiles: discardedFiles.labels(labels),
        rotations: rotations.labels(labels),
      };
      for (const each of Object.values(counters)) each.inc(0);
      return counters;
    },
  };
}
