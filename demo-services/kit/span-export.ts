// Sends a lab process's spans to the collector: a span processor that encodes
// each sampled span the moment it ends (otlp-span-encoding.ts says why the
// SDK's BatchSpanProcessor and OTLP exporter are not used for spans) and sends
// the encoded batches as OTLP/gRPC Export calls, one call at a time.
// - A batch leaves when it holds maxBatchBytes of spans, or scheduledDelayMillis
//   after its first span.
// - Batches wait in a queue of at most maxQueuedBytes; a span that would go
//   past it is dropped and counted, so a slow or absent collector costs a
//   bounded amount of memory and never blocks a request.
// - Calls failing with a status the OTLP specification calls retryable
//   (UNAVAILABLE, RESOURCE_EXHAUSTED, ...) are retried with exponential
//   backoff and jitter, as the SDK's exporter does; others drop the batch.
// - forceFlush() sends everything ended before the call; shutdown() then stops
//   retrying, so a process whose collector is gone still exits promptly.

import * as grpc from '@grpc/grpc-js';
import { ROOT_CONTEXT, TraceFlags, context, diag } from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace';
import { encodeExportRequest, encodeResource, encodeScope, ProtoWriter, writeSpan, type EncodedScopeSpans } from './otlp-span-encoding.ts';

const EXPORT_METHOD = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';

/** gRPC statuses the OTLP specification says a client may retry. */
const RETRYABLE = new Set<number>([
  grpc.status.CANCELLED,
  grpc.status.DEADLINE_EXCEEDED,
  grpc.status.RESOURCE_EXHAUSTED,
  grpc.status.ABORTED,
  grpc.status.OUT_OF_RANGE,
  grpc.status.UNAVAILABLE,
  grpc.status.DATA_LOSS,
]);

export interface SpanExportOptions {
  /** The collector's OTLP/gRPC endpoint, `http://host:port`. */
  endpoint: string;
  /** Longest time an ended span waits before its batch is sent. Default 500 ms. */
  scheduledDelayMillis?: number;
  /** Encoded bytes that fill a batch. Default 128 KiB (some 450 of the lab's spans). */
  maxBatchBytes?: number;
  /** Encoded bytes waiting to be sent, at most; spans past it are dropped. Default 8 MiB. */
  maxQueuedBytes?: number;
  /** Deadline of one Export call. Default 10 s. */
  timeoutMillis?: number;
  /** Attempts per batch, retries included. Default 5. */
  maxAttempts?: number;
  /** First retry delay, growing 1.5 times per attempt up to 5 s, with ±20 % jitter. Default 1 s. */
  initialBackoffMillis?: number;
}

export interface SpanExportStats {
  /** Spans the collector accepted. */
  exported: number;
  /** Spans dropped: queue full, a batch given up on, or refused by the collector. */
  dropped: number;
  /** Export calls that failed (each attempt counts). */
  failedCalls: number;
}

interface ScopeBatch {
  scope: Buffer;
  schemaUrl: string | undefined;
  writer: ProtoWriter;
}

interface QueuedBatch {
  payload: Buffer;
  spans: number;
  sequence: number;
}

/** `http://host:port` (or a bare `host:port`) as the target grpc-js dials. */
export function grpcTarget(endpoint: string): string {
  if (!/^[a-z]+:\/\//i.test(endpoint)) return endpoint;
  const url = new URL(endpoint);
  // URL keeps an IPv6 host in brackets, as grpc-js wants it.
  return `${url.hostname}:${url.port || (url.protocol === 'https:' ? '443' : '80')}`;
}

export class EncodingSpanProcessor implements SpanProcessor {
  readonly #client: grpc.Client;
  readonly #scheduledDelayMillis: number;
  readonly #maxBatchBytes: number;
  readonly #maxQueuedBytes: number;
  readonly #timeoutMillis: number;
  readonly #maxAttempts: number;
  readonly #initialBackoffMillis: number;

  /** The batch being filled: encoded spans by instrumentation scope, all of one resource. */
  readonly #scopes = new Map<object, ScopeBatch>();
  #resource: { of: object; bytes: Buffer; schemaUrl: string | undefined } | undefined;
  #batchBytes = 0;
  #batchSpans = 0;
  #timer: NodeJS.Timeout | undefined;

  readonly #queue: QueuedBatch[] = [];
  #queuedBytes = 0;
  #sealed = 0;
  #settled = 0;
  #sending: Promise<void> | undefined;
  #waiters: Array<{ sequence: number; resolve: () => void }> = [];
  #stopping = false;
  readonly #stats: SpanExportStats = { exported: 0, dropped: 0, failedCalls: 0 };

  constructor(options: SpanExportOptions) {
    this.#client = new grpc.Client(grpcTarget(options.endpoint), grpc.credentials.createInsecure());
    this.#scheduledDelayMillis = options.scheduledDelayMillis ?? 500;
    this.#maxBatchBytes = options.maxBatchBytes ?? 128 * 1024;
    this.#maxQueuedBytes = options.maxQueuedBytes ?? 8 * 1024 * 1024;
    this.#timeoutMillis = options.timeoutMillis ?? 10_000;
    this.#maxAttempts = options.maxAttempts ?? 5;
    this.#initialBackoffMillis = options.initialBackoffMillis ?? 1_000;
  }

  stats(): SpanExportStats {
    return { ...this.#stats };
  }

  onStart(_span: Span): void {}

  onEnd(span: ReadableSpan): void {
    if ((span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) return;
    if (this.#stopping || this.#queuedBytes + this.#batchBytes >= this.#maxQueuedBytes) {
      this.#drop(1, this.#stopping ? 'span ended after shutdown' : `export queue full (${this.#maxQueuedBytes} bytes)`);
      return;
    }
    if (this.#resource?.of !== span.resource) {
      // A batch holds one resource's spans (a provider has one; this is for a processor shared by several).
      this.#seal();
      this.#resource = { of: span.resource, bytes: encodeResource(span.resource.attributes), schemaUrl: span.resource.schemaUrl };
    }
    const scope = this.#scopeBatch(span.instrumentationScope);
    const before = scope.writer.pos;
    writeSpan(scope.writer, span);
    this.#batchBytes += scope.writer.pos - before;
    this.#batchSpans += 1;
    if (this.#batchBytes >= this.#maxBatchBytes) this.#seal();
    else this.#timer ??= setTimeout(() => this.#seal(), this.#scheduledDelayMillis).unref();
  }

  async forceFlush(): Promise<void> {
    this.#seal();
    const sequence = this.#sealed;
    if (this.#settled >= sequence) return;
    await new Promise<void>((resolve) => this.#waiters.push({ sequence, resolve }));
  }

  async shutdown(): Promise<void> {
    await this.forceFlush();
    this.#stopping = true;
    this.#client.close();
  }

  #scopeBatch(scope: ReadableSpan['instrumentationScope']): ScopeBatch {
    let batch = this.#scopes.get(scope);
    if (!batch) {
      batch = { scope: encodeScope(scope), schemaUrl: scope.schemaUrl, writer: new ProtoWriter(16 * 1024) };
      this.#scopes.set(scope, batch);
    }
    return batch;
  }

  /** Close the batch being filled and queue it for sending. */
  #seal(): void {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#batchSpans === 0 || !this.#resource) return;
    const scopes: EncodedScopeSpans[] = [];
    for (const batch of this.#scopes.values()) {
      if (batch.writer.pos > 0) scopes.push({ scope: batch.scope, ...(batch.schemaUrl ? { schemaUrl: batch.schemaUrl } : {}), spans: batch.writer.view() });
    }
    const payload = encodeExportRequest(this.#resource.bytes, this.#resource.schemaUrl, scopes);
    // Scope writers are kept (and their buffers reused); the resource too, until a span of another one ends.
    for (const batch of this.#scopes.values()) batch.writer.reset();
    this.#queue.push({ payload, spans: this.#batchSpans, sequence: ++this.#sealed });
    this.#queuedBytes += payload.length;
    this.#batchBytes = 0;
    this.#batchSpans = 0;
    if (this.#sending === undefined) {
      this.#sending = this.#sendQueued().finally(() => {
        this.#sending = undefined;
      });
    }
  }

  async #sendQueued(): Promise<void> {
    for (let batch = this.#queue.shift(); batch; batch = this.#queue.shift()) {
      const failure = await this.#deliver(batch.payload);
      this.#queuedBytes -= batch.payload.length;
      if (failure === undefined) this.#stats.exported += batch.spans;
      else if (typeof failure === 'number') {
        this.#stats.exported += batch.spans - failure;
        this.#drop(failure, 'refused by the collector');
      } else this.#drop(batch.spans, failure);
      this.#settled = batch.sequence;
      this.#waiters = this.#waiters.filter((waiter) => {
        if (waiter.sequence > this.#settled) return true;
        waiter.resolve();
        return false;
      });
    }
  }

  /** Send one batch, retrying what may be retried; undefined when accepted, the spans refused, or why it was given up. */
  async #deliver(payload: Buffer): Promise<undefined | number | string> {
    let backoff = this.#initialBackoffMillis;
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.#call(payload);
      if (outcome.error === undefined) return outcome.rejectedSpans || undefined;
      this.#stats.failedCalls += 1;
      const { code, details } = outcome.error;
      if (!RETRYABLE.has(code) || attempt >= this.#maxAttempts || this.#stopping) {
        return `export failed after ${attempt} attempt(s): ${grpc.status[code] ?? code} ${details}`;
      }
      const jittered = backoff * (0.8 + Math.random() * 0.4);
      await new Promise((resolve) => setTimeout(resolve, jittered).unref());
      backoff = Math.min(backoff * 1.5, 5_000);
    }
  }

  #call(payload: Buffer): Promise<{ error?: grpc.ServiceError; rejectedSpans?: number }> {
    return new Promise((resolve) => {
      // The export must not trace itself (the gRPC instrumentation also skips Export).
      context.with(suppressTracing(ROOT_CONTEXT), () => {
        this.#client.makeUnaryRequest<Buffer, Buffer>(
          EXPORT_METHOD,
          (bytes) => bytes,
          (bytes) => bytes,
          payload,
          { deadline: Date.now() + this.#timeoutMillis },
          (error, response) => resolve(error ? { error } : { rejectedSpans: rejectedSpansOf(response) }),
        );
      });
    });
  }

  #lastDropReason = '';

  #drop(spans: number, why: string): void {
    if (spans <= 0) return;
    if (this.#stats.dropped === 0 || why !== this.#lastDropReason) diag.warn(`span export: dropped ${spans} span(s): ${why}`);
    this.#lastDropReason = why;
    this.#stats.dropped += spans;
  }
}

/** ExportTraceServiceResponse.partial_success.rejected_spans (fields 1 and 1), 0 when absent. */
export function rejectedSpansOf(response: Buffer | undefined): number {
  if (!response || response.length === 0) return 0;
  const outer = readField(response, 0, 1);
  if (!outer || outer.wireType !== 2) return 0;
  const inner = readField(response.subarray(outer.start, outer.end), 0, 1);
  return inner && inner.wireType === 0 ? inner.value : 0;
}

/** Find field `number` in a message; its value (varint) or its content range (length-delimited). */
function readField(bytes: Buffer, from: number, number: number): { wireType: number; value: number; start: number; end: number } | undefined {
  let pos = from;
  const varint = (): number => {
    let result = 0;
    let scale = 1;
    for (;;) {
      if (pos >= bytes.length) throw new RangeError('truncated varint');
      const byte = bytes[pos++] as number;
      result += (byte & 0x7f) * scale;
      if (byte < 0x80) return result;
      scale *= 0x80;
    }
  };
  try {
    while (pos < bytes.length) {
      const key = varint();
      const wireType = key & 7;
      const field = Math.floor(key / 8);
      let value = 0;
      let start = pos;
      if (wireType === 0) value = varint();
      else if (wireType === 1) pos += 8;
      else if (wireType === 5) pos += 4;
      else if (wireType === 2) {
        const length = varint();
        start = pos;
        pos += length;
      } else return undefined;
      if (field === number) return { wireType, value, start, end: pos };
    }
  } catch {
    return undefined;
  }
  return undefined;
}
