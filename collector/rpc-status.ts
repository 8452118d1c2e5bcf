// google.rpc.Status, the error body OTLP uses on both transports: OTLP/HTTP
// answers 4xx/5xx with it (protobuf or JSON, matching the request), and gRPC
// carries it in the grpc-status-details-bin trailer. When the collector is
// over its memory bound the status holds a google.rpc.RetryInfo, the hint
// OTLP clients read to know when to retry.
import { RPC_TYPES } from './otlp-schema.ts';

/** gRPC status codes the collector answers with (numerically the same as grpc-js' status enum). */
export const RPC_CODE = { INVALID_ARGUMENT: 3, RESOURCE_EXHAUSTED: 8, INTERNAL: 13, UNAVAILABLE: 14 } as const;

const RETRY_INFO_TYPE_URL = 'type.googleapis.com/google.rpc.RetryInfo';

export interface RpcStatus {
  code: number;
  message: string;
  /** Seconds the client should wait before retrying; adds a RetryInfo detail. */
  retryAfterSeconds?: number;
}

/** The status as protobuf bytes. */
export function encodeRpcStatus(status: RpcStatus): Buffer {
  const details =
    status.retryAfterSeconds === undefined
      ? []
      : [
          {
            typeUrl: RETRY_INFO_TYPE_URL,
            value: RPC_TYPES.RetryInfo.encode(RPC_TYPES.RetryInfo.fromObject({ retryDelay: { seconds: status.retryAfterSeconds } })).finish(),
          },
        ];
  const message = RPC_TYPES.Status.fromObject({ code: status.code, message: status.message, details });
  return Buffer.from(RPC_TYPES.Status.encode(message).finish());
}

/** The status as proto3 JSON (Any in its JSON form: @type plus the message's fields). */
export function rpcStatusJson(status: RpcStatus): Record<string, unknown> {
  return {
    code: status.code,
    message: status.message,
    ...(status.retryAfterSeconds === undefined
      ? {}
      : { details: [{ '@type': RETRY_INFO_TYPE_URL, retryDelay: `${status.retryAfterSeconds}s` }] }),
  };
}
