// The balancer's passive health as metrics and log lines, the same for every
// balanced client (HTTP and gRPC): balancer_instance_ejected{dependency,
// rpc_endpoint} is 1 while an instance is ejected, and
// balancer_instance_events_total counts ejections and re-admissions (and an
// active health check's unready and ready verdicts), so the
// "Client-side load balancing" panels show any replicated dependency.

import client from 'prom-client';
import type { Balancer } from '../resilience/balancer.ts';
import { LABEL, RPC_LABEL, RPC_METRIC } from './conventions.ts';
import type { Logger } from './logger.ts';
import type { ServiceMetrics } from './metrics.ts';

export function reportBalancerHealth(balancer: Balancer, dependency: string, instances: readonly string[], metrics: ServiceMetrics, logger: Logger): void {
  const registers = [metrics.registry];
  const ejected =
    (metrics.registry.getSingleMetric(RPC_METRIC.balancerEjected) as client.Gauge<string> | undefined) ??
    new client.Gauge({ name: RPC_METRIC.balancerEjected, help: 'Whether a dependency instance is ejected by passive health checks (1) or in rotation (0).', labelNames: [LABEL.dependency, RPC_LABEL.endpoint], registers });
  const events =
    (metrics.registry.getSingleMetric(RPC_METRIC.balancerEvents) as client.Counter<string> | undefined) ??
    new client.Counter({ name: RPC_METRIC.balancerEvents, help: 'Ejections and re-admissions of dependency instances, and readiness changes seen by active health checks.', labelNames: [LABEL.dependency, RPC_LABEL.endpoint, RPC_LABEL.event], registers });
  for (const instance of instances) ejected.set({ [LABEL.dependency]: dependency, [RPC_LABEL.endpoint]: instance }, 0);
  balancer.onEvent((event) => {
    if (event.event === 'ejected' || event.event === 'readmitted') ejected.set({ [LABEL.dependency]: dependency, [RPC_LABEL.endpoint]: event.instance }, event.event === 'ejected' ? 1 : 0);
    events.inc({ [LABEL.dependency]: dependency, [RPC_LABEL.endpoint]: event.instance, [RPC_LABEL.event]: event.event });
    logger.warn({ dependency, instance: event.instance }, `instance ${event.event}`);
  });
}
