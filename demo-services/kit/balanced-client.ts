// A dependency client over a replicated service: one keep-alive client per
// replica behind the client-side balancer, which picks an instance per
// request and ejects one that keeps failing (passive health checks). With a
// single URL it is a plain dependency client that still reports health.

import { createBalancer, type BalancerOptions } from '../resilience/balancer.ts';
import { createDependencyClient, type DependencyClient, type DependencyRequest, type DependencyResponse } from './dependency-client.ts';
import type { Logger } from './logger.ts';
import type { ServiceMetrics } from './metrics.ts';

export const DEFAULT_BALANCING: BalancerOptions = { strategy: 'least-outstanding', consecutiveFailures: 5, ejectionMs: 5_000 };

export interface BalancedClient extends DependencyClient {
  /** Instances in rotation right now. */
  healthy(): string[];
}

export function createBalancedClient(
  name: string,
  urls: readonly string[],
  deps: { metrics: ServiceMetrics; logger: Logger },
  balancing: BalancerOptions = DEFAULT_BALANCING,
): BalancedClient {
  const clients = new Map<string, DependencyClient>(urls.map((url) => [url, createDependencyClient(name, url, deps.metrics)]));
  const balancer = createBalancer([...clients.keys()], balancing);
  balancer.onEvent((event) => deps.logger.warn({ dependency: name, instance: event.instance }, `instance ${event.event}`));
  return {
    name,
    async request<T>(request: DependencyRequest): Promise<DependencyResponse<T>> {
      const lease = balancer.pick();
      let ok = false;
      try {
        const response = await (clients.get(lease.instance) as DependencyClient).request<T>(request);
        ok = response.status < 500;
        return response;
      } finally {
        // A caller that gave up (its own deadline) says nothing about the instance.
        if (request.signal?.aborted && !ok) lease.done(true);
        else lease.done(ok);
      }
    },
    healthy: () => balancer.healthy(),
    close: async () => {
      await Promise.all([...clients.values()].map((client) => client.close()));
    },
  };
}
