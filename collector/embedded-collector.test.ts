import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { readFile, rm } from 'node:fs/promises';
import * as grpc from '@grpc/grpc-js';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LAB_METRIC } from '../demo-services/kit/conventions.ts';
import { isCollectorError } from './collector-error.ts';
import { startEmbeddedCollector } from './embedded-collector.ts';
import type { EmbeddedCollector } from './embedded-collector.ts';
import { TRACE_EXPORT_METHOD_PATH } from './otlp-schema.ts';
import { createSampleProvider, makeTempDir } from './test-fixtures.ts';
import { readSpans } from './trace-query.ts';

/** An ExportTraceServiceRequest with one span per name, encoded by the opentelemetry-js serializer. */
function requestWithSpans(names: string[]): Buffer {
  const { provider, memory } = createSampleProvider();
  const tracer = provider.getTracer('drop-test');
  for (const name of names) tracer.startSpan(name).end();
  return Buffer.from(ProtobufTraceSerializer.serializeRequest(memory.getFinishedSpans()) ?? new Uint8Array());
}

function exportRaw(port: number, body: Buffer): Promise<{ rejectedSpans: number; errorMessage?: string }> {
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      TRACE_EXPORT_METHOD_PATH,
      (buffer: Buffer) => buffer,
      (buffer: Buffer) => buffer,
      body,
      (error, response) => {
        client.close();
        if (error || !response) {
          reject(error ?? new Error('no response'));
          return;
        }
        const decoded = ProtobufTraceSerializer.deserializeResponse(response);
        const partial = decoded.partialSuccess;
        resolve({ rejectedSpans: Number(partial?.rejectedSpans ?? 0), ...(partial?.errorMessage ? { errorMessage: partial.errorMessage } : {}) });
      },
    );
  });
}

async function metricValue(httpPort: number, name: string): Promise<number | undefined> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  const match = new RegExp(`^${name}\\{signal="traces"\\} (\\S+)$`, 'm').exec(text);
  return match ? Number(match[1]) : undefined;
}

function listenOnFreePort(): Promise<Server> {
  const server = createServer();
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

describe('embedded collector', () => {
  let runDir: string;
  const started: EmbeddedCollector[] = [];
  const start = async (options: Partial<Parameters<typeof startEmbeddedCollector>[0]> = {}): Promise<EmbeddedCollector> => {
    const collector = await startEmbeddedCollector({ grpcPort: 0, runDir, ...options });
    started.push(collector);
    return collector;
  };

  beforeEach(async () => {
    runDir = await makeTempDir('collector');
  });

  afterEach(async () => {
    await Promise.all(started.splice(0).map((collector) => collector.close()));
    await rm(runDir, { recursive: true, force: true });
  });

  it('cuts a request that does not fit (partial success), refuses one at a full queue as retryable, and counts both', async () => {
    // A long flush interval keeps accepted spans queued, so the queue fills.
    const collector = await start({ maxQueuedItems: 5, flushIntervalMs: 60_000 });
    const batch = (tag: string): Buffer => requestWithSpans([1, 2, 3, 4].map((i) => `${tag}${i}`));

    expect(await exportRaw(collector.grpcPort, batch('a'))).toEqual({ rejectedSpans: 0 });
    const second = await exportRaw(collector.grpcPort, batch('b'));
    expect(second.rejectedSpans).toBe(3);
    expect(second.errorMessage).toMatch(/write queue full \(maxQueuedItems 5\): dropped 3 of 4 spans/);
    const full = await exportRaw(collector.grpcPort, batch('c')).catch((error: unknown) => error as grpc.ServiceError);
    expect(full).toMatchObject({ code: grpc.status.RESOURCE_EXHAUSTED });
    // The status details carry a RetryInfo, which tells OTLP clients the refusal is retryable.
    const details = (full as grpc.ServiceError).metadata.get('grpc-status-details-bin')[0] as Buffer;
    expect(details.toString('latin1')).toContain('type.googleapis.com/google.rpc.RetryInfo');

    const traces = { received: 12, stored: 0, dropped: 7, forwarded: 0, forwardFailed: 0 };
    expect(collector.stats()).toMatchObject({ traces, rejectedRequests: 1 });
    await collector.flush();
    expect(collector.stats().traces).toEqual({ ...traces, stored: 5 });
    expect(await metricValue(collector.httpPort, LAB_METRIC.collectorReceived)).toBe(12);
    expect(await metricValue(collector.httpPort, LAB_METRIC.collectorDropped)).toBe(7);
    expect(await metricValue(collector.httpPort, LAB_METRIC.collectorExported)).toBe(5);
    expect((await readSpans(collector.tracesFile)).map((span) => span.name)).toEqual(['a1', 'a2', 'a3', 'a4', 'b1']);

    // Once written, the queue has room again.
    expect(await exportRaw(collector.grpcPort, batch('d'))).toEqual({ rejectedSpans: 0 });
  });

  it('serves zeroed counters, /healthz, and problem details for unknown routes', async () => {
    const collector = await start();
    const base = `http://127.0.0.1:${collector.httpPort}`;
    expect(await metricValue(collector.httpPort, LAB_METRIC.collectorDropped)).toBe(0);
    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    const missing = await fetch(`${base}/nope`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toBe('application/problem+json');
    const post = await fetch(`${base}/metrics`, { method: 'POST' });
    expect(post.status).toBe(405);
  });

  it('reports a taken gRPC, OTLP/HTTP or admin port as EADDRINUSE naming the port', async () => {
    const blocker = await listenOnFreePort();
    const taken = (blocker.address() as { port: number }).port;
    try {
      const grpcClash = await startEmbeddedCollector({ grpcPort: taken, runDir }).catch((error: unknown) => error);
      expect(isCollectorError(grpcClash, 'EADDRINUSE')).toBe(true);
      expect((grpcClash as Error).message).toContain(String(taken));

      const httpClash = await startEmbeddedCollector({ grpcPort: 0, httpPort: taken, runDir }).catch((error: unknown) => error);
      expect(isCollectorError(httpClash, 'EADDRINUSE')).toBe(true);
      expect((httpClash as Error).message).toContain(String(taken));

      const otlpHttpClash = await startEmbeddedCollector({ grpcPort: 0, otlpHttpPort: taken, runDir }).catch((error: unknown) => error);
      expect(isCollectorError(otlpHttpClash, 'EADDRINUSE')).toBe(true);
      expect((otlpHttpClash as Error).message).toMatch(new RegExp(`OTLP/HTTP port ${taken} `));
    } finally {
      blocker.close();
    }
    // The failed starts released the run directory's store: a new collector works on it.
    const collector = await start();
    expect(await exportRaw(collector.grpcPort, requestWithSpans(['after']))).toEqual({ rejectedSpans: 0 });
  });

  it('refuses invalid options naming every bad field', async () => {
    const error = await startEmbeddedCollector({
      runDir: '',
      grpcPort: 70_000,
      maxQueuedItems: 0,
      forward: { endpoint: 'ftp://upstream', protocol: 'grpc' },
    }).catch((e: unknown) => e);
    expect(isCollectorError(error, 'INVALID_CONFIG')).toBe(true);
    expect((error as Error).message).toMatch(/grpcPort: .*; runDir: .*; maxQueuedItems: .*; forward\.endpoint: /);
  });

  it('writes every accepted span on close and refuses exports after it', async () => {
    const collector = await start({ flushIntervalMs: 60_000 });
    await exportRaw(collector.grpcPort, requestWithSpans(['x', 'y']));
    expect(await readFile(collector.tracesFile, 'utf8')).toBe('');
    await collector.close();
    await collector.close();
    expect((await readSpans(collector.tracesFile)).map((span) => span.name)).toEqual(['x', 'y']);
    await expect(exportRaw(collector.grpcPort, requestWithSpans(['z']))).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
  });
});
