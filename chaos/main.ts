// Process entry of the fault proxies: reads FAULTLINE_CHAOS_CONFIG, starts one
// proxy per configured edge (http or tcp mode) and the Toxiproxy-dialect admin
// API, announces the bound ports, logs every fault and partition applied or
// removed as one JSON line, and on shutdown closes everything, so no fault
// outlives the process.

import { pino } from 'pino';
import { LOG_FIELD } from '../demo-services/kit/conventions.ts';
import { announceReady, onShutdown, readJsonEnv } from '../demo-services/kit/lifecycle.ts';
import { CHAOS_CONFIG_ENV, parseChaosConfig } from './config.ts';
import { ChaosError } from './errors.ts';
import { isFaultEvent, isPartitionEvent, subscribeChaosEvents } from './events.ts';
import { createProxyServer, DEFAULT_ADMIN_PORT } from './proxy-server.ts';

const SERVICE = 'chaos';

const log = pino({ base: { [LOG_FIELD.service]: SERVICE }, timestamp: pino.stdTimeFunctions.isoTime });

function fail(message: string, code: number): never {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

let config: ReturnType<typeof parseChaosConfig>;
try {
  config = parseChaosConfig(readJsonEnv<unknown>(CHAOS_CONFIG_ENV));
} catch (error) {
  fail((error as Error).message, 2);
}

subscribeChaosEvents((event) => {
  if (isPartitionEvent(event)) {
    const { name, a, b, mode } = event.partition;
    log.info({ event: event.kind, proxy: event.proxy, partition: name, a, b, mode }, event.kind === 'partition_applied' ? 'partition applied' : 'partition healed');
    return;
  }
  if (!isFaultEvent(event)) {
    log.info({ event: event.kind, proxy: event.proxy }, event.kind === 'proxy_enabled' ? 'proxy enabled' : 'proxy disabled');
    return;
  }
  const { name, type, stream, toxicity, attributes } = event.fault;
  log.info(
    { event: event.kind, proxy: event.proxy, collection: event.collection, fault: name, type, stream, toxicity, attributes },
    `fault ${event.kind.slice('fault_'.length)}`,
  );
});

const server = await createProxyServer({
  ...(config.host === undefined ? {} : { host: config.host }),
  adminPort: config.adminPort ?? DEFAULT_ADMIN_PORT,
  seed: config.seed ?? 0,
  ...(config.token === undefined ? {} : { token: config.token }),
  proxies: config.proxies.map((proxy) => ({
    name: proxy.name,
    upstream: proxy.upstream,
    ...(proxy.mode === undefined ? {} : { mode: proxy.mode }),
    ...(proxy.listenPort === undefined ? {} : { listenPort: proxy.listenPort }),
  })),
  onError: (error) => log.error({ err: error }, 'admin API error'),
}).catch((error: unknown) => {
  if (error instanceof ChaosError) fail(`${CHAOS_CONFIG_ENV}: ${error.message}`, 2);
  const code = (error as { code?: string }).code;
  if (code === 'EADDRINUSE') fail(`${CHAOS_CONFIG_ENV}.adminPort: ${config.adminPort ?? DEFAULT_ADMIN_PORT} already in use`, 1);
  fail(`chaos failed to start: ${(error as Error).message}`, 1);
});

onShutdown(async (reason) => {
  log.info({ reason }, 'shutting down');
  await server.close();
  log.info('stopped');
});

const ports: Record<string, number> = { admin: server.adminPort };
for (const proxy of server.listProxies()) ports[proxy.name] = proxy.port;
log.info(
  { admin: server.adminUrl, proxies: server.listProxies().map((proxy) => ({ name: proxy.name, mode: proxy.mode, listen: proxy.listen, upstream: proxy.upstream })) },
  'chaos proxies listening',
);
announceReady(SERVICE, ports);
