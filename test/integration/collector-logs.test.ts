// A real service's pino log reaches the embedded collector as an OTLP log
// record carrying the trace and span ids of the span it was written in, so the
// logs of a trace can be found in runs/<id>/logs.jsonl; its stdout JSON log is
// unchanged. The bank is called directly with a W3C traceparent whose trace id
// the test chose.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OtlpAnyValueJson, OtlpKeyValueJson } from '../../collector/otlp-json.ts';
import { readSpans } from '../../collector/trace-query.ts';
import { HEADER } from '../../demo-services/kit/conventions.ts';
import { startLab, type Lab } from '../../runner/lab.ts';

interface StoredLogRecord {
  traceId?: string;
  spanId?: string;
  severityNumber?: number;
  severityText?: string;
  body?: OtlpAnyValueJson;
  attributes?: OtlpKeyValueJson[];
}
interface StoredLogs {
  resourceLogs?: { resource?: { attributes?: OtlpKeyValueJson[] }; scopeLogs?: { logRecords?: StoredLogRecord[] }[] }[];
}

let lab: Lab | undefined;
let runDir: string;
const traceId = randomBytes(16).toString('hex');
const callerSpanId = randomBytes(8).toString('hex');

beforeAll(async () => {
  runDir = await mkdtemp(join(tmpdir(), 'faultline-collector-logs-'));
  lab = await startLab({ runDir, services: ['bank'] });
  const response = await fetch(`${lab.serviceUrl('bank')}/charges`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', [HEADER.idempotencyKey]: 'logs-test-0001', traceparent: `00-${traceId}-${callerSpanId}-01` },
    body: JSON.stringify({ orderId: 'order-logs-1', amount: 1_234 }),
  });
  expect(response.status).toBe(201);
  // Stopping the lab flushes every service's telemetry, then the collector's files.
  await lab.stop();
  lab = undefined;
}, 60_000);

afterAll(async () => {
  await lab?.stop();
  await rm(runDir, { recursive: true, force: true });
});

describe('service logs over OTLP', () => {
  it('stores the bank\'s "charged" log with the trace and span ids of its server span', async () => {
    const lines = (await readFile(join(runDir, 'logs.jsonl'), 'utf8'))
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as StoredLogs);
    const records = lines.flatMap((data) =>
      (data.resourceLogs ?? []).flatMap((resource) =>
        (resource.scopeLogs ?? []).flatMap((scope) => (scope.logRecords ?? []).map((record) => ({ resource: resource.resource, record }))),
      ),
    );
    const charged = records.filter(({ record }) => record.body?.stringValue === 'charged');
    expect(charged).toHaveLength(1);
    const [{ record, resource }] = charged as [(typeof charged)[number]];
    expect(record).toMatchObject({ traceId, severityNumber: 9, severityText: 'INFO' });
    expect(record.attributes).toContainEqual({ key: 'orderId', value: { stringValue: 'order-logs-1' } });
    expect(resource?.attributes).toContainEqual({ key: 'service.name', value: { stringValue: 'bank' } });

    // The span id is the bank's server span, a child of the caller's span, in traces.jsonl.
    const spans = (await readSpans(join(runDir, 'traces.jsonl'))).filter((span) => span.traceId === traceId);
    const server = spans.find((span) => span.parentSpanId === callerSpanId);
    expect(server?.service).toBe('bank');
    expect(spans.map((span) => span.spanId)).toContain(record.spanId);

    // Startup lines (outside any request) arrive too, without trace ids.
    expect(records.some(({ record: r }) => r.body?.stringValue === 'listening' && r.traceId === undefined)).toBe(true);
  });

  it('keeps the stdout JSON log as it was, with trace_id', async () => {
    const stdout = await readFile(join(runDir, 'logs', 'bank.jsonl'), 'utf8');
    const line = stdout
      .split('\n')
      .filter((text) => text.includes('"charged"'))
      .map((text) => JSON.parse(text) as Record<string, unknown>)[0];
    expect(line).toMatchObject({ msg: 'charged', trace_id: traceId, service: 'bank', level: 30 });
  });
});
