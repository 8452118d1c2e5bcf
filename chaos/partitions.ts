// Network partitions as sets of cut edges. A partition names two groups of
// services; every proxy whose caller is in one group and whose dependency is
// in the other is cut, in both directions, until the partition is healed.
// Proxies are named `<caller>-<dependency>`, or `<caller>-<dependency>.<n>` for
// the instances of a replicated dependency (runner/topology.ts proxyName), so a partition finds its edges by name
// without knowing the topology. A proxy cut by several partitions stays cut
// until the last one heals; a refusing cut wins over a black hole.

import { z } from 'zod';
import { InvalidSpecError } from './errors.ts';
import { expected, parseWith } from './fault-spec.ts';
import type { PartitionMode } from './fault-proxy.ts';
import { nameSchema } from './fault-spec.ts';

export type { PartitionMode };

export const PARTITION_MODES = ['blackhole', 'refuse'] as const satisfies readonly PartitionMode[];

/** A partition as the admin API takes and shows it. */
export interface PartitionSpec {
  name: string;
  a: string[];
  b: string[];
  /** blackhole (default): requests and bytes hang until the caller's timeout; refuse: connections are refused. */
  mode: PartitionMode;
}

/** The fault proxy's name for an edge; must agree with runner/topology.ts proxyName. */
export function edgeProxyName(caller: string, dependency: string): string {
  return `${caller}-${dependency}`;
}

const serviceSchema = z
  .string(expected('a service name'))
  .regex(/^[a-z][a-z0-9-]*$/, { error: 'must be a service name (lowercase letters, digits and dashes)' });
const groupSchema = z.array(serviceSchema, expected('an array of service names')).min(1, { error: 'must name at least one service' });

const partitionSchema = z
  .strictObject({
    name: nameSchema,
    a: groupSchema,
    b: groupSchema,
    mode: z.enum(PARTITION_MODES, { error: `must be one of ${PARTITION_MODES.join(', ')}` }).default('blackhole'),
  })
  .superRefine((partition, context) => {
    const inA = new Set(partition.a);
    const shared = [...new Set(partition.b.filter((service) => inA.has(service)))];
    if (shared.length > 0) context.addIssue({ code: 'custom', path: ['b'], message: `${shared.join(', ')} cannot be on both sides` });
  });

/** Validate an admin API body; throws an InvalidSpecError naming every bad field. */
export function parsePartition(input: unknown): PartitionSpec {
  const parsed = parseWith(partitionSchema, input);
  return { name: parsed.name, a: [...new Set(parsed.a)], b: [...new Set(parsed.b)], mode: parsed.mode };
}

/** The edge a proxy stands for: a replicated dependency's instances get `<caller>-<dependency>.<n>`. */
function edgeOf(proxy: string): string {
  return proxy.replace(/\.\d+$/, '');
}

/** Whether the partition cuts the proxy of that name. */
export function cutsProxy(partition: Pick<PartitionSpec, 'a' | 'b'>, proxy: string): boolean {
  const edge = edgeOf(proxy);
  for (const x of partition.a) {
    for (const y of partition.b) {
      if (edge === edgeProxyName(x, y) || edge === edgeProxyName(y, x)) return true;
    }
  }
  return false;
}

/** The proxies, among `proxies`, that the partition cuts; an error when it would cut none. */
export function proxiesCut(partition: PartitionSpec, proxies: readonly string[]): string[] {
  const cut = proxies.filter((proxy) => cutsProxy(partition, proxy)).sort();
  if (cut.length === 0) {
    throw new InvalidSpecError([
      {
        field: 'b',
        message: `no proxy connects a service of a (${partition.a.join(', ')}) with one of b (${partition.b.join(', ')}); proxies are named <caller>-<dependency> (known: ${[...proxies].sort().join(', ') || 'none'})`,
      },
    ]);
  }
  return cut;
}

/** The cut in force on a proxy given every partition: refuse wins over blackhole. */
export function effectiveCut(partitions: Iterable<PartitionSpec>, proxy: string): PartitionMode | undefined {
  let cut: PartitionMode | undefined;
  for (const partition of partitions) {
    if (!cutsProxy(partition, proxy)) continue;
    if (partition.mode === 'refuse') return 'refuse';
    cut = 'blackhole';
  }
  return cut;
}
