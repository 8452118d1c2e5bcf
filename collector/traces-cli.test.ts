import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { OtlpLogsDataJson } from './log-query.ts';
import type { OtlpTracesDataJson } from './otlp-json.ts';
import { makeTempDir } from './test-fixtures.ts';
import { DEFAULT_LIST_LIMIT, TracesQueryError, listTraces, parseTracesQuery, runTracesCommand } from './traces-cli.ts';
import type { TracesFlags } from './traces-cli.ts';

const MS = 1_000_000n;
const T0 = 1_700_000_000_000n * MS;
const id = (n: number): string => n.toString(16).padStart(32, '0');

interface SpanSpec {
  trace: number;
  span: string;
  parent?: string;
  service: string;
  name: string;
  start: number;
  end: number;
  error?: boolean;
  attributes?: Record<string, string | number>;
}

/** One traces.jsonl line per service, as the collector writes them. */
function tracesLine(specs: SpanSpec[]): string {
  const services = [...new Set(specs.map((spec) => spec.service))];
  const data: OtlpTracesDataJson = {
    resourceSpans: services.map((service) => ({
      resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] },
      scopeSpans: [
        {
          spans: specs
            .filter((spec) => spec.service === service)
            .map((spec) => ({
              traceId: id(spec.trace),
              spanId: spec.span.padStart(16, '0'),
              ...(spec.parent ? { parentSpanId: spec.parent.padStart(16, '0') } : {}),
              name: spec.name,
              kind: 2,
              startTimeUnixNano: String(T0 + BigInt(spec.start) * MS),
              endTimeUnixNano: String(T0 + BigInt(spec.end) * MS),
              attributes: Object.entries(spec.attributes ?? {}).map(([key, value]) => ({
                key,
                value: typeof value === 'number' ? { intValue: String(value) } : { stringValue: value },
              })),
              ...(spec.error ? { status: { code: 2, message: 'failed' } } : {}),
            })),
        },
      ],
    })),
  };
  return JSON.stringify(data);
}

function logsLine(service: string, trace: number, ms: number, message: string): string {
  const data: OtlpLogsDataJson = {
    resourceLogs: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] },
        scopeLogs: [{ logRecords: [{ timeUnixNano: String(T0 + BigInt(ms) * MS), severityNumber: 9, severityText: 'INFO', body: { stringValue: message }, traceId: id(trace) }] }],
      },
    ],
  };
  return JSON.stringify(data);
}

/** Four traces: 1 slow and failing in payment, 2 fast and fine, 3 medium with a 503 attribute, 4 an orphan fragment without its root. */
const LINES = [
  tracesLine([
    { trace: 1, span: 'a1', service: 'gateway', name: 'POST /api/checkout', start: 0, end: 900, error: true },
    { trace: 1, span: 'b1', parent: 'a1', service: 'checkout', name: 'POST /checkout', start: 10, end: 890, error: true },
    { trace: 2, span: 'a2', service: 'gateway', name: 'GET /api/products', start: 100, end: 120 },
  ]),
  tracesLine([
    { trace: 1, span: 'c1', parent: 'b1', service: 'payment', name: 'POST /payments', start: 20, end: 400, error: true, attributes: { 'http.response.status_code': 503 } },
    { trace: 3, span: 'a3', service: 'gateway', name: 'GET /api/cart', start: 200, end: 450, attributes: { 'http.response.status_code': 503, 'faultline.outcome': 'fallback' } },
    { trace: 4, span: 'x4', parent: 'ff', service: 'bank', name: 'POST /charge', start: 300, end: 350 },
  ]),
];

describe('parseTracesQuery', () => {
  it('validates every flag, naming it', () => {
    const bad: [TracesFlags, RegExp][] = [
      [{ trace: 'xyz' }, /^--trace: 'xyz' is not a trace id/],
      [{ trace: id(1), service: 'gateway' }, /^--trace shows one trace/],
      [{ slowest: '0' }, /^--slowest: '0'/],
      [{ slowest: '3x' }, /^--slowest: '3x'/],
      [{ attr: ['novalue'] }, /^--attr: 'novalue' is not key=value/],
      [{ attr: ['=x'] }, /^--attr: '=x'/],
      [{ status: 'failed' }, /^--status: 'failed' is not ok or error/],
      [{ minDuration: '200' }, /^--min-duration: invalid duration "200": has no unit/],
      [{ minDuration: '2 parsecs' }, /^--min-duration: invalid duration/],
      [{ service: ' ' }, /^--service: empty/],
    ];
    for (const [flags, message] of bad) {
      const error = (() => {
        try {
          parseTracesQuery(flags);
        } catch (caught) {
          return caught;
        }
        return undefined;
      })();
      expect(error, JSON.stringify(flags)).toBeInstanceOf(TracesQueryError);
      expect((error as TracesQueryError).code).toBe('FL_BAD_OPTION');
      expect((error as TracesQueryError).message).toMatch(message);
    }
  });

  it('turns the flags into a trace query or a filtered listing', () => {
    expect(parseTracesQuery({ trace: id(10).toUpperCase() })).toEqual({ kind: 'trace', traceId: id(10) });
    expect(parseTracesQuery({})).toEqual({ kind: 'list', limit: DEFAULT_LIST_LIMIT, filter: { attributes: [] } });
    expect(parseTracesQuery({ slowest: '3', service: 'payment', attr: ['a=b=c', 'k='], status: 'ERROR', minDuration: '1.5s' })).toEqual({
      kind: 'list',
      limit: 3,
      filter: { service: 'payment', attributes: [{ key: 'a', value: 'b=c' }, { key: 'k', value: '' }], status: 'error', minDurationMs: 1_500 },
    });
  });
});

describe('traces query on a run', () => {
  let runsDir: string;
  let runDir: string;
  let tracesFile: string;
  let out: string;
  let err: string;
  const io = {
    stdout: { write: (text: string) => (out += text) },
    stderr: { write: (text: string) => (err += text) },
  };
  const run = (flags: TracesFlags): Promise<void> => runTracesCommand('run-1', { ...flags, runsDir }, io);

  beforeEach(async () => {
    runsDir = await makeTempDir('traces-cli');
    runDir = join(runsDir, 'run-1');
    tracesFile = join(runDir, 'traces.jsonl');
    await mkdir(runDir);
    await writeFile(tracesFile, `${LINES[0]}\nnot json at all\n${LINES[1]}\n`);
    await writeFile(join(runDir, 'logs.jsonl'), `${logsLine('payment', 1, 30, 'bank said 503')}\n${logsLine('gateway', 1, 899, 'checkout failed')}\n${logsLine('gateway', 2, 110, 'other trace')}\n`);
    out = '';
    err = '';
  });

  afterEach(async () => {
    await rm(runsDir, { recursive: true, force: true });
  });

  it('shows when each trace started and in which phase, filters by phase, and marks the faults that touched it', async () => {
    await writeFile(
      join(runDir, 'summary.json'),
      JSON.stringify({ startedAt: new Date(Number(T0 / MS) - 50).toISOString(), phases: [{ name: 'baseline', startMs: 0, endMs: 200 }, { name: 'outage', startMs: 200, endMs: 1_000 }] }),
    );
    const at = (ms: number) => new Date(Number(T0 / MS) + ms).toISOString();
    await writeFile(
      join(runDir, 'faults.jsonl'),
      [
        { time: at(290), offsetMs: 340, action: 'apply', fault: 'bank-pause', type: 'pause', target: 'bank', ok: true },
        { time: at(360), offsetMs: 410, action: 'remove', fault: 'bank-pause', type: 'pause', target: 'bank', ok: true },
      ]
        .map((record) => JSON.stringify(record))
        .join('\n'),
    );
    await run({ slowest: '10' });
    const row = (trace: number) => out.split('\n').find((line) => line.startsWith(id(trace))) ?? '';
    expect(row(1)).toMatch(/^\S+ +\+50ms +baseline +900ms /);
    expect(row(3)).toMatch(/^\S+ +\+250ms +outage +250ms /);
    expect(row(4)).toMatch(/\+350ms +outage .*\[fault: bank-pause\]$/);
    expect(row(3)).not.toContain('fault');

    out = '';
    await run({ slowest: '10', phase: 'outage' });
    expect(out).toContain(id(3));
    expect(out).toContain(id(4));
    expect(out).not.toContain(id(1));
    expect(out).toContain('(2 matching traces)');

    await expect(run({ phase: 'lunch' })).rejects.toThrow("--phase: no phase 'lunch' in this run (phases: baseline, outage)");
    await expect(run({ trace: id(1), phase: 'outage' })).rejects.toThrow(/--trace shows one trace/);

    out = '';
    await run({ trace: id(4) });
    expect(out).toContain('(fault bank-pause (pause on bank))');
  });

  it('lists traces slowest first with root, duration, service, status and span count', async () => {
    const listing = await listTraces(tracesFile, { attributes: [] }, 10);
    expect(listing.traces.map((trace) => [trace.traceId, trace.root, trace.service, trace.durationMs, trace.status, trace.spanCount])).toEqual([
      [id(1), 'POST /api/checkout', 'gateway', 900, 'error', 3],
      [id(3), 'GET /api/cart', 'gateway', 250, 'ok', 1],
      // No root: named after its earliest span, lasting its spans' extent.
      [id(4), 'POST /charge', 'bank', 50, 'ok', 1],
      [id(2), 'GET /api/products', 'gateway', 20, 'ok', 1],
    ]);
  });

  it('combines filters: every one must hold for a trace to be listed', async () => {
    const ids = async (filter: Parameters<typeof listTraces>[1], limit = 10): Promise<string[]> =>
      (await listTraces(tracesFile, filter, limit)).traces.map((trace) => trace.traceId);
    expect(await ids({ service: 'payment', attributes: [] })).toEqual([id(1)]);
    expect(await ids({ attributes: [{ key: 'http.response.status_code', value: '503' }] })).toEqual([id(1), id(3)]);
    expect(await ids({ attributes: [{ key: 'http.response.status_code', value: '503' }], status: 'ok' })).toEqual([id(3)]);
    expect(await ids({ attributes: [{ key: 'http.response.status_code', value: '503' }, { key: 'faultline.outcome', value: 'fallback' }] })).toEqual([id(3)]);
    expect(await ids({ attributes: [], status: 'error' })).toEqual([id(1)]);
    expect(await ids({ attributes: [], minDurationMs: 250 })).toEqual([id(1), id(3)]);
    expect(await ids({ attributes: [], service: 'gateway', minDurationMs: 21 }, 1)).toEqual([id(1)]);
    expect(await ids({ attributes: [], service: 'nobody' })).toEqual([]);
  });

  it('prints the listing, and reports the bad line by number on stderr without failing', async () => {
    await run({ slowest: '2', status: 'ok' });
    const lines = out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^trace +start +phase +duration +spans +status +service +root span$/);
    // No summary.json: offsets count from the run's first span, and there are no phases.
    expect(lines[1]).toMatch(new RegExp(`^${id(3)} +\\+200ms +- +250ms +1 +ok +gateway +GET /api/cart$`));
    expect(lines[3]).toBe('(2 slowest of 3 matching traces)');
    expect(err).toBe(`faultline: ${tracesFile}:2: skipped: not JSON: ${(() => {
      try {
        JSON.parse('not json at all');
      } catch (error) {
        return (error as Error).message;
      }
      return '';
    })()}\n`);
  });

  it('prints one trace as a waterfall across services followed by its logs', async () => {
    await run({ trace: id(1), width: '100' });
    const lines = out.split('\n');
    expect(lines[0]).toBe(`trace ${id(1)}  900ms  3 spans, 3 with errors`);
    expect(lines.filter((line) => /^ *(gateway|checkout|payment) POST/.test(line)).map((line) => line.split(/ {2,}\+/)[0])).toEqual([
      'gateway POST /api/checkout',
      '  checkout POST /checkout',
      '    payment POST /payments',
    ]);
    expect(out).toContain('logs (2):');
    expect(out).toMatch(/\+30ms {2}payment {2}INFO {3}bank said 503/);
    expect(out).toMatch(/\+899ms {2}gateway {2}INFO {3}checkout failed/);
    expect(out).not.toContain('other trace');
  });

  it('gives machine output with --json', async () => {
    await run({ trace: id(1), json: true });
    const trace = JSON.parse(out) as { traceId: string; spans: { name: string; depth: number; offsetMs: number }[]; logs: unknown[]; malformedLines: number };
    expect(trace.traceId).toBe(id(1));
    expect(trace.spans.map((span) => [span.name, span.depth, span.offsetMs])).toEqual([
      ['POST /api/checkout', 0, 0],
      ['POST /checkout', 1, 10],
      ['POST /payments', 2, 20],
    ]);
    expect(trace.logs).toHaveLength(2);
    expect(trace.malformedLines).toBe(1);
    out = '';
    await run({ minDuration: '200ms', json: true });
    const listing = JSON.parse(out) as { matched: number; traces: { traceId: string }[] };
    expect(listing.matched).toBe(2);
    expect(listing.traces.map((trace) => trace.traceId)).toEqual([id(1), id(3)]);
  });

  it('refuses an unknown run, a run without traces and an unknown trace with a stable code', async () => {
    const codeOf = (promise: Promise<unknown>): Promise<unknown> => promise.then(() => 'resolved', (error: unknown) => (error as TracesQueryError).code);
    expect(await codeOf(runTracesCommand('no-such-run', { runsDir }, io))).toBe('FL_RUN_NOT_FOUND');
    await mkdir(join(runsDir, 'empty-run'));
    expect(await codeOf(runTracesCommand(join(runsDir, 'empty-run'), { runsDir: '/nowhere' }, io))).toBe('FL_RUN_NOT_FOUND');
    expect(await codeOf(run({ trace: id(99) }))).toBe('FL_TRACE_NOT_FOUND');
    expect(await codeOf(run({ width: '10' }))).toBe('FL_BAD_OPTION');
  });
});
