// The lab's restart policy for service instances that die by themselves, as
// Kubernetes' restartPolicy: Always does with CrashLoopBackOff: an instance
// that exits on its own (an exit code, such as a crash on a poison request;
// not a signal, which is the fault timeline's kill or the memory limit's, and
// restarted by them) is started again at once the first time, then after a
// backoff that doubles up to a ceiling. A crash loop so pays ever longer
// outages, as it does in a cluster.
//
// What it does is seen where the lab's other process events are: an `exited`
// process event (process-events.ts), a `restarted` one with reason `crash`,
// a `crash` window in faults.jsonl from the exit until the instance is back,
// the fault proxy's chaos_fault_active marker for the same window, and
// lab_process_restarts_total{target,reason="crash"} on the runner's metrics.
//
// Faults that stand for bad data (DATA_FAULT_TYPES: a poison record) outlive
// the process: reapplyingDataFaults applies them again to the instance once
// it is back, as a restarted replica reads the same database.

import { appendFile } from 'node:fs/promises';
import client from 'prom-client';
import { createChaosClient } from '../chaos/admin-client.ts';
import { LAB_METRIC, LABEL } from '../demo-services/kit/conventions.ts';
import { DATA_FAULT_TYPES, type ProcessFaultType } from '../demo-services/kit/process-faults.ts';
import type { FaultRecord, FaultTarget } from './fault-timeline.ts';
import type { Lab } from './lab.ts';
import { restartDelayMs } from './memory-limit.ts';
import type { ProcessEventLog } from './process-events.ts';
import type { FaultSpec } from './scenario.ts';

/** The backoff of crash restarts: none before the first, then 1 s doubling to 16 s (Kubernetes: 10 s to 5 min; a lab run is short). */
export const CRASH_RESTART = { backoff: 1_000, maxBackoff: 16_000 } as const;

/** lab_process_restarts_total in a registry: the one already there (the memory limit's), or a new one. */
export function processRestartsCounter(registry: client.Registry): client.Counter<string> {
  const existing = registry.getSingleMetric(LAB_METRIC.processRestarts);
  if (existing) return existing as client.Counter<string>;
  return new client.Counter({
    name: LAB_METRIC.processRestarts,
    help: 'Lab processes the supervisor started again, by instance (target) and reason (oom: over its memory limit; crash: it exited by itself).',
    labelNames: [LABEL.target, LABEL.reason],
    registers: [registry],
  });
}

export type CrashEvent =
  | { kind: 'crashed'; instance: string; code: number; restarts: number; delayMs: number }
  | { kind: 'restarted'; instance: string; restarts: number; delayMs: number }
  | { kind: 'restart-failed'; instance: string; error: string };

export interface CrashRestartOptions {
  supervisor: Pick<Lab['supervisor'], 'onUnexpectedExit'>;
  /** Starts the instance again and notes a `restarted` process event with the reason. */
  processEvents: Pick<ProcessEventLog, 'restartFor'>;
  /** Once an instance is back: what must be applied to it again (data faults). */
  afterRestart?: (instance: string) => Promise<void>;
  /** Waits out a backoff; cut short by stop(). */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  onEvent?: (event: CrashEvent) => void;
}

export interface CrashRestarts {
  /** Cancel backoffs and wait for a restart under way (before the lab stops: no restart may race the stop). */
  stop(): Promise<void>;
  events(): CrashEvent[];
}

const abortableSleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal.aborted || ms <= 0) {
      resolve();
      return;
    }
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });

export function restartCrashedInstances(options: CrashRestartOptions): CrashRestarts {
  const sleep = options.sleep ?? abortableSleep;
  const stopping = new AbortController();
  const restarts = new Map<string, number>();
  const pending = new Set<Promise<void>>();
  const events: CrashEvent[] = [];
  const emit = (event: CrashEvent): void => {
    events.push(event);
    options.onEvent?.(event);
  };

  const restart = async (instance: string, code: number): Promise<void> => {
    let crashed = true;
    // A start that fails (too slow to become ready on a starved machine) is tried again, backing off further.
    while (!stopping.signal.aborted) {
      const n = (restarts.get(instance) ?? 0) + 1;
      restarts.set(instance, n);
      const delayMs = restartDelayMs(n, { ...CRASH_RESTART, maxRestarts: Number.MAX_SAFE_INTEGER });
      if (crashed) emit({ kind: 'crashed', instance, code, restarts: n, delayMs });
      crashed = false;
      await sleep(delayMs, stopping.signal);
      if (stopping.signal.aborted) return;
      try {
        await options.processEvents.restartFor(instance, 'crash');
      } catch (error) {
        emit({ kind: 'restart-failed', instance, error: (error as Error).message });
        continue;
      }
      emit({ kind: 'restarted', instance, restarts: n, delayMs });
      await options.afterRestart?.(instance).catch((error: unknown) => emit({ kind: 'restart-failed', instance, error: `started, but its data faults could not be applied again: ${(error as Error).message}` }));
      return;
    }
  };

  options.supervisor.onUnexpectedExit((instance, code, signal) => {
    // A signal is a kill someone meant (a fault, the memory limit), and they restart it.
    if (signal !== null || code === null || stopping.signal.aborted) return;
    const job = restart(instance, code).finally(() => pending.delete(job));
    pending.add(job);
  });

  return {
    async stop() {
      stopping.abort();
      await Promise.all(pending);
    },
    events: () => [...events],
  };
}

/** The crash restarts of a run, seen in faults.jsonl, the fault proxy's markers, the runner's metrics and the progress output. */
export function crashRestartRecorder(options: {
  chaosAdminUrl: string;
  faultsLog?: string;
  startedAt: () => number;
  registry?: client.Registry;
  say?: (line: string) => void;
}): (event: CrashEvent) => void {
  const chaos = createChaosClient(options.chaosAdminUrl);
  const restarts = options.registry ? processRestartsCounter(options.registry) : undefined;
  const markerName = (instance: string) => `${instance}-crash`;
  const record = async (action: FaultRecord['action'], instance: string, error?: string): Promise<void> => {
    if (!options.faultsLog) return;
    const now = Date.now();
    const line: FaultRecord = { time: new Date(now).toISOString(), offsetMs: now - options.startedAt(), action, fault: markerName(instance), type: 'crash', target: instance, ok: error === undefined, ...(error ? { error } : {}) };
    await appendFile(options.faultsLog, `${JSON.stringify(line)}\n`).catch(() => undefined);
  };
  // Best effort: a restart does not wait on the fault proxy or the disk.
  const quietly = (promise: Promise<unknown>) => void promise.catch(() => undefined);
  return (event) => {
    switch (event.kind) {
      case 'crashed':
        quietly(record('apply', event.instance));
        quietly(chaos.addMarker({ name: markerName(event.instance), target: event.instance }));
        options.say?.(`crash: ${event.instance} exited with code ${event.code}; restart ${event.restarts}${event.delayMs ? ` after ${event.delayMs} ms of backoff` : ' at once'}`);
        break;
      case 'restarted':
        restarts?.inc({ [LABEL.target]: event.instance, [LABEL.reason]: 'crash' });
        quietly(record('remove', event.instance));
        quietly(chaos.removeMarker(markerName(event.instance)));
        break;
      case 'restart-failed':
        // The window stays open: the instance is still down, and is tried again.
        options.say?.(`crash: ${event.instance} could not be started again: ${event.error}`);
        break;
    }
  };
}

/**
 * In-service faults, with those that stand for bad data (DATA_FAULT_TYPES) applied again to an
 * instance that was restarted while they were on. Removing one from an instance that is down
 * is no error: it went with the process, and it is not applied again.
 */
export function reapplyingDataFaults(target: FaultTarget, running: (instance: string) => boolean): FaultTarget & { reapply(instance: string): Promise<void> } {
  const active = new Map<string, FaultSpec>();
  const isData = (fault: FaultSpec): boolean => DATA_FAULT_TYPES.has(fault.type as ProcessFaultType) && 'target' in fault;
  const targetOf = (fault: FaultSpec): string => ('target' in fault ? fault.target : '');
  return {
    async apply(fault) {
      await target.apply(fault);
      if (isData(fault)) active.set(fault.name, fault);
    },
    async remove(fault) {
      active.delete(fault.name);
      try {
        await target.remove(fault);
      } catch (error) {
        if (!isData(fault) || running(targetOf(fault))) throw error;
      }
    },
    async reapply(instance) {
      for (const fault of active.values()) if (targetOf(fault) === instance) await target.apply(fault);
    },
  };
}
