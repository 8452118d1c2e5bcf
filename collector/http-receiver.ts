// The OTLP/HTTP receiver: POST /v1/traces, /v1/metrics and /v1/logs with
// protobuf (application/x-protobuf) or JSON (application/json) bodies,
// optionally gzip-compressed, answered as the OTLP specification says: 200 with
// an Export*ServiceResponse in the request's encoding (partial_success when
// items were dropped), 400 with a google.rpc.Status for a malformed payload,
// 413 for a body over the size limit (compressed or not) or holding more
// elements than one request may cost to decode (request-limits.ts), 415 for another
// content type or encoding, and 503 with Retry-After when the write queue is
// full or the collector is closing. Plain node:http: a few fixed routes.
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createGunzip } from 'node:zlib';
import { isCollectorError } from './collector-error.ts';
import { decodeJsonExportRequest } from './otlp-json-decode.ts';
import { SIGNALS, TELEMETRY_SIGNALS, decodeExportRequest, encodeExportResponse, exportResponseObject } from './otlp-signals.ts';
import type { DecodedExportRequest, ExportOutcome, SignalSpec, TelemetrySignal } from './otlp-signals.ts';
import { RPC_CODE, encodeRpcStatus, rpcStatusJson } from './rpc-status.ts';
import { listenHttp } from './listen.ts';
import { checkJsonLimits, checkProtobufLimits, requestLimitCheck } from './request-limits.ts';
import type { RpcStatus } from './rpc-status.ts';

const PROTOBUF = 'application/x-protobuf';
const JSON_TYPE = 'application/json';
type BodyEncoding = typeof PROTOBUF | typeof JSON_TYPE;

export interface HttpReceiverOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Same contract as the gRPC receiver's onExport. */
  onExport: (signal: TelemetrySignal, request: DecodedExportRequest) => ExportOutcome;
  /** Same contract as the gRPC receiver's onExportBody; offered protobuf bodies only. */
  onExportBody?: (signal: TelemetrySignal, body: Buffer) => ExportOutcome | undefined;
  /** A request was refused; `status` is the HTTP status sent. */
  onRejected?: (signal: TelemetrySignal | undefined, reason: string, status: number) => void;
  /** Largest body accepted, before and after decompression. Default 16 MiB. */
  maxRequestBytes?: number;
  /** Seconds an overloaded client is told to wait. Default 1. */
  retryAfterSeconds?: number;
}

export interface HttpReceiver {
  readonly port: number;
  close(): Promise<void>;
}

/** A refusal: HTTP status plus the google.rpc.Status body. */
class HttpRefusal extends Error {
  readonly status: number;
  readonly rpc: RpcStatus;
  readonly headers: Record<string, string>;

  constructor(status: number, rpc: RpcStatus, headers: Record<string, string> = {}) {
    super(rpc.message);
    this.status = status;
    this.rpc = rpc;
    this.headers = headers;
  }
}

export async function startHttpReceiver(options: HttpReceiverOptions): Promise<HttpReceiver> {
  const maxBytes = options.maxRequestBytes ?? 16 * 1024 * 1024;
  const retryAfterSeconds = options.retryAfterSeconds ?? 1;
  const onRejected = options.onRejected ?? (() => {});
  const byPath = new Map<string, SignalSpec>(TELEMETRY_SIGNALS.map((signal) => [SIGNALS[signal].httpPath, SIGNALS[signal]]));

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const path = (request.url ?? '/').split('?')[0] ?? '/';
    const spec = byPath.get(path);
    // Errors before the body's encoding is known are answered in JSON.
    let encoding: BodyEncoding = JSON_TYPE;
    try {
      if (spec === undefined) throw new HttpRefusal(404, { code: RPC_CODE.INVALID_ARGUMENT, message: `no OTLP route ${path}` });
      if (request.method !== 'POST') {
        throw new HttpRefusal(405, { code: RPC_CODE.INVALID_ARGUMENT, message: `${path} accepts POST` }, { allow: 'POST' });
      }
      const mediaType = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
      if (mediaType !== PROTOBUF && mediaType !== JSON_TYPE) {
        throw new HttpRefusal(415, {
          code: RPC_CODE.INVALID_ARGUMENT,
          message: `content-type ${mediaType || '(none)'} is not supported: send ${PROTOBUF} or ${JSON_TYPE}`,
        });
      }
      encoding = mediaType;
      const contentEncoding = (request.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
      if (contentEncoding !== 'identity' && contentEncoding !== 'gzip') {
        throw new HttpRefusal(415, { code: RPC_CODE.INVALID_ARGUMENT, message: `content-encoding ${contentEncoding} is not supported: send gzip or identity` });
      }
      const raw = await readBody(request, maxBytes);
      // Depth and element count are checked before anything parses the body, and while gzip inflates it.
      const body = contentEncoding === 'gzip' ? await inflateChecked(raw, maxBytes, spec, encoding) : checkedWhole(spec, encoding, raw);
      let outcome: ExportOutcome;
      try {
        outcome = (encoding === PROTOBUF ? options.onExportBody?.(spec.signal, body) : undefined) ?? options.onExport(spec.signal, decode(spec, encoding, body));
      } catch (error) {
        if (isCollectorError(error, 'OVERLOADED') || isCollectorError(error, 'COLLECTOR_CLOSED')) {
          const retry = { 'retry-after': String(retryAfterSeconds) };
          const code = error.code === 'OVERLOADED' ? RPC_CODE.RESOURCE_EXHAUSTED : RPC_CODE.UNAVAILABLE;
          throw new HttpRefusal(503, { code, message: error.message, retryAfterSeconds }, retry);
        }
        throw error;
      }
      const payload = encoding === PROTOBUF ? encodeExportResponse(spec, outcome) : Buffer.from(JSON.stringify(exportResponseObject(spec, outcome)));
      response.writeHead(200, { 'content-type': encoding, 'content-length': payload.length }).end(payload);
    } catch (error) {
      const refusal =
        error instanceof HttpRefusal
          ? error
          : new HttpRefusal(500, { code: RPC_CODE.INTERNAL, message: `collector failed to process the request: ${(error as Error).message}` });
      onRejected(spec?.signal, refusal.message, refusal.status);
      const payload = encoding === PROTOBUF ? encodeRpcStatus(refusal.rpc) : Buffer.from(JSON.stringify(rpcStatusJson(refusal.rpc)));
      // A body left unread (too large, wrong type) is not drained: the connection closes instead.
      const unread = !request.complete;
      response.writeHead(refusal.status, {
        ...refusal.headers,
        'content-type': encoding,
        'content-length': payload.length,
        ...(unread ? { connection: 'close' } : {}),
      });
      response.end(payload);
      if (unread) response.once('finish', () => request.socket.destroy());
    }
  };

  const server = createServer((request, response) => {
    handle(request, response).catch(() => response.destroy());
  });
  server.requestTimeout = 30_000;

  const port = await listenHttp(server, options.port, options.host, 'OTLP/HTTP');

  let closing: Promise<void> | undefined;
  return {
    port,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        // Requests in flight get a moment to finish, then their connections are cut.
        setTimeout(() => server.closeAllConnections(), 2_000).unref();
      });
      return closing;
    },
  };
}

/** A body in its encoding, decoded and validated; a malformed one is refused with 400 naming the problem. */
function decode(spec: SignalSpec, encoding: string, body: Buffer): DecodedExportRequest {
  try {
    return encoding === PROTOBUF ? decodeExportRequest(spec, body) : decodeJsonExportRequest(spec, body.toString('utf8'));
  } catch (error) {
    if (!isCollectorError(error, 'MALFORMED_OTLP')) throw error;
    throw new HttpRefusal(400, { code: RPC_CODE.INVALID_ARGUMENT, message: error.message });
  }
}

/** A whole body, once its limits are checked (request-limits.ts). */
function checkedWhole(spec: SignalSpec, encoding: BodyEncoding, body: Buffer): Buffer {
  try {
    if (encoding === PROTOBUF) checkProtobufLimits(spec, body);
    else checkJsonLimits(spec, body);
  } catch (error) {
    throw refusalForLimit(error);
  }
  return body;
}

/** Too deep is a 400, too many elements a 413, both as google.rpc.Status INVALID_ARGUMENT. */
function refusalForLimit(error: unknown): unknown {
  if (isCollectorError(error, 'TOO_COMPLEX')) return new HttpRefusal(413, { code: RPC_CODE.INVALID_ARGUMENT, message: error.message });
  if (isCollectorError(error, 'MALFORMED_OTLP')) return new HttpRefusal(400, { code: RPC_CODE.INVALID_ARGUMENT, message: error.message });
  return error;
}

function tooLarge(maxBytes: number, what: string): HttpRefusal {
  return new HttpRefusal(413, { code: RPC_CODE.INVALID_ARGUMENT, message: `${what} is larger than ${maxBytes} bytes` });
}

/** The whole body, refusing at once (by Content-Length) or as soon as it grows past the limit. */
function readBody(request: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = Number(request.headers['content-length'] ?? Number.NaN);
  if (declared > maxBytes) return Promise.reject(tooLarge(maxBytes, 'request body'));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > maxBytes) {
        request.off('data', onData);
        request.pause();
        reject(tooLarge(maxBytes, 'request body'));
        return;
      }
      chunks.push(chunk);
    };
    request.on('data', onData);
    request.once('end', () => resolve(Buffer.concat(chunks, size)));
    request.once('error', reject);
  });
}

/**
 * Inflate a gzip body as a stream into one growing buffer, checking the
 * limits on each piece as it comes: a bomb is stopped after its first pieces,
 * and the inflated size never passes maxBytes.
 */
function inflateChecked(body: Buffer, maxBytes: number, spec: SignalSpec, encoding: BodyEncoding): Promise<Buffer> {
  const check = requestLimitCheck(spec, encoding === PROTOBUF ? 'protobuf' : 'json');
  return new Promise((resolve, reject) => {
    const gunzip = createGunzip();
    let buffer = Buffer.allocUnsafe(Math.min(maxBytes, Math.max(64 * 1024, body.length * 4)));
    let filled = 0;
    const fail = (error: unknown): void => {
      gunzip.destroy();
      reject(error);
    };
    gunzip.on('data', (chunk: Buffer) => {
      if (filled + chunk.length > maxBytes) {
        fail(tooLarge(maxBytes, 'decompressed request body'));
        return;
      }
      if (filled + chunk.length > buffer.length) {
        const grown = Buffer.allocUnsafe(Math.min(maxBytes, Math.max(buffer.length * 2, filled + chunk.length)));
        buffer.copy(grown, 0, 0, filled);
        buffer = grown;
      }
      chunk.copy(buffer, filled);
      filled += chunk.length;
      try {
        check.update(buffer.subarray(0, filled));
      } catch (error) {
        fail(refusalForLimit(error));
      }
    });
    gunzip.once('end', () => resolve(buffer.subarray(0, filled)));
    gunzip.once('error', (error) => {
      reject(new HttpRefusal(400, { code: RPC_CODE.INVALID_ARGUMENT, message: `body is not valid gzip: ${error.message}` }));
    });
    gunzip.end(body);
  });
}
