// What the Chaos Mesh exporter takes: a scenario's faults on a timeline, each
// one a kind Chaos Mesh can express (network, HTTP, pod, stress) aimed at an
// edge `caller->dependency`, a service, or two groups of services. The type is
// the exporter's own, not the runner's scenario format, so that the lead can
// map any scenario fault kind onto it (fromScenario maps every scenario fault
// type, MAPPED_SCENARIO_FAULTS). Input is validated once with
// zod, every bad field reported with its path.

import { z } from 'zod';
import { parseDuration, type DurationInput } from '../../demo-services/kit/durations.ts';
import { InvalidSpecError } from '../errors.ts';
import { parseWith } from '../fault-spec.ts';
import type { WorkflowNode } from '../fault-workflow.ts';

const serviceName = z
  .string()
  .regex(/^[a-z][a-z0-9-]*$/, { error: 'must be a service name (lowercase letters, digits and dashes)' });
const edge = z
  .string()
  .regex(/^[a-z][a-z0-9-]*->[a-z][a-z0-9-]*$/, { error: "must name an edge as 'caller->dependency'" });
const faultName = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9-]{0,40}[a-z0-9])?$/, { error: 'must be 1-42 lowercase letters, digits and dashes (a Kubernetes name part)' });
const ms = z.number().min(0, { error: 'must be >= 0 (milliseconds)' });
/** Share of requests or packets (0..1]; Chaos Mesh can only approximate a share below 1 by a share of pods. */
const rate = z.number().gt(0, { error: 'must be > 0' }).max(1, { error: 'must be <= 1' }).optional();
const count = z.int().min(1, { error: 'must be >= 1' }).optional();
/** HTTP faults may narrow by path (Chaos Mesh wildcards) and method. */
const httpMatch = {
  path: z.string().regex(/^\//, { error: 'must start with /' }).optional(),
  method: z.string().regex(/^[A-Z]+$/, { error: 'must be an upper-case HTTP method' }).optional(),
};
/** An HTTP fault acts on the dependency's pods: name the edge, or the service directly. */
const httpTarget = { edge: edge.optional(), service: serviceName.optional() };

const timing = {
  name: faultName,
  /** Offset from the start of the run. */
  startMs: ms,
  durationMs: z.number().gt(0, { error: 'must be > 0 (milliseconds)' }),
  /** What the lab does that this experiment only approximates (a toxic Chaos Mesh has no match for). */
  approximates: z.string().min(1).optional(),
};

const faultSchema = z
  .discriminatedUnion('kind', [
    z.strictObject({ kind: z.literal('latency'), ...timing, edge, latencyMs: ms, jitterMs: ms.default(0), rate }),
    z.strictObject({ kind: z.literal('bandwidth'), ...timing, edge, bytesPerSecond: z.number().min(1, { error: 'must be >= 1 (bytes per second)' }) }),
    z.strictObject({ kind: z.literal('loss'), ...timing, edge, percent: z.number().gt(0, { error: 'must be > 0' }).max(100, { error: 'must be <= 100' }) }),
    /** Every packet dropped (Toxiproxy's timeout toxic, a black hole). */
    z.strictObject({ kind: z.literal('blackhole'), ...timing, edge }),
    z.strictObject({
      kind: z.literal('partition'),
      ...timing,
      a: z.array(serviceName).min(1, { error: 'must name at least one service' }),
      b: z.array(serviceName).min(1, { error: 'must name at least one service' }),
      mode: z.enum(['blackhole', 'refuse']).default('blackhole'),
    }),
    z.strictObject({
      kind: z.literal('http_error'),
      ...timing,
      ...httpTarget,
      status: z.int().min(400).max(599).default(503),
      /** upstream: the request never reaches the dependency (the lab's default); downstream: its answer is replaced. */
      stream: z.enum(['upstream', 'downstream']).default('upstream'),
      rate,
      ...httpMatch,
    }),
    z.strictObject({ kind: z.literal('http_delay'), ...timing, ...httpTarget, delayMs: ms, rate, ...httpMatch }),
    /** The connection is cut without an answer. */
    z.strictObject({ kind: z.literal('http_abort'), ...timing, ...httpTarget, rate, ...httpMatch }),
    z.strictObject({ kind: z.literal('pod_kill'), ...timing, service: serviceName, count }),
    z.strictObject({ kind: z.literal('pod_failure'), ...timing, service: serviceName, count }),
    z.strictObject({ kind: z.literal('container_kill'), ...timing, service: serviceName, container: z.string().min(1), count }),
    z.strictObject({
      kind: z.literal('cpu_stress'),
      ...timing,
      service: serviceName,
      workers: z.int().min(1).max(8192).default(1),
      /** Percent of one CPU per worker. */
      load: z.int().min(0).max(100).default(100),
    }),
    z.strictObject({
      kind: z.literal('memory_stress'),
      ...timing,
      service: serviceName,
      workers: z.int().min(1).max(8192).default(1),
      /** Per worker: `256MB`, `1GB` or a percentage of memory `50%`. */
      size: z.string().regex(/^\d+(\.\d+)?(B|KB|MB|GB|TB|%)$/i, { error: "must be a size such as '256MB' or '50%'" }),
    }),
  ])
  .superRefine((fault, context) => {
    if (fault.kind !== 'http_error' && fault.kind !== 'http_delay' && fault.kind !== 'http_abort') return;
    if ((fault.edge === undefined) === (fault.service === undefined)) {
      context.addIssue({ code: 'custom', path: ['edge'], message: 'give either edge or service' });
    }
  });

const scenarioSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9]([a-z0-9-]{0,40}[a-z0-9])?$/, { error: 'must be 1-42 lowercase letters, digits and dashes' }),
  /** Length of the whole run: the workflow's deadline. */
  durationMs: z.number().gt(0, { error: 'must be > 0 (milliseconds)' }),
  /** Where the scenario came from, shown in the manifests' annotations. */
  source: z.string().optional(),
  faults: z.array(faultSchema).min(1, { error: 'must hold at least one fault to export' }),
  /** Serial and parallel groups (chaos/fault-workflow.ts); without it every fault is its own track. */
  workflow: z.array(z.custom<WorkflowNode>((value) => typeof value === 'object' && value !== null && 'kind' in value, { error: 'must be a workflow node' })).optional(),
});

export type ChaosMeshScenarioInput = z.input<typeof scenarioSchema>;
export type ChaosMeshScenario = z.output<typeof scenarioSchema>;
export type ChaosMeshFault = ChaosMeshScenario['faults'][number];
export type ChaosMeshFaultKind = ChaosMeshFault['kind'];

/** Validate exporter input; throws an InvalidSpecError naming every bad field, or one that ends after the run. */
export function parseChaosMeshScenario(input: unknown): ChaosMeshScenario {
  const scenario = parseWith(scenarioSchema, input);
  const problems: Array<{ field: string; message: string }> = [];
  const names = new Set<string>();
  scenario.faults.forEach((fault, index) => {
    if (names.has(fault.name)) problems.push({ field: `faults.${index}.name`, message: `'${fault.name}' is used twice` });
    names.add(fault.name);
    if (fault.startMs + fault.durationMs > scenario.durationMs) {
      problems.push({ field: `faults.${index}`, message: `ends after the run (${scenario.durationMs} ms)` });
    }
  });
  if (scenario.workflow) {
    const seen = new Map<string, number>();
    const visit = (node: WorkflowNode): void => {
      if (node.kind === 'fault') seen.set(node.name, (seen.get(node.name) ?? 0) + 1);
      else node.children.forEach(visit);
    };
    scenario.workflow.forEach(visit);
    for (const fault of scenario.faults) if (seen.get(fault.name) !== 1) problems.push({ field: 'workflow', message: `must hold fault '${fault.name}' exactly once` });
    for (const name of seen.keys()) if (!names.has(name)) problems.push({ field: 'workflow', message: `names no fault '${name}'` });
  }
  if (problems.length > 0) throw new InvalidSpecError(problems);
  return scenario;
}

/** The parts of a runner scenario (runner/scenario.ts) the mapping reads; the runner's parsed Scenario fits it. */
export interface ScenarioLike {
  name: string;
  phases: ReadonlyArray<{ name: string; duration: number }>;
  faults: ReadonlyArray<{
    type: string;
    name: string;
    /** Network faults: 'caller->dependency'. */
    edge?: string | undefined;
    /** Process faults: the instance (`payment-1`) and what happens to it. */
    target?: string | undefined;
    action?: string | undefined;
    /** In-service faults (cpu_burn, memory_leak): their attributes. */
    attributes?: Readonly<Record<string, unknown>> | undefined;
    phase?: string | undefined;
    at?: number | undefined;
    duration?: number | undefined;
    status?: number | undefined;
    rate?: number | undefined;
    latency?: number | undefined;
    jitter?: number | undefined;
    /** Toxics: Toxiproxy's toxicity and stream. */
    toxicity?: number | undefined;
    stream?: string | undefined;
    /** Partitions: the two groups and how they are cut. */
    a?: readonly string[] | undefined;
    b?: readonly string[] | undefined;
    mode?: string | undefined;
  }>;
}

/** The Deployment (and `app.kubernetes.io/name`) of the OpenTelemetry Collector in the observability overlay (deploy/kubernetes). */
export const COLLECTOR_SERVICE = 'otel-collector';

/** The scenario fault types fromScenario maps, and onto what. */
export const MAPPED_SCENARIO_FAULTS = {
  http_error: 'http_error',
  latency: 'latency',
  process: 'pod_kill (kill) or pod_failure (pause); on the collector, of otel-collector',
  cpu_burn: 'cpu_stress',
  memory_leak: 'memory_stress',
  bandwidth: 'bandwidth',
  timeout: 'blackhole',
  reset_peer: 'http_abort',
  limit_data: 'http_abort (approximated)',
  slicer: 'latency (approximated)',
  slow_close: 'latency (approximated)',
  down: 'partition (approximated)',
  partition: 'partition',
  error_rate: 'http_error (a share of the pods)',
  not_ready: 'http_error on /readyz (a share of the pods)',
  poison: 'http_abort on its path (approximated: the pod is not crashed)',
  request_block: 'cpu_stress (approximated)',
  worker_pool: 'http_delay of its service time (approximated: the queue is not exported)',
} as const;

/**
 * Map a scenario onto the exporter's input: phases become offsets, each fault
 * keeps its name and timing, and its type becomes a Chaos Mesh fault kind.
 * Defaults are the scenario format's (status 503, rate 1, jitter 0).
 */
export function fromScenario(scenario: ScenarioLike, source?: string, workflow?: readonly WorkflowNode[]): ChaosMeshScenario {
  const windows = new Map<string, { startMs: number; endMs: number }>();
  let at = 0;
  for (const phase of scenario.phases) {
    windows.set(phase.name, { startMs: at, endMs: at + phase.duration });
    at += phase.duration;
  }
  const problems: Array<{ field: string; message: string }> = [];
  const faults = scenario.faults.flatMap((fault, index): ChaosMeshScenarioInput['faults'] => {
    const window = fault.phase === undefined ? undefined : windows.get(fault.phase);
    if (fault.phase !== undefined && !window) {
      problems.push({ field: `faults.${index}.phase`, message: `no phase named '${fault.phase}'` });
      return [];
    }
    const startMs = window ? window.startMs : (fault.at ?? 0);
    const durationMs = window ? window.endMs - window.startMs : (fault.duration ?? 0);
    const timing = { name: fault.name, startMs, durationMs };
    const attribute = (key: string, fallback: number) => Number(fault.attributes?.[key] ?? fallback);
    const edgeOnly = fault.edge ?? '';
    switch (fault.type) {
      case 'bandwidth':
        // Toxiproxy's rate is KB/s (1 KB = 1000 bytes).
        return [{ kind: 'bandwidth', ...timing, edge: edgeOnly, bytesPerSecond: Math.max(1, attribute('rate', 0) * 1000) }];
      case 'timeout':
        return [{ kind: 'blackhole', ...timing, edge: edgeOnly }];
      case 'reset_peer':
        return [
          {
            kind: 'http_abort',
            ...timing,
            edge: edgeOnly,
            rate: fault.toxicity ?? 1,
            ...(fault.stream === 'upstream'
              ? {}
              : { approximates: `${fault.name}: reset_peer downstream resets the connection after ${edgeOnly.split('->')[1] ?? 'the dependency'} did the work; HTTPChaos aborts the request before it does` }),
          },
        ];
      case 'limit_data':
        return [{ kind: 'http_abort', ...timing, edge: edgeOnly, rate: fault.toxicity ?? 1, approximates: `${fault.name}: limit_data (${attribute('bytes', 0)} bytes, then the connection closes) is exported as an aborted request` }];
      case 'slicer':
        return [{ kind: 'latency', ...timing, edge: edgeOnly, latencyMs: attribute('delay', 0) / 1000, rate: fault.toxicity ?? 1, approximates: `${fault.name}: slicer (pieces of ~${attribute('average_size', 0)} bytes, ${attribute('delay', 0)} µs apart) is exported as a delay of one piece's gap` }];
      case 'slow_close':
        return [{ kind: 'latency', ...timing, edge: edgeOnly, latencyMs: attribute('delay', 0), rate: fault.toxicity ?? 1, approximates: `${fault.name}: slow_close (the close arrives ${attribute('delay', 0)} ms late) is exported as a delay of every packet` }];
      case 'down': {
        const [caller = '', dependency = ''] = edgeOnly.split('->');
        return [{ kind: 'partition', ...timing, a: [caller], b: [dependency], mode: 'refuse', approximates: `${fault.name}: the edge's proxy is disabled in the lab (connections refused); exported as a partition between ${caller} and ${dependency}, which cuts both directions` }];
      }
      case 'partition':
        return [{ kind: 'partition', ...timing, a: [...(fault.a ?? [])], b: [...(fault.b ?? [])], mode: fault.mode === 'refuse' ? 'refuse' : 'blackhole' }];
      case 'http_error':
        return [{ kind: 'http_error', ...timing, edge: fault.edge, status: fault.status ?? 503, rate: fault.rate ?? 1 }];
      case 'latency':
        return [{ kind: 'latency', ...timing, edge: fault.edge ?? '', latencyMs: fault.latency ?? 0, jitterMs: fault.jitter ?? 0, rate: fault.rate ?? 1 }];
      case 'cpu_burn':
        return [{ kind: 'cpu_stress', ...timing, service: (fault.target ?? '').replace(/-\d+$/, ''), workers: 1, load: Math.round(Number(fault.attributes?.percent ?? 100)) }];
      case 'memory_leak':
        return [{ kind: 'memory_stress', ...timing, service: (fault.target ?? '').replace(/-\d+$/, ''), workers: 1, size: `${Math.round(Number(fault.attributes?.capMiB ?? 256))}MB` }];
      case 'error_rate': {
        // One lab instance of two is half of the Deployment's pods; HTTPChaos fails all of a chosen pod's answers.
        const service = (fault.target ?? '').replace(/-\d+$/, '');
        return [{ kind: 'http_error', ...timing, service, status: attribute('status', 500), stream: 'downstream', rate: 0.5, approximates: `${fault.name}: error_rate fails ${attribute('rate', 1) * 100}% of ${fault.target}'s requests; exported as every answer of half of ${service}'s pods replaced with ${attribute('status', 500)}` }];
      }
      case 'request_block': {
        // Chaos Mesh cannot hold a pod's event loop on each request; a stressor that takes its core comes closest.
        const service = (fault.target ?? '').replace(/-\d+$/, '');
        // As written in the file ('80ms'), or milliseconds from code.
        const block = fault.attributes?.block;
        return [{ kind: 'cpu_stress', ...timing, service, workers: 1, load: 100, approximates: `${fault.name}: request_block holds ${fault.target}'s event loop ${typeof block === 'number' ? `${block}ms` : String(block)} on every request; exported as a CPU stressor at 100% of one core in ${service}'s pods, which slows its requests without tying the delay to them` }];
      }
      case 'poison': {
        // Chaos Mesh cannot crash a pod on one request; aborting that request's connection is what its caller sees of the crash.
        const service = (fault.target ?? '').replace(/-\d+$/, '');
        const path = String(fault.attributes?.path ?? '/');
        const share = service === fault.target ? 1 : 0.5;
        return [{ kind: 'http_abort', ...timing, service, path, method: 'GET', rate: share, approximates: `${fault.name}: poison crashes ${fault.target} (the process exits, with every request in flight) on a read of ${path}, and the lab restarts it; exported as the connections of ${share === 1 ? '' : 'half of '}${service}'s pods' reads of ${path} aborted (the pod is not crashed, so the requests beside it and the restarts are not exported)` }];
      }
      case 'not_ready': {
        const service = (fault.target ?? '').replace(/-\d+$/, '');
        return [{ kind: 'http_error', ...timing, service, path: '/readyz', status: 503, stream: 'downstream', rate: 0.5, approximates: `${fault.name}: not_ready fails ${fault.target}'s readiness probe, then its requests ${attribute('failAfter', 3_000)} ms later; exported as the probe's answers of half of ${service}'s pods replaced with 503 (the requests' failure is not exported)` }];
      }
      case 'worker_pool': {
        // A lab instance of a replicated service is a share of its pods; the pool's capacity has no Chaos Mesh kind, its service time has.
        const service = (fault.target ?? '').replace(/-\d+$/, '');
        const share = service === fault.target ? 1 : 0.5;
        // A scenario file spells it '300ms'; the runner's parsed scenario hands over milliseconds.
        let serviceTimeMs: number;
        try {
          serviceTimeMs = parseDuration(fault.attributes?.serviceTime as DurationInput, 'serviceTime');
        } catch (error) {
          problems.push({ field: `faults.${index}.attributes.serviceTime`, message: (error as Error).message });
          return [];
        }
        return [{ kind: 'http_delay', ...timing, service, delayMs: serviceTimeMs, rate: share, approximates: `${fault.name}: worker_pool serves ${attribute('workers', 1)} requests of ${fault.target} at once, each ${serviceTimeMs} ms, and queues the rest; exported as every answer of ${share === 1 ? '' : 'half of '}${service}'s pods delayed ${serviceTimeMs} ms (no concurrency limit: the queue, and so the overload, is not exported)` }];
      }
      case 'process': {
        // A lab instance (`payment-1`) is one pod of its service's Deployment; the lab's collector is the cluster's OpenTelemetry Collector.
        const service = fault.target === 'collector' ? COLLECTOR_SERVICE : (fault.target ?? '').replace(/-\d+$/, '');
        return [{ kind: fault.action === 'pause' ? 'pod_failure' : 'pod_kill', ...timing, service, count: 1 }];
      }
      default:
        problems.push({
          field: `faults.${index}.type`,
          message: `no Chaos Mesh mapping for '${fault.type}' (mapped: ${Object.keys(MAPPED_SCENARIO_FAULTS).join(', ')}); add one in chaos/chaos-mesh/faults.ts fromScenario`,
        });
        return [];
    }
  });
  if (problems.length > 0) throw new InvalidSpecError(problems);
  return parseChaosMeshScenario({
    name: scenario.name,
    durationMs: at,
    ...(source === undefined ? {} : { source }),
    faults,
    ...(workflow === undefined ? {} : { workflow: [...workflow] }),
  });
}
