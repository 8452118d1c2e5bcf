// prom-client's default Node.js and process metrics, minus the three it
// misnames: nodejs_active_{handles,requests,resources}_total are gauges, and
// `_total` is reserved for counters (`promtool check metrics` rejects them).
// The same numbers stay available, by type, as nodejs_active_handles,
// nodejs_active_requests and nodejs_active_resources (sum them for the total).

import client from 'prom-client';

const MISNAMED_GAUGES = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'] as const;

export function collectRuntimeMetrics(registry: client.Registry<client.RegistryContentType>): void {
  client.collectDefaultMetrics({ register: registry });
  for (const name of MISNAMED_GAUGES) registry.removeSingleMetric(name);
}
