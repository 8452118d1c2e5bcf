// What a fault is, and the one table of fault types. A fault is Toxiproxy's
// toxic shape (name, type, stream, toxicity, attributes) plus what it does in
// each proxy mode:
// - http mode: a per-request decision. The proxy checks whether the fault
//   concerns the request (HTTP faults match by path, method, header), draws
//   whether it applies (toxicity), then asks the fault what to do (an effect).
// - tcp mode: a byte-stream stage per connection and direction (toxic-stage.ts),
//   with the toxicity drawn per connection as Toxiproxy does.
// Each type lives in chaos/faults/<type>.ts as a typed factory plus a registry
// entry; adding a type is one module and one line in FAULT_TYPES. A type that
// needs a new kind of effect adds a member to FaultEffect, and the http proxy's
// exhaustive switch over effects does not compile until it handles it.

import type { z } from 'zod';
import { InvalidSpecError } from './errors.ts';
import { COLLECTION_NOUN, commonSpecSchema, parseWith } from './fault-spec.ts';
import { bandwidthType } from './faults/bandwidth.ts';
import { delayType } from './faults/delay.ts';
import { httpErrorType } from './faults/http-error.ts';
import { latencyType } from './faults/latency.ts';
import { limitDataType } from './faults/limit-data.ts';
import { resetPeerType } from './faults/reset-peer.ts';
import { slicerType } from './faults/slicer.ts';
import { slowBodyType } from './faults/slow-body.ts';
import { slowCloseType } from './faults/slow-close.ts';
import { timeoutType } from './faults/timeout.ts';
import type { RequestView } from './request-match.ts';
import type { StageContext, ToxicStage } from './toxic-stage.ts';
import type { RandomSource as Random } from '../demo-services/kit/random.ts';

/** How a proxy forwards: parsing HTTP (per-request faults) or as a plain byte stream (Toxiproxy's TCP). */
export type ProxyMode = 'http' | 'tcp';

export const PROXY_MODES = ['http', 'tcp'] as const satisfies readonly ProxyMode[];

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

/** What a fault does to one request it applies to, in an http-mode proxy. The proxy acts on each kind. */
export type FaultEffect =
  /** Wait this long before passing the request on (upstream) or the answer back (downstream). */
  | { kind: 'delay'; ms: number }
  /** Answer the client with this status and problem instead of the upstream's answer. */
  | { kind: 'respond'; status: number; headers: Readonly<Record<string, string>>; problem: ProblemBody }
  /** Pass the request body (upstream) or the answer body (downstream) through this byte stage (bandwidth, slicer, limit_data, slow_body). */
  | { kind: 'shape'; stage: (context: StageContext) => ToxicStage }
  /** Black hole: the request (upstream) or the answer (downstream) vanishes; the connection is closed after `closeAfterMs`, or never when 0. */
  | { kind: 'blackhole'; closeAfterMs: number }
  /** The connection is reset (TCP RST) `afterMs` after the request arrived, the request unforwarded (upstream) or the answer withheld (downstream). */
  | { kind: 'reset'; afterMs: number };

export interface Fault extends Readonly<FaultSpec> {
  readonly attributes: Readonly<FaultAttributes>;
  readonly collection: FaultCollection;
  /** The proxy modes this fault works in; adding it to a proxy of another mode is refused. */
  readonly modes: readonly ProxyMode[];
  /** Whether the fault concerns this request (HTTP faults match by path, method, header); toxics concern every request. */
  matches(request: RequestView): boolean;
  /** http mode: the effect for one request; called only when the toxicity draw selected this fault. May draw from `random`. */
  decide?(random: Random): FaultEffect;
  /** tcp mode: the stage for one direction of one connection; called only when the per-connection toxicity draw selected this fault. */
  createStage?(context: StageContext): ToxicStage;
}

/** A fault that works in http mode (every typed factory of such a type returns one). */
export type HttpModeFault = Fault & { decide(random: Random): FaultEffect };

/** A registry entry: how to build a fault of one type from validated fields. */
export interface FaultType<A extends FaultAttributes = FaultAttributes> {
  type: string;
  collection: FaultCollection;
  defaultStream: Stream;
  modes: readonly ProxyMode[];
  /** Validates and normalises the attributes (defaults filled in, unknown keys rejected). */
  attributes: z.ZodType<A, unknown>;
  create(common: { name: string; stream: Stream; toxicity: number }, attributes: A): Fault;
}

/** Every fault type, by type name. */
export const FAULT_TYPES: ReadonlyMap<string, FaultType> = new Map<string, FaultType>(
  [
    latencyType,
    bandwidthType,
    slowCloseType,
    timeoutType,
    resetPeerType,
    slicerType,
    limitDataType,
    httpErrorType,
    delayType,
    slowBodyType,
  ].map((entry) => [entry.type, entry as unknown as FaultType]),
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

