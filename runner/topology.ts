// The shape of the lab as data: which services run, how many instances each,
// what each one calls, and how (every call crosses the fault proxy, so any
// edge can be broken). The lab starts services level by level (a service after
// everything it calls); scenarios name edges as 'caller->dependency'.

export interface ServiceNode {
  name: string;
  /** Replicas; more than one shows failover when one is killed. */
  instances: number;
  /** Dependencies by service name; `mode` is how the fault proxy carries the edge. */
  calls: Array<{ service: string; mode: 'http' | 'tcp' }>;
}

const http = (service: string) => ({ service, mode: 'http' as const });
/** A gRPC hop: the proxy carries the HTTP/2 byte stream to the service's `grpc` port. */
const grpc = (service: string) => ({ service, mode: 'tcp' as const });

export const SERVICES: readonly ServiceNode[] = [
  { name: 'bank', instances: 1, calls: [] },
  { name: 'inventory', instances: 1, calls: [] },
  { name: 'catalog', instances: 2, calls: [] },
  { name: 'payment', instances: 2, calls: [http('bank')] },
  { name: 'recommendation', instances: 1, calls: [http('catalog')] },
  { name: 'cart', instances: 1, calls: [http('catalog')] },
  { name: 'checkout', instances: 1, calls: [grpc('payment'), http('inventory')] },
  { name: 'gateway', instances: 1, calls: [http('checkout'), http('catalog'), http('cart'), http('recommendation')] },
];

export const ENTRY_SERVICE = 'gateway';

export function serviceNode(name: string): ServiceNode {
  const node = SERVICES.find((service) => service.name === name);
  if (!node) throw new Error(`unknown service ${name}`);
  return node;
}

/** Instance ids of a service: `payment-1`, `payment-2`; a single instance is named as its service. */
export function instanceNames(service: string): string[] {
  const { instances } = serviceNode(service);
  return instances === 1 ? [service] : Array.from({ length: instances }, (_, i) => `${service}-${i + 1}`);
}

/**
 * The fault proxy's name for an edge to one instance: `payment-bank`, or
 * `checkout-payment.2` for the second instance of a replicated dependency.
 */
export function proxyName(caller: string, dependency: string, instance?: number): string {
  return instance === undefined || serviceNode(dependency).instances === 1 ? `${caller}-${dependency}` : `${caller}-${dependency}.${instance}`;
}

/** Every proxy that carries an edge given as 'caller->dependency' (one per dependency instance). */
export function proxiesForEdge(edge: string): string[] {
  const [caller, dependency] = edge.split('->') as [string, string];
  const { instances } = serviceNode(dependency);
  return instances === 1 ? [proxyName(caller, dependency)] : Array.from({ length: instances }, (_, i) => proxyName(caller, dependency, i + 1));
}

/** Services grouped so that each group only calls services of earlier groups: each group can start at once. */
export function startLevels(): string[][] {
  const level = new Map<string, number>();
  const depth = (name: string): number => {
    const known = level.get(name);
    if (known !== undefined) return known;
    const value = Math.max(-1, ...serviceNode(name).calls.map((call) => depth(call.service))) + 1;
    level.set(name, value);
    return value;
  };
  const levels: string[][] = [];
  for (const node of SERVICES) (levels[depth(node.name)] ??= []).push(node.name);
  return levels;
}

/**
 * The services a lab needs to serve `roots`: the entry service, the roots and
 * everything they call, transitively. A scenario runs only these, so a run
 * that exercises checkout does not pay for the catalog's processes.
 */
export function servicesFor(roots: readonly string[]): Set<string> {
  const needed = new Set<string>();
  const visit = (name: string): void => {
    if (needed.has(name)) return;
    needed.add(name);
    for (const call of serviceNode(name).calls) if (name !== ENTRY_SERVICE || roots.includes(call.service)) visit(call.service);
  };
  for (const root of roots) visit(root);
  visit(ENTRY_SERVICE);
  return needed;
}
