// A scenario's faults as a timeline: each fault is applied at its start offset
// and removed at its end, every change written to faults.jsonl with its time.
// The schedule is built before traffic flows; the timeline only fires it.
// Whatever happens (end of run, error, Ctrl-C), `stop` removes every active fault.

import { appendFile } from 'node:fs/promises';
import type { FaultSpec, Scenario } from './scenario.ts';
import { isEdgeFault, phaseWindows } from './scenario.ts';

export interface FaultTarget {
  apply(fault: FaultSpec): Promise<void>;
  remove(fault: FaultSpec): Promise<void>;
}

export interface TimelineStep {
  atMs: number;
  action: 'apply' | 'remove';
  fault: FaultSpec;
}

/** What a fault acts on: an edge ('payment->bank'), an instance ('payment-1'), or two groups of services ('checkout<->inventory'). */
export function faultTarget(fault: FaultSpec): string {
  if (fault.type === 'partition') return `${fault.a.join(',')}<->${fault.b.join(',')}`;
  return isEdgeFault(fault) ? fault.edge : fault.target;
}

export interface FaultWindow {
  name: string;
  target: string;
  type: string;
  startMs: number;
  endMs: number;
}

/** When each fault is active, as offsets from the run start. */
export function faultWindows(scenario: Pick<Scenario, 'phases' | 'faults'>): FaultWindow[] {
  const phases = phaseWindows(scenario);
  return scenario.faults.map((fault) => {
    const phase = fault.phase !== undefined ? phases.find((p) => p.name === fault.phase) : undefined;
    const startMs = phase ? phase.startMs : (fault.at ?? 0);
    const endMs = phase ? phase.endMs : startMs + (fault.duration ?? 0);
    return { name: fault.name, target: faultTarget(fault), type: fault.type, startMs, endMs };
  });
}

/** The ordered steps; at equal times removals come first so a fault can hand over to the next. */
export function buildTimeline(scenario: Pick<Scenario, 'phases' | 'faults'>): TimelineStep[] {
  const windows = faultWindows(scenario);
  const steps = scenario.faults.flatMap((fault, i): TimelineStep[] => {
    const window = windows[i] as FaultWindow;
    return [
      { atMs: window.startMs, action: 'apply', fault },
      { atMs: window.endMs, action: 'remove', fault },
    ];
  });
  return steps.sort((a, b) => a.atMs - b.atMs || (a.action === 'remove' ? -1 : 1));
}

export interface FaultRecord {
  time: string;
  offsetMs: number;
  action: 'apply' | 'remove';
  fault: string;
  type: string;
  target: string;
  ok: boolean;
  error?: string;
}

export interface RunningTimeline {
  /** Resolves when the last step has fired. */
  done: Promise<void>;
  records: FaultRecord[];
  /** Cancel pending steps and remove every fault still active. */
  stop(): Promise<void>;
}

export function startTimeline(
  steps: TimelineStep[],
  target: FaultTarget,
  options: { startedAt: number; logFile?: string; now?: () => number },
): RunningTimeline {
  const now = options.now ?? Date.now;
  const active = new Map<string, FaultSpec>();
  const records: FaultRecord[] = [];
  let stopped = false;

  const fire = async (step: TimelineStep): Promise<void> => {
    const record: FaultRecord = {
      time: new Date(now()).toISOString(),
      offsetMs: now() - options.startedAt,
      action: step.action,
      fault: step.fault.name,
      type: step.fault.type,
      target: faultTarget(step.fault),
      ok: true,
    };
    try {
      if (step.action === 'apply') {
        await target.apply(step.fault);
        active.set(step.fault.name, step.fault);
      } else {
        active.delete(step.fault.name);
        await target.remove(step.fault);
      }
    } catch (error) {
      record.ok = false;
      record.error = (error as Error).message;
    }
    records.push(record);
    if (options.logFile) await appendFile(options.logFile, `${JSON.stringify(record)}\n`);
  };

  // One step after another, in timeline order (removes before applies at the same instant), each
  // waiting for its time and for the step before it: separate timers per step would fire steps due
  // at the same millisecond in whatever order the timer lists hold them.
  let chain = Promise.resolve();
  let wake: { timer: NodeJS.Timeout; resolve: () => void } | undefined;
  const sleepUntil = (atMs: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        wake = undefined;
        resolve();
      }, Math.max(0, options.startedAt + atMs - now()));
      wake = { timer, resolve };
    });
  const done = (async () => {
    for (const step of steps) {
      await sleepUntil(step.atMs);
      if (stopped) return;
      chain = chain.then(() => fire(step));
      await chain;
    }
  })();

  return {
    done,
    records,
    async stop() {
      stopped = true;
      if (wake) {
        clearTimeout(wake.timer);
        wake.resolve();
      }
      await chain;
      for (const fault of [...active.values()]) await fire({ atMs: now() - options.startedAt, action: 'remove', fault });
    },
  };
}
