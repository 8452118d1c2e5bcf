// One-click faults for the live console, graded like the OpenTelemetry demo's
// flag variants (bank errors 10/50/100%, latency 100 ms/1 s/5 s): one preset
// per kind and grade, covering every fault kind the scenario schema has. Each
// preset knows which targets of the topology it can act on, and what it
// builds goes through the scenario parser (schema and cross-checks: edge
// exists, toxic fits the edge's mode, instance exists) before it reaches the
// lab, so the console can never send a fault the lab would not accept.

import { FAULT_TYPES } from '../../chaos/fault.ts';
import { PROCESS_FAULT_TYPES } from '../../demo-services/kit/process-faults.ts';
import { FaultlineError } from '../errors.ts';
import { COLLECTOR_PROCESS, parseScenario, type FaultSpec } from '../scenario.ts';
import { instanceNames, SERVICES } from '../topology.ts';

/** Stable codes of what a console request got wrong; `status` is the HTTP answer the console gives. */
export const CONSOLE_ERROR = {
  unknownPreset: { code: 'CONSOLE_UNKNOWN_PRESET', status: 400 },
  targetNotAllowed: { code: 'CONSOLE_TARGET_NOT_ALLOWED', status: 400 },
  invalidFault: { code: 'CONSOLE_INVALID_FAULT', status: 400 },
  unknownFault: { code: 'CONSOLE_UNKNOWN_FAULT', status: 404 },
  conflict: { code: 'CONSOLE_FAULT_CONFLICT', status: 409 },
  invalidGameDay: { code: 'CONSOLE_INVALID_GAME_DAY', status: 400 },
  gameDayRunning: { code: 'CONSOLE_GAME_DAY_RUNNING', status: 409 },
} as const;

export class ConsoleInputError extends Error {
  readonly code: string;
  readonly status: number;
  constructor(kind: (typeof CONSOLE_ERROR)[keyof typeof CONSOLE_ERROR], message: string) {
    super(message);
    this.name = 'ConsoleInputError';
    this.code = kind.code;
    this.status = kind.status;
  }
}

/** What a preset acts on: an edge 'caller->dependency', an instance 'payment-1', or two groups of services 'checkout<->inventory'. */
export type TargetKind = 'edge' | 'instance' | 'partition';

/** Where a fault is applied: through the fault proxy, the lab's supervisor, or the instance's /admin/faults. */
export type FaultKind = 'network' | 'process' | 'in-service';

export interface FaultPreset {
  id: string;
  title: string;
  /** Presets of one group are grades of one fault (the UI shows them side by side). */
  group: string;
  kind: FaultKind;
  grade: string;
  /** The scenario fault type it builds. */
  faultType: FaultSpec['type'];
  targetKind: TargetKind;
  /** Every target it accepts, from the topology. */
  targets: readonly string[];
  /** The target one click uses. */
  defaultTarget: string;
  /** The fault, validated by the scenario parser; throws ConsoleInputError for a target the preset does not accept. */
  toFault(target: string, name: string): FaultSpec;
}

/** A preset as the UI lists it (JSON). */
export type PresetView = Omit<FaultPreset, 'toFault'>;

// The topology's targets, computed once.
const EDGES = SERVICES.flatMap((service) => service.calls.map((call) => ({ edge: `${service.name}->${call.service}`, mode: call.mode })));
const INSTANCES = SERVICES.flatMap((service) => instanceNames(service.name));

/** Edges a fault type works on: a toxic only on edges carried in a mode it supports (http_error: http; slow_close: tcp). */
function edgesFor(type: string): string[] {
  const modes = FAULT_TYPES.get(type)?.modes;
  return EDGES.filter((edge) => !modes || modes.includes(edge.mode)).map((edge) => edge.edge);
}

/** Partition targets: each pair of services that talk, and each service cut from all its neighbours (when it has several). */
function partitionTargets(): string[] {
  const pairs = EDGES.map((edge) => edge.edge.replace('->', '<->'));
  const isolations = SERVICES.flatMap((service) => {
    const neighbours = [
      ...SERVICES.filter((other) => other.calls.some((call) => call.service === service.name)).map((other) => other.name),
      ...service.calls.map((call) => call.service),
    ];
    return neighbours.length > 1 ? [`${service.name}<->${neighbours.join(',')}`] : [];
  });
  return [...pairs, ...isolations];
}

/** 'a,b<->c' as the two groups of a partition. */
function partitionGroups(target: string): { a: string[]; b: string[] } {
  const [a = '', b = ''] = target.split('<->');
  return { a: a.split(','), b: b.split(',') };
}

type RawFault = Record<string, unknown> & { type: FaultSpec['type'] };

interface PresetDefinition {
  id: string;
  title: string;
  group: string;
  grade: string;
  targetKind: TargetKind;
  targets: readonly string[];
  preferred: string;
  build(target: string): RawFault;
}

const edgePresets = (
  group: string,
  title: string,
  type: FaultSpec['type'],
  grades: Array<{ id: string; grade: string; fields: Record<string, unknown> }>,
  preferred = 'payment->bank',
): PresetDefinition[] =>
  grades.map(({ id, grade, fields }) => ({ id, title, group, grade, targetKind: 'edge', targets: edgesFor(type), preferred, build: (edge) => ({ type, edge, ...fields }) }));

const inServicePresets = (
  group: string,
  title: string,
  type: FaultSpec['type'],
  grades: Array<{ id: string; grade: string; attributes: Record<string, unknown> }>,
  targets: readonly string[] = INSTANCES,
): PresetDefinition[] =>
  grades.map(({ id, grade, attributes }) => ({ id, title, group, grade, targetKind: 'instance', targets, preferred: 'payment-1', build: (target) => ({ type, target, attributes }) }));

const DEFINITIONS: PresetDefinition[] = [
  ...edgePresets('http-error', 'HTTP 503 errors', 'http_error', [
    { id: 'errors-10', grade: '10% of calls', fields: { status: 503, rate: 0.1 } },
    { id: 'errors-50', grade: '50% of calls', fields: { status: 503, rate: 0.5 } },
    { id: 'errors-100', grade: 'every call', fields: { status: 503, rate: 1 } },
  ]),
  ...edgePresets('latency', 'Slow answers (latency with jitter)', 'latency', [
    { id: 'latency-100ms', grade: '100 ms ± 20 ms', fields: { latency: 100, jitter: 20 } },
    { id: 'latency-1s', grade: '1 s ± 200 ms', fields: { latency: 1_000, jitter: 200 } },
    { id: 'latency-5s', grade: '5 s ± 1 s', fields: { latency: 5_000, jitter: 1_000 } },
  ]),
  ...edgePresets('reset', 'Connection reset (reset_peer)', 'reset_peer', [
    { id: 'reset-25', grade: '25% of calls', fields: { toxicity: 0.25, attributes: { timeout: 0 } } },
    { id: 'reset-100', grade: 'every call', fields: { toxicity: 1, attributes: { timeout: 0 } } },
  ]),
  ...edgePresets('black-hole', 'Black hole (answers never come)', 'timeout', [
    { id: 'black-hole-50', grade: '50% of calls hang', fields: { toxicity: 0.5, attributes: { timeout: 0 } } },
    { id: 'black-hole-100', grade: 'every call hangs', fields: { toxicity: 1, attributes: { timeout: 0 } } },
  ]),
  ...edgePresets('down', 'Dependency down (connections refused)', 'down', [{ id: 'down', grade: 'refused', fields: {} }]),
  ...edgePresets('bandwidth', 'Narrow pipe (bandwidth)', 'bandwidth', [
    { id: 'bandwidth-100kb', grade: '100 KB/s', fields: { attributes: { rate: 100 } } },
    { id: 'bandwidth-10kb', grade: '10 KB/s', fields: { attributes: { rate: 10 } } },
    { id: 'bandwidth-1kb', grade: '1 KB/s', fields: { attributes: { rate: 1 } } },
  ]),
  // Slicer delays are Toxiproxy's microseconds.
  ...edgePresets('slicer', 'Answers in small pieces (slicer)', 'slicer', [
    { id: 'slicer', grade: '~64 B pieces, 10 ms apart', fields: { attributes: { average_size: 64, size_variation: 32, delay: 10_000 } } },
  ]),
  ...edgePresets('limit-data', 'Truncated answers (limit_data)', 'limit_data', [{ id: 'limit-data-1kb', grade: 'cut after 1 KB', fields: { attributes: { bytes: 1_024 } } }]),
  // A tcp-only toxic: on the gRPC hop.
  ...edgePresets('slow-close', 'Slow close (slow_close)', 'slow_close', [{ id: 'slow-close-2s', grade: 'close held 2 s', fields: { attributes: { delay: 2_000 } } }], 'checkout->payment'),
  ...(['blackhole', 'refuse'] as const).map(
    (mode): PresetDefinition => ({
      id: `partition-${mode}`,
      title: 'Network partition',
      group: 'partition',
      grade: mode === 'blackhole' ? 'calls hang' : 'connections refused',
      targetKind: 'partition',
      targets: partitionTargets(),
      preferred: 'checkout<->inventory',
      build: (target) => ({ type: 'partition', ...partitionGroups(target), mode }),
    }),
  ),
  {
    id: 'pause',
    title: 'Frozen process (SIGSTOP until removed)',
    group: 'pause',
    grade: 'frozen',
    targetKind: 'instance',
    targets: [...INSTANCES, COLLECTOR_PROCESS],
    preferred: 'bank',
    build: (target) => ({ type: 'process', target, action: 'pause' }),
  },
  {
    id: 'kill',
    title: 'Crashed process (SIGKILL, restarted when removed)',
    group: 'kill',
    grade: 'down until removed',
    targetKind: 'instance',
    targets: INSTANCES,
    preferred: 'payment-1',
    build: (target) => ({ type: 'process', target, action: 'kill', restart: true }),
  },
  ...inServicePresets('cpu-burn', 'CPU burn', 'cpu_burn', [
    { id: 'cpu-burn-25', grade: '25% of a core', attributes: { percent: 25 } },
    { id: 'cpu-burn-50', grade: '50% of a core', attributes: { percent: 50 } },
    { id: 'cpu-burn-90', grade: '90% of a core', attributes: { percent: 90 } },
  ]),
  ...inServicePresets('event-loop-block', 'Blocked event loop', 'event_loop_block', [
    { id: 'event-loop-block-100ms', grade: '100 ms every 1 s', attributes: { block: 100, every: 1_000 } },
    { id: 'event-loop-block-1s', grade: '1 s every 5 s', attributes: { block: 1_000, every: 5_000 } },
    { id: 'event-loop-block-5s', grade: '5 s every 15 s', attributes: { block: 5_000, every: 15_000 } },
  ]),
  ...inServicePresets('request-block', 'Blocking call on every request', 'request_block', [
    { id: 'request-block-20ms', grade: '20 ms per request', attributes: { block: 20 } },
    { id: 'request-block-100ms', grade: '100 ms per request', attributes: { block: 100 } },
  ]),
  ...inServicePresets('memory-leak', 'Memory leak', 'memory_leak', [
    { id: 'memory-leak-slow', grade: '8 MiB/s up to 256 MiB', attributes: { rateMiBPerSecond: 8, capMiB: 256 } },
    { id: 'memory-leak-fast', grade: '64 MiB/s up to 512 MiB', attributes: { rateMiBPerSecond: 64, capMiB: 512 } },
  ]),
  ...inServicePresets('concurrency-limit', 'Concurrency limit (503 beyond it)', 'concurrency_limit', [
    { id: 'concurrency-limit-10', grade: '10 in flight', attributes: { maxInFlight: 10 } },
    { id: 'concurrency-limit-1', grade: '1 in flight', attributes: { maxInFlight: 1 } },
  ]),
  ...inServicePresets('worker-pool', 'Few workers, unbounded queue', 'worker_pool', [{ id: 'worker-pool-2', grade: '2 workers, 300 ms each', attributes: { workers: 2, serviceTime: 300 } }]),
  ...inServicePresets('error-rate', 'Bad replica (errors before any work)', 'error_rate', [
    { id: 'error-rate-10', grade: '10% answered 500', attributes: { rate: 0.1, status: 500 } },
    { id: 'error-rate-50', grade: '50% answered 500', attributes: { rate: 0.5, status: 500 } },
    { id: 'error-rate-100', grade: 'every request answered 500', attributes: { rate: 1, status: 500 } },
  ]),
  ...inServicePresets('not-ready', 'Not ready (readiness fails, then requests)', 'not_ready', [{ id: 'not-ready', grade: 'fails requests after 3 s', attributes: { failAfter: 3_000 } }]),
  // A corrupt record only the catalog serves: reading it crashes the instance, again after each restart.
  ...inServicePresets('poison', 'Poison record (a read crashes the instance)', 'poison', [{ id: 'poison', grade: '/products/sku-13', attributes: { path: '/products/sku-13' } }], instanceNames('catalog')),
];

const IN_SERVICE_TYPES: ReadonlySet<string> = new Set(PROCESS_FAULT_TYPES);

/** The whole phase a fault is validated in: the parser wants timing, the console removes faults itself. */
const CONSOLE_PHASE = 'console';

/** The fault as the lab would take it from a scenario file: parsed and cross-checked, timing left out. */
function validated(raw: Record<string, unknown>, what: string): FaultSpec {
  const document = {
    name: 'console',
    description: 'A fault the live console applies.',
    phases: [{ name: CONSOLE_PHASE, duration: 1_000 }],
    load: { executor: 'constant-arrival-rate', journey: 'checkout', rate: 1, timeUnit: '1s', preAllocatedVUs: 1, maxVUs: 1 },
    faults: [{ ...raw, phase: CONSOLE_PHASE }],
    expectations: [{ type: 'threshold', name: 'none', metric: 'http_req_failed', threshold: 'rate<=1' }],
  };
  try {
    const { phase: _phase, ...fault } = parseScenario(document, what).faults[0] as FaultSpec;
    return fault as FaultSpec;
  } catch (error) {
    if (!(error instanceof FaultlineError)) throw error;
    throw new ConsoleInputError(CONSOLE_ERROR.invalidFault, error.message.replaceAll('faults.0.', '').replaceAll('faults.0', 'fault'));
  }
}

const PRESETS: ReadonlyMap<string, FaultPreset> = new Map(
  DEFINITIONS.map((definition): [string, FaultPreset] => {
    const { build, preferred, targets, ...view } = definition;
    const faultType = build(targets[0] as string).type;
    const preset: FaultPreset = {
      ...view,
      kind: faultType === 'process' ? 'process' : IN_SERVICE_TYPES.has(faultType) ? 'in-service' : 'network',
      faultType,
      targets,
      defaultTarget: targets.includes(preferred) ? preferred : (targets[0] as string),
      toFault(target, name) {
        if (!targets.includes(target)) {
          throw new ConsoleInputError(CONSOLE_ERROR.targetNotAllowed, `preset '${definition.id}' cannot act on '${target}': it takes ${describeKind(definition.targetKind)} (${targets.join(', ')})`);
        }
        return validated({ name, ...build(target) }, `preset '${definition.id}' on '${target}'`);
      },
    };
    return [definition.id, preset];
  }),
);

function describeKind(kind: TargetKind): string {
  return kind === 'edge' ? "an edge 'caller->dependency'" : kind === 'instance' ? 'an instance' : "two groups of services 'a,b<->c'";
}

/** Every preset, in catalogue order. */
export function presets(): FaultPreset[] {
  return [...PRESETS.values()];
}

/** One preset; ConsoleInputError naming the known ones when there is none of that id. */
export function preset(id: string): FaultPreset {
  const found = PRESETS.get(id);
  if (!found) throw new ConsoleInputError(CONSOLE_ERROR.unknownPreset, `no preset '${id}' (presets: ${[...PRESETS.keys()].join(', ')})`);
  return found;
}

/** The fault a preset builds on a target, validated; ConsoleInputError for an unknown preset, a target it does not take, or a bad name. */
export function presetFault(presetId: string, target: string, name: string): FaultSpec {
  return preset(presetId).toFault(target, name);
}

/** The catalogue as the UI lists it (JSON-able). */
export function presetCatalogue(): PresetView[] {
  return presets().map(({ toFault: _toFault, targets, ...view }) => ({ ...view, targets: [...targets] }));
}
