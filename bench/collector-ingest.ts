// How many spans a second the embedded collector ingests over OTLP/gRPC on one
// core with its memory bounded (issue 6 goal: at least 50,000), and its
// resident memory while doing it.
//
// Three processes: the collector, started exactly as the lab starts it (the
// supervisor, collector/main.ts or its .lab/build JavaScript, the lab's Node
// flags and default limits, writing runs/<id>/traces.jsonl in a temporary
// directory) and pinned to CPU 1; a sender pinned to CPU 0 that pre-encodes
// ExportTraceServiceRequest batches from real SDK spans (512 spans per batch,
// the BatchSpanProcessor's default, shaped like the lab's checkout traces) and
// sends them with N calls in flight; and this process, which samples the
// collector's RSS and CPU time. The baseline, in the same run, is the same
// requests to a grpc-js server on CPU 1 that discards them: the transport's
// ceiling, so the ratio is what decoding, converting and writing cost.
// Rounds alternate baseline and collector. A span counts as ingested when the
// collector accepted it (spans it drops for a full write queue are reported as
// rejected and are not counted); after each collector round the bench waits
// until the collector's queue has drained to disk and reports how long that took.
//
//   node bench/collector-ingest.ts [--rounds 2] [--duration 5] [--warmup 2] [--inflight 8] [--batch 512]
//
// Prints a markdown table with the command line and the machine.

import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { traceRequestToOtlpJson } from '../collector/otlp-json.ts';
import { OTLP_TRACE_TYPES, TRACE_EXPORT_METHOD_PATH } from '../collector/otlp-schema.ts';
import { decodeTraceExportRequest } from '../collector/trace-request.ts';
import { transcodeTraceRequest } from '../collector/otlp-transcode.ts';
import { serviceDefinition } from '../collector/grpc-receiver.ts';
import { SIGNALS } from '../collector/otlp-signals.ts';
import { LAB_METRIC } from '../demo-services/kit/conventions.ts';
import { PROJECT_ROOT, createSupervisor } from '../runner/supervisor.ts';
import { mib, residentBytes } from './process-memory.ts';
import { cpuMicrosOf } from './process-cpu.ts';

const { values: options } = parseArgs({
  options: {
    role: { type: 'string', default: 'main' },
    rounds: { type: 'string', default: '2' },
    duration: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '2' },
    inflight: { type: 'string', default: '8' },
    batch: { type: 'string', default: '512' },
  },
});
const BATCH_SPANS = Number(options.batch);
const DISTINCT_BATCHES = 32;
const LAB_NODE_FLAGS = ['--max-semi-space-size=2'];
const passThrough = (buffer: Buffer): Buffer => buffer;

// ---------------------------------------------------------------- messages

interface SendCommand {
  port: number;
  warmupMs: number;
  durationMs: number;
  inflight: number;
}
interface SendResult {
  calls: number;
  sentSpans: number;
  acceptedSpans: number;
  rejectedSpans: number;
  failedCalls: number;
  seconds: number;
}
type SenderMessage = { ready: true; requestBytes: number } | { measuring: true } | { result: SendResult };

// ---------------------------------------------------------------- sender role

/** 32 distinct batches of real SDK spans: checkout-shaped traces of 8 spans, a retry event on every fourth. */
function encodeBatches(): Buffer[] {
  const memory = new InMemorySpanExporter();
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'checkout', 'service.instance.id': 'checkout-1', 'service.version': '0.1.0' }),
    spanProcessors: [new SimpleSpanProcessor({ exporter: memory })],
  });
  const tracer = provider.getTracer('faultline-bench', '0.1.0');
  const batches: Buffer[] = [];
  let n = 0;
  while (batches.length < DISTINCT_BATCHES) {
    const root = tracer.startSpan('POST /checkout', {
      kind: SpanKind.SERVER,
      attributes: {
        'http.request.method': 'POST',
        'url.path': '/checkout',
        'http.route': '/checkout',
        'http.response.status_code': 201,
        'server.address': '127.0.0.1',
        'server.port': 40_000 + (n % 1000),
        'network.protocol.version': '1.1',
        'user_agent.original': 'undici',
        'faultline.order.id': `order-${n}`,
        'faultline.idempotency_key': `key-${n}-abcdef`,
      },
    });
    const parent = trace.setSpan(context.active(), root);
    for (let i = 0; i < 7; i++) {
      const child = tracer.startSpan(`POST payment/charges`, {
        kind: SpanKind.CLIENT,
        attributes: {
          'http.request.method': 'POST',
          'url.full': `http://127.0.0.1:41000/charges`,
          'server.address': '127.0.0.1',
          'server.port': 41_000,
          'http.response.status_code': i === 6 ? 503 : 200,
          'faultline.dependency': 'payment',
          'faultline.outcome': i === 6 ? 'failure' : 'success',
        },
      }, parent);
      if ((n + i) % 4 === 0) child.addEvent('retry', { 'faultline.retry.attempt': 2, 'faultline.retry.delay_ms': 50 });
      if (i === 6) child.setStatus({ code: SpanStatusCode.ERROR, message: 'payment answered 503' });
      child.end();
    }
    root.end();
    n++;
    const finished = memory.getFinishedSpans();
    if (finished.length >= BATCH_SPANS) {
      batches.push(Buffer.from(ProtobufTraceSerializer.serializeRequest(finished.slice(0, BATCH_SPANS)) ?? new Uint8Array()));
      memory.reset();
    }
  }
  return batches;
}

function rejectedSpansOf(response: Buffer): number {
  if (response.length === 0) return 0;
  const decoded = OTLP_TRACE_TYPES.ExportTraceServiceResponse.decode(response) as { partialSuccess?: { rejectedSpans?: number | { toString(): string } } };
  return Number(decoded.partialSuccess?.rejectedSpans?.toString() ?? 0);
}

async function runSender(): Promise<void> {
  const batches = encodeBatches();
  const send = (command: SenderMessage): void => {
    process.send?.(command);
  };
  send({ ready: true, requestBytes: batches[0]?.length ?? 0 });
  process.on('message', (message: SendCommand) => {
    void sendFor(message, batches).then((result) => send({ result }));
  });
  process.on('disconnect', () => process.exit(0));
}

async function sendFor(command: SendCommand, batches: Buffer[]): Promise<SendResult> {
  const client = new grpc.Client(`127.0.0.1:${command.port}`, grpc.credentials.createInsecure(), {
    'grpc.max_send_message_length': 16 * 1024 * 1024,
    'grpc.max_receive_message_length': 16 * 1024 * 1024,
  });
  const call = (body: Buffer): Promise<Buffer> =>
    new Promise((resolve, reject) => {
      client.makeUnaryRequest(TRACE_EXPORT_METHOD_PATH, passThrough, passThrough, body, (error, response) => (error ? reject(error) : resolve(response ?? Buffer.alloc(0))));
    });
  const totals: SendResult = { calls: 0, sentSpans: 0, acceptedSpans: 0, rejectedSpans: 0, failedCalls: 0, seconds: 0 };
  let measuring = false;
  let next = 0;
  const loop = async (until: () => boolean): Promise<void> => {
    while (!until()) {
      const body = batches[next++ % batches.length] as Buffer;
      try {
        const rejected = rejectedSpansOf(await call(body));
        if (!measuring) continue;
        totals.calls++;
        totals.sentSpans += BATCH_SPANS;
        totals.rejectedSpans += rejected;
        totals.acceptedSpans += BATCH_SPANS - rejected;
      } catch {
        if (measuring) totals.failedCalls++;
      }
    }
  };
  const warmupEnd = performance.now() + command.warmupMs;
  await Promise.all(Array.from({ length: command.inflight }, () => loop(() => performance.now() >= warmupEnd)));
  measuring = true;
  process.send?.({ measuring: true } satisfies SenderMessage);
  const start = performance.now();
  const end = start + command.durationMs;
  await Promise.all(Array.from({ length: command.inflight }, () => loop(() => performance.now() >= end)));
  totals.seconds = (performance.now() - start) / 1_000;
  client.close();
  return totals;
}

// ---------------------------------------------------------------- discard role (the baseline)

async function runDiscard(): Promise<void> {
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 16 * 1024 * 1024 });
  // The collector's own service definition (raw bytes in and out), so only the handler differs.
  const definition = serviceDefinition(SIGNALS.traces);
  // An empty ExportTraceServiceResponse (full success) is zero bytes.
  const empty = Buffer.alloc(0);
  server.addService(definition, { Export: (_call: unknown, callback: grpc.sendUnaryData<Buffer>) => callback(null, empty) });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
  );
  process.send?.({ port });
  process.on('disconnect', () => process.exit(0));
}

// ---------------------------------------------------------------- where the time goes

/**
 * The collector's per-request stages, timed in this process on the same
 * batches: protobuf decoding alone, decoding with the collector's validation
 * (what the receiver runs), conversion to OTLP/JSON, and JSON.stringify (the
 * general path), and the one-pass transcoder that does all of that for trace
 * requests (the fast path the collector takes). CPU microseconds per span (process.cpuUsage, so
 * other load on the machine does not inflate them), medians of 5 passes.
 */
function stageCosts(batches: Buffer[]): Record<string, number> {
  const timeOf = (work: (batch: Buffer) => void): number => {
    const passes: number[] = [];
    for (let pass = 0; pass < 5; pass++) {
      const start = process.cpuUsage();
      for (const batch of batches) work(batch);
      const used = process.cpuUsage(start);
      passes.push((used.user + used.system) / (batches.length * BATCH_SPANS));
    }
    return passes.sort((a, b) => a - b)[2] ?? 0;
  };
  const decoded = batches.map((batch) => decodeTraceExportRequest(batch));
  const converted = decoded.map((request) => traceRequestToOtlpJson(request));
  let index = 0;
  return {
    'protobuf decode': timeOf((batch) => OTLP_TRACE_TYPES.ExportTraceServiceRequest.decode(batch)),
    'decode + validate (receiver)': timeOf((batch) => decodeTraceExportRequest(batch)),
    'convert to OTLP/JSON': timeOf(() => traceRequestToOtlpJson(decoded[index++ % decoded.length] as (typeof decoded)[number])),
    'JSON.stringify (store)': timeOf(() => JSON.stringify(converted[index++ % converted.length])),
    'all of it in one pass (the fast path, otlp-transcode.ts)': timeOf((batch) => transcodeTraceRequest(batch)),
  };
}

// ---------------------------------------------------------------- main role

function pin(pid: number, cpu: number): void {
  execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' });
}

/** User + system CPU seconds of a process so far. */
async function cpuSeconds(pid: number): Promise<number> {
  return (await cpuMicrosOf(pid)) / 1e6;
}

async function scrapeCounters(port: number): Promise<{ received: number; dropped: number; exported: number }> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const value = (name: string): number => {
    const line = text.split('\n').find((row) => row.startsWith(`${name}{`) && row.includes('signal="traces"'));
    return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
  };
  return { received: value(LAB_METRIC.collectorReceived), dropped: value(LAB_METRIC.collectorDropped), exported: value(LAB_METRIC.collectorExported) };
}

interface Measured extends SendResult {
  spansPerSecond: number;
  serverCpuSeconds: number;
  peakRss: number;
  meanRss: number;
}

async function measure(sender: ChildProcess, port: number, serverPid: number, warmupMs: number, durationMs: number, inflight: number): Promise<Measured> {
  const samples: number[] = [];
  let sampling = true;
  let cpuAtStart = 0;
  const sampler = (async () => {
    while (sampling) {
      samples.push(await residentBytes(serverPid));
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  const result = await new Promise<SendResult>((resolve) => {
    const onMessage = (message: SenderMessage): void => {
      if ('measuring' in message) void cpuSeconds(serverPid).then((cpu) => (cpuAtStart = cpu));
      if ('result' in message) {
        sender.off('message', onMessage);
        resolve(message.result);
      }
    };
    sender.on('message', onMessage);
    sender.send({ port, warmupMs, durationMs, inflight } satisfies SendCommand);
  });
  const serverCpuSeconds = (await cpuSeconds(serverPid)) - cpuAtStart;
  sampling = false;
  await sampler;
  const live = samples.filter((bytes) => bytes > 0);
  return {
    ...result,
    spansPerSecond: result.acceptedSpans / result.seconds,
    serverCpuSeconds,
    peakRss: Math.max(...live),
    meanRss: live.reduce((sum, bytes) => sum + bytes, 0) / Math.max(1, live.length),
  };
}

async function main(): Promise<void> {
  const rounds = Number(options.rounds);
  const durationMs = Number(options.duration) * 1_000;
  const warmupMs = Number(options.warmup) * 1_000;
  const inflight = Number(options.inflight);
  const canPin = availableParallelism() >= 2;
  if (!canPin) process.stderr.write('fewer than 2 CPUs: processes are not pinned\n');

  const runDir = await mkdtemp(join(tmpdir(), 'faultline-bench-ingest-'));
  const supervisor = createSupervisor({ logDir: join(runDir, 'logs') });
  const self = new URL(import.meta.url).pathname;
  const children: ChildProcess[] = [];
  try {
    // The collector as the lab starts it (runner/lab.ts), with its default limits.
    const collector = await supervisor.start({
      name: 'collector',
      entry: 'collector/main.ts',
      env: { FAULTLINE_COLLECTOR_CONFIG: JSON.stringify({ host: '127.0.0.1', grpcPort: 0, httpPort: 0, runDir }) },
    });
    const collectorPort = collector.ports.grpc as number;
    const adminPort = collector.ports.http as number;

    const discard = fork(self, ['--role', 'discard'], { execArgv: LAB_NODE_FLAGS, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    children.push(discard);
    const [{ port: discardPort }] = (await once(discard, 'message')) as [{ port: number }];

    const sender = fork(self, ['--role', 'sender', '--batch', String(BATCH_SPANS)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    children.push(sender);
    const [ready] = (await once(sender, 'message')) as [{ requestBytes: number }];

    if (canPin) {
      pin(collector.pid, 1);
      pin(discard.pid as number, 1);
      pin(sender.pid as number, 0);
    }

    const baseline: Measured[] = [];
    const ingest: Measured[] = [];
    const drains: number[] = [];
    for (let round = 0; round < rounds; round++) {
      baseline.push(await measure(sender, discardPort, discard.pid as number, warmupMs, durationMs, inflight));
      ingest.push(await measure(sender, collectorPort, collector.pid, warmupMs, durationMs, inflight));
      const drainStart = performance.now();
      for (;;) {
        const counters = await scrapeCounters(adminPort);
        if (counters.exported + counters.dropped >= counters.received) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      drains.push(performance.now() - drainStart);
    }
    const counters = await scrapeCounters(adminPort);
    const stages = stageCosts(encodeBatches());

    const line = (name: string, runs: Measured[]): string => {
      const rates = runs.map((run) => run.spansPerSecond);
      const mean = rates.reduce((sum, rate) => sum + rate, 0) / rates.length;
      const sent = runs.reduce((sum, run) => sum + run.sentSpans, 0);
      const rejected = runs.reduce((sum, run) => sum + run.rejectedSpans, 0);
      const failed = runs.reduce((sum, run) => sum + run.failedCalls, 0);
      const cpu = runs.reduce((sum, run) => sum + run.serverCpuSeconds, 0) / runs.reduce((sum, run) => sum + run.seconds, 0);
      const accepted = runs.reduce((sum, run) => sum + run.acceptedSpans, 0);
      const perCpuSecond = accepted / runs.reduce((sum, run) => sum + run.serverCpuSeconds, 0);
      return `| ${name} | ${Math.round(mean).toLocaleString('en-US')} (${rates.map((rate) => Math.round(rate).toLocaleString('en-US')).join(', ')}) | ${(cpu * 100).toFixed(0)}% | ${Math.round(perCpuSecond).toLocaleString('en-US')} | ${mib(Math.max(...runs.map((run) => run.peakRss)))} / ${mib(runs.reduce((sum, run) => sum + run.meanRss, 0) / runs.length)} | ${rejected.toLocaleString('en-US')} of ${sent.toLocaleString('en-US')} | ${failed} |`;
    };
    const meanRate = (runs: Measured[]): number => runs.reduce((sum, run) => sum + run.spansPerSecond, 0) / runs.length;
    const out = [
      `\`node bench/collector-ingest.ts ${process.argv.slice(2).join(' ')}\` on ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}; collector entry ${(collector.child.spawnargs.at(-1) ?? '').replace(PROJECT_ROOT, '')}`,
      `${rounds} rounds x ${durationMs / 1000} s (after ${warmupMs / 1000} s warm-up), ${inflight} calls in flight, ${BATCH_SPANS} spans per request (${(ready.requestBytes / 1024).toFixed(0)} KiB)${canPin ? ', server on CPU 1, sender on CPU 0' : ', not pinned'}`,
      '',
      '| receiver | spans/s accepted, mean (per round) | server CPU | spans per CPU-second | server RSS peak / mean | spans rejected (queue full) | failed calls |',
      '| --- | --- | --- | --- | --- | --- | --- |',
      line('grpc-js server that discards (baseline)', baseline),
      line('embedded collector (protobuf to JSON line, write traces.jsonl)', ingest),
      '',
      `ratio collector / baseline: ${(meanRate(ingest) / meanRate(baseline)).toFixed(2)}; queue drained to disk ${drains.map((ms) => `${Math.round(ms)} ms`).join(', ')} after each round; collector counters: received ${counters.received}, exported ${counters.exported}, dropped ${counters.dropped}`,
      '',
      `per-span cost of the collector's stages, timed in the bench process on the same batches (CPU µs per span, median of 5): ${Object.entries(stages)
        .map(([stage, micros]) => `${stage} ${micros.toFixed(1)}`)
        .join('; ')}`,
    ];
    process.stdout.write(`${out.join('\n')}\n`);
  } finally {
    for (const child of children) child.kill();
    await supervisor.stopAll();
    await rm(runDir, { recursive: true, force: true });
  }
}

if (options.role === 'sender') await runSender();
else if (options.role === 'discard') await runDiscard();
else await main();
