// One trace as people read it: the spans as a tree (parent links, with orphans
// whose parent never arrived shown as extra roots), placed on one time axis,
// and drawn as a text waterfall with the span events (retries, breaker
// decisions, injected faults, fallbacks) and the trace's logs at their offsets.
//
// Spans come from several processes, each with its own clock. On one host the
// clocks agree, but a server span that starts before its client span or ends
// after it is a clock skew, not causality; like Jaeger's adjuster, such a
// subtree is shifted to sit inside its parent, and the shift is shown.
import { formatDuration } from '../demo-services/kit/durations.ts';
import type { FlatLogRecord } from './log-query.ts';
import type { FlatSpan, FlatSpanEvent } from './trace-query.ts';

export interface TraceNode {
  span: FlatSpan;
  children: TraceNode[];
  depth: number;
  /** The span names a parent that is not in the trace (lost, dropped or not yet written). */
  parentMissing: boolean;
  /** Milliseconds added to this span's own clock to place it inside its parent (0 when no skew). */
  skewMs: number;
  /** Start and end on the trace's axis, skew applied, in ms since the trace started. */
  offsetMs: number;
  endOffsetMs: number;
}

export interface TraceTree {
  traceId: string;
  roots: TraceNode[];
  /** Every node, depth first (the waterfall's order). */
  nodes: TraceNode[];
  /** Epoch ms of the earliest span start, after skew adjustment. */
  startMs: number;
  /** From the earliest start to the latest end, after skew adjustment. */
  durationMs: number;
}

/** Build the span tree of one trace's spans (any order; duplicates by span id keep the first). */
export function buildTraceTree(spans: readonly FlatSpan[]): TraceTree {
  if (spans.length === 0) throw new Error('buildTraceTree needs at least one span');
  const byId = new Map<string, TraceNode>();
  for (const span of spans) {
    if (byId.has(span.spanId)) continue;
    byId.set(span.spanId, { span, children: [], depth: 0, parentMissing: false, skewMs: 0, offsetMs: 0, endOffsetMs: 0 });
  }
  const roots: TraceNode[] = [];
  for (const node of byId.values()) {
    const parentId = node.span.parentSpanId;
    const parent = parentId === undefined ? undefined : byId.get(parentId);
    if (parentId === undefined) roots.push(node);
    else if (parent && parent !== node) parent.children.push(node);
    else {
      node.parentMissing = true;
      roots.push(node);
    }
  }
  // Parent links that loop (corrupt data) leave spans unreachable from any root: show them as roots too.
  const reached = new Set<TraceNode>();
  const visit = (node: TraceNode): void => {
    reached.add(node);
    for (const child of node.children) if (!reached.has(child)) visit(child);
  };
  roots.forEach(visit);
  for (const node of byId.values()) {
    if (reached.has(node)) continue;
    const parent = byId.get(node.span.parentSpanId ?? '');
    if (parent) parent.children = parent.children.filter((child) => child !== node);
    node.parentMissing = true;
    roots.push(node);
    visit(node);
  }

  const byStart = (a: TraceNode, b: TraceNode): number => a.span.startMs - b.span.startMs;
  roots.sort((a, b) => Number(a.parentMissing) - Number(b.parentMissing) || byStart(a, b));
  const nodes: TraceNode[] = [];
  const place = (node: TraceNode, depth: number, inheritedSkew: number, parent: TraceNode | undefined): void => {
    node.depth = depth;
    node.skewMs = inheritedSkew + (parent ? skewInside(node.span, parent, inheritedSkew) : 0);
    nodes.push(node);
    node.children.sort(byStart);
    for (const child of node.children) place(child, depth + 1, node.skewMs, node);
  };
  for (const root of roots) place(root, 0, 0, undefined);

  let startMs = Infinity;
  let endMs = -Infinity;
  for (const node of nodes) {
    startMs = Math.min(startMs, node.span.startMs + node.skewMs);
    endMs = Math.max(endMs, node.span.endMs + node.skewMs);
  }
  for (const node of nodes) {
    node.offsetMs = node.span.startMs + node.skewMs - startMs;
    node.endOffsetMs = node.span.endMs + node.skewMs - startMs;
  }
  return { traceId: spans[0]?.traceId ?? '', roots, nodes, startMs, durationMs: endMs - startMs };
}

/**
 * The shift that puts a span from another process inside its parent, given
 * the shift already applied to its ancestors' clock. Spans of the parent's own
 * process share its clock and are never moved on their own.
 */
function skewInside(span: FlatSpan, parent: TraceNode, inheritedSkew: number): number {
  if (span.service === parent.span.service) return 0;
  const parentStart = parent.span.startMs + parent.skewMs;
  const parentEnd = parent.span.endMs + parent.skewMs;
  const start = span.startMs + inheritedSkew;
  const end = span.endMs + inheritedSkew;
  if (start >= parentStart && end <= parentEnd) return 0;
  const parentDuration = parentEnd - parentStart;
  // Centred when it fits (the network latency split evenly both ways), else aligned on the parent's start.
  const target = span.durationMs <= parentDuration ? parentStart + (parentDuration - span.durationMs) / 2 : parentStart;
  return target - start;
}

export interface RenderOptions {
  /** Terminal columns; the duration bars take what the labels leave. Default 120. */
  width?: number;
  /** Faults of the run (faults.jsonl) active while a span ran on what it crossed; each marks the spans it touched. */
  faults?: readonly FaultWindowOnSpans[];
}

/** A fault's time on the run's clock and what it acted on: an edge `caller->dependency`, a fault proxy, or an instance / service. */
export interface FaultWindowOnSpans {
  name: string;
  type: string;
  target: string;
  /** Epoch ms. */
  fromMs: number;
  toMs: number;
}

/**
 * The faults that touched a span: it ran (in part) while the fault was active, and it crossed
 * what the fault acts on. An edge fault `a->b` (or its proxy `a-b-N`) touches a's calls to b
 * (spans of a naming b as their dependency, and their children in b); an instance fault
 * (`payment-1`, `bank`) touches the spans of that service.
 */
export function faultsTouching(span: FlatSpan, faults: readonly FaultWindowOnSpans[], parent?: FlatSpan): FaultWindowOnSpans[] {
  const dependency = span.attributes['faultline.dependency'] ?? span.attributes['peer.service'];
  return faults.filter((fault) => {
    if (fault.fromMs > span.endMs || fault.toMs < span.startMs) return false;
    const edge = /^([a-z][a-z0-9-]*)->([a-z][a-z0-9-]*)$/.exec(fault.target);
    if (edge) {
      const [, caller, callee] = edge;
      if (span.service === caller && dependency === callee) return true;
      return span.service === callee && parent?.service === caller && span.kind === 2;
    }
    // A fault proxy `caller-dependency-N` set by hand, or an instance `service-N` / `service`.
    const proxy = /^([a-z][a-z0-9]*)-([a-z][a-z0-9]*)-\d+$/.exec(fault.target);
    if (proxy && fault.type !== 'cpu_burn' && span.service === proxy[1] && dependency === proxy[2]) return true;
    return span.service === fault.target || span.service === fault.target.replace(/-\d+$/, '');
  });
}

const MIN_BAR = 10;
const OFFSET_COLUMN = 10;
const DURATION_COLUMN = 10;
const STATUS_COLUMN = 6;

/** The waterfall of one trace, then its logs, as text lines (no trailing newline). */
export function renderWaterfall(tree: TraceTree, logs: readonly FlatLogRecord[] = [], options: RenderOptions = {}): string {
  const width = Math.max(60, Math.floor(options.width ?? 120));
  const labels = tree.nodes.map((node) => spanLabel(node));
  const longest = Math.max(...labels.map((label) => label.length), 'span'.length);
  const labelWidth = Math.min(longest, Math.max(20, Math.floor(width * 0.45)));
  const barWidth = Math.max(MIN_BAR, width - labelWidth - OFFSET_COLUMN - DURATION_COLUMN - STATUS_COLUMN - 6);
  const scale = (offsetMs: number): number => (tree.durationMs > 0 ? (offsetMs / tree.durationMs) * barWidth : 0);

  const errors = tree.nodes.filter((node) => node.span.status.code === 2).length;
  const skewed = tree.nodes.filter((node) => node.skewMs !== 0);
  const largestSkew = Math.max(0, ...skewed.map((node) => Math.abs(node.skewMs)));
  const parentOf = new Map(tree.nodes.flatMap((node) => node.children.map((child) => [child, node.span] as const)));
  const lines: string[] = [
    `trace ${tree.traceId}  ${formatMs(tree.durationMs)}  ${tree.nodes.length} spans${errors > 0 ? `, ${errors} with errors` : ''}`,
    `started ${new Date(tree.startMs).toISOString()}`,
    // Once per trace, not under every span: the processes' clocks disagree a little, and the
    // shifted spans (marked "skew") were moved to sit inside their parents, as Jaeger does.
    ...(skewed.length > 0
      ? [fit(`note: clock skew between processes: ${skewed.length} span${skewed.length === 1 ? '' : 's'} (marked "skew") shifted by up to ${formatMs(largestSkew)} to sit inside ${skewed.length === 1 ? 'its parent' : 'their parents'}`, width)]
      : []),
    `${'span'.padEnd(labelWidth)} ${'start'.padStart(OFFSET_COLUMN)} ${'duration'.padStart(DURATION_COLUMN)} ${'status'.padEnd(STATUS_COLUMN)} |${' '.repeat(barWidth)}|`,
  ];
  tree.nodes.forEach((node, index) => {
    const label = fit(labels[index] ?? '', labelWidth);
    const from = Math.min(barWidth - 1, Math.floor(scale(node.offsetMs)));
    const to = Math.max(from + 1, Math.min(barWidth, Math.ceil(scale(node.endOffsetMs))));
    const fill = node.span.status.code === 2 ? '!' : '=';
    const bar = ' '.repeat(from) + fill.repeat(to - from) + ' '.repeat(barWidth - to);
    const status = node.span.status.code === 2 ? 'ERROR' : 'ok';
    lines.push(
      `${label.padEnd(labelWidth)} ${`+${formatMs(node.offsetMs)}`.padStart(OFFSET_COLUMN)} ${formatMs(node.span.durationMs).padStart(DURATION_COLUMN)} ${status.padEnd(STATUS_COLUMN)} |${bar}|`,
    );
    const notes = [
      node.span.status.message ? `status: ${node.span.status.message}` : '',
      node.parentMissing ? `parent ${node.span.parentSpanId ?? '?'} not in the trace` : '',
      node.skewMs !== 0 ? `skew ${node.skewMs > 0 ? '+' : ''}${formatMs(node.skewMs)}` : '',
      ...faultsTouching(node.span, options.faults ?? [], parentOf.get(node)).map((fault) => `fault ${fault.name} (${fault.type} on ${fault.target})`),
    ].filter((note) => note !== '');
    const noteIndent = ' '.repeat(node.depth * 2 + 2);
    for (const note of notes) lines.push(fit(`${noteIndent}(${note})`, width));
    for (const event of [...node.span.events].sort((a, b) => a.timeMs - b.timeMs)) {
      const offset = event.timeMs + node.skewMs - tree.startMs;
      const at = Math.min(barWidth - 1, Math.max(0, Math.floor(scale(offset))));
      const marker = ' '.repeat(at) + '*' + ' '.repeat(barWidth - at - 1);
      lines.push(
        `${fit(`${noteIndent}* ${event.name}`, labelWidth).padEnd(labelWidth)} ${`+${formatMs(offset)}`.padStart(OFFSET_COLUMN)} ${''.padStart(DURATION_COLUMN)} ${''.padEnd(STATUS_COLUMN)} |${marker}|`,
      );
      const attributes = eventAttributesText(event);
      if (attributes !== '') lines.push(fit(`${noteIndent}    ${attributes}`, width));
      const delay = retryDelayText(event);
      if (delay !== undefined) lines.push(fit(`${noteIndent}    ${delay}`, width));
    }
  });

  lines.push('', logs.length === 0 ? 'logs: none for this trace' : `logs (${logs.length}):`);
  const serviceWidth = Math.max(0, ...logs.map((log) => log.service.length));
  for (const log of logs) {
    const offset = `+${formatMs(log.timeMs - tree.startMs)}`.padStart(OFFSET_COLUMN);
    lines.push(fit(`${offset}  ${log.service.padEnd(serviceWidth)}  ${log.severityText.padEnd(5)}  ${log.message}`, width));
  }
  return lines.join('\n');
}

function spanLabel(node: TraceNode): string {
  return `${'  '.repeat(node.depth)}${node.span.service} ${node.span.name}`;
}

/**
 * A retry's delay against its policy's cap: within the cap (backoff), or above it and why (the
 * dependency's Retry-After wins over the cap). The next attempt starts at least this much later.
 */
export function retryDelayText(event: FlatSpanEvent): string | undefined {
  if (event.name !== 'retry') return undefined;
  const delay = event.attributes['faultline.retry.delay_ms'];
  const cap = event.attributes['faultline.retry.delay_cap_ms'];
  if (typeof delay !== 'number') return undefined;
  if (typeof cap !== 'number') return `waits ${formatMs(delay)} before the next attempt`;
  if (event.attributes['faultline.retry.delay_source'] === 'retry-after' && delay > cap) {
    return `waits ${formatMs(delay)}: the dependency's Retry-After, longer than the policy's backoff cap of ${formatMs(cap)}`;
  }
  return `waits ${formatMs(delay)} (backoff, within the policy's cap of ${formatMs(cap)})`;
}

/** An event's attributes as `key=value` pairs, with the lab's `faultline.` prefix dropped from the keys. */
export function eventAttributesText(event: FlatSpanEvent): string {
  return Object.entries(event.attributes)
    .map(([key, value]) => `${key.replace(/^faultline\./, '')}=${formatValue(value)}`)
    .join(' ');
}

function formatValue(value: unknown): string {
  if (typeof value === 'string') return /\s/.test(value) || value === '' ? JSON.stringify(value) : value;
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (typeof value === 'object' && value !== null) return JSON.stringify(value);
  return String(value);
}

/** Milliseconds to 0.1 ms, in the k6 spelling the rest of the lab prints. */
export function formatMs(ms: number): string {
  return formatDuration(Math.round(ms * 10) / 10);
}

function fit(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, Math.max(0, width - 1))}~`;
}
