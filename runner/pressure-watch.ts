// The run's pressure watch: once a second it reads how busy the machine is
// (/proc/pressure/cpu where the kernel has PSI, the run queue from /proc/stat
// everywhere, and each CPU's steal: time a virtual machine's host ran other
// guests instead), the runner's own event-loop delay (the load generator lives in
// this process), and the event-loop delay every lab process reports on its
// /metrics. The load generator's lag against its schedule is recorded per
// iteration by `recordLag`. pressure.ts turns it all into per-phase figures.

import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { RUNTIME_METRIC } from '../demo-services/kit/conventions.ts';
import { parseSamples } from './prom-text.ts';
import type { PressureSample } from './pressure.ts';

export interface PressureWatchOptions {
  /** Lab processes to poll: name and host:port of their /metrics. */
  targets: ReadonlyArray<{ name: string; address: string }>;
  /** Processes left out of the event-loop figure while they are a fault's own target (a paused bank's delay is the fault, not pressure). */
  excluded?: (name: string, atMs: number) => boolean;
  intervalMs?: number;
  /** For tests: where to read PSI and /proc/stat. */
  procRoot?: string;
}

export interface PressureWatch {
  /** An iteration started `lagMs` after its intended start. */
  recordLag(intendedStartMs: number, lagMs: number): void;
  samples(): readonly PressureSample[];
  lags(): ReadonlyArray<readonly [number, number]>;
  /** The newest sample, for the progress line. */
  latest(): PressureSample | undefined;
  stop(): void;
}

/** Lags kept at most (a long run at a high rate): beyond it, every other one is kept. */
const MAX_LAGS = 1_000_000;

/** Cumulative microseconds some task waited for a CPU, or undefined without PSI. */
export function readCpuSomeTotalUs(procRoot = '/proc'): number | undefined {
  try {
    const text = readFileSync(`${procRoot}/pressure/cpu`, 'utf8');
    const match = /^some .*total=(\d+)/m.exec(text);
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Runnable tasks right now (procs_running), or undefined where /proc/stat is absent. */
export function readRunnable(procRoot = '/proc'): number | undefined {
  try {
    const match = /^procs_running (\d+)/m.exec(readFileSync(`${procRoot}/stat`, 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Each CPU's steal so far, in ms (/proc/stat's eighth column, in USER_HZ ticks: 100 a second on
 * every Linux build Node runs on), or undefined where /proc/stat is absent or has no such column.
 */
export function readStealMs(procRoot = '/proc'): number[] | undefined {
  try {
    const lines = readFileSync(`${procRoot}/stat`, 'utf8').split('\n').filter((line) => /^cpu\d+ /.test(line));
    const steal = lines.map((line) => Number(line.trim().split(/\s+/)[8]) * 10);
    return steal.length > 0 && steal.every(Number.isFinite) ? steal : undefined;
  } catch {
    return undefined;
  }
}

export function startPressureWatch(options: PressureWatchOptions): PressureWatch {
  const intervalMs = options.intervalMs ?? 1_000;
  const procRoot = options.procRoot ?? '/proc';
  const cores = availableParallelism();
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const samples: PressureSample[] = [];
  let lags: Array<readonly [number, number]> = [];
  let keepEvery = 1;
  let lagCount = 0;
  let lastPsi = readCpuSomeTotalUs(procRoot);
  let lastSteal = readStealMs(procRoot);
  let lastAt = performance.now();
  const labLoop = new Map<string, number>();
  let polling = false;

  const poll = async (): Promise<void> => {
    if (polling) return;
    polling = true;
    const now = Date.now();
    try {
      await Promise.all(
        options.targets.map(async (target) => {
          if (options.excluded?.(target.name, now)) {
            labLoop.delete(target.name);
            return;
          }
          try {
            const response = await fetch(`http://${target.address}/metrics`, { signal: AbortSignal.timeout(intervalMs) });
            const text = await response.text();
            const p99 = parseSamples(text).find((sample) => sample.name === RUNTIME_METRIC.eventLoopLagP99);
            if (p99 !== undefined && Number.isFinite(p99.value)) labLoop.set(target.name, p99.value * 1_000);
          } catch {
            // A process that does not answer within the interval is either paused by a fault or stopped: no figure, not a guess.
            labLoop.delete(target.name);
          }
        }),
      );
    } finally {
      polling = false;
    }
  };

  const sample = (): void => {
    const at = performance.now();
    const psi = readCpuSomeTotalUs(procRoot);
    const elapsedUs = (at - lastAt) * 1_000;
    const runnable = readRunnable(procRoot);
    const steal = readStealMs(procRoot);
    const stolen = steal && lastSteal && steal.length === lastSteal.length ? Math.max(...steal.map((ms, cpu) => ms - (lastSteal as number[])[cpu]!)) : undefined;
    let worst: [string, number] | undefined;
    for (const [name, ms] of labLoop) if (!options.excluded?.(name, Date.now()) && (worst === undefined || ms > worst[1])) worst = [name, ms];
    const next: PressureSample = {
      atMs: Date.now(),
      // This process is one of the runnable tasks while it reads /proc/stat.
      runQueuePerCore: runnable === undefined ? 0 : Math.max(0, runnable - 1) / cores,
      runnerLoopP99Ms: loop.count > 0 ? loop.percentile(99) / 1e6 : 0,
      runnerLoopMaxMs: loop.count > 0 ? loop.max / 1e6 : 0,
      ...(psi !== undefined && lastPsi !== undefined && elapsedUs > 0 ? { cpuSome: Math.min(1, (psi - lastPsi) / elapsedUs) } : {}),
      ...(worst ? { labLoopP99Ms: worst[1], labLoopWorst: worst[0] } : {}),
      ...(stolen !== undefined ? { stealMs: Math.max(0, stolen) } : {}),
    };
    samples.push(next);
    loop.reset();
    lastPsi = psi;
    lastSteal = steal;
    lastAt = at;
    void poll();
  };

  const timer = setInterval(sample, intervalMs);
  timer.unref();
  void poll();
  return {
    recordLag(intendedStartMs, lagMs) {
      lagCount += 1;
      if (lagCount % keepEvery !== 0) return;
      lags.push([intendedStartMs, Math.max(0, lagMs)]);
      if (lags.length >= MAX_LAGS) {
        lags = lags.filter((_, i) => i % 2 === 0);
        keepEvery *= 2;
      }
    },
    samples: () => samples,
    lags: () => lags,
    latest: () => samples.at(-1),
    stop() {
      clearInterval(timer);
      loop.disable();
    },
  };
}
