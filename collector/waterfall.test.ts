import { describe, expect, it } from 'vitest';
import type { FlatLogRecord } from './log-query.ts';
import type { FlatSpan } from './trace-query.ts';
import { buildTraceTree, faultsTouching, renderWaterfall, retryDelayText } from './waterfall.ts';

const T0 = 1_700_000_000_000;
const TRACE = 'ab'.repeat(16);

function span(spanId: string, service: string, name: string, start: number, end: number, extra: Partial<FlatSpan> = {}): FlatSpan {
  return {
    traceId: TRACE,
    spanId,
    name,
    kind: 1,
    service,
    startMs: T0 + start,
    endMs: T0 + end,
    durationMs: end - start,
    attributes: {},
    events: [],
    status: { code: 0 },
    ...extra,
  };
}

const names = (tree: ReturnType<typeof buildTraceTree>): string[] => tree.nodes.map((node) => `${'-'.repeat(node.depth)}${node.span.name}`);

describe('buildTraceTree', () => {
  it('nests children under parents in start order, whatever order the spans came in', () => {
    const tree = buildTraceTree([
      span('c2', 'payment', 'charge-2', 60, 90, { parentSpanId: 'b' }),
      span('b', 'checkout', 'checkout', 10, 95, { parentSpanId: 'a' }),
      span('a', 'gateway', 'POST /api/checkout', 0, 100),
      span('c1', 'payment', 'charge-1', 20, 50, { parentSpanId: 'b' }),
    ]);
    expect(names(tree)).toEqual(['POST /api/checkout', '-checkout', '--charge-1', '--charge-2']);
    expect(tree.roots).toHaveLength(1);
    expect(tree.durationMs).toBe(100);
    expect(tree.nodes.map((node) => node.offsetMs)).toEqual([0, 10, 20, 60]);
  });

  it('shows spans whose parent is missing as extra roots after the real one, marked, with their subtree', () => {
    const tree = buildTraceTree([
      span('a', 'gateway', 'root', 0, 100),
      span('x', 'bank', 'orphan', 30, 40, { parentSpanId: 'gone' }),
      span('y', 'bank', 'orphan-child', 32, 38, { parentSpanId: 'x' }),
      span('b', 'gateway', 'child', 5, 20, { parentSpanId: 'a' }),
    ]);
    expect(names(tree)).toEqual(['root', '-child', 'orphan', '-orphan-child']);
    expect(tree.nodes.map((node) => node.parentMissing)).toEqual([false, false, true, false]);
    expect(renderWaterfall(tree)).toContain('(parent gone not in the trace)');
  });

  it('keeps the first of duplicate span ids and survives parent links that loop', () => {
    const tree = buildTraceTree([
      span('p', 'svc', 'loop-1', 0, 10, { parentSpanId: 'q' }),
      span('q', 'svc', 'loop-2', 1, 9, { parentSpanId: 'p' }),
      span('p', 'svc', 'duplicate', 0, 10),
    ]);
    expect(tree.nodes).toHaveLength(2);
    expect(tree.nodes.map((node) => node.span.name).sort()).toEqual(['loop-1', 'loop-2']);
    expect(tree.roots.length).toBeGreaterThanOrEqual(1);
  });

  it('moves a span from a process whose clock runs behind inside its parent, with its whole subtree', () => {
    // The client span in checkout lasts 0..100; the inventory server says it ran at -60..-10 on its clock.
    const tree = buildTraceTree([
      span('a', 'checkout', 'inventory call', 0, 100),
      span('b', 'inventory', 'POST /reservations', -60, -10, { parentSpanId: 'a', events: [{ name: 'fault.injected', timeMs: T0 - 40, attributes: {} }] }),
      span('c', 'inventory', 'db write', -50, -20, { parentSpanId: 'b' }),
    ]);
    const [client, server, db] = tree.nodes;
    // Centred: 50 ms of server inside 100 ms of client starts at +25.
    expect(server?.skewMs).toBe(85);
    expect(server?.offsetMs).toBe(25);
    expect(server?.endOffsetMs).toBe(75);
    expect(db?.skewMs).toBe(85);
    expect(db?.offsetMs).toBe(35);
    expect(client?.offsetMs).toBe(0);
    expect(tree.durationMs).toBe(100);
    const text = renderWaterfall(tree, [], { width: 100 });
    // Once per trace, in the header; each shifted span is marked with its own shift.
    expect(text.match(/clock skew/g)).toHaveLength(1);
    expect(text).toContain('note: clock skew between processes: 2 spans (marked "skew") shifted by up to 85ms');
    expect(text.match(/\(skew \+85ms\)/g)).toHaveLength(2);
    expect(text).toMatch(/\* fault\.injected +\+45ms/);
  });

  it('leaves spans of the same process where they are, even outside their parent', () => {
    const tree = buildTraceTree([span('a', 'gateway', 'root', 0, 50), span('b', 'gateway', 'late', 40, 80, { parentSpanId: 'a' })]);
    expect(tree.nodes.map((node) => node.skewMs)).toEqual([0, 0]);
    expect(tree.durationMs).toBe(80);
  });
});

describe('renderWaterfall', () => {
  const spans = [
    span('a', 'gateway', 'POST /api/checkout', 0, 200, { status: { code: 2, message: 'payment failed' } }),
    span('b', 'checkout', 'POST /checkout', 10, 190, {
      parentSpanId: 'a',
      events: [
        { name: 'retry', timeMs: T0 + 100, attributes: { 'faultline.retry.attempt': 2, 'faultline.retry.delay_ms': 50 } },
        { name: 'circuit.transition', timeMs: T0 + 150, attributes: { 'faultline.circuit.from': 'closed', 'faultline.circuit.to': 'open' } },
      ],
    }),
    span('c', 'bank', 'POST /charge', 20, 60, { parentSpanId: 'b', events: [{ name: 'fault.injected', timeMs: T0 + 21, attributes: { 'faultline.fault.type': 'latency' } }] }),
  ];
  const logs: FlatLogRecord[] = [
    { timeMs: T0 + 101, service: 'checkout', severityNumber: 13, severityText: 'WARN', message: 'retrying payment', traceId: TRACE, attributes: {} },
    { timeMs: T0 + 199, service: 'gateway', severityNumber: 17, severityText: 'ERROR', message: 'checkout failed', traceId: TRACE, attributes: {} },
  ];

  it('draws one line per span with service, name, offset, duration, status and a bar scaled to the width', () => {
    const text = renderWaterfall(buildTraceTree(spans), logs, { width: 100 });
    const lines = text.split('\n');
    expect(lines[0]).toContain(`trace ${TRACE}  200ms  3 spans, 1 with errors`);
    const bank = lines.find((line) => line.includes('bank POST /charge')) ?? '';
    expect(bank).toMatch(/^ {4}bank POST \/charge +\+20ms +40ms ok +\|/);
    // 40 of 200 ms from +20: a fifth of the bar, starting a tenth of the way in.
    const bar = /\|([ =!]+)\|$/.exec(bank)?.[1] ?? '';
    const filled = bar.replace(/ /g, '').length;
    expect(filled / bar.length).toBeGreaterThan(0.18);
    expect(filled / bar.length).toBeLessThan(0.25);
    expect(bar.indexOf('=') / bar.length).toBeCloseTo(0.1, 1);
    expect(lines.find((line) => line.includes('gateway POST /api/checkout'))).toMatch(/ERROR +\|!+\|$/);
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(100);
  });

  it('puts span events on their own lines at their offsets, with their attributes', () => {
    const lines = renderWaterfall(buildTraceTree(spans), logs, { width: 120 }).split('\n');
    const retry = lines.findIndex((line) => /^ {4}\* retry +\+100ms /.test(line));
    expect(retry).toBeGreaterThan(0);
    expect(lines[retry + 1]?.trim()).toBe('retry.attempt=2 retry.delay_ms=50');
    expect(lines.some((line) => /\* circuit\.transition +\+150ms/.test(line))).toBe(true);
    expect(lines.some((line) => line.trim() === 'circuit.from=closed circuit.to=open')).toBe(true);
    expect(lines.some((line) => /\* fault\.injected +\+21ms/.test(line))).toBe(true);
    expect(lines.some((line) => line.includes('(status: payment failed)'))).toBe(true);
  });

  it('lists the logs after the waterfall with offset, service, severity and message', () => {
    const text = renderWaterfall(buildTraceTree(spans), logs, { width: 120 });
    const after = text.slice(text.indexOf('logs (2):'));
    expect(after.split('\n').slice(1)).toEqual(['    +101ms  checkout  WARN   retrying payment', '    +199ms  gateway   ERROR  checkout failed']);
    expect(renderWaterfall(buildTraceTree(spans), [], { width: 120 })).toContain('logs: none for this trace');
  });
});

describe('faults and retries on the waterfall', () => {
  const call = (extra: Partial<FlatSpan> = {}) => span('b', 'checkout', 'POST payment', 10, 60, { kind: 3, parentSpanId: 'a', attributes: { 'faultline.dependency': 'payment' }, ...extra });
  const tree = () =>
    buildTraceTree([
      span('a', 'checkout', 'checkout', 0, 100),
      call(),
      span('c', 'payment', 'POST /charges', 15, 55, { kind: 2, parentSpanId: 'b' }),
      span('d', 'checkout', 'POST inventory', 65, 90, { kind: 3, parentSpanId: 'a', attributes: { 'faultline.dependency': 'inventory' } }),
    ]);

  it('marks the spans an edge fault touched: the calls over the edge while it was active, and the server side of them', () => {
    const fault = { name: 'slow-payment', type: 'latency', target: 'checkout->payment', fromMs: T0 + 5, toMs: T0 + 70 };
    const text = renderWaterfall(tree(), [], { width: 120, faults: [fault] });
    const marked = text.split('\n').filter((line) => line.includes('fault slow-payment (latency on checkout->payment)'));
    expect(marked).toHaveLength(2);
    // Not the inventory call, not the parent.
    expect(faultsTouching(tree().nodes[0]!.span, [fault])).toEqual([]);
    expect(faultsTouching(tree().nodes.find((n) => n.span.spanId === 'd')!.span, [fault])).toEqual([]);
    // Outside its window it touches nothing.
    expect(faultsTouching(call(), [{ ...fault, fromMs: T0 + 61, toMs: T0 + 70 }])).toEqual([]);
  });

  it('marks by hand-set proxy faults and instance faults too', () => {
    expect(faultsTouching(call(), [{ name: 'h', type: 'http_error', target: 'checkout-payment-1', fromMs: T0, toMs: T0 + 100 }])).toHaveLength(1);
    expect(faultsTouching(span('x', 'payment', 'charge', 0, 5), [{ name: 'burn', type: 'cpu_burn', target: 'payment-1', fromMs: T0, toMs: T0 + 100 }])).toHaveLength(1);
  });

  it('says how a retry delay relates to the policy cap', () => {
    const retry = (attributes: Record<string, unknown>) => ({ name: 'retry', timeMs: T0, attributes });
    expect(retryDelayText(retry({ 'faultline.retry.delay_ms': 180, 'faultline.retry.delay_cap_ms': 200, 'faultline.retry.delay_source': 'backoff' }))).toBe(
      "waits 180ms (backoff, within the policy's cap of 200ms)",
    );
    expect(retryDelayText(retry({ 'faultline.retry.delay_ms': 1500, 'faultline.retry.delay_cap_ms': 200, 'faultline.retry.delay_source': 'retry-after' }))).toBe(
      "waits 1.5s: the dependency's Retry-After, longer than the policy's backoff cap of 200ms",
    );
    expect(retryDelayText({ name: 'timeout', timeMs: T0, attributes: {} })).toBeUndefined();
    const text = renderWaterfall(buildTraceTree([call({ parentSpanId: undefined, events: [retry({ 'faultline.retry.attempt': 2, 'faultline.retry.delay_ms': 90, 'faultline.retry.delay_cap_ms': 200, 'faultline.retry.delay_source': 'backoff' })] })]), [], { width: 120 });
    expect(text).toContain("waits 90ms (backoff, within the policy's cap of 200ms)");
  });
});
