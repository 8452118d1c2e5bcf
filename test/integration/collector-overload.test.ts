// The collector process (collector/main.ts, as the lab runs it) under more
// telemetry than it may hold: OTLP/HTTP protobuf log exports sent as fast as
// eight connections go, against a write queue bounded at 5,000 records, with
// V8's old space capped at 64 MB: decoded, what is sent would take more than
// that, so a collector that held on to it would die of OOM. It must survive
// with its resident memory bounded, every record it did not keep must be
// counted as dropped (received = stored + dropped, in its stats and
// logs.jsonl alike), and every answer must be one the OTLP spec allows under
// overload (200, possibly partial, or 503 with Retry-After).
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { OTLP_LOGS_TYPES } from '../../collector/otlp-schema.ts';
import { makeTempDir } from '../../collector/test-fixtures.ts';
import { isReadyMessage } from '../../demo-services/kit/lifecycle.ts';
import type { ReadyMessage } from '../../demo-services/kit/lifecycle.ts';
import { RUNTIME_METRIC } from '../../demo-services/kit/conventions.ts';

const MAIN = join(import.meta.dirname, '../../collector/main.ts');
const RECORDS_PER_REQUEST = 700;
const REQUESTS = 200;
const CONCURRENCY = 8;
const MAX_QUEUED_ITEMS = 5_000;

function encodedRequest(): Buffer {
  const { ExportLogsServiceRequest } = OTLP_LOGS_TYPES;
  const logRecords = Array.from({ length: RECORDS_PER_REQUEST }, (_, i) => ({
    timeUnixNano: String(1_700_000_000_000_000_000n + BigInt(i)),
    severityNumber: 9,
    body: { stringValue: `record ${i} ${'x'.repeat(160)}` },
    attributes: [{ key: 'i', value: { intValue: i } }],
  }));
  const message = ExportLogsServiceRequest.fromObject({
    resourceLogs: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'flood' } }] }, scopeLogs: [{ logRecords }] }],
  });
  return Buffer.from(ExportLogsServiceRequest.encode(message).finish());
}

async function metric(adminPort: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  const match = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return Number(match?.[1] ?? Number.NaN);
}

let child: ChildProcess | undefined;
let runDir: string;

afterAll(async () => {
  child?.kill('SIGKILL');
  if (runDir) await rm(runDir, { recursive: true, force: true });
});

describe('collector under overload', () => {
  it('keeps its memory bounded, answers as OTLP says, and counts every drop', async () => {
    runDir = await makeTempDir('overload');
    const config = { grpcPort: 0, otlpHttpPort: 0, httpPort: 0, runDir, maxQueuedItems: MAX_QUEUED_ITEMS, flushIntervalMs: 1_000 };
    const started = spawn(process.execPath, ['--max-old-space-size=64', MAIN], {
      stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
      env: { ...process.env, FAULTLINE_COLLECTOR_CONFIG: JSON.stringify(config) },
    });
    child = started;
    let stdout = '';
    started.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    const exited = new Promise<number | null>((resolve) => started.once('exit', (code) => resolve(code)));
    const ready = await new Promise<ReadyMessage>((resolve, reject) => {
      started.on('message', (message) => (isReadyMessage(message) ? resolve(message) : undefined));
      void exited.then((code) => reject(new Error(`collector exited ${code} before ready`)));
    });
    const { otlpHttp, http: admin } = ready.ports as { otlpHttp: number; http: number };

    const body = encodedRequest();
    const baseline = await metric(admin, RUNTIME_METRIC.residentMemory);
    let peak = baseline;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        peak = Math.max(peak, await metric(admin, RUNTIME_METRIC.residentMemory));
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();

    const statuses = new Map<number, number>();
    let partial = 0;
    let missingRetryAfter = 0;
    const flood = (requests: number) => {
      let next = 0;
      return Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (next < requests) {
            next++;
            const response = await fetch(`http://127.0.0.1:${otlpHttp}/v1/logs`, {
              method: 'POST',
              headers: { 'content-type': 'application/x-protobuf' },
              body,
            });
            const payload = Buffer.from(await response.arrayBuffer());
            statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
            if (response.status === 200 && payload.length > 0) partial++;
            if (response.status === 503 && response.headers.get('retry-after') !== '1') missingRetryAfter++;
          }
        }),
      );
    };
    await flood(REQUESTS);
    sampling = false;
    await sampler;

    const sentBytes = body.length * REQUESTS;
    const sentRecords = RECORDS_PER_REQUEST * REQUESTS;
    expect([...statuses.keys()].sort()).toEqual([200, 503]);
    expect(partial).toBeGreaterThan(0);
    expect(missingRetryAfter).toBe(0);
    // What memory holds is the queue bound, the requests in flight and garbage
    // the GC has not returned yet; none of it grows with the volume sent.
    const mb = (bytes: number) => `${(bytes / 1e6).toFixed(0)} MB`;
    console.log(
      `sent ${mb(sentBytes)} (${sentRecords} records); RSS ${mb(baseline)} -> peak ${mb(peak)}; statuses ${JSON.stringify([...statuses])}`,
    );
    expect(peak - baseline).toBeLessThan(120 * 1024 * 1024);

    started.kill('SIGTERM');
    expect(await exited).toBe(0);
    child = undefined;
    const stopped = stdout
      .split('\n')
      .filter((line) => line.includes('collector stopped'))
      .map((line) => JSON.parse(line) as { stats: { logs: { received: number; stored: number; dropped: number } } })[0];
    const logs = stopped?.stats.logs;
    expect(logs?.received).toBe(sentRecords);
    expect(logs?.dropped).toBeGreaterThan(0);
    expect((logs?.stored ?? 0) + (logs?.dropped ?? 0)).toBe(sentRecords);
    const storedLines = (await readFile(join(runDir, 'logs.jsonl'), 'utf8')).split('\n').filter((line) => line !== '');
    const storedRecords = storedLines.reduce(
      (sum, line) => sum + ((JSON.parse(line) as { resourceLogs: { scopeLogs: { logRecords: unknown[] }[] }[] }).resourceLogs[0]?.scopeLogs[0]?.logRecords.length ?? 0),
      0,
    );
    expect(storedRecords).toBe(logs?.stored);
  }, 60_000);
});
