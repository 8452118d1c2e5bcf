// The shape of the lab as data: which services run, what each one calls, and
// which calls cross the fault proxy (every hop does, so any edge can be broken). The lab starts processes from this table
// in dependency order; scenarios name edges as 'caller->dependency'.

export interface ServiceNode {
  name: string;
  /** Dependencies by service name; `proxied` edges cross the fault proxy. */
  calls: Array<{ service: string; proxied: boolean }>;
}

/** In start order: every service comes after what it calls. */
export const SERVICES: readonly ServiceNode[] = [
  { name: 'bank', calls: [] },
  { name: 'payment', calls: [{ service: 'bank', proxied: true }] },
  { name: 'checkout', calls: [{ service: 'payment', proxied: true }] },
  { name: 'gateway', calls: [{ service: 'checkout', proxied: true }] },
];

export const ENTRY_SERVICE = 'gateway';

/** The fault proxy's name for an edge: `payment->bank` is proxy `payment-bank`. */
export function proxyName(caller: string, dependency: string): string {
  return `${caller}-${dependency}`;
}

export function proxyForEdge(edge: string): string {
  const [caller, dependency] = edge.split('->') as [string, string];
  return proxyName(caller, dependency);
}

export function proxiedEdges(): Array<{ caller: string; dependency: string; proxy: string }> {
  return SERVICES.flatMap((service) =>
    service.calls.filter((call) => call.proxied).map((call) => ({ caller: service.name, dependency: call.service, proxy: proxyName(service.name, call.service) })),
  );
}
