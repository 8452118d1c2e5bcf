// Where payment.proto is, for the payment server and its clients. tsc does not
// copy .proto files into .lab/build, so the compiled module looks for the
// source tree's copy by walking up from wherever it runs.

import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadGrpcService, type GrpcService } from '../kit/grpc.ts';

export const PAYMENT_SERVICE = 'faultline.payment.v1.Payment';
export const PAYMENT_PROTO = 'demo-services/payment/payment.proto';

/** Absolute path of payment.proto, from the sources or from the compiled lab build. */
export function paymentProtoPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 8; depth += 1) {
    const beside = join(dir, 'payment.proto');
    if (existsSync(beside)) return beside;
    const fromRoot = join(dir, PAYMENT_PROTO);
    if (existsSync(fromRoot)) return fromRoot;
    dir = dirname(dir);
  }
  throw new Error(`${PAYMENT_PROTO}: not found above ${fileURLToPath(import.meta.url)}`);
}

export function loadPaymentService(): GrpcService {
  return loadGrpcService(paymentProtoPath(), PAYMENT_SERVICE);
}

/** The messages of payment.proto, as proto-loader decodes them (camelCase, int64 as number). */
export interface ChargeRequest {
  orderId: string;
  amount: number;
  currency: string;
  idempotencyKey: string;
}
export interface ChargeReply {
  paymentId: string;
  orderId: string;
  chargeId: string;
}
export interface RefundRequest {
  idempotencyKey: string;
}
export interface RefundReply {
  refunded: boolean;
  refundId: string;
  reason: string;
}
