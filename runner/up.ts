// What `faultline up` adds around the lab for a session by hand: its fixed
// ports checked before anything starts, monitoring links that work with the
// Prometheus and Alertmanager actually installed, background traffic from the
// project's own load generator (open model, its rate and journey mix turned
// live by a console without a restart), and a record in faults.jsonl of
// every fault a person sets or clears through the admin APIs.

import { appendFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { issueToken } from '../demo-services/kit/jwt.ts';
import { createAdjustableRate, runAdjustableArrivalRate } from '../load/executors/adjustable-arrival-rate.ts';
import { JourneyOptionsError } from '../load/journeys/definitions.ts';
import type { JourneyWeights } from '../load/journeys/definitions.ts';
import { createJourneyMix } from '../load/journeys/mix.ts';
import type { JourneyMix } from '../load/journeys/mix.ts';
import { createLoadMetrics, startLoadMetricsServer } from '../load/metrics.ts';
import { createLoadRecorder } from '../load/recorder.ts';
import type { LoadRecorder, TimeSeriesPoint } from '../load/recorder.ts';
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

/** The running Prometheus' version from its buildinfo API; undefined when it does not say. */
export async function prometheusVersion(prometheusUrl: string): Promise<string | undefined> {
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

/**
 * The most journeys a second background traffic may be set to. The generator runs on the
 * lab's two cores beside the services it loads: far beyond this it measures its own queueing
 * more than the shop's, and at 10 s a journey (a stalled shop, the request timeout) 500/s
 * already holds 5000 VUs, each with its token and connections.
 */
export const MAX_BACKGROUND_RATE = 500;

/** Where background traffic is now, for a console. */
export interface BackgroundLoadState {
  /** Journeys a second it is set to (0: paused). */
  rate: number;
  /** The journey mix new journeys pick from. */
  weights: JourneyWeights;
  started: number;
  /** Finished, successfully or not. */
  completed: number;
  /** Journeys that threw (cut off by stop(), or a bug): a journey whose request fails ends without throwing, see failedRequests. */
  failed: number;
  /** Not started because all VUs were busy (open model: never queued). */
  dropped: number;
  inFlight: number;
  requests: number;
  /** Requests answered with an unexpected status, a failed check, or no answer. */
  failedRequests: number;
  /** False once stop() was called. */
  running: boolean;
}

export interface BackgroundLoad {
  /** Load generator metrics (loadgen_*, with loadgen_target_rate), for Prometheus. */
  metricsUrl: string;
  /** Journeys started so far. */
  started(): number;
  /** Journeys a second from now on, without a restart: the next arrival is scheduled from the new rate at once; 0 pauses (the VUs stay). Throws FaultlineError FL_BAD_OPTION. */
  setRate(rate: number): void;
  /** Weights of the journeys that start from now on, e.g. { browse: 1, checkout: 1 }; throws FaultlineError FL_BAD_OPTION naming each bad key. */
  setMix(weights: JourneyWeights): void;
  state(): BackgroundLoadState;
  /** What its users saw in the last `seconds` seconds, per second of intended start (the report's requests and latency figures), oldest first. */
  recentSeconds(seconds: number): TimeSeriesPoint[];
  stop(): Promise<void>;
}

/** What is wrong with a background rate, or undefined. */
function backgroundRateProblem(rate: unknown): string | undefined {
  if (typeof rate !== 'number' || !Number.isFinite(rate) || rate < 0) return `rate: must be a finite number of journeys a second >= 0 (got ${String(rate)})`;
  if (rate > MAX_BACKGROUND_RATE) return `rate: at most ${MAX_BACKGROUND_RATE} journeys a second, the generator shares the lab's cores with the shop (got ${rate})`;
  return undefined;
}

/** VUs to carry `rate` journeys a second of up to ~10 s each. */
const vusFor = (rate: number): number => Math.max(10, Math.ceil(rate * 10));

/**
 * Open-model background traffic until stopped: `rate` journeys a second (0: paused until
 * setRate) started on schedule whether or not earlier ones finished (adjustable-arrival-rate),
 * whatever the shop's state; rate and journey mix change live through the returned controller.
 */
export async function startBackgroundLoad(
  lab: Pick<Lab, 'gatewayUrl' | 'authSecret'>,
  rate: number,
  options: { seed?: number; runId: string; journeys?: JourneyWeights },
): Promise<BackgroundLoad> {
  const badRate = backgroundRateProblem(rate);
  if (badRate !== undefined) throw new FaultlineError(ERROR_CODE.badOption, `background load ${badRate}`);
  const maxVUs = vusFor(MAX_BACKGROUND_RATE);
  // One user per VU. Tokens for the rate asked now; more are signed when the rate goes up
  // (meanwhile a new VU borrows an existing user), so a start at 1/s does not sign 5000.
  const tokens: string[] = [];
  let signing = Promise.resolve();
  const signTokens = (vus: number): Promise<void> =>
    (signing = signing
      .then(async () => {
        const from = tokens.length;
        const more = await Promise.all(Array.from({ length: Math.max(0, vus + 1 - from) }, (_, i) => issueToken(lab.authSecret, `user-${from + i}`, 7 * 24 * 3_600)));
        tokens.push(...more);
      })
      .catch(() => undefined));
  await signTokens(vusFor(rate));
  const loadMetrics = createLoadMetrics();
  const metricsServer = await startLoadMetricsServer({ metrics: loadMetrics });
  const counts = { started: 0, completed: 0, failed: 0, dropped: 0, requests: 0, failedRequests: 0 };
  // Bounded: a session may last days; only the metrics and counts keep counting. Ten minutes of
  // per-second figures, as the console's charts show (unbounded: +10 MiB an hour at 25/s).
  const teed = loadMetrics.tee(createLoadRecorder({ maxSamples: 10_000, maxSeconds: 600 }));
  const recorder: LoadRecorder = {
    ...teed,
    record(sample) {
      counts.requests += 1;
      if (!sample.ok) counts.failedRequests += 1;
      teed.record(sample);
    },
  };
  let journey: JourneyMix;
  try {
    journey = createJourneyMix({
      gatewayUrl: lab.gatewayUrl,
      journeys: { ...(options.journeys ?? BACKGROUND_JOURNEYS) },
      tokenFor: (vu) => tokens[vu] ?? (tokens[vu % tokens.length] as string),
      recorder,
      seed: options.seed ?? 1,
      runId: options.runId,
    });
  } catch (error) {
    await metricsServer.close();
    throw error instanceof JourneyOptionsError ? new FaultlineError(ERROR_CODE.badOption, `background load ${error.problems.join('; ')}`) : error;
  }
  const target = createAdjustableRate(rate);
  loadMetrics.setTargetRate(rate);
  const abort = new AbortController();
  let running = true;
  const done = runAdjustableArrivalRate(
    { rate: target, timeUnit: 1_000, preAllocatedVUs: Math.min(maxVUs, Math.max(1, Math.ceil(rate))), maxVUs, gracefulStop: 1_000 },
    loadMetrics.instrumentIteration(async (ctx) => {
      counts.started += 1;
      try {
        await journey(ctx);
      } catch (error) {
        counts.failed += 1;
        throw error;
      } finally {
        counts.completed += 1;
      }
    }),
    loadMetrics.instrumentRuntime({
      signal: abort.signal,
      onDropped: (dropped) => {
        counts.dropped += 1;
        recorder.recordDropped(dropped.intendedStartMs);
      },
    }),
  ).catch(() => undefined);
  const live = (): void => {
    if (!running) throw new FaultlineError(ERROR_CODE.badOption, 'background load is stopped');
  };
  return {
    metricsUrl: `${metricsServer.url}/metrics`,
    started: () => counts.started,
    setRate(next) {
      live();
      const problem = backgroundRateProblem(next);
      if (problem !== undefined) throw new FaultlineError(ERROR_CODE.badOption, `background load ${problem}`);
      target.set(next);
      loadMetrics.setTargetRate(next);
      void signTokens(vusFor(next));
    },
    setMix(weights) {
      live();
      try {
        journey.setWeights(weights);
      } catch (error) {
        if (error instanceof JourneyOptionsError) throw new FaultlineError(ERROR_CODE.badOption, `background load ${error.problems.join('; ')}`);
        throw error;
      }
    },
    state: () => ({
      rate: target.get(),
      weights: journey.weights(),
      ...counts,
      inFlight: counts.started - counts.completed,
      running,
    }),
    recentSeconds: (seconds) => teed.timeSeries(Math.floor(Date.now() / 1_000) - seconds),
    async stop() {
      if (!running) return;
      running = false;
      abort.abort();
      await done;
      await signing;
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
 * `skip`: faults recorded elsewhere (the live console's own, runner/console/fault-board.ts `owns`), left out.
 */
export function recordManualFaults(
  lab: Pick<Lab, 'chaosAdminUrl' | 'processes' | 'adminUrl' | 'runDir'>,
  startedAt: number,
  now: () => number = Date.now,
  skip?: (fault: ActiveFault) => boolean,
): ManualFaultRecorder {
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
    if (skip) for (const [key, fault] of current) if (skip(fault)) current.delete(key);
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
