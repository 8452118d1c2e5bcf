// The live line a person watches during a run: elapsed time, phase, achieved
// rate, latency percentiles of the last second, error share, breaker state,
// active faults, and how busy the machine is (CPU pressure, the slowest lab
// process's event-loop delay), so a slow second is seen to be the machine's. Redrawn in place on a terminal, one line every 5 s otherwise
// (CI logs).

import type { TimeSeriesPoint } from '../load/recorder.ts';
import type { PressureSample } from './pressure.ts';

export interface ProgressFrame {
  elapsedMs: number;
  totalMs: number;
  phase: string;
  last: TimeSeriesPoint | undefined;
  inFlight: number;
  dropped: number;
  /** The watched breaker's state, `off` when the scenario runs without it, `-` when none is watched. */
  circuit: string;
  faults: string[];
  pressure?: PressureSample | undefined;
}

/** CPU pressure (or run queue) and the worst lab event-loop delay of the last second. */
export function renderPressure(sample: PressureSample | undefined): string {
  if (!sample) return 'cpu -';
  const cpu = sample.cpuSome !== undefined ? `cpu ${(sample.cpuSome * 100).toFixed(0)}%` : `runq ${sample.runQueuePerCore.toFixed(1)}/core`;
  return sample.labLoopP99Ms !== undefined ? `${cpu} loop ${sample.labLoopP99Ms.toFixed(0)}ms` : cpu;
}

export function renderProgress(frame: ProgressFrame): string {
  const last = frame.last;
  const done = last ? last.ok + last.failed : 0;
  const errors = done ? `${((100 * (last?.failed ?? 0)) / done).toFixed(0)}%` : '-';
  return [
    `${(frame.elapsedMs / 1_000).toFixed(0).padStart(3)}s/${(frame.totalMs / 1_000).toFixed(0)}s`,
    `${frame.phase.padEnd(9)}`,
    `rate ${String(done).padStart(3)}/s`,
    `p50 ${fmt(last?.p50)} p95 ${fmt(last?.p95)} p99 ${fmt(last?.p99)}`,
    `errors ${errors.padStart(4)}`,
    `in-flight ${frame.inFlight}`,
    `dropped ${frame.dropped}`,
    `breaker ${frame.circuit}`,
    frame.faults.length ? `faults: ${frame.faults.join(',')}` : 'no faults',
    renderPressure(frame.pressure),
  ].join(' | ');
}

function fmt(ms: number | undefined): string {
  if (ms === undefined || ms === 0) return '    -';
  return ms < 1_000 ? `${ms.toFixed(0)}ms`.padStart(5) : `${(ms / 1_000).toFixed(1)}s`.padStart(5);
}

export interface ProgressPrinter {
  update(frame: ProgressFrame): void;
  finish(): void;
}

export function createProgressPrinter(stream: NodeJS.WriteStream | undefined): ProgressPrinter {
  if (!stream) return { update: () => undefined, finish: () => undefined };
  const tty = stream.isTTY === true;
  let lastPrinted = -Infinity;
  return {
    update(frame) {
      const text = renderProgress(frame);
      if (tty) {
        stream.write(`\r\x1b[2K${text.slice(0, (stream.columns ?? 200) - 1)}`);
      } else if (frame.elapsedMs - lastPrinted >= 5_000) {
        stream.write(`${text}\n`);
        lastPrinted = frame.elapsedMs;
      }
    },
    finish() {
      if (tty) stream.write('\n');
    },
  };
}
