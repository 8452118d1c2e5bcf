// Chaos events (a fault applied, changed or removed; a proxy switched off or
// on; a partition applied or healed) go out on node:diagnostics_channel, so a run recorder, a tracer or a
// test can subscribe without the proxy importing any of them. The proxy
// server also takes them through a plain callback for its metrics and logs.

import diagnosticsChannel from 'node:diagnostics_channel';
import type { FaultCollection, FaultSpec } from './fault.ts';
import type { PartitionSpec } from './partitions.ts';

/** The diagnostics channel every chaos event is published on. */
export const CHAOS_CHANNEL = 'faultline:chaos';

/** A fault applied to, changed on or removed from a proxy. */
export interface FaultEvent {
  kind: 'fault_applied' | 'fault_updated' | 'fault_removed';
  proxy: string;
  collection: FaultCollection;
  fault: FaultSpec;
  /** Epoch milliseconds. */
  at: number;
}

/** A proxy switched off (connections refused) or back on. */
export interface ProxyStateEvent {
  kind: 'proxy_enabled' | 'proxy_disabled';
  proxy: string;
  /** Epoch milliseconds. */
  at: number;
}

/** A partition cut a proxy, or healed it; one event per proxy the partition cuts. */
export interface PartitionEvent {
  kind: 'partition_applied' | 'partition_removed';
  proxy: string;
  partition: PartitionSpec;
  /** Epoch milliseconds. */
  at: number;
}

export type ChaosEvent = FaultEvent | ProxyStateEvent | PartitionEvent;

export function isFaultEvent(event: ChaosEvent): event is FaultEvent {
  return 'fault' in event;
}

export function isPartitionEvent(event: ChaosEvent): event is PartitionEvent {
  return 'partition' in event;
}

const channel = diagnosticsChannel.channel(CHAOS_CHANNEL);

export function publishChaosEvent(event: ChaosEvent): void {
  if (channel.hasSubscribers) channel.publish(event);
}

/** Subscribe to chaos events of this process; returns the unsubscribe function. */
export function subscribeChaosEvents(listener: (event: ChaosEvent) => void): () => void {
  const onMessage = (message: unknown): void => listener(message as ChaosEvent);
  diagnosticsChannel.subscribe(CHAOS_CHANNEL, onMessage);
  return () => {
    diagnosticsChannel.unsubscribe(CHAOS_CHANNEL, onMessage);
  };
}
