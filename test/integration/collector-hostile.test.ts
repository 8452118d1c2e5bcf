// The collector process (collector/main.ts, as the lab runs it) under hostile
// export requests: small gzip bodies that inflate to 16 MiB of nesting, of
// empty messages, of packed numbers; over OTLP/HTTP (JSON and protobuf) and
// OTLP/gRPC. Each must be refused (400 when it nests too deeply, 413 when it
// holds too many elements; INVALID_ARGUMENT on gRPC) in the OTLP error shape,
// and while they arrive, three at a time, the collector must stay itself:
// its own /metrics, asked again as soon as it answers, answers within 200 ms
// (95% of the time: on a machine that other processes keep busy a process
// is sometimes not scheduled for a while, which no code of its own can
// prevent, so the worst case is bounded at 1 s), and its resident memory
// (VmRSS from /proc, sampled, and the peak VmHWM) stays under RSS_BOUND.
// Without the limits of collector/request-limits.ts one such request held
// the event loop for seconds and took about 1 GB.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import { afterAll, describe, expect, it } from 'vitest';
import { until } from '../until.ts';
import { serviceDefinition } from '../../collector/grpc-receiver.ts';
import { SIGNALS } from '../../collector/otlp-signals.ts';
import { makeTempDir } from '../../collector/test-fixtures.ts';
import { isReadyMessage } from '../../demo-services/kit/lifecycle.ts';
import type { ReadyMessage } from '../../demo-services/kit/lifecycle.ts';

const MAIN = join(import.meta.dirname, '../../collector/main.ts');
const MIB = 1024 * 1024;
/** Just under the collector's default maxRequestBytes (16 MiB), so size alone lets each through. */
const INFLATED = 16 * MIB - 1024;
/**
 * Peak resident memory allowed: the idle collector (~100 MB with its
 * modules) plus a few 16 MiB bodies in flight at once, compressed and
 * inflated, and their garbage. Without the limits it reached ~1 GB.
 */
const RSS_BOUND = 320 * MIB;
/** The bound on the collector's own /metrics while under attack (issue 20), met by 95% of answers... */
const METRICS_WITHIN_MS = 200;
/** ...and by all of them with room for a busy machine's scheduling: one unbounded request took seconds. */
const METRICS_WORST_MS = 1_000;
const ROUNDS = 3;
/**
 * CPU time per hostile request, all threads, on average: over HTTP, reading a
 * 16 KiB body, inflating until the first limit passes (a few hundred KiB),
 * the check, the answer; over gRPC, grpc-js inflating the whole message
 * before the check sees it (the most expensive of the lot). Measured ~25-55
 * ms; unbounded, one request took seconds.
 */
const CPU_PER_REQUEST_MS = 100;

/** A length-delimited field's tag and length. */
function header(number: number, length: number): number[] {
  const bytes: number[] = [(number << 3) | 2];
  while (length >= 0x80) {
    bytes.push((length & 0x7f) | 0x80);
    length = Math.floor(length / 128);
  }
  bytes.push(length);
  return bytes;
}

/** A length-delimited protobuf field: tag, varint length, bytes. */
function field(number: number, payload: Buffer): Buffer {
  return Buffer.concat([Buffer.from(header(number, payload.length)), payload]);
}

/** Logs request whose one log record's body is AnyValue arrays nested `depth` deep (written back to front). */
function deepLogs(depth: number): Buffer {
  const out = Buffer.alloc(depth * 12 + 64);
  let start = out.length;
  const prepend = (bytes: number[]) => {
    start -= bytes.length;
    out.set(bytes, start);
  };
  prepend([...header(1, 4), ...Buffer.from('leaf')]); // AnyValue.string_value
  // AnyValue.array_value -> ArrayValue.values -> AnyValue ..., then body <- logRecords <- scopeLogs <- resourceLogs.
  for (let i = 0; i < depth; i++) {
    prepend(header(1, out.length - start));
    prepend(header(5, out.length - start));
  }
  for (const number of [5, 2, 2, 1]) prepend(header(number, out.length - start));
  return out.subarray(start);
}

/** Metrics request with one histogram point whose bucketCounts (packed fixed64) fill `bytes`. */
function packedMetrics(bytes: number): Buffer {
  const point = field(6, Buffer.alloc(bytes)); // HistogramDataPoint.bucket_counts
  return field(1, field(2, field(2, Buffer.concat([field(1, Buffer.from('h')), field(9, field(1, point))])))); // resourceMetrics -> scopeMetrics -> metrics -> histogram -> dataPoints
}

interface Hostile {
  name: string;
  path: '/v1/traces' | '/v1/metrics' | '/v1/logs';
  type: 'application/json' | 'application/x-protobuf';
  gzipped: Buffer;
  status: number;
}

function hostilePayloads(): Hostile[] {
  const json = (name: string, path: Hostile['path'], text: string, status: number): Hostile => ({
    name,
    path,
    type: 'application/json',
    gzipped: gzipSync(Buffer.from(text), { level: 9 }),
    status,
  });
  const proto = (name: string, path: Hostile['path'], body: Buffer, status: number): Hostile => ({ name, path, type: 'application/x-protobuf', gzipped: gzipSync(body, { level: 9 }), status });
  const wide = '{"resourceSpans":[' + '{},'.repeat(Math.floor((INFLATED - 40) / 3)) + '{}]}';
  const emptyMessages = Buffer.alloc(INFLATED - (INFLATED % 2));
  for (let i = 0; i < emptyMessages.length; i += 2) emptyMessages[i] = 0x0a; // resource_* = {} , again and again
  return [
    json('16 MiB of [', '/v1/traces', '['.repeat(INFLATED), 400),
    json('deep objects', '/v1/logs', '{"a":'.repeat(Math.floor(INFLATED / 5)), 400),
    json('millions of empty resources', '/v1/traces', wide, 413),
    json('millions of commas', '/v1/metrics', '{"resourceMetrics":[' + '0,'.repeat(Math.floor((INFLATED - 30) / 2)) + '0]}', 413),
    proto('millions of empty resource spans', '/v1/traces', emptyMessages, 413),
    proto('millions of empty resource logs', '/v1/logs', emptyMessages, 413),
    proto('AnyValue nested a million deep', '/v1/logs', deepLogs(1_000_000), 400),
    proto('2 million packed bucket counts', '/v1/metrics', packedMetrics(INFLATED - 64), 413),
  ];
}

/** User and system CPU time of a process (all its threads), in ms, from /proc/<pid>/stat (clock ticks of 10 ms). */
async function cpuMs(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** Asks a URL again 10 ms after each answer; prints `<start epoch ms> <duration ms>` per answer until SIGTERM. */
const POLLER = `
const url = process.argv[1];
let running = true;
process.on('SIGTERM', () => { running = false; });
while (running) {
  const at = Date.now();
  const begun = performance.now();
  const response = await fetch(url);
  await response.text();
  if (response.status !== 200) process.exit(1);
  process.stdout.write(at + ' ' + (performance.now() - begun).toFixed(1) + '\\n');
  await new Promise((resolve) => setTimeout(resolve, 10));
}
`;

async function vmStatus(pid: number): Promise<{ rss: number; hwm: number }> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? Number.NaN) * 1024;
  return { rss: kib('VmRSS'), hwm: kib('VmHWM') };
}

let child: ChildProcess | undefined;
let runDir: string;

afterAll(async () => {
  child?.kill('SIGKILL');
  if (runDir) await rm(runDir, { recursive: true, force: true });
});

describe('collector under hostile payloads', () => {
  it('refuses each in the OTLP error shape, answers its /metrics within 200 ms, and keeps its RSS bounded', async () => {
    const payloads = hostilePayloads();
    runDir = await makeTempDir('hostile');
    const config = { grpcPort: 0, otlpHttpPort: 0, httpPort: 0, runDir };
    const started = spawn(process.execPath, [MAIN], {
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      env: { ...process.env, FAULTLINE_COLLECTOR_CONFIG: JSON.stringify(config) },
    });
    child = started;
    const exited = new Promise<number | null>((resolve) => started.once('exit', (code) => resolve(code)));
    const ready = await new Promise<ReadyMessage>((resolve, reject) => {
      started.on('message', (message) => (isReadyMessage(message) ? resolve(message) : undefined));
      void exited.then((code) => reject(new Error(`collector exited ${code} before ready`)));
    });
    const { otlpHttp, grpc: grpcPort, http: admin } = ready.ports as { otlpHttp: number; grpc: number; http: number };
    const pid = started.pid as number;
    const idle = await vmStatus(pid);
    // The collector's /metrics is asked from a process of its own, so that the work of sending the attack
    // (an 8 MiB gRPC message, 16 MiB gzip bodies) does not delay the asking; VmRSS is read every 20 ms.
    const poller = spawn(process.execPath, ['--input-type=module', '-e', POLLER, `http://127.0.0.1:${admin}/metrics`], { stdio: ['ignore', 'pipe', 'inherit'] });
    let polled = '';
    poller.stdout?.setEncoding('utf8').on('data', (chunk: string) => (polled += chunk));
    const pollerDone = new Promise((resolve) => poller.once('exit', resolve));
    await until('the poller has a quiet baseline', () => (polled.split('\n').length > 20 ? true : undefined), 10_000, 20);
    let attacking = true;
    let peakRss = idle.rss;
    const rssWatch = (async () => {
      while (attacking) {
        peakRss = Math.max(peakRss, (await vmStatus(pid)).rss);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    const cpuBefore = await cpuMs(pid);
    const attackStarted = Date.now();

    const answers: string[] = [];
    const send = async (payload: Hostile): Promise<void> => {
      const response = await fetch(`http://127.0.0.1:${otlpHttp}${payload.path}`, {
        method: 'POST',
        headers: { 'content-type': payload.type, 'content-encoding': 'gzip' },
        body: payload.gzipped,
      });
      const body = Buffer.from(await response.arrayBuffer());
      answers.push(`${payload.name}: ${response.status}`);
      expect(response.status, payload.name).toBe(payload.status);
      // google.rpc.Status, in the request's encoding: code 3 (INVALID_ARGUMENT) and a message.
      if (payload.type === 'application/json') {
        expect(JSON.parse(body.toString('utf8')), payload.name).toMatchObject({ code: 3, message: expect.stringMatching(/nested deeper|more than 100000/) });
      } else {
        expect(body.toString('latin1'), payload.name).toMatch(/nested deeper|more than 100000/);
      }
    };
    // Over gRPC: the same empty-message flood, gzip-compressed by the client (grpc-js inflates it up to the max message size).
    const Client = grpc.makeGenericClientConstructor(serviceDefinition(SIGNALS.logs), 'LogsService');
    const grpcClient = new Client(`127.0.0.1:${grpcPort}`, grpc.credentials.createInsecure(), { 'grpc.default_compression_algorithm': grpc.compressionAlgorithms.gzip }) as unknown as {
      Export(request: Buffer, callback: (error: grpc.ServiceError | null) => void): void;
      close(): void;
    };
    const grpcFlood = Buffer.alloc(INFLATED);
    for (let i = 0; i < grpcFlood.length; i += 2) grpcFlood[i] = 0x0a;
    const sendGrpc = () =>
      new Promise<void>((resolve) => {
        grpcClient.Export(grpcFlood, (error) => {
          answers.push(`gRPC empty resource logs: ${error?.code}`);
          expect(error?.code).toBe(grpc.status.INVALID_ARGUMENT);
          expect(error?.details).toMatch(/more than 100000 fields/);
          resolve();
        });
      });

    try {
      // Three at a time, as in the report: each round sends every payload, in three lanes.
      for (let round = 0; round < ROUNDS; round++) {
        const queue = [...payloads];
        await Promise.all([
          ...Array.from({ length: 3 }, async () => {
            for (let next = queue.shift(); next !== undefined; next = queue.shift()) await send(next);
          }),
          sendGrpc(),
        ]);
      }
    } finally {
      attacking = false;
      await rssWatch;
      grpcClient.close();
    }
    const attackEnded = Date.now();
    const cpu = (await cpuMs(pid)) - cpuBefore;
    poller.kill('SIGTERM');
    await pollerDone;
    // Each line: when the ask started (epoch ms) and how long the answer took.
    const polls = polled.trim().split('\n').map((line) => line.split(' ').map(Number) as [number, number]);
    const quiet = polls.filter(([at]) => at < attackStarted).map(([, ms]) => ms);
    const metricsTimes = polls.filter(([at]) => at >= attackStarted && at <= attackEnded).map(([, ms]) => ms);
    const after = await vmStatus(pid);
    const slowest = Math.max(...metricsTimes);
    const p95 = [...metricsTimes].sort((a, b) => a - b)[Math.floor(metricsTimes.length * 0.95)] as number;
    const mb = (bytes: number) => `${(bytes / MIB).toFixed(0)} MiB`;
    console.log(
      `${answers.length} hostile requests; /metrics asked ${metricsTimes.length} times, p95 ${p95.toFixed(0)} ms, slowest ${slowest.toFixed(0)} ms ` +
        `(with no attack just before: slowest ${Math.max(...quiet).toFixed(0)} ms of ${quiet.length}); collector CPU ${cpu} ms; ` +
        `RSS idle ${mb(idle.rss)}, sampled peak ${mb(peakRss)}, VmHWM ${mb(after.hwm)}`,
    );
    expect(answers).toHaveLength(ROUNDS * (payloads.length + 1));
    expect(metricsTimes.length).toBeGreaterThan(5);
    expect(p95).toBeLessThan(METRICS_WITHIN_MS);
    expect(slowest).toBeLessThan(METRICS_WORST_MS);
    // The work itself, which a busy machine does not inflate: CPU time (all the collector's threads) per hostile request.
    expect(cpu / answers.length).toBeLessThan(CPU_PER_REQUEST_MS);
    expect(after.hwm).toBeLessThan(RSS_BOUND);

    // Still a working collector afterwards: a plain, valid request is taken.
    const fine = await fetch(`http://127.0.0.1:${otlpHttp}/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"resourceLogs":[]}' });
    expect(fine.status).toBe(200);
    started.kill('SIGTERM');
    expect(await exited).toBe(0);
    child = undefined;
  }, 120_000);
});
