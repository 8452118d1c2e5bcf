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
  const lines: string[] = [
    `trace ${tree.traceId}  ${formatMs(tree.durationMs)}  ${tree.nodes.length} spans${errors > 0 ? `, ${errors} with errors` : ''}`,
    `started ${new Date(tree.startMs).toISOString()}`,
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
      node.skewMs !== 0 ? `clock skew: shifted ${node.skewMs > 0 ? '+' : ''}${formatMs(node.skewMs)}` : '',
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
