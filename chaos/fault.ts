// What a fault is, and the one table of fault types. A fault is Toxiproxy's
// toxic shape (name, type, stream, toxicity, attributes) plus a per-request
// decision: the proxy draws whether the fault applies (toxicity) and then asks
// the fault what to do (an effect). Each type lives in chaos/faults/<type>.ts
// as a typed factory plus a registry entry; adding a type is one module and
// one line in FAULT_TYPES. A type that needs a new kind of effect (a TCP
// toxic's throttle or reset) adds a member to FaultEffect, and the proxy's
// exhaustive switch over effects does not compile until it handles it.

import type { z } from 'zod';
import { InvalidSpecError } from './errors.ts';
import { COLLECTION_NOUN, commonSpecSchema, parseWith } from './fault-spec.ts';
import { httpErrorType } from './faults/http-error.ts';
import { latencyType } from './faults/latency.ts';
import type { RandomSource as Random } from '../demo-services/kit/random.ts';

/** Direction of traffic a fault acts on: client to upstream, or upstream back to client (Toxiproxy's terms). */
export type Stream = 'upstream' | 'downstream';

/** The admin API collection a fault lives in: network toxics, or HTTP-level faults. */
export type FaultCollection = 'toxics' | 'http_faults';

export type FaultAttributes = Record<string, number | string>;

/** The JSON shape of a fault, as the admin API shows it (Toxiproxy's toxic shape). */
export interface FaultSpec {
  name: string;
  type: string;
  stream: Stream;
  /** Probability (0..1) that the fault applies to a given request, as in Toxiproxy. */
  toxicity: number;
  attributes: FaultAttributes;
}

/** The body of a problem+json answer an effect asks the proxy to send (instance and trace_id are added per request). */
export interface ProblemBody {
  type: string;
  title: string;
  detail: string;
}

/** What a fault does to one request it applies to. The proxy acts on each kind. */
export type FaultEffect =
  /** Wait this long before passing the request on (upstream) or the answer back (downstream). */
  | { kind: 'delay'; ms: number }
  /** Answer the client with this status and problem instead of the upstream's answer. */
  | { kind: 'respond'; status: number; headers: Readonly<Record<string, string>>; problem: ProblemBody };

export interface Fault extends Readonly<FaultSpec> {
  readonly attributes: Readonly<FaultAttributes>;
  readonly collection: FaultCollection;
  /** The effect for one request; called only when the toxicity draw selected this fault. May draw from `random`. */
  decide(random: Random): FaultEffect;
}

/** A registry entry: how to build a fault of one type from validated fields. */
export interface FaultType<A extends FaultAttributes = FaultAttributes> {
  type: string;
  collection: FaultCollection;
  defaultStream: Stream;
  /** Validates and normalises the attributes (defaults filled in, unknown keys rejected). */
  attributes: z.ZodType<A, unknown>;
  create(common: { name: string; stream: Stream; toxicity: number }, attributes: A): Fault;
}

/** Every fault type, by type name. */
export const FAULT_TYPES: ReadonlyMap<string, FaultType> = new Map<string, FaultType>(
  [latencyType, httpErrorType].map((entry) => [entry.type, entry as unknown as FaultType]),
);

export function faultTypesOf(collection: FaultCollection): string[] {
  return [...FAULT_TYPES.values()].filter((entry) => entry.collection === collection).map((entry) => entry.type);
}

/** The JSON view of a fault. */
export function toSpec(fault: Fault): FaultSpec {
  return {
    name: fault.name,
    type: fault.type,
    stream: fault.stream,
    toxicity: fault.toxicity,
    attributes: { ...fault.attributes },
  };
}

/**
 * Build a fault from an admin API body (`{ name?, type, stream?, toxicity?, attributes }`).
 * With `collection`, a type from the other collection is refused with a hint.
 */
export function createFault(input: unknown, collection?: FaultCollection): Fault {
  const common = parseWith(commonSpecSchema, input);
  const entry = FAULT_TYPES.get(common.type);
  if (!entry || (collection && entry.collection !== collection)) {
    const wanted = collection ?? 'toxics';
    const noun = COLLECTION_NOUN[wanted];
    const hint = entry ? ` (${entry.type} is a ${COLLECTION_NOUN[entry.collection]}: POST it to /proxies/{proxy}/${entry.collection})` : '';
    const known = collection ? faultTypesOf(collection) : [...FAULT_TYPES.keys()];
    throw new InvalidSpecError([
      { field: 'type', message: `unknown ${noun} type "${common.type}"${hint}; known: ${known.join(', ')}` },
    ]);
  }
  const attributes = parseWith(entry.attributes, common.attributes ?? {}, 'attributes');
  const stream = common.stream ?? entry.defaultStream;
  return entry.create(
    { name: common.name ?? `${entry.type}_${stream}`, stream, toxicity: common.toxicity ?? 1 },
    attributes,
  );
}

/**
 * Apply an update body to a fault, as Toxiproxy does: toxicity replaced when
 * given, attributes merged over the current ones; name, type and stream are
 * identity and may be repeated but not changed.
 */
export function updateFault(current: Fault, patch: unknown): Fault {
  const fields = parseWith(commonSpecSchema.partial(), patch);
  const changed = (['name', 'type', 'stream'] as const).filter(
    (field) => fields[field] !== undefined && fields[field] !== current[field],
  );
  if (changed.length > 0) {
    throw new InvalidSpecError(changed.map((field) => ({ field, message: 'cannot be changed; delete and re-create the fault' })));
  }
  return createFault(
    {
      name: current.name,
      type: current.type,
      stream: current.stream,
      toxicity: fields.toxicity ?? current.toxicity,
      attributes: { ...current.attributes, ...fields.attributes },
    },
    current.collection,
  );
}

