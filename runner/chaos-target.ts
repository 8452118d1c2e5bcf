// Applies a scenario's faults: edge faults and partitions through the fault
// proxy's admin API (the scenario's spelling becomes Toxiproxy's: proxy name,
// toxicity, attributes in milliseconds), process faults through the lab's
// supervisor, in-service faults through /admin/faults on the instance's admin
// listener (loopback only; never its public port).
// Faults the proxy does not apply itself as toxics (a process killed or
// paused, an edge down) are shown by it as markers, so chaos_fault_active has
// every fault of a run; in-service faults show on the instance's own /metrics.

import { createChaosClient } from '../chaos/admin-client.ts';
import type { FaultTarget } from './fault-timeline.ts';
import { faultTarget } from './fault-timeline.ts';
import type { Lab } from './lab.ts';
import { isEdgeFault, type FaultSpec } from './scenario.ts';
import { proxiesForEdge } from './topology.ts';

/** Shows a fault applied elsewhere as active (chaos_fault_active 1) and inactive again. */
export interface FaultMarking {
  mark(fault: FaultSpec): Promise<void>;
  unmark(fault: FaultSpec): Promise<void>;
}

/** Whether the fault proxy applies the fault (edge faults, partitions). */
export function isNetworkFault(fault: FaultSpec): boolean {
  return isEdgeFault(fault) || fault.type === 'partition';
}

export function chaosFaultTarget(adminUrl: string): FaultTarget & FaultMarking & { reset(): Promise<void> } {
  const client = createChaosClient(adminUrl);
  const marking: FaultMarking = {
    mark: async (fault) => void (await client.addMarker({ name: fault.name, target: faultTarget(fault) })),
    async unmark(fault) {
      await client.removeMarker(fault.name).catch((error: unknown) => {
        if ((error as { status?: number }).status !== 404) throw error;
      });
    },
  };
  return {
    ...marking,
    // An edge to a replicated service is one proxy per instance: the fault goes on all of them.
    async apply(fault: FaultSpec) {
      if (fault.type === 'partition') {
        await client.addPartition({ name: fault.name, a: [...fault.a], b: [...fault.b], mode: fault.mode });
        return;
      }
      if (!isEdgeFault(fault)) throw new Error(`${fault.name} is not a network fault`);
      if (fault.type === 'down') await marking.mark(fault);
      for (const proxy of proxiesForEdge(fault.edge)) {
        switch (fault.type) {
          case 'http_error':
            await client.addHttpFault(proxy, { name: fault.name, type: 'http_error', toxicity: fault.rate, attributes: { status: fault.status } });
            break;
          case 'latency':
            await client.addToxic(proxy, {
              name: fault.name,
              type: 'latency',
              stream: fault.stream,
              toxicity: fault.rate,
              attributes: { latency: fault.latency, jitter: fault.jitter },
            });
            break;
          case 'down':
            await client.setEnabled(proxy, false);
            break;
          default:
            await client.addToxic(proxy, { name: fault.name, type: fault.type, stream: fault.stream, toxicity: fault.toxicity, attributes: { ...fault.attributes } });
        }
      }
    },
    async remove(fault: FaultSpec) {
      if (fault.type === 'partition') {
        await client.removePartition(fault.name);
        return;
      }
      if (!isEdgeFault(fault)) throw new Error(`${fault.name} is not a network fault`);
      for (const proxy of proxiesForEdge(fault.edge)) {
        if (fault.type === 'http_error') await client.removeHttpFault(proxy, fault.name);
        else if (fault.type === 'down') await client.setEnabled(proxy, true);
        else await client.removeToxic(proxy, fault.name);
      }
      if (fault.type === 'down') await marking.unmark(fault);
    },
    reset: () => client.reset(),
  };
}

/** Process faults through the lab's supervisor: crash (and start again), or pause and resume. */
export function processFaultTarget(lab: Pick<Lab, 'signalInstance' | 'restartInstance'>): FaultTarget {
  return {
    async apply(fault) {
      if (fault.type !== 'process') throw new Error(`${fault.name} is not a process fault`);
      lab.signalInstance(fault.target, fault.action === 'kill' ? 'SIGKILL' : 'SIGSTOP');
    },
    async remove(fault) {
      if (fault.type !== 'process') throw new Error(`${fault.name} is not a process fault`);
      if (fault.action === 'pause') lab.signalInstance(fault.target, 'SIGCONT');
      else if (fault.restart) await lab.restartInstance(fault.target);
    },
  };
}

/** Faults inside a service instance (CPU burn, event-loop block, memory leak, concurrency limit) through its admin listener's /admin/faults. */
export function serviceFaultTarget(lab: Pick<Lab, 'adminUrl'>): FaultTarget {
  const admin = async (fault: FaultSpec, method: 'POST' | 'DELETE') => {
    if (isNetworkFault(fault) || fault.type === 'process' || !('target' in fault)) throw new Error(`${fault.name} is not an in-service fault`);
    const base = `${lab.adminUrl(fault.target)}/admin/faults`;
    const response =
      method === 'POST'
        ? await fetch(base, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: fault.name, type: fault.type, attributes: fault.attributes }) })
        : await fetch(`${base}/${encodeURIComponent(fault.name)}`, { method });
    if (!response.ok && !(method === 'DELETE' && response.status === 404)) {
      throw new Error(`${method} ${fault.target} /admin/faults: ${response.status} ${await response.text()}`);
    }
  };
  return { apply: (fault) => admin(fault, 'POST'), remove: (fault) => admin(fault, 'DELETE') };
}

/**
 * Each fault to the target that knows its kind. When the network target can
 * mark faults (chaosFaultTarget can), process faults are marked on the fault
 * proxy while they last, so chaos_fault_active shows them too.
 */
export function labFaultTarget(network: FaultTarget & Partial<FaultMarking>, processes: FaultTarget, services: FaultTarget): FaultTarget {
  const pick = (fault: FaultSpec) => (fault.type === 'process' ? processes : isNetworkFault(fault) ? network : services);
  const marked = (fault: FaultSpec) => fault.type === 'process' && network.mark !== undefined && network.unmark !== undefined;
  return {
    async apply(fault) {
      await pick(fault).apply(fault);
      if (marked(fault)) await network.mark?.(fault);
    },
    async remove(fault) {
      try {
        await pick(fault).remove(fault);
      } finally {
        if (marked(fault)) await network.unmark?.(fault);
      }
    },
  };
}
