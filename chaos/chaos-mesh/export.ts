// A scenario's faults as Chaos Mesh manifests, so the timeline a lab run
// plays on the fault proxies can be played on a Kubernetes cluster: one
// standalone experiment per fault (NetworkChaos, HTTPChaos, PodChaos,
// StressChaos, each with its own duration, to apply by hand), and a Workflow
// (or a Schedule running that workflow) that replays the timeline: a parallel
// step with one track per fault, each track a Suspend until the fault starts
// and then the experiment with a deadline of the fault's duration. Template
// names are prefixed (timeline, track-, wait-, fault-) so no fault name can
// collide with another template.
//
// Services are selected by the `app.kubernetes.io/name` label in one
// namespace. What Chaos Mesh cannot express exactly (a per-request rate, an
// HTTP error the dependency never sees, a refusing partition) is exported as
// the closest experiment and reported in `warnings` and in the manifest's
// annotations. Rendering is pure; writing files is write.ts's job.

import { createHash } from 'node:crypto';
import { stringify } from 'yaml';
import { formatDuration } from '../../demo-services/kit/durations.ts';
import type { WorkflowNode } from '../fault-workflow.ts';
import { type ChaosMeshFault, type ChaosMeshScenario, parseChaosMeshScenario } from './faults.ts';

export const CHAOS_MESH_API_VERSION = 'chaos-mesh.org/v1alpha1';
export const SERVICE_LABEL = 'app.kubernetes.io/name';
export const DEFAULT_NAMESPACE = 'faultline';
/** The port the demo services listen on in their containers (HTTPChaos needs it). */
export const DEFAULT_HTTP_PORT = 8080;

export type ChaosMeshKind = 'NetworkChaos' | 'HTTPChaos' | 'PodChaos' | 'StressChaos' | 'Workflow' | 'Schedule';

export interface ChaosMeshManifest {
  apiVersion: typeof CHAOS_MESH_API_VERSION;
  kind: ChaosMeshKind;
  metadata: {
    name: string;
    namespace: string;
    labels: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec: Record<string, unknown>;
}

export interface ChaosMeshOptions {
  /** Namespace of the services and of the experiments; default `faultline`. */
  namespace?: string;
  /** Container port of the services' HTTP servers; default 8080. */
  httpPort?: number;
  /** Run the workflow on this Chaos Mesh schedule (`@every 1h`, a cron line) as a Schedule instead of a one-off Workflow. */
  schedule?: string;
}

export interface ChaosMeshExport {
  /** One experiment per fault, in scenario order, then the Workflow or Schedule. */
  manifests: ChaosMeshManifest[];
  /** Where the export only approximates the lab's fault, one line each. */
  warnings: string[];
}

/** A fault's experiment: its kind, the field a workflow template embeds it under, and its spec. */
interface Experiment {
  kind: Exclude<ChaosMeshKind, 'Workflow' | 'Schedule'>;
  templateField: 'networkChaos' | 'httpChaos' | 'podChaos' | 'stressChaos';
  spec: Record<string, unknown>;
  /** Whether the action is instantaneous (pod-kill, container-kill): no duration. */
  instant?: boolean;
  notes: string[];
}

function selector(namespace: string, services: readonly string[]): Record<string, unknown> {
  if (services.length === 1) return { namespaces: [namespace], labelSelectors: { [SERVICE_LABEL]: services[0] } };
  return { namespaces: [namespace], expressionSelectors: [{ key: SERVICE_LABEL, operator: 'In', values: [...services] }] };
}

function splitEdge(edge: string): { caller: string; dependency: string } {
  const [caller, dependency] = edge.split('->') as [string, string];
  return { caller, dependency };
}

/** Chaos Mesh's delay fields take one Go duration component: `200ms`, `0.5ms`. */
function millis(ms: number): string {
  return `${Math.round(ms * 1000) / 1000}ms`;
}

/** A share below 1 becomes a share of the selected pods, the closest Chaos Mesh has. */
function podMode(rate: number | undefined, count: number | undefined, notes: string[], what: string): Record<string, unknown> {
  if (count !== undefined) return { mode: 'fixed', value: String(count) };
  if (rate === undefined || rate >= 1) return { mode: 'all' };
  const percent = Math.max(1, Math.round(rate * 100));
  notes.push(`${what}: a rate of ${rate} has no Chaos Mesh equivalent; exported as ${percent}% of the pods (mode fixed-percent)`);
  return { mode: 'fixed-percent', value: String(percent) };
}

function networkExperiment(fault: Extract<ChaosMeshFault, { edge: string }>, namespace: string, action: Record<string, unknown>, notes: string[]): Experiment {
  const { caller, dependency } = splitEdge(fault.edge);
  const rate = 'rate' in fault ? fault.rate : undefined;
  return {
    kind: 'NetworkChaos',
    templateField: 'networkChaos',
    spec: {
      ...action,
      ...podMode(rate, undefined, notes, fault.name),
      selector: selector(namespace, [caller]),
      direction: 'to',
      target: { mode: 'all', selector: selector(namespace, [dependency]) },
    },
    notes,
  };
}

function httpExperiment(
  fault: Extract<ChaosMeshFault, { kind: 'http_error' | 'http_delay' | 'http_abort' }>,
  namespace: string,
  port: number,
  rule: Record<string, unknown>,
  notes: string[],
): Experiment {
  const service = fault.service ?? splitEdge(fault.edge as string).dependency;
  if (fault.edge !== undefined) {
    notes.push(`${fault.name}: HTTPChaos acts on ${service}'s pods, so every caller of ${service} is affected, not only ${splitEdge(fault.edge).caller}`);
  }
  return {
    kind: 'HTTPChaos',
    templateField: 'httpChaos',
    spec: {
      ...podMode(fault.rate, undefined, notes, fault.name),
      selector: selector(namespace, [service]),
      port,
      ...(fault.path === undefined ? {} : { path: fault.path }),
      ...(fault.method === undefined ? {} : { method: fault.method }),
      ...rule,
    },
    notes,
  };
}

function experimentOf(fault: ChaosMeshFault, namespace: string, port: number): Experiment {
  const notes: string[] = fault.approximates === undefined ? [] : [fault.approximates];
  switch (fault.kind) {
    case 'latency':
      return networkExperiment(
        fault,
        namespace,
        { action: 'delay', delay: { latency: millis(fault.latencyMs), ...(fault.jitterMs > 0 ? { jitter: millis(fault.jitterMs) } : {}), correlation: '0' } },
        notes,
      );
    case 'bandwidth':
      return networkExperiment(
        fault,
        namespace,
        // Chaos Mesh's `bps` unit is bytes per second; limit and buffer are its documented defaults.
        { action: 'bandwidth', bandwidth: { rate: `${Math.round(fault.bytesPerSecond)}bps`, limit: 20971520, buffer: 10000 } },
        notes,
      );
    case 'loss':
      return networkExperiment(fault, namespace, { action: 'loss', loss: { loss: String(fault.percent), correlation: '0' } }, notes);
    case 'blackhole':
      return networkExperiment(fault, namespace, { action: 'loss', loss: { loss: '100', correlation: '0' } }, notes);
    case 'partition':
      if (fault.mode === 'refuse') {
        notes.push(`${fault.name}: Chaos Mesh partitions drop packets; the refusing partition is exported as a black hole (callers time out instead of being refused)`);
      }
      return {
        kind: 'NetworkChaos',
        templateField: 'networkChaos',
        spec: {
          action: 'partition',
          mode: 'all',
          selector: selector(namespace, fault.a),
          direction: 'both',
          target: { mode: 'all', selector: selector(namespace, fault.b) },
        },
        notes,
      };
    case 'http_error':
      if (fault.stream === 'upstream') {
        notes.push(`${fault.name}: HTTPChaos replaces the status of ${fault.service ?? splitEdge(fault.edge as string).dependency}'s answers, so requests still reach it (the lab answers without forwarding)`);
      }
      return httpExperiment(fault, namespace, port, { target: 'Response', replace: { code: fault.status } }, notes);
    case 'http_delay':
      return httpExperiment(fault, namespace, port, { target: 'Request', delay: millis(fault.delayMs) }, notes);
    case 'http_abort':
      return httpExperiment(fault, namespace, port, { target: 'Request', abort: true }, notes);
    case 'pod_kill':
      return {
        kind: 'PodChaos',
        templateField: 'podChaos',
        spec: { action: 'pod-kill', ...podMode(undefined, fault.count ?? 1, notes, fault.name), selector: selector(namespace, [fault.service]), gracePeriod: 0 },
        instant: true,
        notes,
      };
    case 'pod_failure':
      return {
        kind: 'PodChaos',
        templateField: 'podChaos',
        spec: { action: 'pod-failure', ...podMode(undefined, fault.count, notes, fault.name), selector: selector(namespace, [fault.service]) },
        notes,
      };
    case 'container_kill':
      return {
        kind: 'PodChaos',
        templateField: 'podChaos',
        spec: {
          action: 'container-kill',
          ...podMode(undefined, fault.count ?? 1, notes, fault.name),
          selector: selector(namespace, [fault.service]),
          containerNames: [fault.container],
        },
        instant: true,
        notes,
      };
    case 'cpu_stress':
      return {
        kind: 'StressChaos',
        templateField: 'stressChaos',
        spec: { mode: 'all', selector: selector(namespace, [fault.service]), stressors: { cpu: { workers: fault.workers, load: fault.load } } },
        notes,
      };
    case 'memory_stress':
      return {
        kind: 'StressChaos',
        templateField: 'stressChaos',
        spec: { mode: 'all', selector: selector(namespace, [fault.service]), stressors: { memory: { workers: fault.workers, size: fault.size } } },
        notes,
      };
    default:
      return fault satisfies never;
  }
}

/** A Go duration for deadlines and durations (`12s`, `1m30s`, `1.5s`); never below 1 ms. */
function goDuration(ms: number): string {
  return formatDuration(Math.max(1, Math.round(ms)));
}

/** Kubernetes names: lowercase alphanumerics and dashes, at most 63 characters (a long one keeps a hash of the whole). */
function kubeName(...parts: string[]): string {
  const name = parts
    .join('-')
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '');
  if (name.length <= 63) return name;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 8);
  return `${name.slice(0, 54).replace(/-+$/, '')}-${hash}`;
}

/** Render a scenario's faults as Chaos Mesh manifests. Pure: same input, same manifests. */
export function exportChaosMesh(input: ChaosMeshScenario, options: ChaosMeshOptions = {}): ChaosMeshExport {
  const scenario = parseChaosMeshScenario(input);
  const namespace = options.namespace ?? DEFAULT_NAMESPACE;
  const port = options.httpPort ?? DEFAULT_HTTP_PORT;
  const labels = { 'app.kubernetes.io/part-of': 'faultline', 'faultline.dev/scenario': scenario.name };
  const source: Record<string, string> = scenario.source === undefined ? {} : { 'faultline.dev/source': scenario.source };

  const warnings: string[] = [];
  const manifests: ChaosMeshManifest[] = [];
  const templates: Array<Record<string, unknown>> = [];
  /** Per fault: its experiment's template, and when it runs. */
  const chaosTemplates = new Map<string, { template: string; startMs: number; endMs: number }>();

  for (const fault of scenario.faults) {
    const experiment = experimentOf(fault, namespace, port);
    warnings.push(...experiment.notes);
    const timing = `starts at +${goDuration(fault.startMs)}${experiment.instant ? '' : `, lasts ${goDuration(fault.durationMs)}`}`;
    manifests.push({
      apiVersion: CHAOS_MESH_API_VERSION,
      kind: experiment.kind,
      metadata: {
        name: kubeName(scenario.name, fault.name),
        namespace,
        labels: { ...labels, 'faultline.dev/fault': fault.name },
        annotations: {
          ...source,
          'faultline.dev/timeline': `${timing} in the scenario; applied alone it starts at once (the Workflow keeps the timeline)`,
          ...(experiment.notes.length > 0 ? { 'faultline.dev/approximation': experiment.notes.join('\n') } : {}),
        },
      },
      spec: { ...experiment.spec, ...(experiment.instant ? {} : { duration: goDuration(fault.durationMs) }) },
    });

    const chaosTemplate = kubeName('fault', fault.name);
    chaosTemplates.set(fault.name, { template: chaosTemplate, startMs: fault.startMs, endMs: fault.startMs + fault.durationMs });
    templates.push({
      name: chaosTemplate,
      templateType: experiment.kind,
      deadline: goDuration(fault.durationMs),
      [experiment.templateField]: experiment.spec,
    });
  }

  /** The template that, started at `atMs`, runs the node at its own times: a Suspend first when it starts later. */
  const place = (node: WorkflowNode, atMs: number): string => {
    let inner: string;
    let label: string;
    let startMs: number;
    let endMs: number;
    if (node.kind === 'fault') {
      const chaos = chaosTemplates.get(node.name) as { template: string; startMs: number; endMs: number };
      ({ template: inner, startMs, endMs } = chaos);
      label = node.name;
    } else {
      ({ startMs, endMs } = node);
      label = `group-${node.name}`;
      inner = kubeName(label);
      let cursor = startMs;
      const children = node.children.flatMap((child) => {
        if (node.kind === 'parallel') return [place(child, startMs)];
        // In a serial group a pause before a step is a Suspend step of its own.
        const span = child.kind === 'fault' ? (chaosTemplates.get(child.name) as { startMs: number; endMs: number }) : child;
        const steps: string[] = [];
        if (span.startMs > cursor) {
          const pause = kubeName('wait', child.kind === 'fault' ? child.name : `group-${child.name}`);
          templates.push({ name: pause, templateType: 'Suspend', deadline: goDuration(span.startMs - cursor) });
          steps.push(pause);
        }
        steps.push(place(child, span.startMs));
        cursor = span.endMs;
        return steps;
      });
      if (node.kind === 'serial' && cursor < endMs) {
        // A serial group that ends with a pause: the pause is its last step.
        const rest = kubeName('rest', node.name);
        templates.push({ name: rest, templateType: 'Suspend', deadline: goDuration(endMs - cursor) });
        children.push(rest);
      }
      templates.push({ name: inner, templateType: node.kind === 'serial' ? 'Serial' : 'Parallel', deadline: goDuration(endMs - startMs), children });
    }
    if (startMs <= atMs) return inner;
    const wait = kubeName('wait', label);
    const track = kubeName('track', label);
    templates.push(
      { name: track, templateType: 'Serial', deadline: goDuration(endMs - atMs), children: [wait, inner] },
      { name: wait, templateType: 'Suspend', deadline: goDuration(startMs - atMs) },
    );
    return track;
  };
  const nodes: readonly WorkflowNode[] = scenario.workflow ?? scenario.faults.map((fault) => ({ kind: 'fault', name: fault.name }));
  const tracks = nodes.map((node) => place(node, 0));
  const groups = nodes.filter((node) => node.kind !== 'fault').length;

  const workflow = {
    entry: 'timeline',
    templates: [{ name: 'timeline', templateType: 'Parallel', deadline: goDuration(scenario.durationMs), children: tracks }, ...orderTemplates(templates, tracks)],
  };
  const annotations: Record<string, string> = {
    ...source,
    'faultline.dev/timeline':
      groups === 0
        ? `${scenario.faults.length} fault(s) over ${goDuration(scenario.durationMs)}, each on its own track: a Suspend until it starts, then the experiment`
        : `${scenario.faults.length} fault(s) over ${goDuration(scenario.durationMs)} in ${nodes.length} track(s), ${groups} of them Serial/Parallel groups; a Suspend before anything that starts later than its parent`,
  };
  manifests.push(
    options.schedule === undefined
      ? {
          apiVersion: CHAOS_MESH_API_VERSION,
          kind: 'Workflow',
          metadata: { name: kubeName(scenario.name), namespace, labels, annotations },
          spec: workflow,
        }
      : {
          apiVersion: CHAOS_MESH_API_VERSION,
          kind: 'Schedule',
          metadata: { name: kubeName(scenario.name), namespace, labels, annotations },
          spec: { schedule: options.schedule, type: 'Workflow', historyLimit: 1, concurrencyPolicy: 'Forbid', workflow },
        },
  );
  return { manifests, warnings };
}

/**
 * Templates in reading order: each track, then what it runs, depth first (a
 * fault's experiment where it is first used), as the timeline reads.
 */
function orderTemplates(templates: ReadonlyArray<Record<string, unknown>>, tracks: readonly string[]): Array<Record<string, unknown>> {
  const byName = new Map(templates.map((template) => [template.name as string, template]));
  const ordered: Array<Record<string, unknown>> = [];
  const seen = new Set<string>();
  const visit = (name: string): void => {
    const template = byName.get(name);
    if (!template || seen.has(name)) return;
    seen.add(name);
    ordered.push(template);
    for (const child of (template.children as string[] | undefined) ?? []) visit(child);
  };
  tracks.forEach(visit);
  return ordered;
}

/** One manifest as a YAML document, with an optional comment header. */
export function manifestYaml(manifest: ChaosMeshManifest, header: readonly string[] = []): string {
  const comments = header.map((line) => `# ${line}`.trimEnd()).join('\n');
  const body = stringify(manifest, { lineWidth: 0, aliasDuplicateObjects: false });
  return comments === '' ? body : `${comments}\n${body}`;
}

/** Every manifest as one multi-document YAML stream (for `kubectl apply -f -`). */
export function exportYaml(result: ChaosMeshExport): string {
  return result.manifests.map((manifest) => manifestYaml(manifest)).join('---\n');
}
