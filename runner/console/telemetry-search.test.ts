import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SearchInputError, searchLogs, searchTraces, tailLogs, traceView } from './telemetry-search.ts';

const T0 = 1_765_000_000_000;
const nanos = (ms: number) => `${BigInt(ms) * 1_000_000n}`;
const resource = (service: string) => ({ attributes: [{ key: 'service.name', value: { stringValue: service } }] });

function traceLine(traceId: string, service: string, startMs: number, durationMs: number, error = false, attributes: Record<string, string> = {}): string {
  const span = {
    traceId,
    spanId: traceId.slice(0, 16),
    name: 'POST /checkout',
    kind: 2,
    startTimeUnixNano: nanos(startMs),
    endTimeUnixNano: nanos(startMs + durationMs),
    attributes: Object.entries(attributes).map(([key, value]) => ({ key, value: { stringValue: value } })),
    status: { code: error ? 2 : 1 },
  };
  return `${JSON.stringify({ resourceSpans: [{ resource: resource(service), scopeSpans: [{ spans: [span] }] }] })}\n`;
}

function logLine(service: string, timeMs: number, severityNumber: number, message: string, traceId?: string): string {
  const record = { timeUnixNano: nanos(timeMs), severityNumber, severityText: severityNumber >= 17 ? 'ERROR' : severityNumber >= 13 ? 'WARN' : 'INFO', body: { stringValue: message }, ...(traceId ? { traceId } : {}) };
  return `${JSON.stringify({ resourceLogs: [{ resource: resource(service), scopeLogs: [{ logRecords: [record] }] }] })}\n`;
}

const SLOW = 'a'.repeat(32);
const FAILED = 'b'.repeat(32);
const FAST = 'c'.repeat(32);

describe("the console's trace and log search", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'console-search-'));
    await writeFile(join(dir, 'traces.jsonl'), traceLine(SLOW, 'checkout', T0, 900) + traceLine(FAILED, 'checkout', T0 + 5_000, 300, true, { 'fault.injected': 'bank-errors' }) + traceLine(FAST, 'catalog', T0 + 10_000, 5));
    await writeFile(join(dir, 'logs.jsonl'), logLine('checkout', T0 + 5_010, 17, 'payment failed: bank 503', FAILED) + logLine('catalog', T0 + 10_001, 9, 'listed 20 products', FAST) + logLine('checkout', T0 + 20, 9, 'order placed', SLOW));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('lists traces slowest first, filtered by service, status, attribute, duration and time', async () => {
    const all = await searchTraces(dir, new URLSearchParams());
    expect(all.traces.map((t) => t.traceId)).toEqual([SLOW, FAILED, FAST]);
    expect((await searchTraces(dir, new URLSearchParams('service=catalog'))).traces.map((t) => t.traceId)).toEqual([FAST]);
    expect((await searchTraces(dir, new URLSearchParams('status=error'))).traces.map((t) => t.traceId)).toEqual([FAILED]);
    expect((await searchTraces(dir, new URLSearchParams('attr=fault.injected=bank-errors'))).traces.map((t) => t.traceId)).toEqual([FAILED]);
    expect((await searchTraces(dir, new URLSearchParams('minDuration=250ms'))).matched).toBe(2);
    expect((await searchTraces(dir, new URLSearchParams(`since=${T0 + 1_000}&until=${T0 + 9_000}`))).traces.map((t) => t.traceId)).toEqual([FAILED]);
    expect((await searchTraces(dir, new URLSearchParams('limit=1'))).traces).toHaveLength(1);
  });

  it('names the bad parameter', async () => {
    await expect(searchTraces(dir, new URLSearchParams('status=maybe'))).rejects.toThrow(/status: 'maybe'/);
    await expect(searchTraces(dir, new URLSearchParams('minDuration=soon'))).rejects.toThrow(SearchInputError);
    await expect(searchTraces(dir, new URLSearchParams('limit=0'))).rejects.toThrow(/limit: '0'/);
    await expect(searchTraces(dir, new URLSearchParams('since=yesterday-ish'))).rejects.toThrow(/since: 'yesterday-ish'/);
    await expect(searchLogs(dir, new URLSearchParams('level=loud'))).rejects.toThrow(/level: 'loud' is not one of/);
    await expect(traceView(dir, 'not-a-trace')).rejects.toThrow(/32 hex digits/);
  });

  it('shows one trace as the report draws it, with its logs', async () => {
    const view = await traceView(dir, FAILED);
    expect(view?.spanCount).toBe(1);
    expect(view?.html).toContain('POST /checkout');
    expect(view?.html).toContain('payment failed: bank 503');
    expect(await traceView(dir, 'd'.repeat(32))).toBeUndefined();
  });

  it('finds log lines by service, level, text, trace and time, newest first', async () => {
    expect((await searchLogs(dir, new URLSearchParams())).records.map((r) => r.message)).toEqual(['listed 20 products', 'payment failed: bank 503', 'order placed']);
    expect((await searchLogs(dir, new URLSearchParams('service=checkout&level=error'))).records.map((r) => r.message)).toEqual(['payment failed: bank 503']);
    expect((await searchLogs(dir, new URLSearchParams('text=BANK'))).matched).toBe(1);
    expect((await searchLogs(dir, new URLSearchParams(`trace=${SLOW}`))).records.map((r) => r.message)).toEqual(['order placed']);
    expect((await searchLogs(dir, new URLSearchParams(`since=${T0 + 6_000}`))).records.map((r) => r.message)).toEqual(['listed 20 products']);
  });

  it('answers an empty session with nothing rather than an error', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'console-empty-'));
    try {
      expect(await searchTraces(empty, new URLSearchParams())).toEqual({ matched: 0, traces: [] });
      expect(await searchLogs(empty, new URLSearchParams())).toEqual({ matched: 0, records: [] });
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });

  it('tails what is appended, waits for a whole line, and starts over after a rotation', async () => {
    const tail = await tailLogs(dir);
    expect((await tail.read()).records).toEqual([]);
    const line = logLine('gateway', T0 + 30_000, 13, 'shedding load');
    await appendFile(join(dir, 'logs.jsonl'), line.slice(0, 40));
    expect((await tail.read()).records).toEqual([]);
    await appendFile(join(dir, 'logs.jsonl'), line.slice(40));
    expect((await tail.read()).records.map((r) => r.message)).toEqual(['shedding load']);
    await writeFile(join(dir, 'logs.jsonl'), logLine('bank', T0 + 40_000, 9, 'after rotation'));
    expect((await tail.read()).records.map((r) => r.message)).toEqual(['after rotation']);
    await appendFile(join(dir, 'logs.jsonl'), logLine('bank', T0 + 41_000, 9, 'one') + logLine('bank', T0 + 41_001, 9, 'two'));
    expect(await tail.read(1)).toMatchObject({ records: [{ message: 'one' }], skipped: 1 });
    await tail.close();
  });
});
