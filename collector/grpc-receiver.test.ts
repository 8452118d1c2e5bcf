// Malformed export requests sent with a raw grpc-js client are refused with
// INVALID_ARGUMENT, and the collector keeps serving valid exports afterwards.
import { rm } from 'node:fs/promises';
import * as grpc from '@grpc/grpc-js';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedCollector } from './embedded-collector.ts';
import type { EmbeddedCollector } from './embedded-collector.ts';
import { OTLP_TRACE_TYPES, TRACE_EXPORT_METHOD_PATH } from './otlp-schema.ts';
import { createSampleProvider, emitSampleTrace, makeTempDir } from './test-fixtures.ts';
import { decodeTraceExportRequest } from './trace-request.ts';

interface CallResult {
  error: grpc.ServiceError | null;
  response: Buffer | undefined;
}

function exportRaw(client: grpc.Client, body: Uint8Array): Promise<CallResult> {
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      TRACE_EXPORT_METHOD_PATH,
      (buffer: Buffer) => buffer,
      (buffer: Buffer) => buffer,
      Buffer.from(body),
      { deadline: Date.now() + 5_000 },
      (error, response) => resolve({ error, response }),
    );
  });
}

/** Deterministic "random" bytes (mulberry32), so the payloads are the same on every run. */
function seededBytes(seed: number, length: number): Buffer {
  let state = seed >>> 0;
  const bytes = Buffer.alloc(length);
  for (let i = 0; i < length; i++) {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    bytes[i] = ((t ^ (t >>> 14)) >>> 0) & 0xff;
  }
  return bytes;
}

describe('gRPC trace receiver with malformed payloads', () => {
  let runDir: string;
  let collector: EmbeddedCollector;
  let client: grpc.Client;
  let valid: Uint8Array;

  beforeAll(async () => {
    runDir = await makeTempDir('receiver');
    collector = await startEmbeddedCollector({ grpcPort: 0, runDir });
    client = new grpc.Client(`127.0.0.1:${collector.grpcPort}`, grpc.credentials.createInsecure());
    const { provider, memory } = createSampleProvider();
    emitSampleTrace(provider, memory);
    valid = ProtobufTraceSerializer.serializeRequest(memory.getFinishedSpans()) ?? new Uint8Array();
  });

  afterAll(async () => {
    client.close();
    await collector.close();
    await rm(runDir, { recursive: true, force: true });
  });

  it('answers INVALID_ARGUMENT to random bytes and to every truncation of a valid payload', async () => {
    const randomPayloads = [1, 2, 3, 4, 5, 6, 7, 8].map((seed) => seededBytes(seed, 16 + seed * 24));
    // A valid request with one top-level field: every cut falls inside it.
    expect(OTLP_TRACE_TYPES.ExportTraceServiceRequest.decode(valid).toJSON().resourceSpans).toHaveLength(1);
    const cuts = [1, 2, 5, 17, Math.floor(valid.length / 3), Math.floor(valid.length / 2), valid.length - 10, valid.length - 1];
    const truncated = cuts.map((cut) => valid.subarray(0, cut));
    const payloads = [Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff]), ...randomPayloads, ...truncated];
    for (const payload of payloads) expect(() => decodeTraceExportRequest(payload)).toThrow();

    const results = await Promise.all(payloads.map((payload) => exportRaw(client, payload)));

    for (const { error } of results) {
      expect(error?.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(error?.details).toMatch(/^(malformed|invalid) ExportTraceServiceRequest: /);
      expect(error?.details).not.toMatch(/\n\s+at /);
    }
    expect(collector.stats()).toMatchObject({ rejectedRequests: payloads.length, traces: { received: 0 } });
  });

  it('names the bad field of a well-formed request with a wrong-sized id', async () => {
    const { ExportTraceServiceRequest } = OTLP_TRACE_TYPES;
    const body = ExportTraceServiceRequest.encode(
      ExportTraceServiceRequest.fromObject({
        resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: Buffer.alloc(5, 1), spanId: Buffer.alloc(8, 1), name: 'x' }] }] }],
      }),
    ).finish();
    const { error } = await exportRaw(client, body);
    expect(error?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(error?.details).toContain('resourceSpans[0].scopeSpans[0].spans[0].traceId: must be 16 bytes, got 5');
  });

  it('still accepts a valid export afterwards, answering with an empty response', async () => {
    const before = collector.stats();
    const { error, response } = await exportRaw(client, valid);
    expect(error).toBeNull();
    expect(response?.length).toBe(0);
    await collector.flush();
    expect(collector.stats()).toEqual({ ...before, traces: { ...before.traces, received: 3, stored: 3 } });
  });
});
