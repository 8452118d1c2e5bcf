// The console's fault state: which faults its buttons (and its game day)
// applied, each applied and removed through the lab's FaultTarget and written
// to the session's faults.jsonl beside the scenario timeline's and the
// manual recorder's records, marked `source: 'console'`. The manual recorder
// (runner/up.ts) polls the admin APIs and would see the same faults again:
// `owns` tells it which are the console's, so each fault is recorded once.
// `resetAll` is the big red button: the console's faults, then whatever else
// the admin APIs show, frozen or dead instances included, back to a clean shop.

import { appendFile, readFile } from 'node:fs/promises';
import { faultTarget, type FaultRecord, type FaultTarget } from '../fault-timeline.ts';
import type { Lab } from '../lab.ts';
import { COLLECTOR_PROCESS, type FaultSpec } from '../scenario.ts';
import { instanceNames, proxiesForEdge, SERVICES } from '../topology.ts';
import { activeFaults, MANUAL_FAULT_POLL_MS } from '../up.ts';
import { CONSOLE_ERROR, ConsoleInputError, preset } from './fault-presets.ts';

/** Console fault names start with this: unique per application, never what a person types into an admin API. */
export const CONSOLE_FAULT_PREFIX = 'console-';

/** A fault as the admin APIs list it (runner/up.ts activeFaults). */
export interface ListedFault {
  fault: string;
  type: string;
  target: string;
}

/** A faults.jsonl line the board writes. */
export type ConsoleFaultRecord = FaultRecord & {
  source: 'console';
  preset: string;
  /** What applied it besides a click, e.g. `game-day 42`. */
  origin?: string;
};

export interface ConsoleFault {
  name: string;
  preset: string;
  /** The preset's target: an edge, an instance, or 'a<->b'. */
  target: string;
  type: FaultSpec['type'];
  appliedAt: string;
  offsetMs: number;
  origin?: string;
  fault: FaultSpec;
}

/** What resetAll clears besides the console's own faults: the lab's admin APIs and processes. */
export interface LabFaultAdmin {
  /** Every fault the admin APIs show, keyed as runner/up.ts activeFaults keys them ('process <instance> <name>' for in-service ones). */
  activeFaults(): Promise<Map<string, ListedFault>>;
  /** Toxiproxy's POST /reset on the fault proxy: every toxic, HTTP fault and marker gone, partitions healed, proxies enabled. */
  resetProxy(): Promise<void>;
  /** DELETE /admin/faults/{name} on an instance's admin listener. */
  removeInstanceFault(instance: string, name: string): Promise<void>;
  /** Instances (and the collector) frozen by SIGSTOP, and instances the lab started that are gone. */
  strayProcesses(): Promise<{ paused: string[]; killed: string[] }>;
  resume(instance: string): void | Promise<void>;
  restart(instance: string): Promise<void>;
}

export interface ResetSummary {
  /** Console faults removed. */
  removed: string[];
  /** Faults the admin APIs showed that were not the console's, cleared. */
  cleared: ListedFault[];
  resumed: string[];
  restarted: string[];
  /** What could not be undone, one line each (the rest was still tried). */
  errors: string[];
}

export interface FaultBoardOptions {
  target: FaultTarget;
  /** The session's faults.jsonl; without it records are kept in memory only. */
  logFile?: string;
  /** The session's start: records carry their offset from it. */
  startedAt: number;
  now?: () => number;
  /** For resetAll beyond the console's own faults; without it resetAll removes only those. */
  admin?: LabFaultAdmin;
  /**
   * How long a removed `down` fault's proxies still count as the console's: a poll of the admin
   * APIs under way may have listed them disabled before the removal. Default: two polls.
   */
  ownershipGraceMs?: number;
}

export interface FaultBoard {
  /** Apply a preset to a target (its default target when none is given). ConsoleInputError for bad input or a conflict; the lab's error when it refuses. */
  apply(presetId: string, target?: string, options?: { origin?: string }): Promise<ConsoleFault>;
  /** Remove one console fault by name. ConsoleInputError (404) for a name the board does not hold. */
  remove(name: string): Promise<void>;
  /** Every console fault removed, then everything else the admin APIs show, frozen processes resumed and dead ones restarted. */
  resetAll(): Promise<ResetSummary>;
  /** Console faults active now, oldest first. */
  active(): ConsoleFault[];
  /** Every record written, in order. */
  records(): ConsoleFaultRecord[];
  /** Whether a fault the admin APIs list is the console's (the manual recorder's `skip`). */
  owns(fault: ListedFault): boolean;
}

/** Faults two of which cannot share a target: a second pause or kill, or a second `down` of an edge, would be undone by the first's removal. */
function exclusiveKey(fault: FaultSpec): string | undefined {
  if (fault.type === 'process') return `process ${fault.target}`;
  if (fault.type === 'down') return `down ${fault.edge}`;
  return undefined;
}

export function createFaultBoard(options: FaultBoardOptions): FaultBoard {
  const now = options.now ?? Date.now;
  const graceMs = options.ownershipGraceMs ?? 2 * MANUAL_FAULT_POLL_MS;
  const active = new Map<string, ConsoleFault>();
  const records: ConsoleFaultRecord[] = [];
  /** Every name the board ever used: a poll that listed a fault just before its removal still skips it. */
  const ownedNames = new Set<string>();
  /** Proxies a console `down` disabled, until when they count as the console's (Infinity while active). */
  const downProxies = new Map<string, number>();
  let counter = 0;
  let chain: Promise<unknown> = Promise.resolve();

  /** One change at a time: a removal cannot overtake the application it undoes. */
  const serial = <T>(work: () => Promise<T>): Promise<T> => {
    const result = chain.then(work);
    chain = result.catch(() => undefined);
    return result;
  };

  const write = async (action: FaultRecord['action'], entry: ConsoleFault, error?: unknown): Promise<void> => {
    const record: ConsoleFaultRecord = {
      time: new Date(now()).toISOString(),
      offsetMs: now() - options.startedAt,
      action,
      fault: entry.name,
      type: entry.type,
      target: faultTarget(entry.fault),
      ok: error === undefined,
      ...(error !== undefined ? { error: (error as Error).message ?? String(error) } : {}),
      source: 'console',
      preset: entry.preset,
      ...(entry.origin !== undefined ? { origin: entry.origin } : {}),
    };
    records.push(record);
    if (options.logFile) await appendFile(options.logFile, `${JSON.stringify(record)}\n`);
  };

  const setDown = (fault: FaultSpec, until: number): void => {
    if (fault.type === 'down') for (const proxy of proxiesForEdge(fault.edge)) downProxies.set(proxy, until);
  };

  const removeNow = async (entry: ConsoleFault): Promise<void> => {
    active.delete(entry.name);
    try {
      await options.target.remove(entry.fault);
    } catch (error) {
      await write('remove', entry, error);
      throw error;
    } finally {
      setDown(entry.fault, now() + graceMs);
    }
    await write('remove', entry);
  };

  return {
    async apply(presetId, target, applyOptions = {}) {
      // Input problems are answered before waiting for anything.
      const chosen = preset(presetId);
      const on = target ?? chosen.defaultTarget;
      const name = `${CONSOLE_FAULT_PREFIX}${chosen.id}-${++counter}`;
      const fault = chosen.toFault(on, name);
      return serial(async () => {
        const key = exclusiveKey(fault);
        const holder = key === undefined ? undefined : [...active.values()].find((entry) => exclusiveKey(entry.fault) === key);
        if (holder) throw new ConsoleInputError(CONSOLE_ERROR.conflict, `'${on}' already has ${holder.name} (${holder.preset}): remove it first`);
        const at = now();
        const entry: ConsoleFault = {
          name,
          preset: chosen.id,
          target: on,
          type: fault.type,
          appliedAt: new Date(at).toISOString(),
          offsetMs: at - options.startedAt,
          ...(applyOptions.origin !== undefined ? { origin: applyOptions.origin } : {}),
          fault,
        };
        // Owned before it exists anywhere, so no poll can see it first.
        ownedNames.add(name);
        setDown(fault, Infinity);
        try {
          await options.target.apply(fault);
        } catch (error) {
          // Half applied (one proxy of two) is worse than not at all.
          await options.target.remove(fault).catch(() => undefined);
          setDown(fault, now() + graceMs);
          await write('apply', entry, error);
          throw error;
        }
        active.set(name, entry);
        await write('apply', entry);
        return entry;
      });
    },

    async remove(name) {
      return serial(async () => {
        const entry = active.get(name);
        if (!entry) {
          const known = [...active.keys()];
          throw new ConsoleInputError(CONSOLE_ERROR.unknownFault, `no active console fault '${name}' (active: ${known.length ? known.join(', ') : 'none'})`);
        }
        await removeNow(entry);
      });
    },

    resetAll() {
      return serial(async () => {
        const summary: ResetSummary = { removed: [], cleared: [], resumed: [], restarted: [], errors: [] };
        // Processes first: a frozen instance would hang the removal of its in-service faults.
        const entries = [...active.values()].sort((a, b) => Number(b.type === 'process') - Number(a.type === 'process'));
        for (const entry of entries) {
          try {
            await removeNow(entry);
            summary.removed.push(entry.name);
          } catch (error) {
            summary.errors.push(`${entry.name}: ${(error as Error).message}`);
          }
        }
        const admin = options.admin;
        if (!admin) return summary;
        const attempt = async (what: string, work: () => unknown): Promise<boolean> => {
          try {
            await work();
            return true;
          } catch (error) {
            summary.errors.push(`${what}: ${(error as Error).message}`);
            return false;
          }
        };
        const strays = await admin.strayProcesses().catch((error: unknown) => {
          summary.errors.push(`finding frozen or dead processes: ${(error as Error).message}`);
          return { paused: [], killed: [] };
        });
        for (const instance of strays.paused) if (await attempt(`resuming ${instance}`, () => admin.resume(instance))) summary.resumed.push(instance);
        for (const instance of strays.killed) if (await attempt(`restarting ${instance}`, () => admin.restart(instance))) summary.restarted.push(instance);
        let listed = new Map<string, ListedFault>();
        await attempt('listing active faults', async () => (listed = await admin.activeFaults()));
        // One reset clears the fault proxy (markers too, which the listing does not show).
        const proxyCleared = await attempt('POST /reset on the fault proxy', () => admin.resetProxy());
        for (const [key, fault] of listed) {
          if (key.startsWith('process ')) {
            if (await attempt(`DELETE /admin/faults/${fault.fault} on ${fault.target}`, () => admin.removeInstanceFault(fault.target, fault.fault))) summary.cleared.push(fault);
          } else if (proxyCleared) {
            summary.cleared.push(fault);
          }
        }
        return summary;
      });
    },

    active: () => [...active.values()],
    records: () => [...records],

    owns(fault) {
      if (ownedNames.has(fault.fault)) return true;
      // A disabled proxy is listed as `<proxy>-down`, not by the console's name.
      if (fault.type === 'down') return (downProxies.get(fault.target) ?? -Infinity) > now();
      return false;
    },
  };
}

/** A process's state letter from /proc (Linux): 'T' when stopped by a signal. */
async function processState(pid: number): Promise<string | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).charAt(0);
  } catch {
    return undefined;
  }
}

/** resetAll's reach into a running lab: runner/up.ts activeFaults, the fault proxy's POST /reset, each instance's /admin/faults, the supervisor. */
export function labFaultAdmin(lab: Pick<Lab, 'chaosAdminUrl' | 'processes' | 'adminUrl' | 'signalInstance' | 'restartInstance'>): LabFaultAdmin {
  const request = async (method: 'POST' | 'DELETE', url: string, ok404 = false): Promise<void> => {
    const response = await fetch(url, { method, signal: AbortSignal.timeout(5_000) });
    if (!response.ok && !(ok404 && response.status === 404)) throw new Error(`${method} ${url}: ${response.status} ${await response.text()}`);
  };
  const instances = SERVICES.flatMap((service) => instanceNames(service.name));
  return {
    activeFaults: () => activeFaults(lab),
    resetProxy: () => request('POST', `${lab.chaosAdminUrl}/reset`),
    removeInstanceFault: (instance, name) => request('DELETE', `${lab.adminUrl(instance)}/admin/faults/${encodeURIComponent(name)}`, true),
    async strayProcesses() {
      const running = lab.processes();
      const started = (instance: string): boolean => {
        try {
          lab.adminUrl(instance);
          return true;
        } catch {
          return false; // Not part of this lab.
        }
      };
      const watched = running.filter((process) => process.name === COLLECTOR_PROCESS || instances.includes(process.name));
      const states = await Promise.all(watched.map(async (process) => ({ name: process.name, state: await processState(process.pid) })));
      return {
        paused: states.filter(({ state }) => state === 'T' || state === 't').map(({ name }) => name),
        killed: instances.filter((instance) => started(instance) && !running.some((process) => process.name === instance)),
      };
    },
    resume: (instance) => lab.signalInstance(instance, 'SIGCONT'),
    restart: (instance) => lab.restartInstance(instance),
  };
}
