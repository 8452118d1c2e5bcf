// The embedded collector of local mode: receives traces, metrics and logs over
// OTLP/gRPC and OTLP/HTTP (protobuf or JSON) from every lab process, keeps each
// run's signals on disk as OTLP JSON lines (traces.jsonl, metrics.jsonl,
// logs.jsonl), optionally forwards them upstream, serves its own metrics, and
// bounds its memory with one limit: items (of every signal) accepted and not
// yet written. A request that does not fit is cut and answered with a partial
// success (the SDK logs it and does not retry); one that arrives at a full
// queue is refused as retryable (RESOURCE_EXHAUSTED / 503 with Retry-After).
// Every drop is counted per signal. With `rotation` each signal's file is
// capped by size (rotated like logrotate), and what rotation deletes is counted.
import { join } from 'node:path';
import pino from 'pino';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { startAdminServer } from './admin-server.ts';
import type { AdminServer } from './admin-server.ts';
import { parseCollectorConfig } from './collector-config.ts';
import type { CollectorConfigInput } from './collector-config.ts';
import { CollectorError } from './collector-error.ts';
import { createCollectorMetrics } from './collector-metrics.ts';
import type { SignalCounters } from './collector-metrics.ts';
import { startGrpcReceiver } from './grpc-receiver.ts';
import type { GrpcReceiver } from './grpc-receiver.ts';
import { startHttpReceiver } from './http-receiver.ts';
import type { HttpReceiver } from './http-receiver.ts';
import { messageToOtlpJson } from './otlp-json.ts';
import type { JsonObject } from './otlp-json.ts';
import { createOtlpForwarder } from './otlp-forwarder.ts';
import type { OtlpForwarder } from './otlp-forwarder.ts';
import { SIGNALS, TELEMETRY_SIGNALS, countItems, keepFirstItems } from './otlp-signals.ts';
import type { DecodedExportRequest, ExportOutcome, SignalSpec, TelemetrySignal } from './otlp-signals.ts';
import { transcodeTraceRequest } from './otlp-transcode.ts';
import { openTraceStore } from './trace-store.ts';
import type { TraceStore } from './trace-store.ts';

export interface EmbeddedCollectorOptions extends CollectorConfigInput {
  /** Where the collector logs (drops, refused requests, write failures). Default: silent. */
  logger?: Logger;
}

export interface SignalStats {
  /** Items that arrived in well-formed export requests (a refused request retried counts again). */
  received: number;
  /** Items written to the signal's file. */
  stored: number;
  /** Items received but not kept (queue full, or the write failed). */
  dropped: number;
  /** Items the upstream endpoint took, and those it did not (only with `forward`). */
  forwarded: number;
  forwardFailed: number;
}

/** What capping a signal's files did (all zero without `rotation`). */
export interface RotationStats {
  rotations: number;
  /** Items, bytes and files deleted to stay under the cap. */
  discardedItems: number;
  discardedBytes: number;
  discardedFiles: number;
}

export interface CollectorStats {
  traces: SignalStats;
  metrics: SignalStats;
  logs: SignalStats;
  rotation: Record<TelemetrySignal, RotationStats>;
  /** Export requests refused as a whole (malformed, too large, overloaded, or sent while closing). */
  rejectedRequests: number;
}

export interface EmbeddedCollector {
  readonly grpcPort: number;
  /** The admin port: /metrics and /healthz. */
  readonly httpPort: number;
  /** The OTLP/HTTP port. */
  readonly otlpHttpPort: number;
  /** `<runDir>/traces.jsonl` */
  readonly tracesFile: string;
  /** `<runDir>/metrics.jsonl` */
  readonly metricsFile: string;
  /** `<runDir>/logs.jsonl` */
  readonly logsFile: string;
  /** The registry /metrics serves; a host process may add its runtime metrics to it. */
  readonly metricsRegistry: Registry;
  stats(): CollectorStats;
  /** Write every item accepted so far to disk. */
  flush(): Promise<void>;
  /** Stop receiving, then write everything accepted, finish forwarding and close the files. Idempotent. */
  close(): Promise<void>;
}

interface SignalPipeline {
  spec: SignalSpec;
  store: TraceStore<JsonObject>;
  counters: SignalCounters;
  stats: SignalStats;
  rotation: RotationStats;
}

export async function startEmbeddedCollector(options: EmbeddedCollectorOptions): Promise<EmbeddedCollector> {
  const { logger: givenLogger, ...rawConfig } = options;
  const config = parseCollectorConfig(rawConfig);
  const logger = givenLogger ?? pino({ enabled: false });
  const metrics = createCollectorMetrics();
  let rejectedRequests = 0;

  const pipelines = {} as Record<TelemetrySignal, SignalPipeline>;
  const opened: TraceStore<JsonObject>[] = [];
  try {
    for (const signal of TELEMETRY_SIGNALS) {
      const spec = SIGNALS[signal];
      const counters = metrics.forSignal(signal);
      const stats: SignalStats = { received: 0, stored: 0, dropped: 0, forwarded: 0, forwardFailed: 0 };
      const file = join(config.runDir, spec.fileName);
      const rotation: RotationStats = { rotations: 0, discardedItems: 0, discardedBytes: 0, discardedFiles: 0 };
      const store = await openTraceStore<JsonObject>({
        file,
        flushIntervalMs: config.flushIntervalMs,
        ...(config.rotation ? { rotation: config.rotation } : {}),
        onRotated: (discarded) => {
          rotation.rotations++;
          rotation.discardedItems += discarded.items;
          rotation.discardedBytes += discarded.bytes;
          rotation.discardedFiles += discarded.files;
          counters.rotations.inc();
          counters.discarded.inc(discarded.items);
          counters.discardedBytes.inc(discarded.bytes);
          counters.discardedFiles.inc(discarded.files);
          if (discarded.files > 0) logger.info({ signal, file, ...discarded }, 'rotated; deleted the oldest file to stay under the cap');
        },
        countItems: (data) => countItems(spec, data),
        onWritten: (items) => {
          stats.stored += items;
          counters.exported.inc(items);
        },
        onWriteFailed: (items, error) => {
          stats.dropped += items;
          counters.dropped.inc(items);
          logger.error({ err: error, signal, items, file }, 'writing telemetry failed; it is lost');
        },
      });
      opened.push(store);
      if (store.repairedBytes > 0) logger.warn({ file, bytes: store.repairedBytes }, 'cut a partial last line left by an earlier crash');
      pipelines[signal] = { spec, store, counters, stats, rotation };
    }
  } catch (error) {
    await Promise.allSettled(opened.map((store) => store.close()));
    throw error;
  }

  const forwarder: OtlpForwarder | undefined = config.forward
    ? createOtlpForwarder({
        ...config.forward,
        onResult: (signal, accepted, failed, reason) => {
          const pipeline = pipelines[signal];
          pipeline.stats.forwarded += accepted;
          pipeline.stats.forwardFailed += failed;
          pipeline.counters.forwarded.inc(accepted);
          pipeline.counters.forwardFailed.inc(failed);
          if (failed > 0) logger.warn({ signal, failed, reason, endpoint: config.forward?.endpoint }, 'forwarding upstream failed');
        },
      })
    : undefined;

  // Drops come in bursts; log when dropping starts and when it stops, not per request.
  let droppingSince: number | undefined;
  let dropBurst = 0;
  let closing = false;
  const queuedItems = (): number => TELEMETRY_SIGNALS.reduce((sum, signal) => sum + pipelines[signal].store.queuedSpans, 0);
  const countDrop = (pipeline: SignalPipeline, items: number): void => {
    pipeline.stats.dropped += items;
    pipeline.counters.dropped.inc(items);
    if (droppingSince === undefined) {
      droppingSince = Date.now();
      dropBurst = 0;
      logger.warn({ maxQueuedItems: config.maxQueuedItems }, 'write queue full: dropping telemetry');
    }
    dropBurst += items;
  };

  const countReceived = (pipeline: SignalPipeline, items: number): void => {
    pipeline.stats.received += items;
    pipeline.counters.received.inc(items);
  };
  /** A request was kept whole: if items were being dropped, say that the queue has room again. */
  const keptWhole = (): ExportOutcome => {
    if (droppingSince !== undefined) {
      logger.info({ dropped: dropBurst, durationMs: Date.now() - droppingSince }, 'write queue has room again');
      droppingSince = undefined;
    }
    return { rejectedItems: 0 };
  };

  const accept = (signal: TelemetrySignal, request: DecodedExportRequest): ExportOutcome => {
    if (closing) throw new CollectorError('COLLECTOR_CLOSED', 'collector is closing');
    const pipeline = pipelines[signal];
    const { spec } = pipeline;
    const items = countItems(spec, request);
    const room = Math.max(0, config.maxQueuedItems - queuedItems());
    if (items > 0 && room === 0) {
      countReceived(pipeline, items);
      countDrop(pipeline, items);
      throw new CollectorError('OVERLOADED', `collector write queue full (maxQueuedItems ${config.maxQueuedItems}): retry later`);
    }
    const rejected = items > room ? keepFirstItems(spec, request, room) : 0;
    // Converted before anything is counted: if conversion throws, the request is refused as a whole.
    const data = items - rejected > 0 ? messageToOtlpJson(spec.requestType, request) : undefined;
    countReceived(pipeline, items);
    if (data) pipeline.store.append(data);
    forwarder?.send(spec, request, items - rejected);
    if (rejected === 0) return keptWhole();
    countDrop(pipeline, rejected);
    return {
      rejectedItems: rejected,
      errorMessage: `collector write queue full (maxQueuedItems ${config.maxQueuedItems}): dropped ${rejected} of ${items} ${spec.itemName}`,
    };
  };
  /**
   * The ingest fast path: a trace request written to its JSON line straight
   * from the protobuf (otlp-transcode.ts). Taken when nothing needs the decoded
   * request (no forwarder) and all its spans fit; anything else goes the
   * general way through accept().
   */
  const acceptBody = (signal: TelemetrySignal, body: Buffer): ExportOutcome | undefined => {
    if (signal !== 'traces' || forwarder || closing) return undefined;
    const transcoded = transcodeTraceRequest(body);
    if (!transcoded || transcoded.spans > config.maxQueuedItems - queuedItems()) return undefined;
    countReceived(pipelines.traces, transcoded.spans);
    if (transcoded.spans > 0) pipelines.traces.store.appendEncoded(transcoded.json, transcoded.spans);
    return keptWhole();
  };
  const onRejected = (signal: TelemetrySignal | undefined, reason: string, code: number): void => {
    rejectedRequests++;
    logger.warn({ signal, code, reason }, 'export request refused');
  };

  let grpcReceiver: GrpcReceiver | undefined;
  let httpReceiver: HttpReceiver | undefined;
  let admin: AdminServer | undefined;
  try {
    grpcReceiver = await startGrpcReceiver({
      host: config.host,
      port: config.grpcPort,
      maxReceiveMessageBytes: config.maxRequestBytes,
      onExport: accept,
      onExportBody: acceptBody,
      onRejected,
    });
    httpReceiver = await startHttpReceiver({
      host: config.host,
      port: config.otlpHttpPort,
      maxRequestBytes: config.maxRequestBytes,
      onExport: accept,
      onExportBody: acceptBody,
      onRejected,
    });
    admin = await startAdminServer({ port: config.httpPort, registry: metrics.registry });
  } catch (error) {
    await grpcReceiver?.close(0);
    await httpReceiver?.close();
    await forwarder?.close(0);
    await Promise.allSettled(opened.map((store) => store.close()));
    throw error;
  }
  const grpcServer = grpcReceiver;
  const httpServer = httpReceiver;
  const adminServer = admin;

  const snapshot = (signal: TelemetrySignal): SignalStats => ({ ...pipelines[signal].stats });
  let closed: Promise<void> | undefined;
  return {
    grpcPort: grpcServer.port,
    httpPort: adminServer.port,
    otlpHttpPort: httpServer.port,
    tracesFile: pipelines.traces.store.file,
    metricsFile: pipelines.metrics.store.file,
    logsFile: pipelines.logs.store.file,
    metricsRegistry: metrics.registry,
    stats: () => ({
      traces: snapshot('traces'),
      metrics: snapshot('metrics'),
      logs: snapshot('logs'),
      rotation: { traces: { ...pipelines.traces.rotation }, metrics: { ...pipelines.metrics.rotation }, logs: { ...pipelines.logs.rotation } },
      rejectedRequests,
    }),
    flush: async () => {
      await Promise.all(TELEMETRY_SIGNALS.map((signal) => pipelines[signal].store.flush()));
    },
    close() {
      closed ??= (async () => {
        closing = true;
        await Promise.all([grpcServer.close(), httpServer.close()]);
        await forwarder?.close();
        await adminServer.close();
        const results = await Promise.allSettled(TELEMETRY_SIGNALS.map((signal) => pipelines[signal].store.close()));
        const failure = results.find((result) => result.status === 'rejected');
        if (failure) throw failure.reason;
      })();
      return closed;
    },
  };
}
