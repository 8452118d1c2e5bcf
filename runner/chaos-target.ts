// Applies a scenario's faults through the fault proxy's admin API: the
// scenario's spelling (edge, rate, durations) becomes Toxiproxy's (proxy
// name, toxicity, attributes in milliseconds).

import { createChaosClient } from '../chaos/admin-client.ts';
import type { FaultTarget } from './fault-timeline.ts';
import type { Lab } from './lab.ts';
import type { FaultSpec } from './scenario.ts';
import { proxiesForEdge } from './topology.ts';

export function chaosFaultTarget(adminUrl: string): FaultTarget & { reset(): Promise<void> } {
  const client = createChaosClient(adminUrl);
  return {
    // An edge to a replicated service is one proxy per instance: the fault goes on all of them.
    async apply(fault: FaultSpec) {
      if (fault.type !== 'http_error' && fault.type !== 'latency') throw new Error(`${fault.name} is not a network fault`);
      for (const proxy of proxiesForEdge(fault.edge)) {
        switch (fault.type) {
          case 'http_error':
            await client.addHttpFault(proxy, { name: fault.name, type: 'http_error', toxicity: fault.rate, attributes: { status: fault.status } });
            break;
          case 'latency':
            await client.addToxic(proxy, {
              name: fault.name,
              type: 'latency',
              stream: 'downstream',
              toxicity: fault.rate,
              attributes: { latency: fault.latency, jitter: fault.jitter },
            });
            break;
        }
      }
    },
    async remove(fault: FaultSpec) {
      if (fault.type !== 'http_error' && fault.type !== 'latency') throw new Error(`${fault.name} is not a network fault`);
      for (const proxy of proxiesForEdge(fault.edge)) {
        if (fault.type === 'http_error') await client.removeHttpFault(proxy, fault.name);
        else await client.removeToxic(proxy, fault.name);
      }
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

/** Faults inside a service instance (CPU burn, event-loop block, memory leak, concurrency limit) through its /admin/faults. */
export function serviceFaultTarget(lab: Pick<Lab, 'serviceUrl'>): FaultTarget {
  const admin = async (fault: FaultSpec, method: 'POST' | 'DELETE') => {
    if (fault.type === 'http_error' || fault.type === 'latency' || fault.type === 'process') throw new Error(`${fault.name} is not an in-service fault`);
    const base = `${lab.serviceUrl(fault.target)}/admin/faults`;
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

/** Each fault to the target that knows its kind. */
export function labFaultTarget(network: FaultTarget, processes: FaultTarget, services: FaultTarget): FaultTarget {
  const pick = (fault: FaultSpec) => (fault.type === 'process' ? processes : fault.type === 'http_error' || fault.type === 'latency' ? network : services);
  return { apply: (fault) => pick(fault).apply(fault), remove: (fault) => pick(fault).remove(fault) };
}
