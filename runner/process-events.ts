// What happened to the lab's processes during a run, for summary.json and the
// report's markers: exits the supervisor saw (a kill, a crash), the signals
// the fault timeline sent (kill, pause, resume) and restarts, stamped when the
// new process was ready; and what the memory limit did (runner/memory-limit.ts):
// an instance OOM-killed over its limit, restarted for that reason, or left down
// after too many restarts. Fault windows say what was planned and applied; these
// say what the processes did.

import type { Lab } from './lab.ts';

/** Why the lab started a process again on its own: the memory limit killed it, or it crashed. */
export type RestartReason = 'oom' | 'crash';

export type ProcessEventKind = 'killed' | 'paused' | 'resumed' | 'exited' | 'restarted' | 'oom-killed' | 'gave-up';

export interface ProcessEvent {
  /** Epoch ms. */
  timeMs: number;
  instance: string;
  event: ProcessEventKind;
  /** For `exited`: as the supervisor saw it. */
  code?: number | null;
  signal?: string | null;
  /** For `restarted`: the new process, and how long from the restart's start until it was ready. */
  pid?: number;
  tookMs?: number;
  /** For `oom-killed`: the resident memory sampled over the limit, and the limit. */
  rssBytes?: number;
  limitBytes?: number;
  /** For `restarted` and `gave-up`: why (`oom`: the memory limit killed it; `crash`: it exited by itself, crash-restart.ts); absent for a fault's restart. */
  reason?: RestartReason;
}

type LabProcesses = Pick<Lab, 'signalInstance' | 'restartInstance' | 'processes'> & { supervisor: Pick<Lab['supervisor'], 'onUnexpectedExit'> };

export interface ProcessEventLog {
  /** The lab's process controls, noting each signal and restart (give this to processFaultTarget). */
  lab: Pick<Lab, 'signalInstance' | 'restartInstance'>;
  /** An event the lab's own machinery caused (the memory limit's OOM kill), stamped now. */
  note(event: Omit<ProcessEvent, 'timeMs'>): void;
  /** A restart for a reason (`oom`), noted like a fault's restart. */
  restartFor(instance: string, reason: RestartReason): Promise<void>;
  events(): ProcessEvent[];
}

const BY_SIGNAL = { SIGKILL: 'killed', SIGSTOP: 'paused', SIGCONT: 'resumed' } as const;

export function recordProcessEvents(lab: LabProcesses, now: () => number = Date.now): ProcessEventLog {
  const events: ProcessEvent[] = [];
  lab.supervisor.onUnexpectedExit((instance, code, signal) => events.push({ timeMs: now(), instance, event: 'exited', code, signal }));
  const restart = async (instance: string, reason?: RestartReason): Promise<void> => {
    const began = now();
    await lab.restartInstance(instance);
    const pid = lab.processes().find((p) => p.name === instance)?.pid;
    events.push({ timeMs: now(), instance, event: 'restarted', ...(pid === undefined ? {} : { pid }), tookMs: now() - began, ...(reason ? { reason } : {}) });
  };
  return {
    lab: {
      signalInstance(instance, signal) {
        lab.signalInstance(instance, signal);
        events.push({ timeMs: now(), instance, event: BY_SIGNAL[signal] });
      },
      restartInstance: (instance) => restart(instance),
    },
    note: (event) => events.push({ timeMs: now(), ...event }),
    restartFor: restart,
    events: () => [...events].sort((a, b) => a.timeMs - b.timeMs),
  };
}
