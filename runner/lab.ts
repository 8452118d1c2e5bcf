// Starts the whole local lab: the embedded collector, the services of the
// topology (each its own Node process with telemetry preloaded), and the fault
// proxy in front of every proxied edge. Ports are whatever the processes
// bind (0 in tests and runs, fixed defaults for `up`).

import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ServiceConfig } from '../demo-services/kit/config.ts';
import { SERVICE_CONFIG_ENV } from '../demo-services/kit/config.ts';
import { createSupervisor, type ManagedProcess, type Supervisor } from './supervisor.ts';
import type { DiskCaps } from './disk-caps.ts';
import { removeRunLock, writeRunLock } from './run-lock.ts';
import { ERROR_CODE, FaultlineError } from './errors.ts';
import { createChaosClient } from '../chaos/admin-client.ts';
import type { ScrapeTarget } from './monitoring.ts';
import { ENTRY_SERVICE, SERVICES, instanceNames, proxyName, serviceNode, servicesFor, startLevels } from './topology.ts';

export interface LabOptions {
  runDir: string;
  /** caller -> dependency -> policy, as the scenario gives them. */
  policies?: Record<string, Record<string, unknown>>;
  /** The gateway's policies (auth, rate limit, shedding...); the lab fills in the auth secret. */
  gateway?: Record<string, unknown>;
  /** HS256 secret for the gateway's bearer auth; a random one per lab when absent. */
  authSecret?: string;
  seed?: number;
  host?: string;
  ports?: { gateway?: number; collectorGrpc?: number; collectorOtlpHttp?: number; collectorHttp?: number; chaosAdmin?: number };
  /** Services the lab must serve (it adds what they call); every service when absent. */
  services?: readonly string[];
  /** Telemetry off in every service (the benchmark baseline). */
  telemetry?: boolean;
  /** Size caps on the collector's files and the processes' logs (`up`); none keeps everything. */
  diskCaps?: DiskCaps;
  /**
   * Ctrl-C: an abort while the lab starts stops what has started (all at once, each within
   * INTERRUPTED_START_GRACE_MS) and rejects with FL_INTERRUPTED; after the start it does nothing.
   */
  signal?: AbortSignal;
}

/**
 * How long a process cut off in its start-up gets between SIGTERM and SIGKILL. It has no
 * request, saga or span of the session to finish yet, so a second is plenty; all are stopped at
 * once, so the whole stop takes about this long, and a Ctrl-C during start-up ends within 2 s.
 */
export const INTERRUPTED_START_GRACE_MS = 1_000;

export interface Lab {
  runDir: string;
  /** Secret the gateway verifies bearer tokens with (see demo-services/kit/jwt.ts issueToken). */
  authSecret: string;
  gatewayUrl: string;
  chaosAdminUrl: string;
  collector: { grpcPort: number; otlpHttpPort: number; httpPort: number };
  /** Every /metrics endpoint of the lab, labelled job = service and instance = instance id. */
  scrapeTargets(): ScrapeTarget[];
  /** Every endpoint a person might open, for `up` to print. */
  urls: Array<{ name: string; url: string }>;
  serviceUrl(name: string): string;
  /** Base URL of a service's (or instance's) admin listener: /admin/faults, /admin/behaviour, /admin/books. Loopback only. */
  adminUrl(name: string): string;
  proxyPort(proxy: string): number;
  supervisor: Supervisor;
  processes(): ManagedProcess[];
  /** Process faults on one instance (`payment-1`, `bank`): crash, pause, resume. */
  signalInstance(instance: string, signal: 'SIGKILL' | 'SIGSTOP' | 'SIGCONT'): void;
  /** Start an instance again on its old port (after a crash, or stopping it cleanly first), so its proxies find it. */
  restartInstance(instance: string): Promise<void>;
  stop(): Promise<void>;
}

const SERVICE_NODE_ARGS = ['--import', './demo-services/kit/instrument.ts'];

/**
 * A larger young generation for the services every read passes through. Each
 * request leaves spans behind that die young; with the lab's 2 MB semi-spaces
 * (supervisor.ts) the gateway and the catalog scavenge so often that garbage
 * collection was the largest item of their telemetry cost (CPU profiles,
 * docs/benchmarks.md). With 8 MB the traced read path keeps 0.72 of its
 * untraced throughput instead of 0.64 (bench/instrumentation-cost.ts, same
 * rounds), for about 10 MiB more per process (bench/lab-up-memory.ts); the
 * other services see a fraction of the traffic and keep the small one.
 */
const HOT_PATH_NODE_FLAGS: Readonly<Partial<Record<string, readonly string[]>>> = {
  [ENTRY_SERVICE]: ['--max-semi-space-size=8'],
  catalog: ['--max-semi-space-size=8'],
};

/** Node flags of a service's instances: its own V8 flags (they follow the supervisor's, so they win), then the telemetry preload. */
function serviceNodeArgs(service: string): string[] {
  return [...(HOT_PATH_NODE_FLAGS[service] ?? []), ...SERVICE_NODE_ARGS];
}

export async function startLab(options: LabOptions): Promise<Lab> {
  const host = options.host ?? '127.0.0.1';
  const ports = options.ports ?? {};
  const supervisor = createSupervisor({
    logDir: join(options.runDir, 'logs'),
    ...(options.diskCaps?.processLogs ? { logRotation: options.diskCaps.processLogs } : {}),
  });
  // Marks the run as in progress, so `faultline runs prune` leaves it alone; removed by stop().
  await mkdir(options.runDir, { recursive: true });
  const lockFile = await writeRunLock(options.runDir);
  /** First instance of each service (what a person opens), and every instance by id. */
  const serviceUrls = new Map<string, string>();
  const instanceUrls = new Map<string, string>();
  const instanceAdminUrls = new Map<string, string>();
  const authSecret = options.authSecret ?? randomBytes(32).toString('base64url');
  const proxyPorts: Record<string, number> = {};
  const signal = options.signal;
  /** A step of the start-up, given up at once on abort (its own failure, if any, is then of no interest). */
  const step = <T>(promise: Promise<T>): Promise<T> => {
    if (!signal) return promise;
    promise.catch(() => undefined);
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => reject(new FaultlineError(ERROR_CODE.interrupted, interruptedMessage(signal)));
      if (signal.aborted) onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  };
  try {
    // The collector and the (empty) fault proxy depend on nothing: start them together.
    // The fault proxy gets each edge's listener through the admin API (as a
    // Toxiproxy user would) once the edge's upstream is up and before its caller starts.
    const [collectorStart, chaosStart] = await step(Promise.allSettled([
      supervisor.start({
        name: 'collector',
        entry: 'collector/main.ts',
        env: {
          FAULTLINE_COLLECTOR_CONFIG: JSON.stringify({
            host,
            grpcPort: ports.collectorGrpc ?? 0,
            otlpHttpPort: ports.collectorOtlpHttp ?? 0,
            httpPort: ports.collectorHttp ?? 0,
            runDir: options.runDir,
            ...(options.diskCaps?.telemetry ? { rotation: options.diskCaps.telemetry } : {}),
          }),
        },
      }),
      supervisor.start({
        name: 'chaos',
        entry: 'chaos/main.ts',
        env: { FAULTLINE_CHAOS_CONFIG: JSON.stringify({ host, adminPort: ports.chaosAdmin ?? 0, seed: options.seed ?? 1, proxies: [] }) },
      }),
    ]));
    if (collectorStart.status === 'rejected') throw collectorStart.reason;
    if (chaosStart.status === 'rejected') throw chaosStart.reason;
    const collector = collectorStart.value;
    const chaos = chaosStart.value;
    const otlpEndpoint = `http://${host}:${collector.ports.grpc}`;
    const chaosAdminUrl = `http://${host}:${chaos.ports.admin}`;

    const dataDir = join(options.runDir, 'data');
    await mkdir(dataDir, { recursive: true });

    const included = servicesFor(options.services ?? SERVICES.map((service) => service.name));
    const callsOf = (name: string) => serviceNode(name).calls.filter((call) => included.has(call.service));

    const instancePorts = new Map<string, number>();
    /** gRPC ports by instance, for services that announce one (the upstream of a `tcp` edge; kept across restarts). */
    const instanceGrpcPorts = new Map<string, number>();
    const serviceOf = new Map<string, string>();
    const startInstance = async (name: string, instance: string): Promise<void> => {
      const dependencies: Record<string, string | string[]> = {};
      for (const call of callsOf(name)) {
        const urls = instanceNames(call.service).map((_, i) => `http://${host}:${proxyPorts[proxyName(name, call.service, i + 1)]}`);
        dependencies[call.service] = urls.length === 1 ? (urls[0] as string) : urls;
      }
      const config: ServiceConfig = {
        name,
        instance,
        host,
        port: instancePorts.get(instance) ?? (name === ENTRY_SERVICE ? (ports.gateway ?? 0) : 0),
        otlpEndpoint,
        telemetry: options.telemetry ?? true,
        dependencies,
        policies: {
          ...(options.policies?.[name] ?? {}),
          // Services that keep books write them under the run, so `faultline check` can read them after;
          // a scenario's database settings (the catalog's read latency) go beside the file, not over it.
          database: { ...(options.policies?.[name]?.database as object | undefined), path: join(dataDir, `${instance}.sqlite`) },
          ...(name === ENTRY_SERVICE ? { gateway: withSecret(options.gateway ?? {}, authSecret) } : {}),
          ...(instanceGrpcPorts.has(instance) ? { grpc: { port: instanceGrpcPorts.get(instance) } } : {}),
        },
        logLevel: 'info',
      };
      const started = await supervisor.start({
        name: instance,
        entry: `demo-services/${name}/main.ts`,
        nodeArgs: serviceNodeArgs(name),
        env: { [SERVICE_CONFIG_ENV]: JSON.stringify(config), FAULTLINE_SEED: String(options.seed ?? 1) },
      });
      instanceUrls.set(instance, `http://${host}:${started.ports.http}`);
      instancePorts.set(instance, started.ports.http as number);
      if (started.ports.admin !== undefined) instanceAdminUrls.set(instance, `http://${host}:${started.ports.admin}`);
      if (started.ports.grpc !== undefined) instanceGrpcPorts.set(instance, started.ports.grpc);
      serviceOf.set(instance, name);
    };

    const chaosClient = createChaosClient(chaosAdminUrl);
    // Level by level: everything a service calls is up, and its proxies exist, before it starts.
    for (const level of startLevels().map((names) => names.filter((name) => included.has(name)))) {
      for (const name of level) {
        for (const call of callsOf(name)) {
          const targets = instanceNames(call.service);
          for (const [i, target] of targets.entries()) {
            const proxy = proxyName(name, call.service, i + 1);
            // A tcp edge is a gRPC hop: its upstream is the instance's gRPC port.
            const grpcPort = instanceGrpcPorts.get(target);
            if (call.mode === 'tcp' && grpcPort === undefined) throw new Error(`${name}->${call.service} is a tcp edge, but ${target} announced no grpc port`);
            const upstream = call.mode === 'tcp' ? `${host}:${grpcPort}` : (instanceUrls.get(target) as string);
            const created = await step(chaosClient.createProxy({ name: proxy, upstream, listen: `${host}:0`, mode: call.mode }));
            proxyPorts[proxy] = Number(created.listen.split(':').pop());
          }
        }
      }
      await step(Promise.all(level.flatMap((name) => instanceNames(name).map((instance) => startInstance(name, instance)))));
    }
    for (const name of included) serviceUrls.set(name, instanceUrls.get(instanceNames(name)[0] as string) as string);

    const gatewayUrl = serviceUrls.get(ENTRY_SERVICE) as string;
    // Who was started, so that a person (or a test) can check that none is left behind.
    await writeFile(
      join(options.runDir, 'processes.json'),
      `${JSON.stringify(supervisor.processes().map(({ name, pid, ports }) => ({ name, pid, ports })), null, 2)}\n`,
    );
    const urls = [
      { name: 'gateway (shop API)', url: `${gatewayUrl}/api/checkout` },
      ...[...instanceUrls].map(([name, url]) => ({ name: `${name} metrics`, url: `${url}/metrics` })),
      ...[...instanceAdminUrls].map(([name, url]) => ({ name: `${name} faults (admin, loopback)`, url: `${url}/admin/faults` })),
      { name: 'fault proxy admin (Toxiproxy API)', url: `${chaosAdminUrl}/proxies` },
      { name: 'collector OTLP/gRPC', url: otlpEndpoint },
      { name: 'collector OTLP/HTTP', url: `http://${host}:${collector.ports.otlpHttp}` },
      { name: 'collector metrics', url: `http://${host}:${collector.ports.http}/metrics` },
      { name: 'traces of this run', url: join(options.runDir, 'traces.jsonl') },
      { name: 'logs of this run (OTLP)', url: join(options.runDir, 'logs.jsonl') },
    ];
    return {
      runDir: options.runDir,
      authSecret,
      gatewayUrl,
      chaosAdminUrl,
      collector: { grpcPort: collector.ports.grpc as number, otlpHttpPort: collector.ports.otlpHttp as number, httpPort: collector.ports.http as number },
      urls,
      scrapeTargets: () => [
        ...[...instanceUrls].map(([instance, url]) => ({ job: serviceOf.get(instance) as string, instance, address: new URL(url).host })),
        { job: 'collector', instance: 'collector', address: `${host}:${collector.ports.http}` },
        { job: 'chaos', instance: 'chaos', address: `${host}:${chaos.ports.admin}` },
      ],
      serviceUrl: (name) => {
        const url = serviceUrls.get(name) ?? instanceUrls.get(name);
        if (!url) throw new Error(`no service named ${name}`);
        return url;
      },
      adminUrl: (name) => {
        // Looked up on each call: a restarted instance binds a new admin port.
        const url = instanceAdminUrls.get(name) ?? (serviceOf.has(name) ? undefined : instanceAdminUrls.get(`${name}-1`));
        if (!url) throw new Error(`no service named ${name}`);
        return url;
      },
      proxyPort: (proxy) => {
        const port = proxyPorts[proxy];
        if (port === undefined) throw new Error(`no proxy named ${proxy}`);
        return port;
      },
      supervisor,
      processes: () => supervisor.processes(),
      signalInstance: (instance, signal) => supervisor.signal(instance, signal),
      async restartInstance(instance) {
        const name = serviceOf.get(instance);
        if (!name) throw new Error(`no instance named ${instance}`);
        if (supervisor.processes().some((p) => p.name === instance)) await supervisor.stop(instance);
        await startInstance(name, instance);
      },
      stop: async () => {
        await supervisor.stopAll();
        await removeRunLock(lockFile);
      },
    };
  } catch (error) {
    // A child killed by the terminal's Ctrl-C can be seen before our own SIGINT is.
    const interruptedByChild = error instanceof FaultlineError && error.code === ERROR_CODE.interrupted;
    if (signal?.aborted || interruptedByChild) {
      await supervisor.stopAll(INTERRUPTED_START_GRACE_MS, { together: true });
      await removeRunLock(lockFile);
      // Whatever failed once the abort began (a process killed by the same Ctrl-C) is the interruption.
      throw new FaultlineError(ERROR_CODE.interrupted, signal ? interruptedMessage(signal) : 'interrupted during start-up; lab stopped');
    }
    await supervisor.stopAll();
    await removeRunLock(lockFile);
    if (signal?.aborted) throw new FaultlineError(ERROR_CODE.interrupted, interruptedMessage(signal));
    throw error;
  }
}

/** What a start-up cut short says, once everything it started is stopped. */
function interruptedMessage(signal: AbortSignal): string {
  return `${signal.reason instanceof Error ? signal.reason.message : 'interrupted'} during start-up; lab stopped`;
}

function withSecret(gateway: Record<string, unknown>, secret: string): Record<string, unknown> {
  const auth = (gateway.auth ?? {}) as Record<string, unknown>;
  return { ...gateway, auth: { ...auth, secret: auth.secret ?? secret } };
}
