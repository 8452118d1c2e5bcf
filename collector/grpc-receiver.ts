// The OTLP/gRPC trace receiver: a grpc-js server with the one unary method
// opentelemetry.proto.collector.trace.v1.TraceService/Export. The service
// definition is written by hand with Buffer pass-through (de)serializers, so
// grpc-js never parses the payload: decoding happens here, inside a guard, and
// a malformed body becomes INVALID_ARGUMENT for that call instead of an
// exception in the server. What happens to a decoded request is the caller's
// business (onExport); the receiver turns its outcome into the OTLP response.
import * as grpc from '@grpc/grpc-js';
import { CollectorError, isCollectorError } from './collector-error.ts';
import { TRACE_EXPORT_METHOD_PATH } from './otlp-schema.ts';
import type { DecodedExportTraceServiceRequest } from './otlp-schema.ts';
import { decodeTraceExportRequest, encodeTraceExportResponse } from './trace-request.ts';
import type { TraceExportOutcome } from './trace-request.ts';

const passThrough = (buffer: Buffer): Buffer => buffer;

/** TraceService as grpc-js wants it, with raw bytes in and out. */
export const traceServiceDefinition: grpc.ServiceDefinition = {
  Export: {
    path: TRACE_EXPORT_METHOD_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: passThrough,
    requestDeserialize: passThrough,
    responseSerialize: passThrough,
    responseDeserialize: passThrough,
  },
};

export interface GrpcTraceReceiverOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Take a decoded, valid request; say how many of its spans were not kept. Throw COLLECTOR_CLOSED to refuse it. */
  onExport: (request: DecodedExportTraceServiceRequest) => TraceExportOutcome;
  /** A request was refused (malformed, collector closing, or failed inside onExport); `reason` says why. */
  onRejected?: (reason: string, code: grpc.status) => void;
  /** Maximum request size; default 16 MiB (grpc-js would refuse above 4 MiB). */
  maxReceiveMessageBytes?: number;
}

export interface GrpcTraceReceiver {
  /** The port actually bound. */
  readonly port: number;
  /** Stop taking calls; waits up to `graceMs` for calls in flight, then cuts them. */
  close(graceMs?: number): Promise<void>;
}

export async function startGrpcTraceReceiver(options: GrpcTraceReceiverOptions): Promise<GrpcTraceReceiver> {
  const onRejected = options.onRejected ?? (() => {});
  const server = new grpc.Server({
    'grpc.max_receive_message_length': options.maxReceiveMessageBytes ?? 16 * 1024 * 1024,
  });

  const exportHandler: grpc.handleUnaryCall<Buffer, Buffer> = (call, callback) => {
    const refuse = (code: grpc.status, details: string, reason = details): void => {
      try {
        onRejected(reason, code);
      } finally {
        callback({ code, details });
      }
    };
    let request: DecodedExportTraceServiceRequest;
    try {
      request = decodeTraceExportRequest(call.request);
    } catch (error) {
      refuse(grpc.status.INVALID_ARGUMENT, isCollectorError(error) ? error.message : 'malformed ExportTraceServiceRequest');
      return;
    }
    let response: Buffer;
    try {
      response = encodeTraceExportResponse(options.onExport(request));
    } catch (error) {
      if (isCollectorError(error, 'COLLECTOR_CLOSED')) refuse(grpc.status.UNAVAILABLE, 'collector is shutting down');
      else refuse(grpc.status.INTERNAL, 'collector failed to process the request', `internal error: ${(error as Error).message}`);
      return;
    }
    callback(null, response);
  };
  server.addService(traceServiceDefinition, { Export: exportHandler });

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
