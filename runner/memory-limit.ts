// A memory cap per service, as a container runtime enforces one: the
// supervisor samples each lab process's resident memory (VmRSS from
// /proc/<pid>/status) every ~250 ms, and an instance over its service's limit
// is killed with SIGKILL, as the kernel's OOM killer kills a container over its
// cgroup's memory.max, then started again by the restart policy: at once the
// first time, then after a backoff that doubles up to a ceiling (Kubernetes'
// CrashLoopBackOff), and not at all after `maxRestarts` restarts in one run
// (systemd's StartLimitBurst; Kubernetes would go on backing off at 5 minutes).
//
// The watch also keeps every sample, limited or not, so a scenario can judge
// the most memory an instance held (`type: memory` expectations): a size, not
// a time.
//
// The scenario switch is `memoryLimit` (`services.payment.memoryLimit:
// { enabled: true, limit: 160MiB }`); the logic here is pure (a sampler, a
// clock, kill and restart are given), and watchLabMemory wires it to a lab.

import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { durationMs } from '../demo-services/kit/schema.ts';

const KIB = 1024;
const UNITS: Readonly<Record<string, number>> = {
  B: 1,
  KiB: KIB,
  MiB: KIB ** 2,
  GiB: KIB ** 3,
  // Kubernetes' spelling of the same binary units (resources.limits.memory: 160Mi).
  Ki: KIB,
  Mi: KIB ** 2,
  Gi: KIB ** 3,
};

/** `'160MiB'` (or Kubernetes' `'160Mi'`, `'1.5GiB'`, `'512KiB'`, `'4096B'`) to bytes; anything else is an error saying how to write it. */
export function parseByteSize(value: unknown): number {
  if (typeof value === 'number') throw new Error(`${value} has no unit: write '${value}MiB' (units: B, KiB, MiB, GiB)`);
  if (typeof value !== 'string') throw new Error(`expected a size such as '160MiB', got ${value === null ? 'null' : typeof value}`);
  const match = /^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]+)\s*$/.exec(value);
  const factor = match ? UNITS[match[2] as string] : undefined;
  if (!match || factor === undefined) throw new Error(`'${value}' is not a size: write a number and a binary unit, such as '160MiB' (units: B, KiB, MiB, GiB)`);
  const bytes = Math.round(Number(match[1]) * factor);
  if (bytes <= 0) throw new Error(`'${value}' must be more than 0 bytes`);
  return bytes;
}

/** A size in a scenario, parsed to bytes; a bad one is an issue at its path. */
export const byteSize = z.unknown().transform((value, ctx) => {
  try {
    return parseByteSize(value);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
    return z.NEVER;
  }
});

/** Bytes as MiB for tables and logs. */
export function formatMiB(bytes: number): string {
  return `${(bytes / KIB ** 2).toFixed(bytes < 10 * KIB ** 2 ? 1 : 0)}MiB`;
}

/** `services.<name>.memoryLimit`: the cap of each instance of the service, and what the supervisor does when one goes over it. */
export const memoryLimitSchema = z.strictObject({
  enabled: z.boolean().default(true),
  /** Resident memory (RSS) an instance may hold, like a container's resources.limits.memory. */
  limit: byteSize,
  /** How often each process is sampled. */
  interval: durationMs.refine((ms) => ms >= 50 && ms <= 5_000, 'must be from 50ms to 5s').default(250),
  restart: z
    .strictObject({
      /** Restarts after an OOM kill within one run; after that the instance stays down. */
      maxRestarts: z.int().min(0).max(100).default(5),
      /** Wait before the second restart, doubled before each further one (the first is at once). */
      backoff: durationMs.default(1_000),
      maxBackoff: durationMs.default(30_000),
    })
    .prefault({}),
});
export type MemoryLimitPolicy = z.output<typeof memoryLimitSchema>;

/** How long to wait before restart number `n` (1-based): none for the first, then backoff, 2 x backoff, ... up to maxBackoff. */
export function restartDelayMs(n: number, restart: MemoryLimitPolicy['restart']): number {
  if (n <= 1) return 0;
  return Math.min(restart.maxBackoff, restart.backoff * 2 ** (n - 2));
}

/** Resident memory of a process in bytes (VmRSS of /proc/<pid>/status); undefined when it cannot be read (gone, or no /proc). */
export function readRss(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * KIB : undefined;
  } catch {
    return undefined;
  }
}

export interface MemorySample {
  timeMs: number;
  instance: string;
  rssBytes: number;
}

export type MemoryEvent =
  | { kind: 'oom-killed'; timeMs: number; instance: string; rssBytes: number; limitBytes: number; kills: number }
  | { kind: 'restarted'; timeMs: number; instance: string; restarts: number; delayMs: number }
  | { kind: 'restart-failed'; timeMs: number; instance: string; error: string }
  /** Over maxRestarts: the instance stays down (CrashLoopBackOff given up). */
  | { kind: 'gave-up'; timeMs: number; instance: string; restarts: number };

export interface MemoryWatchOptions {
  /** The processes running now. */
  processes: () => ReadonlyArray<{ name: string; pid: number }>;
  /** The limit of an instance, or undefined: it is sampled, never killed. */
  limitOf: (instance: string) => MemoryLimitPolicy | undefined;
  /** Resident bytes of a pid; readRss unless a test gives one. */
  sample?: (pid: number) => number | undefined;
  now?: () => number;
  /** SIGKILL, resolved once the process has exited. */
  kill: (instance: string) => Promise<void>;
  /** Start the instance again; resolved once it is ready. */
  restart: (instance: string) => Promise<void>;
  /** Waits out a backoff; cut short by stop(). */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  onEvent?: (event: MemoryEvent) => void;
}

export interface MemoryWatch {
  /** One round: sample every process, and act on those over their limit. */
  tick(): void;
  /** Sample every `intervalMs` until stop(). */
  start(intervalMs: number): void;
  /** Stop sampling, cancel backoffs, and wait for a kill or restart under way. */
  stop(): Promise<void>;
  samples(): MemorySample[];
  events(): MemoryEvent[];
}

const abortableSleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal.aborted || ms <= 0) {
      resolve();
      return;
    }
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });

export function createMemoryWatch(options: MemoryWatchOptions): MemoryWatch {
  const sample = options.sample ?? readRss;
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? abortableSleep;
  const samples: MemorySample[] = [];
  const events: MemoryEvent[] = [];
  /** Instances being killed or restarted: not sampled, not killed twice. */
  const handling = new Map<string, Promise<void>>();
  const kills = new Map<string, number>();
  const restarts = new Map<string, number>();
  const stopping = new AbortController();
  let timer: ReturnType<typeof setInterval> | undefined;

  const emit = (event: MemoryEvent): void => {
    events.push(event);
    options.onEvent?.(event);
  };

  const oomKill = async (instance: string, rssBytes: number, policy: MemoryLimitPolicy): Promise<void> => {
    const killed = (kills.get(instance) ?? 0) + 1;
    kills.set(instance, killed);
    emit({ kind: 'oom-killed', timeMs: now(), instance, rssBytes, limitBytes: policy.limit, kills: killed });
    await options.kill(instance);
    const n = (restarts.get(instance) ?? 0) + 1;
    if (n > policy.restart.maxRestarts) {
      emit({ kind: 'gave-up', timeMs: now(), instance, restarts: n - 1 });
      return;
    }
    const delayMs = restartDelayMs(n, policy.restart);
    await sleep(delayMs, stopping.signal);
    if (stopping.signal.aborted) return;
    restarts.set(instance, n);
    try {
      await options.restart(instance);
      emit({ kind: 'restarted', timeMs: now(), instance, restarts: n, delayMs });
    } catch (error) {
      emit({ kind: 'restart-failed', timeMs: now(), instance, error: (error as Error).message });
    }
  };

  const tick = (): void => {
    if (stopping.signal.aborted) return;
    for (const { name, pid } of options.processes()) {
      if (handling.has(name)) continue;
      const rssBytes = sample(pid);
      if (rssBytes === undefined) continue;
      const timeMs = now();
      samples.push({ timeMs, instance: name, rssBytes });
      const policy = options.limitOf(name);
      if (!policy?.enabled || rssBytes <= policy.limit) continue;
      const handled = oomKill(name, rssBytes, policy)
        .catch((error: unknown) => emit({ kind: 'restart-failed', timeMs: now(), instance: name, error: (error as Error).message }))
        .finally(() => handling.delete(name));
      handling.set(name, handled);
    }
  };

  return {
    tick,
    start(intervalMs) {
      if (timer) return;
      timer = setInterval(tick, intervalMs);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      stopping.abort();
      await Promise.all(handling.values());
    },
    samples: () => [...samples],
    events: () => [...events],
  };
}

/** The most memory an instance held in [fromMs, toMs), from the samples; undefined when it was never sampled there. */
export function peakRss(samples: readonly MemorySample[], instance: string, range?: { fromMs: number; toMs: number }): { bytes: number; count: number } | undefined {
  let bytes = -1;
  let count = 0;
  for (const s of samples) {
    if (s.instance !== instance || (range && (s.timeMs < range.fromMs || s.timeMs >= range.toMs))) continue;
    count += 1;
    bytes = Math.max(bytes, s.rssBytes);
  }
  return count === 0 ? undefined : { bytes, count };
}

/** Per instance: the most it held, its limit, and its OOM kills and restarts (summary.json `memory`). */
export interface MemoryReport {
  /** Whether this machine could sample resident memory at all (/proc). */
  measured: boolean;
  instances: Record<string, { peakBytes: number; limitBytes?: number; oomKills: number; restarts: number }>;
}

export function memoryReport(watch: Pick<MemoryWatch, 'samples' | 'events'>, limitOf: (instance: string) => MemoryLimitPolicy | undefined): MemoryReport {
  const samples = watch.samples();
  const events = watch.events();
  const instances: MemoryReport['instances'] = {};
  for (const instance of [...new Set(samples.map((s) => s.instance))].sort()) {
    const policy = limitOf(instance);
    instances[instance] = {
      peakBytes: peakRss(samples, instance)?.bytes ?? 0,
      ...(policy?.enabled ? { limitBytes: policy.limit } : {}),
      oomKills: events.filter((e) => e.kind === 'oom-killed' && e.instance === instance).length,
      restarts: events.filter((e) => e.kind === 'restarted' && e.instance === instance).length,
    };
  }
  return { measured: samples.length > 0, instances };
}
