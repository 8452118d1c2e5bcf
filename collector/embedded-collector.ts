// The embedded collector of local mode: receives traces over OTLP/gRPC from
// every lab process, keeps each run's spans on disk as OTLP JSON lines, serves
// its own metrics, and bounds its memory: spans that would push the write
// queue past maxQueuedSpans are dropped, counted, and reported back to the
// sender as a partial success (so the SDK logs it and does not retry).
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
import { startGrpcTraceReceiver } from './grpc-receiver.ts';
import type { GrpcTraceReceiver } from './grpc-receiver.ts';
import { traceRequestToOtlpJson } from './otlp-json.ts';
import type { DecodedExportTraceServiceRequest } from './otlp-schema.ts';
import { countTraceRequestSpans, keepFirstSpans } from './trace-request.ts';
import type { TraceExportOutcome } from './trace-request.ts';
import { TRACES_FILE_NAME, openTraceStore } from './trace-store.ts';

export interface EmbeddedCollectorOptions extends CollectorConfigInput {
  /** Where the collector logs (drops, refused requests, write failures). Default: silent. */
  logger?: Logger;
}

export interface CollectorStats {
  /** Spans that arrived in well-formed export requests. */
  receivedSpans: number;
  /** Spans written to traces.jsonl. */
  storedSpans: number;
  /** Spans received but not kept (queue full, or the write failed). */
  droppedSpans: number;
  /** Export requests refused as a whole (malformed, or sent while closing). */
  rejectedRequests: number;
}

export interface EmbeddedCollector {
  readonly grpcPort: number;
  readonly httpPort: number;
  /** `<runDir>/traces.jsonl` */
  readonly tracesFile: string;
  /** The registry /metrics serves; a host process may add its runtime metrics to it. */
  readonly metricsRegistry: Registry;
  stats(): CollectorStats;
  /** Write every span accepted so far to disk. */
  flush(): Promise<void>;
  /** Stop receiving, then write everything accepted and close the file. Idempotent. */
  close(): Promise<void>;
}

export async function startEmbeddedCollector(options: EmbeddedCollectorOptions): Promise<EmbeddedCollector> {
  const { logger: givenLogger, ...rawConfig } = options;
  const config = parseCollectorConfig(rawConfig);
  const logger = givenLogger ?? pino({ enabled: false });
  const metrics = createCollectorMetrics();
  const traceCounters = metrics.forSignal('traces');
  const stats: CollectorStats = { receivedSpans: 0, storedSpans: 0, droppedSpans: 0, rejectedRequests: 0 };
  const tracesFile = join(config.runDir, TRACES_FILE_NAME);

  const countDropped = (spans: number): void => {
    stats.droppedSpans += spans;
    traceCounters.dropped.inc(spans);
  };

  const store = await openTraceStore({
    file: tracesFile,
    flushIntervalMs: config.flushIntervalMs,
    onWritten: (spans) => {
      stats.storedSpans += spans;
      traceCounters.exported.inc(spans);
    },
    onWriteFailed: (spans, error) => {
      countDropped(spans);
      logger.error({ err: error, spans, file: tracesFile }, 'writing spans failed; they are lost');
    },
  });
  if (store.repairedBytes > 0) {
    logger.warn({ file: tracesFile, bytes: store.repairedBytes }, 'cut a partial last line left by an earlier crash');
  }

  // Drops come in bursts; log when dropping starts and when it stops, not per request.
  let droppingSince: number | undefined;
  let dropBurst = 0;
  let closing = false;

  const acceptTraces = (request: DecodedExportTraceServiceRequest): TraceExportOutcome => {
    if (closing) throw new CollectorError('COLLECTOR_CLOSED', 'collector is closing');
    const spans = countTraceRequestSpans(request);
    const room = Math.max(0, config.maxQueuedSpans - store.queuedSpans);
    const rejected = spans > room ? keepFirstSpans(request, room) : 0;
    // Converted before anything is counted: if conversion throws, the request is refused as a whole.
    const data = spans - rejected > 0 ? traceRequestToOtlpJson(request) : undefined;
    stats.receivedSpans += spans;
    traceCounters.received.inc(spans);
    if (data) store.append(data);
    if (rejected === 0) {
      if (droppingSince !== undefined) {
        logger.info({ droppedSpans: dropBurst, durationMs: Date.now() - droppingSince }, 'write queue has room again');
        droppingSince = undefined;
      }
      return { rejectedSpans: 0 };
    }
    countDropped(rejected);
    if (droppingSince === undefined) {
      droppingSince = Date.now();
      dropBurst = 0;
      logger.warn({ maxQueuedSpans: config.maxQueuedSpans }, 'write queue full: dropping spans');
    }
    dropBurst += rejected;
    return {
      rejectedSpans: rejected,
      errorMessage: `collector write queue full (maxQueuedSpans ${config.maxQueuedSpans}): dropped ${rejected} of ${spans} spans`,
    };
  };

  let receiver: GrpcTraceReceiver | undefined;
  let admin: AdminServer | undefined;
  try {
    receiver = await startGrpcTraceReceiver({
      host: config.host,
      port: config.grpcPort,
      onExport: acceptTraces,
      onRejected: (reason, code) => {
        stats.rejectedRequests++;
        logger.warn({ grpcStatus: code, reason }, 'export request refused');
      },
    });
    admin = await startAdminServer({ port: config.httpPort, registry: metrics.registry });
  } catch (error) {
    await receiver?.close(0);
    await store.close();
    throw error;
  }
  const grpcServer = receiver;
  const adminServer = admin;

  let closed: Promise<void> | undefined;
  return {
    grpcPort: grpcServer.port,
    httpPort: adminServer.port,
    tracesFile,
    metricsRegistry: metrics.registry,
    stats: () => ({ ...stats }),
    flush: () => store.flush(),
    close() {
      closed ??= (async () => {
        closing = true;
        await grpcServer.close();
        await adminServer.close();
        await store.close();
      })();
      return closed;
    },
  };
}
