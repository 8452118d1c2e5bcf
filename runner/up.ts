// What `faultline up` adds around the lab for a session by hand: its fixed
// ports checked before anything starts, monitoring links that work with the
// Prometheus and Alertmanager actually installed, background traffic from the
// project's own load generator (open model), and a record in faults.jsonl of
// every fault a person sets or clears through the admin APIs.

import { appendFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { issueToken } from '../demo-services/kit/jwt.ts';
import { runExecutor } from '../load/executors/index.ts';
import { createJourneyMix } from '../load/journeys/mix.ts';
import { createLoadMetrics, startLoadMetricsServer } from '../load/metrics.ts';
import { createLoadRecorder } from '../load/recorder.ts';
import { ERROR_CODE, FaultlineError } from './errors.ts';
import type { FaultRecord } from './fault-timeline.ts';
import type { Lab } from './lab.ts';
import type { Monitoring } from './monitoring.ts';

export interface FixedPort {
  /** What listens there, as the message names it (gateway, collector OTLP/gRPC...). */
  name: string;
  /** The flag that changes it (--gateway-port). */
  flag: string;
  port: number;
}

/** Whether `port` can be bound on `host` now. */
function bindable(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/**
 * Every fixed (non-zero) port `up` will bind, checked before anything starts: one line naming
 * each port in use and the flag that changes it. (A process could still take a port between
 * this check and its bind; that later failure is reported as before, with the lab stopped.)
 */
export async function checkPortsFree(ports: readonly FixedPort[], host = '127.0.0.1'): Promise<void> {
  const taken: FixedPort[] = [];
  for (const entry of ports) if (entry.port !== 0 && !(await bindable(host, entry.port))) taken.push(entry);
  if (taken.length === 0) return;
  const what = taken.map(({ name, flag, port }) => `${name}: port ${port} is already in use (change it with ${flag} <port>, or ${flag} 0 for any free port)`);
  throw new FaultlineError(ERROR_CODE.portInUse, what.join('; '));
}

export interface MonitoringLink {
  name: string;
  url: string;
}

/**
 * Links a person can open. Prometheus 3 serves its UI at /alerts; 2.x (Debian's 2.42) has the
 * classic pages under /classic, and Debian's build ships no React UI at all (/alerts is a 404),
 * so the version from /api/v1/status/buildinfo picks the page. Debian's Alertmanager package
 * has no web UI either (GET / is a 404): its API is what there is to open.
 */
export async function monitoringLinks(monitoring: Pick<Monitoring, 'prometheusUrl' | 'alertmanagerUrl' | 'alertsFile'>): Promise<MonitoringLink[]> {
  const version = await prometheusVersion(monitoring.prometheusUrl);
  const major = version === undefined ? undefined : Number(version.split('.')[0]);
  const page = major !== undefined && major < 3 ? '/classic/alerts' : '/alerts';
  const links: MonitoringLink[] = [{ name: `prometheus ${version ?? '(version unknown)'} (SLO rules at lab scale)`, url: `${monitoring.prometheusUrl}${page}` }];
  const ui = await fetch(`${monitoring.alertmanagerUrl}/`, { signal: AbortSignal.timeout(5_000) }).then(
    async (response) => {
      await response.body?.cancel();
      return response.ok;
    },
    () => false,
  );
  links.push(
    ui
      ? { name: 'alertmanager', url: monitoring.alertmanagerUrl }
      : { name: 'alertmanager (API only: this build has no web UI)', url: `${monitoring.alertmanagerUrl}/api/v2/alerts` },
  );
  links.push({ name: 'alerts of this session', url: monitoring.alertsFile });
  return links;
}

async function prometheusVersion(prometheusUrl: string): Promise<string | undefined> {
  try {
    const response = await fetch(`${prometheusUrl}/api/v1/status/buildinfo`, { signal: AbortSignal.timeout(5_000) });
    const body = (await response.json()) as { data?: { version?: unknown } };
    return typeof body.data?.version === 'string' ? body.data.version : undefined;
  } catch {
    return undefined;
  }
}

/** The journeys of `up --load`: mostly browsing, some carts, a few checkouts, as a shop sees them. */
export const BACKGROUND_JOURNEYS = { browse: 60, recommendations: 20, cart: 15, checkout: 5 } as const;

export interface BackgroundLoad {
  /** Load generator metrics (loadgen_*), for Prometheus. */
  metricsUrl: string;
  /** Journeys started so far. */
  started(): number;
  stop(): Promise<void>;
}

/**
 * Open-model background traffic until stopped: `rate` journeys a second started on schedule
 * whether or not earlier ones finished (constant-arrival-rate), whatever the shop's state.
 */
export async function startBackgroundLoad(lab: Pick<Lab, 'gatewayUrl' | 'authSecret'>, rate: number, options: { seed?: number; runId: string }): Promise<BackgroundLoad> {
  // Enough users to carry `rate` journeys a second of up to ~10 s each, and a bound on memory.
  const maxVUs = Math.max(10, Math.ceil(rate * 10));
  const tokens = await Promise.all(Array.from({ length: maxVUs + 1 }, (_, vu) => issueToken(lab.authSecret, `user-${vu}`, 7 * 24 * 3_600)));
  const loadMetrics = createLoadMetrics();
  const metricsServer = await startLoadMetricsServer({ metrics: loadMetrics });
  // Bounded: a session may last days; only the metrics keep counting.
  const recorder = loadMetrics.tee(createLoadRecorder({ maxSamples: 10_000 }));
  const journey = createJourneyMix({
    gatewayUrl: lab.gatewayUrl,
    journeys: { ...BACKGROUND_JOURNEYS },
    tokenFor: (vu) => tokens[vu] ?? (tokens[0] as string),
    recorder,
    seed: options.seed ?? 1,
    runId: options.runId,
  });
  const abort = new AbortController();
  let count = 0;
  const running = runExecutor(
    {
      executor: 'constant-arrival-rate',
      rate,
      timeUnit: 1_000,
      // A year: the session ends it, not the schedule.
      duration: 365 * 24 * 3_600_000,
      preAllocatedVUs: Math.min(maxVUs, Math.max(1, Math.ceil(rate))),
      maxVUs,
      gracefulStop: 1_000,
    },
    loadMetrics.instrumentIteration((ctx) => {
      count += 1;
      return journey(ctx);
    }),
    loadMetrics.instrumentRuntime({ signal: abort.signal, onDropped: (dropped) => recorder.recordDropped(dropped.intendedStartMs) }),
  ).catch(() => undefined);
  return {
    metricsUrl: `${metricsServer.url}/metrics`,
    started: () => count,
    async stop() {
      abort.abort();
      await running;
      await journey.close();
      await metricsServer.close();
    },
  };
}

/** How often the admin APIs are read for faults set by hand; a fault set and cleared within it is not seen. */
export const MANUAL_FAULT_POLL_MS = 500;

interface ActiveFault {
  fault: string;
  type: string;
  target: string;
}

/** Every fault active now: toxics and HTTP faults on the fault proxy, disabled proxies, partitions, and each instance's in-service faults. */
export async function activeFaults(lab: Pick<Lab, 'chaosAdminUrl' | 'processes' | 'adminUrl'>): Promise<Map<string, ActiveFault>> {
  const active = new Map<string, ActiveFault>();
  const get = async (url: string): Promise<unknown> => {
    const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    if (!response.ok) throw new Error(`${url}: ${response.status}`);
    return response.json();
  };
  type Listed = { name: string; type: string };
  const proxies = (await get(`${lab.chaosAdminUrl}/proxies`)) as Record<string, { enabled: boolean; toxics?: Listed[]; http_faults?: Listed[] }>;
  for (const [proxy, view] of Object.entries(proxies)) {
    for (const toxic of view.toxics ?? []) active.set(`toxic ${proxy} ${toxic.name}`, { fault: toxic.name, type: toxic.type, target: proxy });
    for (const fault of view.http_faults ?? []) active.set(`http ${proxy} ${fault.name}`, { fault: fault.name, type: fault.type, target: proxy });
    if (view.enabled === false) active.set(`down ${proxy}`, { fault: `${proxy}-down`, type: 'down', target: proxy });
  }
  const partitions = (await get(`${lab.chaosAdminUrl}/partitions`).catch(() => [])) as Array<{ name: string }>;
  for (const partition of Array.isArray(partitions) ? partitions : []) active.set(`partition ${partition.name}`, { fault: partition.name, type: 'partition', target: partition.name });
  await Promise.all(
    lab
      .processes()
      .filter((p) => p.ports.admin !== undefined)
      .map(async ({ name }) => {
        let url: string;
        try {
          url = `${lab.adminUrl(name)}/admin/faults`;
        } catch {
          return; // Not a shop instance (the fault proxy's admin port is its API, read above).
        }
        const listed = (await get(url).catch(() => ({ faults: [] }))) as { faults?: Listed[] };
        for (const fault of listed.faults ?? []) active.set(`process ${name} ${fault.name}`, { fault: fault.name, type: fault.type, target: name });
      }),
  );
  return active;
}

export interface ManualFaultRecorder {
  /** Read the APIs once more now (the poll does it every MANUAL_FAULT_POLL_MS). */
  poll(): Promise<void>;
  /** Stop reading, and record every fault still active as removed (call before the lab stops). */
  stop(): Promise<void>;
}

/**
 * Writes to `runDir`/faults.jsonl, in the scenario timeline's format, each fault a person sets
 * or clears while `up` runs, found by reading the admin APIs every MANUAL_FAULT_POLL_MS.
 */
export function recordManualFaults(lab: Pick<Lab, 'chaosAdminUrl' | 'processes' | 'adminUrl' | 'runDir'>, startedAt: number, now: () => number = Date.now): ManualFaultRecorder {
  const file = join(lab.runDir, 'faults.jsonl');
  let known = new Map<string, ActiveFault>();
  let chain = Promise.resolve();
  let stopped = false;
  const write = (action: FaultRecord['action'], fault: ActiveFault): string => {
    const record: FaultRecord & { source: string } = { time: new Date(now()).toISOString(), offsetMs: now() - startedAt, action, ...fault, ok: true, source: 'admin API' };
    return `${JSON.stringify(record)}\n`;
  };
  const once = async (): Promise<void> => {
    let current: Map<string, ActiveFault>;
    try {
      current = await activeFaults(lab);
    } catch {
      return; // The fault proxy is stopping or busy: the next poll sees what changed.
    }
    let lines = '';
    for (const [key, fault] of current) if (!known.has(key)) lines += write('apply', fault);
    for (const [key, fault] of known) if (!current.has(key)) lines += write('remove', fault);
    known = current;
    if (lines !== '') await appendFile(file, lines);
  };
  const poll = (): Promise<void> => (chain = chain.then(once));
  const timer = setInterval(() => {
    if (!stopped) void poll();
  }, MANUAL_FAULT_POLL_MS);
  timer.unref();
  return {
    poll,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await chain;
      // The lab's stop removes what is still active: its records end there.
      let lines = '';
      for (const fault of known.values()) lines += write('remove', fault);
      known = new Map();
      if (lines !== '') await appendFile(file, lines);
    },
  };
}
