// gRPC for the lab's services: load a .proto, serve it beside the HTTP port,
// and call it from a client that balances over a dependency's instances with
// passive health checks and one deadline per attempt; both sides record the
// call-duration histograms of the OpenTelemetry RPC conventions. grpc-js is
// loaded through require so that the gRPC instrumentation (kit/telemetry.ts),
// which hooks require(), patches it: client and server spans, W3C context in
// metadata.

import { createRequire } from 'node:module';
import type * as grpcTypes from '@grpc/grpc-js';
import type * as protoLoaderTypes from '@grpc/proto-loader';
import client from 'prom-client';
import { trace } from '@opentelemetry/api';
import { createBalancer, type BalancerOptions } from '../resilience/balancer.ts';
import { reportBalancerHealth } from './balancer-metrics.ts';
import { LABEL, LATENCY_BUCKETS, RPC_LABEL, RPC_METRIC, RPC_SYSTEM_NAME } from './conventions.ts';
import { DependencyError } from './dependency-client.ts';
import { GRPC_CODE, GRPC_SERVER_ERROR_CODES, GRPC_SERVER_SIDE_ERROR_CODES, clientErrorFor, grpcCodeName, grpcFailureForProblem, type GrpcErrorLike } from './grpc-status.ts';
import type { Logger } from './logger.ts';
import type { ServiceMetrics } from './metrics.ts';
import { ProblemError } from './problem.ts';

const require = createRequire(import.meta.url);
const grpc = require('@grpc/grpc-js') as typeof grpcTypes;
const protoLoader = require('@grpc/proto-loader') as typeof protoLoaderTypes;

export type GrpcServiceDefinition = grpcTypes.ServiceDefinition;

/** A service of a .proto: its definition (to serve it) and client constructor (to call it). */
export interface GrpcService {
  /** Fully qualified name, e.g. `faultline.payment.v1.Payment` (the first part of label rpc_method, `faultline.payment.v1.Payment/Charge`). */
  name: string;
  definition: grpcTypes.ServiceDefinition;
  Client: grpcTypes.ServiceClientConstructor;
}

/** Load one service from a .proto file; fields in camelCase, int64 as numbers, defaults filled in. */
export function loadGrpcService(protoPath: string, serviceName: string): GrpcService {
  const packageDefinition = protoLoader.loadSync(protoPath, { keepCase: false, longs: Number, enums: String, defaults: true, oneofs: true });
  // loadPackageDefinition (not the raw definition) is what the instrumentation patches for client spans.
  const loaded = grpc.loadPackageDefinition(packageDefinition);
  let node: unknown = loaded;
  for (const part of serviceName.split('.')) node = (node as Record<string, unknown> | undefined)?.[part];
  if (typeof node !== 'function' || !('service' in node)) throw new Error(`${protoPath}: no service named ${serviceName}`);
  const Client = node as grpcTypes.ServiceClientConstructor;
  return { name: serviceName, definition: Client.service, Client };
}

// ---------------------------------------------------------------- server

/** What a unary handler gets besides its request. */
export interface GrpcCallContext {
  /** Epoch ms after which the caller no longer waits; undefined when it set no deadline. */
  deadline: number | undefined;
  /** Aborted when the caller cancels or its deadline passes. */
  signal: AbortSignal;
  /** First value of a request metadata entry. */
  metadata(key: string): string | undefined;
}

/** A unary handler: return the reply, or throw a ProblemError (sent as its gRPC status); anything else is INTERNAL. */
export type GrpcUnaryHandler<Req, Res> = (request: Req, call: GrpcCallContext) => Promise<Res>;

export interface GrpcServerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  service: GrpcService;
  handlers: Record<string, GrpcUnaryHandler<never, unknown>>;
  logger: Logger;
  /** A retry hint to send with a problem, in ms, when the handler knows one (bulkhead full, circuit open). */
  retryAfterMs?: (error: ProblemError) => number | undefined;
  /** Where rpc_server_call_duration_seconds goes; without it the server records no metrics. */
  metrics?: ServiceMetrics;
}

export interface GrpcServer {
  port: number;
  /** Finish calls in flight (up to `graceMs`), then stop. */
  close(graceMs?: number): Promise<void>;
}

export async function startGrpcServer(options: GrpcServerOptions): Promise<GrpcServer> {
  const server = new grpc.Server({ 'grpc.keepalive_permit_without_calls': 1 });
  const implementation: grpcTypes.UntypedServiceImplementation = {};
  const duration = options.metrics && callDuration(options.metrics, 'server');
  for (const [method, handler] of Object.entries(options.handlers)) {
    const rpcMethod = `${options.service.name}/${method}`;
    implementation[method] = (call: grpcTypes.ServerUnaryCall<unknown, unknown>, callback: grpcTypes.sendUnaryData<unknown>) => {
      const started = performance.now();
      const traceId = trace.getActiveSpan()?.spanContext().traceId;
      /** Answers the call and records its duration with the status the caller gets (CANCELLED or DEADLINE_EXCEEDED when it stopped waiting). */
      const answer = (code: number, send: () => void) => {
        send();
        if (!duration) return;
        const sent = !call.cancelled ? code : deadline !== undefined && Date.now() >= deadline ? GRPC_CODE.DEADLINE_EXCEEDED : GRPC_CODE.CANCELLED;
        const name = grpcCodeName(sent);
        duration.observe({
          labels: {
            [RPC_LABEL.systemName]: RPC_SYSTEM_NAME.grpc,
            [RPC_LABEL.method]: rpcMethod,
            [RPC_LABEL.statusCode]: name,
            ...(GRPC_SERVER_SIDE_ERROR_CODES.includes(sent as never) ? { [LABEL.errorType]: name } : {}),
          },
          value: (performance.now() - started) / 1000,
          ...(traceId ? { exemplarLabels: { trace_id: traceId } } : {}),
        });
      };
      const aborter = new AbortController();
      call.on('cancelled', () => aborter.abort(new Error('the caller cancelled the call or its deadline passed')));
      const raw = call.getDeadline();
      const deadline = raw instanceof Date ? raw.getTime() : Number.isFinite(raw) ? raw : undefined;
      const context: GrpcCallContext = {
        deadline,
        signal: aborter.signal,
        metadata: (key) => {
          const value = call.metadata.get(key)[0];
          return value === undefined ? undefined : String(value);
        },
      };
      (handler as GrpcUnaryHandler<unknown, unknown>)(call.request, context).then(
        (reply) => answer(GRPC_CODE.OK, () => callback(null, reply)),
        (error: unknown) => {
          if (!(error instanceof ProblemError)) options.logger.error({ err: error, method }, 'unhandled error in gRPC handler');
          const failure =
            error instanceof ProblemError
              ? grpcFailureForProblem(error.problem, options.retryAfterMs?.(error))
              : { code: GRPC_CODE.INTERNAL, details: 'the service failed to handle this call', metadata: {} };
          const metadata = new grpc.Metadata();
          for (const [key, value] of Object.entries(failure.metadata)) metadata.set(key, value);
          answer(failure.code, () => callback({ code: failure.code, details: failure.details, metadata }));
        },
      );
    };
  }
  server.addService(options.service.definition, implementation);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${options.host}:${options.port}`, grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound)));
  });
  return {
    port,
    close: (graceMs = 3_000) =>
      new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      }),
  };
}

// ---------------------------------------------------------------- client

export interface GrpcUnaryRequest<Req> {
  method: string;
  request: Req;
  /** Epoch ms: the gRPC deadline of this attempt (the caller's remaining budget). */
  deadline: number;
  metadata?: Record<string, string>;
  /** Cancels the call (the attempt timeout or the caller giving up). */
  signal?: AbortSignal;
  /**
   * The instances earlier attempts of this call went to: passed over while another is in
   * rotation, and this attempt's instance is added, so a retry goes to a different replica.
   */
  triedInstances?: Set<string>;
}

export interface BalancedGrpcClient {
  readonly name: string;
  /**
   * One attempt on one instance. Fails with UpstreamStatusError (the service
   * answered a failure), GrpcRefusedError (it refused the request),
   * TimeoutError (the deadline passed) or DependencyError (no answer).
   */
  unary<Req, Res>(call: GrpcUnaryRequest<Req>): Promise<Res>;
  /** Instances in rotation right now, as `payment-1`. */
  healthy(): string[];
  close(): void;
}

export interface BalancedGrpcClientOptions {
  /** The dependency's name: label server_address and the prefix of instance names. */
  dependency: string;
  /** One URL per instance (`http://host:port`: gRPC over cleartext HTTP/2). */
  urls: readonly string[];
  service: GrpcService;
  metrics: ServiceMetrics;
  logger: Logger;
  balancing: BalancerOptions;
}

/** Reconnect fast after an instance comes back: grpc-js otherwise backs off for up to two minutes. */
const CHANNEL_OPTIONS: grpcTypes.ChannelOptions = {
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 1_000,
  'grpc.min_reconnect_backoff_ms': 100,
  'grpc.enable_retries': 0,
};

/**
 * rpc.client.call.duration or rpc.server.call.duration, one per registry
 * however many clients or servers share it, with the conventions' labels and
 * recommended buckets. Client: server_address (the dependency), server_port,
 * rpc_system_name, rpc_method (fully qualified), rpc_status_code (the status
 * name), error_type (the status name, on every status but OK). Server: the
 * same without server_address and server_port (opt-in there); error_type only
 * on the codes that are the server's own errors.
 */
function callDuration(metrics: ServiceMetrics, side: 'client' | 'server'): client.Histogram<string> {
  const name = side === 'client' ? RPC_METRIC.clientCallDuration : RPC_METRIC.serverCallDuration;
  return (
    (metrics.registry.getSingleMetric(name) as client.Histogram<string> | undefined) ??
    new client.Histogram({
      name,
      help:
        side === 'client'
          ? 'Duration of outgoing gRPC calls (one per attempt), by dependency, method and gRPC status.'
          : 'Duration of incoming gRPC calls, by method and gRPC status.',
      labelNames: [
        ...(side === 'client' ? [LABEL.serverAddress, LABEL.serverPort] : []),
        RPC_LABEL.systemName,
        RPC_LABEL.method,
        RPC_LABEL.statusCode,
        LABEL.errorType,
      ],
      buckets: [...LATENCY_BUCKETS],
      enableExemplars: true,
      registers: [metrics.registry],
    })
  );
}

/** The port of an instance URL, as server_port. */
function portOf(url: URL): string {
  return url.port !== '' ? url.port : url.protocol === 'https:' ? '443' : '80';
}

export function createBalancedGrpcClient(options: BalancedGrpcClientOptions): BalancedGrpcClient {
  const { dependency, service, metrics, logger } = options;
  if (options.urls.length === 0) throw new Error(`${dependency}: a gRPC client needs at least one URL`);
  const instanceName = (i: number) => (options.urls.length === 1 ? dependency : `${dependency}-${i + 1}`);
  const clients = new Map<string, grpcTypes.Client>(
    options.urls.map((url, i) => [instanceName(i), new service.Client(new URL(url).host, grpc.credentials.createInsecure(), CHANNEL_OPTIONS)]),
  );
  const ports = new Map(options.urls.map((url, i) => [instanceName(i), portOf(new URL(url))]));
  // Connect now rather than on the first call, so the first checkout does not pay for the handshake.
  for (const channel of clients.values()) channel.getChannel().getConnectivityState(true);
  const balancer = createBalancer([...clients.keys()], options.balancing);

  const duration = callDuration(metrics, 'client');
  reportBalancerHealth(balancer, dependency, [...clients.keys()], metrics, logger);

  /**
   * An instance to call. One whose channel cannot connect right now
   * (TRANSIENT_FAILURE: it refused or dropped the connection) counts as a
   * failure for passive health and is passed over, as gRPC's own balancers
   * pick only connectable subchannels; when every instance is down, the last
   * pick is used and the call fails fast.
   */
  const pickConnectable = (avoid?: ReadonlySet<string>) => {
    for (let tries = 1; ; tries += 1) {
      const lease = balancer.pick(avoid);
      const target = clients.get(lease.instance) as grpcTypes.Client;
      if (tries >= clients.size || target.getChannel().getConnectivityState(false) !== grpc.connectivityState.TRANSIENT_FAILURE) return { lease, target };
      lease.done(false);
    }
  };

  return {
    name: dependency,
    async unary<Req, Res>(call: GrpcUnaryRequest<Req>): Promise<Res> {
      const { lease, target } = pickConnectable(call.triedInstances);
      call.triedInstances?.add(lease.instance);
      const method = (target as unknown as Record<string, unknown>)[call.method];
      if (typeof method !== 'function') throw new Error(`${service.name} has no method ${call.method}`);
      const metadata = new grpc.Metadata();
      for (const [key, value] of Object.entries(call.metadata ?? {})) metadata.set(key, value);
      const started = performance.now();
      const budgetMs = Math.max(0, call.deadline - Date.now());
      let code: number = GRPC_CODE.OK;
      try {
        return await new Promise<Res>((resolve, reject) => {
          if (call.signal?.aborted) {
            reject(call.signal.reason);
            return;
          }
          const pending = (method as (...args: unknown[]) => grpcTypes.ClientUnaryCall).call(
            target,
            call.request,
            metadata,
            { deadline: new Date(call.deadline) },
            (error: grpcTypes.ServiceError | null, reply: Res) => {
              call.signal?.removeEventListener('abort', cancel);
              if (error) reject(error);
              else resolve(reply);
            },
          );
          const cancel = () => pending.cancel();
          call.signal?.addEventListener('abort', cancel, { once: true });
        });
      } catch (raw) {
        const error = classify(raw, call, budgetMs);
        code = (raw as { code?: number }).code ?? GRPC_CODE.CANCELLED;
        throw error;
      } finally {
        const traceId = trace.getActiveSpan()?.spanContext().traceId;
        const status = grpcCodeName(code);
        duration.observe({
          labels: {
            [LABEL.serverAddress]: dependency,
            [LABEL.serverPort]: ports.get(lease.instance) as string,
            [RPC_LABEL.systemName]: RPC_SYSTEM_NAME.grpc,
            [RPC_LABEL.method]: `${service.name}/${call.method}`,
            [RPC_LABEL.statusCode]: status,
            ...(code !== GRPC_CODE.OK ? { [LABEL.errorType]: status } : {}),
          },
          value: (performance.now() - started) / 1000,
          ...(traceId ? { exemplarLabels: { trace_id: traceId } } : {}),
        });
        // A caller that gave up says nothing about an instance it was connected to; a server-side
        // failure, no answer, or giving up while the channel still could not connect does.
        const aborted = call.signal?.aborted === true;
        const unconnected = target.getChannel().getConnectivityState(false) !== grpc.connectivityState.READY;
        const failed = aborted ? unconnected : GRPC_SERVER_ERROR_CODES.includes(code as never);
        lease.done(!failed);
      }
    },
    healthy: () => balancer.healthy(),
    close: () => {
      for (const channel of clients.values()) channel.close();
    },
  };

  function classify(raw: unknown, call: GrpcUnaryRequest<unknown>, budgetMs: number): Error {
    if (call.signal?.aborted) {
      const reason = call.signal.reason as { name?: string } | undefined;
      return reason?.name === 'TimeoutError' ? new DependencyError('FL_DEP_TIMEOUT', dependency, 'timed out') : new DependencyError('FL_DEP_ABORTED', dependency, 'aborted');
    }
    const error = raw as grpcTypes.ServiceError;
    if (typeof error?.code !== 'number') return new DependencyError('FL_DEP_NETWORK', dependency, String((raw as Error)?.message ?? raw));
    const trailing: GrpcErrorLike['metadata'] = {};
    for (const [key, value] of Object.entries(error.metadata?.getMap() ?? {})) trailing[key] = String(value);
    return clientErrorFor(dependency, { code: error.code, details: error.details, metadata: trailing }, { attemptBudgetMs: budgetMs, localDeadline: Date.now() >= call.deadline - 5 });
  }
}
