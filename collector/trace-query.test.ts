import { appendFile, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isCollectorError } from './collector-error.ts';
import { traceRequestToOtlpJson } from './otlp-json.ts';
import { SAMPLE_ATTRIBUTES, SAMPLE_SERVICE, createSampleProvider, emitSampleTrace, makeTempDir } from './test-fixtures.ts';
import { groupByTrace, readSpans } from './trace-query.ts';
import type { FlatSpan } from './trace-query.ts';
import { decodeTraceExportRequest } from './trace-request.ts';
import { openTraceStore } from './trace-store.ts';

const hrToMs = ([seconds, nanos]: [number, number]): number => seconds * 1000 + Math.trunc(nanos / 1000) / 1000;

describe('trace query', () => {
  let dir: string;
  let file: string;
  let sample: Record<'other' | 'parent' | 'child', ReadableSpan>;

  beforeEach(async () => {
    dir = await makeTempDir('query');
    file = join(dir, 'traces.jsonl');
    const { provider, memory } = createSampleProvider();
    sample = emitSampleTrace(provider, memory);
    const body = ProtobufTraceSerializer.serializeRequest(memory.getFinishedSpans()) ?? new Uint8Array();
    const store = await openTraceStore({ file });
    store.append(traceRequestToOtlpJson(decodeTraceExportRequest(body)));
    await store.close();
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads back what the store wrote as flat spans with epoch-millisecond times', async () => {
    const spans = await readSpans(file);
    expect(spans).toHaveLength(3);
    const byId = new Map(spans.map((span) => [span.spanId, span]));
    const parent = byId.get(sample.parent.spanContext().spanId);
    const child = byId.get(sample.child.spanContext().spanId);
    expect(parent).toEqual<FlatSpan>({
      traceId: sample.parent.spanContext().traceId,
      spanId: sample.parent.spanContext().spanId,
      name: 'GET /orders/:id',
      kind: 2,
      service: SAMPLE_SERVICE,
      startMs: 1_700_000_000_123.456,
      endMs: 1_700_000_001_987.654,
      durationMs: 1_864.197532,
      attributes: SAMPLE_ATTRIBUTES,
      events: [
        { name: 'cache.miss', timeMs: 1_700_000_000_223.456, attributes: expect.any(Object) as Record<string, unknown> },
        { name: 'no.attributes', timeMs: 1_700_000_000_323.456, attributes: {} },
      ],
      status: { code: 0 },
    });
    expect(child?.parentSpanId).toBe(parent?.spanId);
    expect(child?.status).toEqual({ code: 2, message: 'bank said no' });
    expect(child?.attributes).toEqual({ 'server.address': 'bank', 'http.response.status_code': 503 });
    for (const recorded of Object.values(sample)) {
      const span = byId.get(recorded.spanContext().spanId);
      expect(span?.startMs).toBeCloseTo(hrToMs(recorded.startTime), 3);
      expect(span?.endMs).toBeCloseTo(hrToMs(recorded.endTime), 3);
    }
  });

  it('groups spans by trace, each trace ordered by start time', async () => {
    const traces = groupByTrace(await readSpans(file));
    expect(traces.size).toBe(2);
    const main = traces.get(sample.parent.spanContext().traceId);
    expect(main?.map((span) => span.name)).toEqual(['GET /orders/:id', 'POST bank/charge']);
    expect(traces.get(sample.other.spanContext().traceId)?.map((span) => span.name)).toEqual(['other-root']);
  });

  it('skips a last line cut short by a crash', async () => {
    const complete = await readFile(file, 'utf8');
    await appendFile(file, complete.slice(0, Math.floor(complete.length / 2)));
    expect(await readSpans(file)).toHaveLength(3);
  });

  it('reports a corrupt line that is not the last one, with its line number', async () => {
    const complete = await readFile(file, 'utf8');
    await writeFile(file, `${complete}{"broken"\n${complete}`);
    const error = await readSpans(file).catch((e: unknown) => e);
    expect(isCollectorError(error, 'TRACES_CORRUPT')).toBe(true);
    expect((error as Error).message).toContain(`${file}:2:`);
  });

  it('accepts numbers where OTLP JSON has decimal strings and reads int64 beyond 2^53 as a string', async () => {
    const line = {
      resourceSpans: [
        {
          scopeSpans: [
            {
              spans: [
                {
                  traceId: 'AB'.repeat(16),
                  spanId: 'CD'.repeat(8),
                  name: 'numeric',
                  startTimeUnixNano: 1_000_000,
                  endTimeUnixNano: '3000000',
                  attributes: [
                    { key: 'n', value: { intValue: 5 } },
                    { key: 'big', value: { intValue: '9223372036854775807' } },
                    { key: 'nan', value: { doubleValue: 'NaN' } },
                    { key: 'bytes', value: { bytesValue: 'AAEC' } },
                    { key: 'map', value: { kvlistValue: { values: [{ key: 'k', value: { stringValue: 'v' } }] } } },
                  ],
                },
              ],
            },
          ],
        },
      ],
    };
    await writeFile(file, `${JSON.stringify(line)}\n`);
    const [span] = await readSpans(file);
    expect(span).toMatchObject({ traceId: 'ab'.repeat(16), service: 'unknown_service', startMs: 1, endMs: 3, durationMs: 2, kind: 0 });
    expect(span?.attributes).toEqual({ n: 5, big: '9223372036854775807', nan: Number.NaN, bytes: new Uint8Array([0, 1, 2]), map: { k: 'v' } });
  });
});
