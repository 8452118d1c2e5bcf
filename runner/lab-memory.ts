// The memory limit on a running lab (runner/memory-limit.ts holds the logic):
// every lab process sampled, each instance of a service with
// `services.<name>.memoryLimit` on killed over it and started again. What it
// does is seen where the lab's other process faults are seen: the run's
// process events (`oom-killed`, `restarted` with reason `oom`), faults.jsonl
// (an `oom-kill` window from the kill until the instance is back), the fault
// proxy's chaos_fault_active marker for the same window, and
// lab_process_restarts_total{target,reason="oom"} beside the load generator's
// metrics (the runner's own registry, scraped as job loadgen).

import { appendFile } from 'node:fs/promises';
import type client from 'prom-client';
import { createChaosClient } from '../chaos/admin-client.ts';
import { LABEL } from '../demo-services/kit/conventions.ts';
import type { FaultRecord } from './fault-timeline.ts';
import type { Lab } from './lab.ts';
import { createMemoryWatch, formatMiB, memoryReport, type MemoryLimitPolicy, type MemoryReport, type MemorySample, type MemoryWatch } from './memory-limit.ts';
import type { ProcessEventLog } from './process-events.ts';
import { processRestartsCounter } from './crash-restart.ts';
import type { Scenario } from './scenario.ts';
import { instanceNames } from './topology.ts';

/** The memory limit of each instance a scenario limits: `services.<service>.memoryLimit` for every instance of the service. */
export function memoryLimits(scenario: Pick<Scenario, 'services'>): Map<string, MemoryLimitPolicy> {
  const limits = new Map<string, MemoryLimitPolicy>();
  for (const [service, settings] of Object.entries(scenario.services)) {
    const policy = settings.memoryLimit;
    if (policy) for (const instance of instanceNames(service)) limits.set(instance, policy);
  }
  return limits;
}

export interface LabMemoryWatch {
  stop(): Promise<void>;
  samples(): MemorySample[];
  report(): MemoryReport;
}

export interface LabMemoryOptions {
  lab: Pick<Lab, 'processes' | 'chaosAdminUrl'>;
  scenario: Pick<Scenario, 'services'>;
  processEvents: Pick<ProcessEventLog, 'note' | 'restartFor'>;
  /** The run's faults.jsonl, and the run's start for its offsets (known once the load starts). */
  faultsLog?: string;
  startedAt: () => number;
  /** Where lab_process_restarts_total is registered (the load generator's registry, served for Prometheus). */
  registry?: client.Registry;
  /** Lines for the person watching (the progress output). */
  say?: (line: string) => void;
  /** A fake watch for tests; createMemoryWatch otherwise. */
  create?: typeof createMemoryWatch;
}

export function watchLabMemory(options: LabMemoryOptions): LabMemoryWatch {
  const limits = memoryLimits(options.scenario);
  const limitOf = (instance: string) => limits.get(instance);
  const chaos = createChaosClient(options.lab.chaosAdminUrl);
  // Shared with the crash restarts (crash-restart.ts): one counter, by reason.
  const restarts = options.registry ? processRestartsCounter(options.registry) : undefined;
  const markerName = (instance: string) => `${instance}-oom-kill`;
  const record = async (action: FaultRecord['action'], instance: string, error?: string): Promise<void> => {
    if (!options.faultsLog) return;
    const now = Date.now();
    const line: FaultRecord = { time: new Date(now).toISOString(), offsetMs: now - options.startedAt(), action, fault: markerName(instance), type: 'oom-kill', target: instance, ok: error === undefined, ...(error ? { error } : {}) };
    await appendFile(options.faultsLog, `${JSON.stringify(line)}\n`).catch(() => undefined);
  };
  // Marks are best effort: the kill and the restart do not wait on the fault proxy's answer.
  const quietly = (promise: Promise<unknown>) => void promise.catch(() => undefined);

  const watch: MemoryWatch = (options.create ?? createMemoryWatch)({
    processes: () => options.lab.processes().map(({ name, pid }) => ({ name, pid })),
    limitOf,
    async kill(instance) {
      const managed = options.lab.processes().find((p) => p.name === instance);
      if (!managed) return;
      const { child } = managed;
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      // A paused process dies of SIGKILL as well: no SIGCONT needed.
      child.kill('SIGKILL');
      await exited;
    },
    restart: (instance) => options.processEvents.restartFor(instance, 'oom'),
    onEvent(event) {
      switch (event.kind) {
        case 'oom-killed':
          options.processEvents.note({ instance: event.instance, event: 'oom-killed', rssBytes: event.rssBytes, limitBytes: event.limitBytes, signal: 'SIGKILL' });
          quietly(record('apply', event.instance));
          quietly(chaos.addMarker({ name: markerName(event.instance), target: event.instance }));
          options.say?.(`memory limit: ${event.instance} at ${formatMiB(event.rssBytes)} resident, over its ${formatMiB(event.limitBytes)} limit: killed (SIGKILL)`);
          break;
        case 'restarted':
          restarts?.inc({ [LABEL.target]: event.instance, [LABEL.reason]: 'oom' });
          quietly(record('remove', event.instance));
          quietly(chaos.removeMarker(markerName(event.instance)));
          options.say?.(`memory limit: ${event.instance} started again (restart ${event.restarts}${event.delayMs ? ` after ${event.delayMs} ms of backoff` : ''})`);
          break;
        case 'restart-failed':
          quietly(record('remove', event.instance, event.error));
          options.say?.(`memory limit: ${event.instance} could not be started again: ${event.error}`);
          break;
        case 'gave-up':
          options.processEvents.note({ instance: event.instance, event: 'gave-up', reason: 'oom' });
          options.say?.(`memory limit: ${event.instance} left down after ${event.restarts} restarts`);
          break;
      }
    },
  });
  // The shortest interval any limit asks for; every process is sampled, limited or not, for `memory` expectations.
  const interval = Math.min(250, ...[...limits.values()].filter((p) => p.enabled).map((p) => p.interval));
  watch.tick();
  watch.start(interval);
  return {
    stop: () => watch.stop(),
    samples: () => watch.samples(),
    report: () => memoryReport(watch, limitOf),
  };
}
