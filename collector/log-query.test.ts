import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { flattenLogsData, readTraceLogs, severityName } from './log-query.ts';
import type { OtlpLogsDataJson } from './log-query.ts';
import type { MalformedLine } from './trace-query.ts';
import { makeTempDir } from './test-fixtures.ts';

const TRACE_A = '0af7651916cd43dd8448eb211c80319c';
const TRACE_B = '4bf92f3577b34da6a3ce929d0e0e4736';
const NS = 1_700_000_000_000_000_000n;

function logsLine(service: string, records: { ms: number; traceId?: string; severity?: number; text?: string; body?: string }[]): OtlpLogsDataJson {
  return {
    resourceLogs: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] },
        scopeLogs: [
          {
            scope: { name: 'pino' },
            logRecords: records.map((record) => ({
              timeUnixNano: String(NS + BigInt(record.ms) * 1_000_000n),
              severityNumber: record.severity ?? 9,
              ...(record.text === undefined ? {} : { severityText: record.text }),
              body: { stringValue: record.body ?? `${service} at ${record.ms}` },
              attributes: [{ key: 'http.route', value: { stringValue: '/checkout' } }],
              ...(record.traceId === undefined ? {} : { traceId: record.traceId.toUpperCase(), spanId: '00f067aa0ba902b7' }),
            })),
          },
        ],
      },
    ],
  };
}

describe('log query', () => {
  let dir: string;
  let file: string;

  beforeEach(async () => {
    dir = await makeTempDir('logs');
    file = join(dir, 'logs.jsonl');
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('flattens an OTLP JSON LogsData into records with service, time, severity, message and ids', () => {
    const [record] = flattenLogsData(logsLine('checkout', [{ ms: 5, traceId: TRACE_A, severity: 13, text: 'warn' }]));
    expect(record).toEqual({
      timeMs: 1_700_000_000_005,
      service: 'checkout',
      severityNumber: 13,
      severityText: 'warn',
      message: 'checkout at 5',
      traceId: TRACE_A,
      spanId: '00f067aa0ba902b7',
      attributes: { 'http.route': '/checkout' },
    });
  });

  it('names the severity from its number when the producer gave no text, and writes a structured body as JSON', () => {
    expect([1, 8, 9, 13, 17, 24, 0, 25].map(severityName)).toEqual(['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL', 'UNSPECIFIED', 'UNSPECIFIED']);
    const [record] = flattenLogsData({
      resourceLogs: [
        {
          scopeLogs: [
            {
              logRecords: [
                {
                  observedTimeUnixNano: '1700000000001000000',
                  severityNumber: 17,
                  body: { kvlistValue: { values: [{ key: 'msg', value: { stringValue: 'boom' } }] } },
                  traceId: '00000000000000000000000000000000',
                },
              ],
            },
          ],
        },
      ],
    });
    expect(record).toMatchObject({ timeMs: 1_700_000_000_001, service: 'unknown_service', severityText: 'ERROR', message: '{"msg":"boom"}' });
    expect(record?.traceId).toBeUndefined();
  });

  it('returns the logs of one trace from every service, time-ordered, skipping bad lines with their line number', async () => {
    const lines = [
      JSON.stringify(logsLine('gateway', [{ ms: 30, traceId: TRACE_A }, { ms: 1, traceId: TRACE_B }])),
      '{"resourceLogs": [ cut short',
      JSON.stringify(logsLine('checkout', [{ ms: 10, traceId: TRACE_A }, { ms: 20 }])),
      '[1,2]',
      JSON.stringify(logsLine('payment', [{ ms: 10, traceId: TRACE_A, body: 'second at 10' }])),
    ];
    await writeFile(file, `${lines.join('\n')}\n`);
    const malformed: MalformedLine[] = [];
    const logs = await readTraceLogs(file, TRACE_A.toUpperCase(), { onMalformed: (line) => malformed.push(line) });
    expect(logs.map((log) => `${log.service}: ${log.message}`)).toEqual(['checkout: checkout at 10', 'payment: second at 10', 'gateway: gateway at 30']);
    expect(malformed.map((line) => line.lineNumber)).toEqual([2, 4]);
    expect(malformed[0]?.reason).toMatch(/^not JSON/);
  });

  it('has no logs for a run that kept none', async () => {
    expect(await readTraceLogs(join(dir, 'missing.jsonl'), TRACE_A)).toEqual([]);
  });
});
