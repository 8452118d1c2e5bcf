// Applies a scenario's faults through the fault proxy's admin API: the
// scenario's spelling (edge, rate, durations) becomes Toxiproxy's (proxy
// name, toxicity, attributes in milliseconds).

import { createChaosClient } from '../chaos/admin-client.ts';
import type { FaultTarget } from './fault-timeline.ts';
import type { FaultSpec } from './scenario.ts';
import { proxyForEdge } from './topology.ts';

export function chaosFaultTarget(adminUrl: string): FaultTarget & { reset(): Promise<void> } {
  const client = createChaosClient(adminUrl);
  return {
    async apply(fault: FaultSpec) {
      const proxy = proxyForEdge(fault.edge);
      switch (fault.type) {
        case 'http_error':
          await client.addHttpFault(proxy, { name: fault.name, type: 'http_error', toxicity: fault.rate, attributes: { status: fault.status } });
          return;
        case 'latency':
          await client.addToxic(proxy, {
            name: fault.name,
            type: 'latency',
            stream: 'downstream',
            toxicity: fault.rate,
            attributes: { latency: fault.latency, jitter: fault.jitter },
          });
          return;
      }
    },
    async remove(fault: FaultSpec) {
      const proxy = proxyForEdge(fault.edge);
      if (fault.type === 'http_error') await client.removeHttpFault(proxy, fault.name);
      else await client.removeToxic(proxy, fault.name);
    },
    reset: () => client.reset(),
  };
}
