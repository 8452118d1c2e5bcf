// The faults of one proxy, whatever its mode: add, update, remove and list by
// name, each change published as a chaos event. The list is an immutable
// array replaced on every change, so a request or a connection reads one
// consistent set and the hot path takes no lock. A fault that does not work
// in the proxy's mode (an HTTP fault on a tcp proxy, slow_close on an http
// one) is refused here, naming the field.

import { ConflictError, InvalidSpecError, NotFoundError } from './errors.ts';
import type { ChaosEvent, FaultEvent } from './events.ts';
import { createFault, type Fault, type FaultCollection, type ProxyMode, toSpec, updateFault } from './fault.ts';
import { COLLECTION_NOUN } from './fault-spec.ts';

export interface FaultSet {
  /** The active faults, in the order they were added (the order of a tcp link's stages). */
  readonly current: readonly Fault[];
  add(input: unknown, collection?: FaultCollection): Fault;
  update(name: string, patch: unknown): Fault;
  remove(name: string): Fault;
  get(name: string): Fault | undefined;
  list(collection?: FaultCollection): Fault[];
  clear(): void;
}

export interface FaultSetOptions {
  proxy: string;
  mode: ProxyMode;
  emit: (event: ChaosEvent) => void;
  /** After every change, with the new list. */
  onChange?: (faults: readonly Fault[]) => void;
}

function isFault(value: unknown): value is Fault {
  return typeof value === 'object' && value !== null && typeof (value as Fault).matches === 'function';
}

function checkMode(fault: Fault, proxy: string, mode: ProxyMode): void {
  if (fault.modes.includes(mode)) return;
  const message =
    fault.collection === 'http_faults'
      ? `${fault.type} is an ${COLLECTION_NOUN.http_faults}; proxy ${proxy} is in tcp mode, which forwards bytes without reading HTTP (create the proxy with mode http)`
      : `${fault.type} works on ${fault.modes.join(', ')}-mode proxies only; proxy ${proxy} is in ${mode} mode`;
  throw new InvalidSpecError([{ field: 'type', message }]);
}

export function createFaultSet(options: FaultSetOptions): FaultSet {
  const { proxy, mode, emit } = options;
  let faults: readonly Fault[] = [];

  const changed = (): void => options.onChange?.(faults);
  const findIndex = (name: string): number => faults.findIndex((fault) => fault.name === name);
  const mustFind = (name: string): Fault => {
    const fault = faults[findIndex(name)];
    if (!fault) throw new NotFoundError(`fault not found: ${name} on proxy ${proxy}`);
    return fault;
  };
  const event = (kind: FaultEvent['kind'], fault: Fault): FaultEvent => ({
    kind,
    proxy,
    collection: fault.collection,
    fault: toSpec(fault),
    at: Date.now(),
  });

  return {
    get current() {
      return faults;
    },
    add(input, collection) {
      const fault = isFault(input) ? input : createFault(input, collection);
      if (collection && fault.collection !== collection) {
        throw new InvalidSpecError([{ field: 'type', message: `${fault.type} does not belong in ${collection}` }]);
      }
      checkMode(fault, proxy, mode);
      if (findIndex(fault.name) !== -1) throw new ConflictError(`fault already exists: ${fault.name} on proxy ${proxy}`);
      faults = [...faults, fault];
      emit(event('fault_applied', fault));
      changed();
      return fault;
    },
    update(name, patch) {
      const updated = updateFault(mustFind(name), patch);
      faults = faults.map((fault) => (fault.name === name ? updated : fault));
      emit(event('fault_updated', updated));
      changed();
      return updated;
    },
    remove(name) {
      const removed = mustFind(name);
      faults = faults.filter((fault) => fault !== removed);
      emit(event('fault_removed', removed));
      changed();
      return removed;
    },
    get(name) {
      return faults[findIndex(name)];
    },
    list(collection) {
      return collection ? faults.filter((fault) => fault.collection === collection) : [...faults];
    },
    clear() {
      const removed = faults;
      if (removed.length === 0) return;
      faults = [];
      for (const fault of removed) emit(event('fault_removed', fault));
      changed();
    },
  };
}
