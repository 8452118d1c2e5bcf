// Optional forwarding of every accepted export request to an upstream OTLP
// endpoint (another collector, Jaeger, a vendor), over OTLP/HTTP with protobuf
// bodies or over OTLP/gRPC. Forwarding never holds up or fails the local
// pipeline: requests go out in the background, at most maxInFlight at once,
// and whatever the upstream does not take (refused, unreachable, timed out,
// partially rejected, or over the in-flight limit) is counted and dropped,
// never retried. close() waits for requests in flight, up to a deadline.
import * as grpc from '@grpc/grpc-js';
import { SIGNALS } from './otlp-signals.ts';
import type { DecodedExportRequest, SignalSpec, TelemetrySignal } from './otlp-signals.ts';

export interface OtlpForwarderOptions {
  endpoint: string;
  protocol: 'http/protobuf' | 'grpc';
  maxInFlight: number;
  timeoutMs: number;
  /** After each request: how many items the upstream took and how many it did not, and why. */
  onResult: (signal: TelemetrySignal, accepted: number, failed: number, reason?: string) => void;
}

export interface OtlpForwarder {
  /** Queue one request (already cut to what the collector kept) with its item count. */
  send(spec: SignalSpec, request: DecodedExportRequest, items: number): void;
  /** Wait for requests in flight (at most `graceMs`), then release the connection. */
  close(graceMs?: number): Promise<void>;
}

const passThrough = (buffer: Buffer): Buffer => buffer;

export function createOtlpForwarder(options: OtlpForwarderOptions): OtlpForwarder {
  // The listener runs inside a guard: its failure must not break forwarding.
  const report: OtlpForwarderOptions['onResult'] = (...args) => {
    try {
      options.onResult(...args);
    } catch {
      // Only that one report is lost.
    }
  };
  const base = options.endpoint.replace(/\/+$/, '');
  const client =
    options.protocol === 'grpc' ? new grpc.Client(new URL(base).host, grpc.credentials.createInsecure()) : undefined;
  const inFlight = new Set<Promise<void>>();

  const post = async (spec: SignalSpec, body: Buffer): Promise<Buffer> => {
    if (client) {
      return new Promise((resolve, reject) => {
        client.makeUnaryRequest(
          spec.grpcMethodPath,
          passThrough,
          passThrough,
          body,
          { deadline: Date.now() + options.timeoutMs },
          (error, response) => (error ? reject(new Error(`gRPC ${grpc.status[error.code]}: ${error.details}`)) : resolve(response ?? Buffer.alloc(0))),
        );
      });
    }
    const response = await fetch(`${base}${spec.httpPath}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf' },
      body,
      signal: AbortSignal.timeout(options.timeoutMs),
    });
    const payload = Buffer.from(await response.arrayBuffer());
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    return payload;
  };

  const rejectedIn = (spec: SignalSpec, response: Buffer): number => {
    if (response.length === 0) return 0;
    try {
      const decoded = spec.responseType.toObject(spec.responseType.decode(response), { longs: Number }) as {
        partialSuccess?: Record<string, number>;
      };
      return Number(decoded.partialSuccess?.[spec.rejectedField] ?? 0);
    } catch {
      return 0;
    }
  };

  return {
    send(spec, request, items) {
      if (items === 0) return;
      if (inFlight.size >= options.maxInFlight) {
        report(spec.signal, 0, items, `more than ${options.maxInFlight} requests in flight`);
        return;
      }
      let body: Buffer;
      try {
        body = Buffer.from(SIGNALS[spec.signal].requestType.encode(request).finish());
      } catch (error) {
        report(spec.signal, 0, items, `encoding failed: ${(error as Error).message}`);
        return;
      }
      const task = post(spec, body).then(
        (response) => {
          const rejected = Math.min(items, rejectedIn(spec, response));
          report(spec.signal, items - rejected, rejected, rejected > 0 ? 'upstream partial success' : undefined);
        },
        (error: unknown) => report(spec.signal, 0, items, (error as Error).message),
      );
      const tracked = task.finally(() => inFlight.delete(tracked));
      inFlight.add(tracked);
    },
    async close(graceMs = options.timeoutMs) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled([...inFlight]),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, graceMs);
        }),
      ]);
      clearTimeout(timer);
      client?.close();
    },
  };
}
