// The OTLP/gRPC receiver: a grpc-js server with the unary Export method of the
// trace, metrics and logs services (opentelemetry.proto.collector.*.v1). The
// service definitions are written by hand with Buffer pass-through
// (de)serializers, so grpc-js never parses the payload: decoding happens here,
// inside a guard, and a malformed body becomes INVALID_ARGUMENT for that call
// instead of an exception in the server; so does one that would cost too
// much to decode (request-limits.ts). What happens to a decoded request is
// the caller's business (onExport); the receiver turns its outcome into the
// OTLP response, and a full queue into RESOURCE_EXHAUSTED with RetryInfo.
import * as grpc from '@grpc/grpc-js';
import { CollectorError, isCollectorError } from './collector-error.ts';
import { SIGNALS, TELEMETRY_SIGNALS, decodeExportRequest, encodeExportResponse } from './otlp-signals.ts';
import type { DecodedExportRequest, ExportOutcome, SignalSpec, TelemetrySignal } from './otlp-signals.ts';
import { checkProtobufLimits } from './request-limits.ts';
import { encodeRpcStatus } from './rpc-status.ts';

const passThrough = (buffer: Buffer): Buffer => buffer;

/** One OTLP service as grpc-js wants it, with raw bytes in and out. */
export function serviceDefinition(spec: SignalSpec): grpc.ServiceDefinition {
  return {
    Export: {
      path: spec.grpcMethodPath,
      requestStream: false,
      responseStream: false,
      requestSerialize: passThrough,
      requestDeserialize: passThrough,
      responseSerialize: passThrough,
      responseDeserialize: passThrough,
    },
  };
}

export interface GrpcReceiverOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /**
   * Take a decoded, valid request; say how many of its items were not kept.
   * Throw COLLECTOR_CLOSED or OVERLOADED to refuse it as a whole.
   */
  onExport: (signal: TelemetrySignal, request: DecodedExportRequest) => ExportOutcome;
  /**
   * Offered the raw body before it is decoded: take it and say what was kept,
   * or return undefined to have it decoded and given to onExport. Throws as
   * onExport does.
   */
  onExportBody?: (signal: TelemetrySignal, body: Buffer) => ExportOutcome | undefined;
  /** A request was refused (malformed, overloaded, closing, or failed inside onExport); `reason` says why. */
  onRejected?: (signal: TelemetrySignal, reason: string, code: grpc.status) => void;
  /** Maximum request size; default 16 MiB (grpc-js would refuse above 4 MiB). */
  maxReceiveMessageBytes?: number;
  /** Seconds an overloaded client is told to wait. Default 1. */
  retryAfterSeconds?: number;
}

export interface GrpcReceiver {
  /** The port actually bound. */
  readonly port: number;
  /** Stop taking calls; waits up to `graceMs` for calls in flight, then cuts them. */
  close(graceMs?: number): Promise<void>;
}

export async function startGrpcReceiver(options: GrpcReceiverOptions): Promise<GrpcReceiver> {
  const onRejected = options.onRejected ?? (() => {});
  const retryAfterSeconds = options.retryAfterSeconds ?? 1;
  const server = new grpc.Server({
    'grpc.max_receive_message_length': options.maxReceiveMessageBytes ?? 16 * 1024 * 1024,
  });

  const handlerFor = (spec: SignalSpec): grpc.handleUnaryCall<Buffer, Buffer> => (call, callback) => {
    const refuse = (code: grpc.status, details: string, reason = details, retryAfter?: number): void => {
      try {
        onRejected(spec.signal, reason, code);
      } finally {
        const metadata = new grpc.Metadata();
        metadata.set(
          'grpc-status-details-bin',
          encodeRpcStatus({ code, message: details, ...(retryAfter === undefined ? {} : { retryAfterSeconds: retryAfter }) }),
        );
        callback({ code, details, metadata });
      }
    };
    /** Decode and hand over; undefined when the body was refused as malformed (already answered). */
    const decodeAndExport = (): ExportOutcome | undefined => {
      let request: DecodedExportRequest;
      try {
        request = decodeExportRequest(spec, call.request);
      } catch (error) {
        refuse(grpc.status.INVALID_ARGUMENT, isCollectorError(error) ? error.message : `malformed ${spec.requestType.name}`);
        return undefined;
      }
      return options.onExport(spec.signal, request);
    };
    // Depth and element count before anything decodes the body (request-limits.ts).
    try {
      checkProtobufLimits(spec, call.request);
    } catch (error) {
      refuse(grpc.status.INVALID_ARGUMENT, isCollectorError(error) ? error.message : `malformed ${spec.requestType.name}`);
      return;
    }
    let response: Buffer;
    try {
      const outcome = options.onExportBody?.(spec.signal, call.request) ?? decodeAndExport();
      if (outcome === undefined) return;
      response = encodeExportResponse(spec, outcome);
    } catch (error) {
      if (isCollectorError(error, 'COLLECTOR_CLOSED')) refuse(grpc.status.UNAVAILABLE, 'collector is shutting down');
      else if (isCollectorError(error, 'OVERLOADED')) refuse(grpc.status.RESOURCE_EXHAUSTED, error.message, error.message, retryAfterSeconds);
      else refuse(grpc.status.INTERNAL, 'collector failed to process the request', `internal error: ${(error as Error).message}`);
      return;
    }
    callback(null, response);
  };
  for (const signal of TELEMETRY_SIGNALS) {
    const spec = SIGNALS[signal];
    server.addService(serviceDefinition(spec), { Export: handlerFor(spec) });
  }

  const port = await bind(server, options.host, options.port);
  let closing: Promise<void> | undefined;
  return {
    port,
    close(graceMs = 2_000): Promise<void> {
      closing ??= new Promise<void>((resolve) => {
        const force = setTimeout(() => server.forceShutdown(), graceMs);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
      return closing;
    },
  };
}

function bind(server: grpc.Server, host: string, port: number): Promise<number> {
  const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  return new Promise((resolve, reject) => {
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (error, boundPort) => {
      if (!error) {
        resolve(boundPort);
        return;
      }
      // grpc-js reports a taken port only inside its message text.
      const code = /EADDRINUSE/.test(error.message) ? 'EADDRINUSE' : 'BIND_FAILED';
      const reason = code === 'EADDRINUSE' ? 'is already in use' : `cannot be bound: ${error.message}`;
      server.forceShutdown();
      reject(new CollectorError(code, `OTLP/gRPC port ${port} on ${host} ${reason}`, { cause: error }));
    });
  });
}
