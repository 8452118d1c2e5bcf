// Malformed and hostile OTLP payloads against the collector's receivers, over
// real sockets: every one gets the error the OTLP spec asks for (400 with a
// google.rpc.Status, 413, 415, 404/405, gRPC INVALID_ARGUMENT), none crashes
// the collector, and a valid export still succeeds afterwards. Also the happy
// answers of OTLP/HTTP: empty response, partial success, 503 with Retry-After.
import { rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { gzipSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedCollector } from './embedded-collector.ts';
import type { EmbeddedCollector } from './embedded-collector.ts';
import { OTLP_LOGS_TYPES, RPC_TYPES } from './otlp-schema.ts';
import { SIGNALS } from './otlp-signals.ts';
import { makeTempDir } from './test-fixtures.ts';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** One HTTP request with full control of headers (fetch would add or fix some). */
function send(port: number, path: string, options: { method?: string; headers?: Record<string, string>; body?: Buffer | string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method: options.method ?? 'POST', headers: options.headers ?? {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    // The server may answer and close before it reads a refused body.
    req.on('error', (error: NodeJS.ErrnoException) => (error.code === 'EPIPE' || error.code === 'ECONNRESET' ? undefined : reject(error)));
    req.end(options.body);
  });
}

const json = (body: unknown) => ({ headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const protobuf = (body: Uint8Array) => ({ headers: { 'content-type': 'application/x-protobuf' }, body: Buffer.from(body) });

function logsRequest(records: number, body = 'hello'): Record<string, unknown> {
  return {
    resourceLogs: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'hostile-test' } }] },
        scopeLogs: [{ logRecords: Array.from({ length: records }, (_, i) => ({ body: { stringValue: `${body} ${i}` }, severityNumber: 9 })) }],
      },
    ],
  };
}

function varint(value: number): Buffer {
  const bytes: number[] = [];
  while (value > 0x7f) {
    bytes.push((value & 0x7f) | 0x80);
    value >>>= 7;
  }
  bytes.push(value);
  return Buffer.from(bytes);
}

/** The header (tag and length) of a length-delimited field. */
function header(id: number, length: number): Buffer {
  return Buffer.concat([varint((id << 3) | 2), varint(length)]);
}

/**
 * An ExportLogsServiceRequest whose one log body is `depth` arrays nested in
 * each other. Built from the inside out by lengths only, so it takes linear time.
 */
function deeplyNestedLogsProtobuf(depth: number): Buffer {
  const leaf = Buffer.concat([header(1, 4), Buffer.from('leaf')]);
  const headers: Buffer[] = [];
  let length = leaf.length;
  const wrap = (id: number): void => {
    const h = header(id, length);
    headers.push(h);
    length += h.length;
  };
  for (let i = 0; i < depth; i++) {
    wrap(1); // ArrayValue.values
    wrap(5); // AnyValue.arrayValue
  }
  for (const id of [5, 2, 2, 1]) wrap(id); // LogRecord.body, ScopeLogs.logRecords, ResourceLogs.scopeLogs, request.resourceLogs
  return Buffer.concat([...headers.reverse(), leaf]);
}

function deeplyNestedLogsJson(depth: number): string {
  const open = '{"arrayValue":{"values":['.repeat(depth);
  const close = ']}}'.repeat(depth);
  return `{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":${open}{"stringValue":"leaf"}${close}}]}]}]}`;
}

function statusOf(reply: Reply): { code: number; message: string } {
  const type = reply.headers['content-type'];
  if (type === 'application/json') return JSON.parse(reply.body.toString('utf8')) as { code: number; message: string };
  return RPC_TYPES.Status.toObject(RPC_TYPES.Status.decode(reply.body)) as { code: number; message: string };
}

describe('OTLP/HTTP receiver with hostile payloads', () => {
  let runDir: string;
  let collector: EmbeddedCollector;
  let port: number;

  beforeAll(async () => {
    runDir = await makeTempDir('http-receiver');
    collector = await startEmbeddedCollector({ grpcPort: 0, runDir, maxRequestBytes: 256 * 1024, flushIntervalMs: 20 });
    port = collector.otlpHttpPort;
  });

  afterAll(async () => {
    await collector.close();
    await rm(runDir, { recursive: true, force: true });
  });

  it('answers 400 with a google.rpc.Status in the request encoding to garbage protobuf and to text that is not JSON', async () => {
    const garbage = await send(port, '/v1/traces', protobuf(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f])));
    expect(garbage.status).toBe(400);
    expect(garbage.headers['content-type']).toBe('application/x-protobuf');
    expect(statusOf(garbage)).toMatchObject({ code: 3, message: expect.stringMatching(/^malformed ExportTraceServiceRequest: /) as string });

    const notJson = await send(port, '/v1/metrics', { headers: { 'content-type': 'application/json; charset=utf-8' }, body: '{"resourceMetrics": [' });
    expect(notJson.status).toBe(400);
    expect(notJson.headers['content-type']).toBe('application/json');
    expect(statusOf(notJson).message).toMatch(/^malformed ExportMetricsServiceRequest: not JSON/);
  });

  it('names the field of a JSON value with the wrong type', async () => {
    const cases: [string, unknown, RegExp][] = [
      ['/v1/logs', { resourceLogs: {} }, /resourceLogs: expected an array$/],
      ['/v1/logs', { resourceLogs: [{ scopeLogs: [{ logRecords: [{ severityNumber: 'LOUD' }] }] }] }, /resourceLogs\[0\]\.scopeLogs\[0\]\.logRecords\[0\]\.severityNumber: expected an integer or a SeverityNumber name$/],
      ['/v1/logs', { resourceLogs: [{ scopeLogs: [{ logRecords: [{ traceId: 'not-hex' }] }] }] }, /logRecords\[0\]\.traceId: expected a hex string$/],
      ['/v1/logs', { resourceLogs: [{ scopeLogs: [{ logRecords: [{ traceId: 'abcd' }] }] }] }, /logRecords\[0\]\.traceId: must be 16 bytes, got 2$/],
      ['/v1/traces', { resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', startTimeUnixNano: 1.5 }] }] }] }, /startTimeUnixNano: expected an unsigned 64-bit integer/],
      ['/v1/traces', { resourceSpans: [{ scopeSpans: [{ spans: [{ name: 'no ids' }] }] }] }, /spans\[0\]\.traceId: must be 16 bytes, got 0$/],
      ['/v1/metrics', { resourceMetrics: [{ scopeMetrics: [{ metrics: [{ name: 7 }] }] }] }, /metrics\[0\]\.name: expected a string$/],
      ['/v1/metrics', [], /\(request\): expected an object/],
    ];
    for (const [path, body, message] of cases) {
      const reply = await send(port, path, json(body));
      expect(reply.status, JSON.stringify(body)).toBe(400);
      expect(statusOf(reply).message).toMatch(message);
    }
  });

  it('refuses deep nesting in protobuf and JSON without overflowing the stack', async () => {
    for (const depth of [300, 20_000]) {
      const proto = await send(port, '/v1/logs', protobuf(deeplyNestedLogsProtobuf(depth)));
      expect(proto.status, `protobuf depth ${depth}`).toBe(400);
      // Stopped by the depth check before decoding (request-limits.ts), or by protobufjs' own recursion limit (100 levels).
      expect(statusOf(proto).message).toMatch(/max depth exceeded|nested too deeply|nested deeper than 100 levels/);
    }
    const deepJson = await send(port, '/v1/logs', { headers: { 'content-type': 'application/json' }, body: deeplyNestedLogsJson(5_000) });
    expect(deepJson.status).toBe(400);
    expect(statusOf(deepJson).message).toMatch(/nested deeper than 100 levels$/);
    // Nesting within the bound is kept.
    const fine = await send(port, '/v1/logs', protobuf(deeplyNestedLogsProtobuf(20)));
    expect(fine.status).toBe(200);
  });

  it('answers 413 to bodies over the limit, declared, streamed, or once decompressed, and 400 to broken gzip', async () => {
    const big = Buffer.alloc(300 * 1024, 0x20);
    const declared = await send(port, '/v1/traces', { headers: { 'content-type': 'application/json' }, body: big });
    expect(declared.status).toBe(413);
    expect(statusOf(declared).message).toMatch(/request body is larger than 262144 bytes/);

    const streamed = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(
        { host: '127.0.0.1', port, path: '/v1/traces', method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', (error: NodeJS.ErrnoException) => (error.code === 'EPIPE' || error.code === 'ECONNRESET' ? undefined : reject(error)));
      for (let i = 0; i < 10; i++) req.write(Buffer.alloc(64 * 1024, 0x20));
      req.end();
    });
    expect(streamed).toBe(413);

    const bomb = gzipSync(Buffer.alloc(8 * 1024 * 1024, 0x20));
    expect(bomb.length).toBeLessThan(64 * 1024);
    const inflated = await send(port, '/v1/logs', { headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: bomb });
    expect(inflated.status).toBe(413);
    expect(statusOf(inflated).message).toMatch(/decompressed request body is larger/);

    const broken = await send(port, '/v1/logs', { headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: Buffer.from('not gzip') });
    expect(broken.status).toBe(400);
    expect(statusOf(broken).message).toMatch(/not valid gzip/);
  });

  it('answers 415 to other content types and encodings, 404 to other paths, 405 to other methods', async () => {
    const text = await send(port, '/v1/logs', { headers: { 'content-type': 'text/plain' }, body: 'hello' });
    expect(text.status).toBe(415);
    expect(statusOf(text).message).toMatch(/content-type text\/plain is not supported/);
    expect((await send(port, '/v1/logs', { body: '{}' })).status).toBe(415);
    const brotli = await send(port, '/v1/logs', { headers: { 'content-type': 'application/json', 'content-encoding': 'br' }, body: '{}' });
    expect(brotli.status).toBe(415);
    expect((await send(port, '/v1/profiles', json({}))).status).toBe(404);
    const get = await send(port, '/v1/traces', { method: 'GET' });
    expect(get.status).toBe(405);
    expect(get.headers.allow).toBe('POST');
  });

  it('still accepts valid exports afterwards: JSON gzip and protobuf, answered in kind', async () => {
    const gz = await send(port, '/v1/logs', {
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: gzipSync(JSON.stringify(logsRequest(2))),
    });
    expect(gz.status).toBe(200);
    expect(gz.headers['content-type']).toBe('application/json');
    expect(JSON.parse(gz.body.toString('utf8'))).toEqual({});

    const { ExportLogsServiceRequest } = OTLP_LOGS_TYPES;
    const proto = await send(port, '/v1/logs', protobuf(ExportLogsServiceRequest.encode(ExportLogsServiceRequest.fromObject(logsRequest(1))).finish()));
    expect(proto.status).toBe(200);
    expect(proto.body.length).toBe(0);
    await collector.flush();
    expect(collector.stats().logs).toMatchObject({ received: 4, stored: 4, dropped: 0 });
  });

  it('answers INVALID_ARGUMENT over gRPC to garbage sent to the metrics and logs services', async () => {
    const client = new grpc.Client(`127.0.0.1:${collector.grpcPort}`, grpc.credentials.createInsecure());
    try {
      for (const spec of [SIGNALS.metrics, SIGNALS.logs]) {
        const error = await new Promise<grpc.ServiceError | null>((resolve) => {
          client.makeUnaryRequest(spec.grpcMethodPath, (b: Buffer) => b, (b: Buffer) => b, Buffer.from([0x0a, 0xff, 0xff]), (e) => resolve(e));
        });
        expect(error?.code, spec.signal).toBe(grpc.status.INVALID_ARGUMENT);
        expect(error?.details).toMatch(new RegExp(`^malformed ${spec.requestType.name}: `));
      }
    } finally {
      client.close();
    }
  });
});

describe('OTLP/HTTP receiver at its memory bound', () => {
  it('cuts a request with a partial success, then refuses with 503 and Retry-After, counting every drop', async () => {
    const runDir = await makeTempDir('http-bound');
    const collector = await startEmbeddedCollector({ grpcPort: 0, runDir, maxQueuedItems: 5, flushIntervalMs: 60_000 });
    try {
      const port = collector.otlpHttpPort;
      expect((await send(port, '/v1/logs', json(logsRequest(3)))).status).toBe(200);
      const partial = await send(port, '/v1/logs', json(logsRequest(4)));
      expect(partial.status).toBe(200);
      expect(JSON.parse(partial.body.toString('utf8'))).toEqual({
        partialSuccess: { rejectedLogRecords: '2', errorMessage: 'collector write queue full (maxQueuedItems 5): dropped 2 of 4 log records' },
      });
      const full = await send(port, '/v1/metrics', json({ resourceMetrics: [{ scopeMetrics: [{ metrics: [{ name: 'm', gauge: { dataPoints: [{ asDouble: 1 }] } }] }] }] }));
      expect(full.status).toBe(503);
      expect(full.headers['retry-after']).toBe('1');
      expect(statusOf(full)).toMatchObject({ code: 8, details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '1s' }] });
      expect(collector.stats()).toMatchObject({ logs: { received: 7, dropped: 2 }, metrics: { received: 1, dropped: 1 } });
      const metrics = await (await fetch(`http://127.0.0.1:${collector.httpPort}/metrics`)).text();
      expect(metrics).toMatch(/^collector_dropped_total\{signal="logs"\} 2$/m);
      expect(metrics).toMatch(/^collector_dropped_total\{signal="metrics"\} 1$/m);
    } finally {
      await collector.close();
      await rm(runDir, { recursive: true, force: true });
    }
  });
});
