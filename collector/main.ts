// Process entry of the embedded collector (local mode). Config comes as JSON in
// FAULTLINE_COLLECTOR_CONFIG (the options of startEmbeddedCollector); once every
// port is bound it announces { grpc, otlpHttp, http (admin) } to the
// supervisor, and on SIGTERM/SIGINT/supervisor exit it stops receiving, writes
// every accepted item and exits 0. Logs are JSON lines on stdout.
import { format } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { announceReady, onShutdown, readJsonEnv } from '../demo-services/kit/lifecycle.ts';
import { COLLECTOR_CONFIG_ENV } from './collector-config.ts';
import { isCollectorError } from './collector-error.ts';
import { startEmbeddedCollector } from './embedded-collector.ts';
import type { EmbeddedCollector, EmbeddedCollectorOptions } from './embedded-collector.ts';
import { collectRuntimeMetrics } from '../demo-services/kit/runtime-metrics.ts';

const logger = pino({ base: { service: 'collector' } });
// grpc-js writes its own diagnostics to stderr; route them into the JSON log.
const grpcLog = (level: 'debug' | 'info' | 'error') => (message?: unknown, ...rest: unknown[]) =>
  logger[level]({ component: 'grpc-js' }, format(message, ...rest));
grpc.setLogger({ error: grpcLog('error'), info: grpcLog('info'), debug: grpcLog('debug') });
const config = readJsonEnv<Omit<EmbeddedCollectorOptions, 'logger'>>(COLLECTOR_CONFIG_ENV);

let collector: EmbeddedCollector;
try {
  collector = await startEmbeddedCollector({ ...config, logger });
} catch (error) {
  if (!isCollectorError(error)) throw error;
  logger.fatal({ code: error.code }, error.message);
  process.exit(error.code === 'INVALID_CONFIG' ? 2 : 1);
}

collectRuntimeMetrics(collector.metricsRegistry);
onShutdown(async (reason) => {
  logger.info({ reason }, 'shutting down');
  await collector.close();
  logger.info({ stats: collector.stats() }, 'collector stopped; telemetry flushed');
});
logger.info(
  { grpcPort: collector.grpcPort, otlpHttpPort: collector.otlpHttpPort, httpPort: collector.httpPort, runDir: config.runDir },
  'collector listening',
);
announceReady('collector', { grpc: collector.grpcPort, otlpHttp: collector.otlpHttpPort, http: collector.httpPort });
