// Sample traces for the report: the slowest, the first failing one and one
// from inside each fault window (one with retries when there is one), drawn as
// HTML waterfalls whose span rows expand to show their events and logs. The
// span tree and clock-skew adjustment are the collector's (waterfall.ts).

import type { FlatLogRecord } from '../../collector/log-query.ts';
import type { FlatSpan } from '../../collector/trace-query.ts';
import { buildTraceTree, eventAttributesText, formatMs, type TraceTree } from '../../collector/waterfall.ts';
import { SPAN_EVENT } from '../../demo-services/kit/conventions.ts';
import { escapeHtml } from './html.ts';

/** Spans drawn per trace and events listed per span; the rest is counted in an "and N more" line. */
export const MAX_SPANS_PER_TRACE = 120;
export const MAX_EVENTS_PER_SPAN = 20;
export const MAX_LOGS_PER_TRACE = 40;

export interface SampleTrace {
  /** Why this trace was picked. */
  reason: string;
  traceId: string;
}

interface TraceInfo {
  traceId: string;
  startMs: number;
  durationMs: number;
  failed: boolean;
  retries: number;
}

/** Group spans by trace; a trace's start and length come from its root spans, else from all its spans. */
export function tracesById(spans: readonly FlatSpan[]): Map<string, FlatSpan[]> {
  const byTrace = new Map<string, FlatSpan[]>();
  for (const span of spans) {
    const list = byTrace.get(span.traceId);
    if (list) list.push(span);
    else byTrace.set(span.traceId, [span]);
  }
  return byTrace;
}

function info(traceId: string, spans: readonly FlatSpan[]): TraceInfo {
  const roots = spans.filter((s) => s.parentSpanId === undefined);
  const frame = roots.length > 0 ? roots : spans;
  const startMs = Math.min(...frame.map((s) => s.startMs));
  const endMs = Math.max(...frame.map((s) => s.endMs));
  return {
    traceId,
    startMs,
    durationMs: endMs - startMs,
    failed: frame.some((s) => s.status.code === 2),
    retries: spans.reduce((n, s) => n + s.events.filter((e) => e.name === SPAN_EVENT.retry).length, 0),
  };
}

/**
 * The traces worth a look: slowest, first failing, and one per fault window
 * (epoch ms), each picked once, among those that started at or after `fromMs`
 * (the run's start: the warm-up's traces are not the run's).
 */
export function pickSampleTraces(byTrace: ReadonlyMap<string, readonly FlatSpan[]>, faultWindows: ReadonlyArray<{ name: string; fromMs: number; toMs: number }>, fromMs = -Infinity): SampleTrace[] {
  // Only traces the load generator started (a root span); background work (sweepers) is not a request.
  const infos = [...byTrace]
    .filter(([, spans]) => spans.some((s) => s.parentSpanId === undefined && s.kind !== 1))
    .map(([id, spans]) => info(id, spans))
    .filter((t) => t.startMs >= fromMs);
  if (infos.length === 0) return [];
  const picked: SampleTrace[] = [];
  const taken = new Set<string>();
  const take = (trace: TraceInfo | undefined, reason: string) => {
    if (!trace || taken.has(trace.traceId)) return;
    taken.add(trace.traceId);
    picked.push({ reason, traceId: trace.traceId });
  };
  const byStart = [...infos].sort((a, b) => a.startMs - b.startMs);
  take(
    infos.reduce((a, b) => (b.durationMs > a.durationMs ? b : a)),
    'the slowest trace',
  );
  take(
    byStart.find((t) => t.failed),
    'the first failing trace',
  );
  for (const window of faultWindows) {
    const inside = byStart.filter((t) => t.startMs >= window.fromMs && t.startMs < window.toMs && !taken.has(t.traceId));
    take(inside.find((t) => t.retries > 0) ?? inside[0], `inside ${window.name}${inside.some((t) => t.retries > 0) ? ', with retries' : ''}`);
  }
  return picked;
}

/** One trace as an expandable HTML waterfall; logs are those of the trace (by trace id). */
export function renderTraceWaterfall(sample: SampleTrace, spans: readonly FlatSpan[], logs: readonly FlatLogRecord[], runStartMs: number): string {
  const tree: TraceTree = buildTraceTree(spans);
  const errors = tree.nodes.filter((n) => n.span.status.code === 2).length;
  const events = tree.nodes.reduce((n, node) => n + node.span.events.length, 0);
  const retries = tree.nodes.reduce((n, node) => n + node.span.events.filter((e) => e.name === SPAN_EVENT.retry).length, 0);
  const scale = (ms: number) => (tree.durationMs > 0 ? (100 * ms) / tree.durationMs : 0);
  const rows = tree.nodes.slice(0, MAX_SPANS_PER_TRACE).map((node) => {
    const left = Math.min(99.5, scale(node.offsetMs));
    const width = Math.max(0.5, Math.min(100 - left, scale(node.endOffsetMs - node.offsetMs)));
    const failed = node.span.status.code === 2;
    const spanEvents = [...node.span.events].sort((a, b) => a.timeMs - b.timeMs);
    const ticks = spanEvents
      .slice(0, MAX_EVENTS_PER_SPAN)
      .map((e) => `<i class="tick ev-${cssName(e.name)}" style="left:${scale(e.timeMs + node.skewMs - tree.startMs).toFixed(2)}%" title="${escapeHtml(e.name)}"></i>`)
      .join('');
    const notes = [
      node.span.status.message ? `status: ${node.span.status.message}` : '',
      node.parentMissing ? `parent ${node.span.parentSpanId ?? '?'} not in the trace` : '',
      node.skewMs !== 0 ? `clock skew: shifted ${formatMs(node.skewMs)}` : '',
    ].filter(Boolean);
    const eventItems = spanEvents.slice(0, MAX_EVENTS_PER_SPAN).map((e) => {
      const attrs = eventAttributesText(e);
      return `<li class="event ev-${cssName(e.name)}"><span class="at">+${escapeHtml(formatMs(e.timeMs + node.skewMs - tree.startMs))}</span> <b>${escapeHtml(e.name)}</b>${attrs ? ` <code>${escapeHtml(attrs)}</code>` : ''}</li>`;
    });
    if (spanEvents.length > MAX_EVENTS_PER_SPAN) eventItems.push(`<li class="more">and ${spanEvents.length - MAX_EVENTS_PER_SPAN} more events</li>`);
    const detail = [
      ...notes.map((n) => `<li class="note">${escapeHtml(n)}</li>`),
      ...eventItems,
      `<li class="note">${escapeHtml(`span ${node.span.spanId}, kind ${node.span.kind}, ${Object.keys(node.span.attributes).length} attributes`)}</li>`,
    ].join('');
    return (
      `<details class="span${failed ? ' failed' : ''}" data-events="${spanEvents.length}"><summary>` +
      `<span class="label" style="padding-left:${node.depth * 0.9}em">${escapeHtml(node.span.service)} <span class="muted">${escapeHtml(node.span.name)}</span>${spanEvents.length ? ` <span class="badge">${spanEvents.length}</span>` : ''}</span>` +
      `<span class="track"><span class="bar" style="left:${left.toFixed(2)}%;width:${width.toFixed(2)}%"></span>${ticks}</span>` +
      `<span class="dur">${escapeHtml(formatMs(node.span.durationMs))}</span></summary><ul class="events">${detail}</ul></details>`
    );
  });
  if (tree.nodes.length > MAX_SPANS_PER_TRACE) rows.push(`<p class="more">and ${tree.nodes.length - MAX_SPANS_PER_TRACE} more spans</p>`);
  const logItems = logs.slice(0, MAX_LOGS_PER_TRACE).map((log) => `<li><span class="at">+${escapeHtml(formatMs(log.timeMs - tree.startMs))}</span> ${escapeHtml(log.service)} <b>${escapeHtml(log.severityText)}</b> ${escapeHtml(log.message)}</li>`);
  if (logs.length > MAX_LOGS_PER_TRACE) logItems.push(`<li class="more">and ${logs.length - MAX_LOGS_PER_TRACE} more log records</li>`);
  const title = `${sample.reason}: ${formatMs(tree.durationMs)} at ${tree.startMs >= runStartMs ? '+' : '-'}${formatMs(Math.abs(tree.startMs - runStartMs))}, ${tree.nodes.length} spans${errors ? `, ${errors} with errors` : ''}${retries ? `, ${retries} retries` : ''}, ${events} events`;
  return (
    `<details class="trace" data-trace-id="${escapeHtml(tree.traceId)}" data-retries="${retries}"><summary>${escapeHtml(title)} <code class="muted">${escapeHtml(tree.traceId)}</code></summary>` +
    `<div class="waterfall">${rows.join('')}</div>` +
    `<div class="logs"><h4>Logs (${logs.length})</h4>${logs.length ? `<ul>${logItems.join('')}</ul>` : '<p class="muted">none for this trace</p>'}</div></details>`
  );
}

function cssName(name: string): string {
  return name.replace(/[^a-z0-9]+/gi, '-').toLowerCase();
}
