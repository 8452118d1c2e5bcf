// A dependency client over a replicated service: one keep-alive client per
// replica behind the client-side balancer, which picks an instance per
// request and ejects one that keeps failing (passive health checks). With
// `healthCheck` it also polls each replica's readiness (active health checks,
// as a Kubernetes readiness probe or Envoy's health_checks do) and sends no
// requests to one that says it cannot serve. With a single URL it is a plain
// dependency client that still reports health.

import { request as undiciRequest } from 'undici';
import { createBalancer, type BalancerOptions } from '../resilience/balancer.ts';
import { reportBalancerHealth } from './balancer-metrics.ts';
import { createDependencyClient, type DependencyClient, type DependencyRequest, type DependencyResponse } from './dependency-client.ts';
import type { Logger } from './logger.ts';
import type { ServiceMetrics } from './metrics.ts';

export const DEFAULT_BALANCING: BalancerOptions = { strategy: 'least-outstanding', consecutiveFailures: 5, ejectionMs: 5_000 };

export interface BalancedClient extends DependencyClient {
  /** Instances in rotation right now. */
  healthy(): string[];
  /** Out of rotation at once (its death was seen), until its next passing readiness check; without active health checks it is left to passive ejection. */
  markDown(instance: string): void;
}

/** Active health checks: GET `path` on every instance each `intervalMs`; anything but a 2xx within `timeoutMs` is not ready. */
export interface HealthCheckOptions {
  path: string;
  intervalMs: number;
  timeoutMs: number;
}

export function createBalancedClient(
  name: string,
  urls: readonly string[],
  deps: { metrics: ServiceMetrics; logger: Logger },
  balancing: BalancerOptions = DEFAULT_BALANCING,
  healthCheck?: HealthCheckOptions,
): BalancedClient {
  // By instance name (catalog-1, catalog-2), as the lab and the metrics name them.
  const instances = urls.map((url, i) => ({ instance: urls.length === 1 ? name : `${name}-${i + 1}`, url }));
  const clients = new Map<string, DependencyClient>(instances.map(({ instance, url }) => [instance, createDependencyClient(name, url, deps.metrics)]));
  const balancer = createBalancer([...clients.keys()], balancing);
  reportBalancerHealth(balancer, name, [...clients.keys()], deps.metrics, deps.logger);

  // Probes go straight to each instance (no span, no client metrics: they are not the service's calls).
  let probing = false;
  const probe = async (): Promise<void> => {
    if (probing) return;
    probing = true;
    try {
      await Promise.all(
        instances.map(async ({ instance, url }) => {
          const ready = await undiciRequest(new URL(healthCheck!.path, url), { method: 'GET', signal: AbortSignal.timeout(healthCheck!.timeoutMs) }).then(
            async (response) => {
              await response.body.dump();
              return response.statusCode >= 200 && response.statusCode < 300;
            },
            () => false,
          );
          balancer.setReady(instance, ready);
        }),
      );
    } finally {
      probing = false;
    }
  };
  const prober = healthCheck && instances.length > 1 ? setInterval(() => void probe(), healthCheck.intervalMs) : undefined;
  prober?.unref();

  return {
    name,
    async request<T>(request: DependencyRequest): Promise<DependencyResponse<T>> {
      const lease = balancer.pick(request.triedInstances);
      request.triedInstances?.add(lease.instance);
      request.onInstance?.(lease.instance);
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
    markDown(instance) {
      if (prober) balancer.setReady(instance, false);
    },
    close: async () => {
      clearInterval(prober);
      await Promise.all([...clients.values()].map((client) => client.close()));
    },
  };
}
