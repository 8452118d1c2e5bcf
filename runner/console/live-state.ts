// What the console shows, once a second: the topology with each edge's rate,
// error ratio, p95 and breaker state, every instance's state, each SLO's burn
// rate per window against its alert thresholds, and the alerts. One sampler
// serves every open tab (ten tabs cost what one does), and it queries only
// while a tab is open. Numbers come from the lab's Prometheus, the same
// series the SLO rules, the dashboards and the report read, by the names in
// conventions.ts.

import type { TimeSeriesPoint } from '../../load/recorder.ts';
import { LABEL, METRIC, RPC_LABEL, RPC_METRIC } from '../../demo-services/kit/conventions.ts';
import type { AlertEvent } from '../alert-webhook.ts';
import type { PrometheusQueries, PrometheusSample } from '../monitoring.ts';
import { SERVICES, instanceNames } from '../topology.ts';

/** The rate window of the live figures: five scrapes at the lab's 1 s interval, so one late scrape does not zero a rate. */
export const LIVE_WINDOW = '5s';

export interface EdgeFigures {
  caller: string;
  dependency: string;
  /** Calls (attempts) a second. */
  rate: number;
  /** Share of calls that failed (an error_type was recorded). */
  errorRatio: number;
  p95Ms: number | null;
  retriesPerSecond: number;
  /** The caller's breaker on this dependency, when it has one. */
  breaker?: string;
  /** Instances of the dependency the caller's balancer has ejected. */
  ejected: string[];
}

export interface ServiceFigures {
  name: string;
  rate: number;
  errorRatio: number;
  p95Ms: number | null;
  instances: Array<{ id: string; state: 'up' | 'paused' | 'down' }>;
}

export interface SloWindow {
  window: string;
  /** Error ratio over the window divided by the error budget (1 = spending exactly the budget). */
  burnRate: number | null;
}

export interface SloFigures {
  id: string;
  service: string;
  objective: number | null;
  /** Share of the period's budget left (1 = untouched, below 0 = overspent). */
  budgetLeft: number | null;
  windows: SloWindow[];
  /** The alert tiers: a tier fires when both its windows burn faster than its factor. */
  tiers: Array<{ tier: string; severity: string; factor: number; longWindow: string; shortWindow: string; burning: boolean }>;
}

export interface AlertFigures {
  name: string;
  state: string;
  severity: string;
  labels: Record<string, string>;
  since: number | null;
}

export interface LiveFigures {
  timeMs: number;
  /** False when the lab has no Prometheus: the page says what to install. */
  monitoring: boolean;
  /** What went wrong reading Prometheus this tick, if anything. */
  problem?: string;
  services: ServiceFigures[];
  edges: EdgeFigures[];
  slos: SloFigures[];
  alerts: AlertFigures[];
  /** Alert notifications Alertmanager delivered this session, newest first (firing and resolved). */
  notifications: Array<{ name: string; status: string; severity: string; at: number }>;
  /**
   * What the background load's users saw, the report's "Requests by outcome" and "Latency from
   * the intended start", for the last few seconds of intended start: a second's figures grow
   * until its slowest request ends, so each reading sends the recent ones again.
   */
  load?: LoadSecond[];
}

/** One second of intended start as the load generator saw it: the report's fields of load/recorder.ts's TimeSeriesPoint. */
export type LoadSecond = Pick<TimeSeriesPoint, 't' | 'ok' | 'failed' | 'dropped' | 'p50' | 'p95' | 'p99'>;

const CLIENT_COUNTS = `{__name__=~"${METRIC.httpClientDuration}_count|${RPC_METRIC.clientCallDuration}_count"}`;
const CLIENT_ERRORS = `{__name__=~"${METRIC.httpClientDuration}_count|${RPC_METRIC.clientCallDuration}_count",${LABEL.errorType}!=""}`;
const CLIENT_BUCKETS = `{__name__=~"${METRIC.httpClientDuration}_bucket|${RPC_METRIC.clientCallDuration}_bucket"}`;
const SERVER = `${METRIC.httpServerDuration}`;
const NOT_PROBES = `${LABEL.route}!~"/healthz|/readyz|/metrics"`;

/** The PromQL of each live figure; exported so a test can check each parses and names real series. */
export const LIVE_QUERIES = {
  edgeRate: `sum by (job, ${LABEL.serverAddress}) (rate(${CLIENT_COUNTS}[${LIVE_WINDOW}]))`,
  edgeErrors: `sum by (job, ${LABEL.serverAddress}) (rate(${CLIENT_ERRORS}[${LIVE_WINDOW}]))`,
  edgeP95: `histogram_quantile(0.95, sum by (job, ${LABEL.serverAddress}, le) (rate(${CLIENT_BUCKETS}[${LIVE_WINDOW}])))`,
  retries: `sum by (job, ${LABEL.dependency}) (rate(${METRIC.resilienceRetries}[${LIVE_WINDOW}]))`,
  breakers: `max by (job, ${LABEL.dependency}, ${LABEL.state}) (${METRIC.resilienceCircuitState}) == 1`,
  ejected: `max by (job, ${LABEL.dependency}, ${RPC_LABEL.endpoint}) (${RPC_METRIC.balancerEjected}) == 1`,
  serviceRate: `sum by (job) (rate(${SERVER}_count{${NOT_PROBES}}[${LIVE_WINDOW}]))`,
  serviceErrors: `sum by (job) (rate(${SERVER}_count{${NOT_PROBES},${LABEL.status}=~"5.."}[${LIVE_WINDOW}]))`,
  serviceP95: `histogram_quantile(0.95, sum by (job, le) (rate(${SERVER}_bucket{${NOT_PROBES}}[${LIVE_WINDOW}])))`,
  sloErrorRatios: `{__name__=~"slo:sli_error:ratio_rate.+"}`,
  sloBudget: 'slo:error_budget:ratio',
  sloObjective: 'slo:objective:ratio',
  sloBudgetLeft: 'slo:period_error_budget_remaining:ratio',
  alerts: 'ALERTS',
} as const;

/** The label that tells the figures of LIVE_QUERY apart. */
export const FIGURE_LABEL = 'console_figure';

/**
 * Every live figure in one query: each of LIVE_QUERIES tagged with its name and joined with `or`.
 * Prometheus spends 2-3 ms of CPU on a query whatever it returns, so fourteen queries a second
 * cost more than the 3% of a core the console may take (docs/benchmarks.md); one costs a seventh.
 */
export const LIVE_QUERY = Object.entries(LIVE_QUERIES)
  .map(([name, expr]) => `label_replace(${expr}, "${FIGURE_LABEL}", "${name}", "", "")`)
  .join(' or ');

export interface AlertRuleTier {
  sloId: string;
  tier: string;
  severity: string;
  factor: number;
  longWindow: string;
  shortWindow: string;
}

export interface LiveSources {
  prometheus?: PrometheusQueries;
  /** The SLO alert rules Prometheus evaluates (their tiers, factors and windows). */
  alertRules?: () => Promise<AlertRuleTier[]>;
  /** Notifications Alertmanager sent to the session's webhook. */
  notifications?: () => AlertEvent[];
  /** Lab processes running now, by name. */
  runningProcesses: () => Set<string>;
  /** Instances a fault has paused (SIGSTOP). */
  pausedInstances: () => Set<string>;
  now?: () => number;
}

const finite = (value: number | undefined): number | null => (value === undefined || !Number.isFinite(value) ? null : value);

/** Sloth windows in the order a person reads them, short to long. */
const WINDOW_ORDER = ['5m', '30m', '1h', '2h', '6h', '1d', '3d', '30d'];

/** One reading of every live figure. */
export async function readLiveFigures(sources: LiveSources): Promise<LiveFigures> {
  const now = (sources.now ?? Date.now)();
  const running = sources.runningProcesses();
  const paused = sources.pausedInstances();
  const services: ServiceFigures[] = SERVICES.map((node) => ({
    name: node.name,
    rate: 0,
    errorRatio: 0,
    p95Ms: null,
    instances: instanceNames(node.name).map((id) => ({ id, state: !running.has(id) ? 'down' : paused.has(id) ? 'paused' : 'up' })),
  }));
  const edges: EdgeFigures[] = SERVICES.flatMap((node) => node.calls.map((call) => ({ caller: node.name, dependency: call.service, rate: 0, errorRatio: 0, p95Ms: null, retriesPerSecond: 0, ejected: [] })));
  const notifications = (sources.notifications?.() ?? [])
    .slice(-50)
    .reverse()
    .map((event) => ({ name: event.alertname, status: event.status, severity: event.labels.sloth_severity ?? event.labels.severity ?? '', at: event.receivedAt }));
  const figures: LiveFigures = { timeMs: now, monitoring: sources.prometheus !== undefined, services, edges, slos: [], alerts: [], notifications };
  const prometheus = sources.prometheus;
  if (!prometheus) return figures;

  let samples: PrometheusSample[];
  let tiers: AlertRuleTier[];
  try {
    [samples, tiers] = await Promise.all([prometheus.query(LIVE_QUERY, now), sources.alertRules?.() ?? Promise.resolve([])]);
  } catch (error) {
    figures.problem = `Prometheus: ${(error as Error).message}`;
    return figures;
  }
  const byFigure = new Map<string, PrometheusSample[]>();
  for (const sample of samples) {
    const name = sample.labels[FIGURE_LABEL];
    if (name !== undefined) byFigure.set(name, [...(byFigure.get(name) ?? []), sample]);
  }
  const figure = (name: keyof typeof LIVE_QUERIES): PrometheusSample[] => byFigure.get(name) ?? [];
  const edgeRate = figure('edgeRate');
  const edgeErrors = figure('edgeErrors');
  const edgeP95 = figure('edgeP95');
  const retries = figure('retries');
  const breakers = figure('breakers');
  const ejected = figure('ejected');
  const serviceRate = figure('serviceRate');
  const serviceErrors = figure('serviceErrors');
  const serviceP95 = figure('serviceP95');
  const sloRatios = figure('sloErrorRatios');
  const sloBudget = figure('sloBudget');
  const sloObjective = figure('sloObjective');
  const sloBudgetLeft = figure('sloBudgetLeft');
  const alerts = figure('alerts');
  const edgeOf = (caller: string | undefined, dependency: string | undefined) => edges.find((e) => e.caller === caller && e.dependency === dependency);
  for (const s of edgeRate) {
    const edge = edgeOf(s.labels.job, s.labels[LABEL.serverAddress]);
    if (edge) edge.rate = s.value;
  }
  for (const s of edgeErrors) {
    const edge = edgeOf(s.labels.job, s.labels[LABEL.serverAddress]);
    if (edge && edge.rate > 0) edge.errorRatio = Math.min(1, s.value / edge.rate);
  }
  for (const s of edgeP95) {
    const edge = edgeOf(s.labels.job, s.labels[LABEL.serverAddress]);
    if (edge) edge.p95Ms = finite(s.value * 1_000);
  }
  for (const s of retries) {
    const edge = edgeOf(s.labels.job, s.labels[LABEL.dependency]);
    if (edge) edge.retriesPerSecond = s.value;
  }
  for (const s of breakers) {
    const edge = edgeOf(s.labels.job, s.labels[LABEL.dependency]);
    if (edge && s.labels[LABEL.state] !== undefined) edge.breaker = s.labels[LABEL.state];
  }
  for (const s of ejected) {
    const edge = edgeOf(s.labels.job, s.labels[LABEL.dependency]);
    const endpoint = s.labels[RPC_LABEL.endpoint];
    if (edge && endpoint !== undefined) edge.ejected.push(endpoint);
  }
  const serviceOf = (job: string | undefined) => services.find((s) => s.name === job);
  for (const s of serviceRate) {
    const service = serviceOf(s.labels.job);
    if (service) service.rate = s.value;
  }
  for (const s of serviceErrors) {
    const service = serviceOf(s.labels.job);
    if (service && service.rate > 0) service.errorRatio = Math.min(1, s.value / service.rate);
  }
  for (const s of serviceP95) {
    const service = serviceOf(s.labels.job);
    if (service) service.p95Ms = finite(s.value * 1_000);
  }

  const sloIds = new Set([...sloBudget, ...sloObjective].map((s) => s.labels.sloth_id).filter((id): id is string => id !== undefined));
  for (const id of [...sloIds].sort()) {
    const budget = sloBudget.find((s) => s.labels.sloth_id === id)?.value;
    const byWindow = new Map<string, number | null>();
    for (const s of sloRatios) {
      if (s.labels.sloth_id !== id) continue;
      const window = s.labels.sloth_window ?? s.labels.__name__?.replace('slo:sli_error:ratio_rate', '');
      if (window === undefined) continue;
      byWindow.set(window, budget !== undefined && budget > 0 ? finite(s.value / budget) : null);
    }
    const windows = [...byWindow.entries()].sort((a, b) => WINDOW_ORDER.indexOf(a[0]) - WINDOW_ORDER.indexOf(b[0])).map(([window, burnRate]) => ({ window, burnRate }));
    const burn = (window: string) => byWindow.get(window) ?? null;
    figures.slos.push({
      id,
      service: sloObjective.find((s) => s.labels.sloth_id === id)?.labels.sloth_service ?? '',
      objective: finite(sloObjective.find((s) => s.labels.sloth_id === id)?.value),
      budgetLeft: finite(sloBudgetLeft.find((s) => s.labels.sloth_id === id)?.value),
      windows,
      tiers: tiers
        .filter((t) => t.sloId === id)
        .map((t) => ({
          tier: t.tier,
          severity: t.severity,
          factor: t.factor,
          longWindow: t.longWindow,
          shortWindow: t.shortWindow,
          burning: (burn(t.longWindow) ?? 0) > t.factor && (burn(t.shortWindow) ?? 0) > t.factor,
        })),
    });
  }
  figures.alerts = alerts
    .filter((s) => s.value === 1)
    .map((s) => ({ name: s.labels.alertname ?? '', state: s.labels.alertstate ?? '', severity: s.labels.sloth_severity ?? s.labels.severity ?? '', labels: s.labels, since: null }))
    .sort((a, b) => a.name.localeCompare(b.name));
  return figures;
}

/** The SLO alert tiers Prometheus has loaded, from its rules API (labels the rule generator writes). */
export function alertRuleTiers(prometheusUrl: string): () => Promise<AlertRuleTier[]> {
  let cached: { at: number; tiers: AlertRuleTier[] } | undefined;
  return async () => {
    if (cached && Date.now() - cached.at < 30_000) return cached.tiers;
    const response = await fetch(`${prometheusUrl}/api/v1/rules?type=alert`, { signal: AbortSignal.timeout(5_000) });
    const body = (await response.json()) as { data?: { groups?: Array<{ rules?: Array<{ query?: string; labels?: Record<string, string> }> }> } };
    const tiers: AlertRuleTier[] = [];
    for (const group of body.data?.groups ?? []) {
      for (const rule of group.rules ?? []) {
        const labels = rule.labels ?? {};
        const sloId = /sloth_id="([^"]+)"/.exec(rule.query ?? '')?.[1];
        const factor = Number(labels.slo_burn_factor);
        if (sloId === undefined || !Number.isFinite(factor) || !labels.slo_long_window || !labels.slo_short_window) continue;
        tiers.push({ sloId, tier: labels.slo_tier ?? `${labels.sloth_severity ?? ''}-${labels.slo_long_window}`, severity: labels.sloth_severity ?? labels.severity ?? '', factor, longWindow: labels.slo_long_window, shortWindow: labels.slo_short_window });
      }
    }
    cached = { at: Date.now(), tiers };
    return tiers;
  };
}

export interface LiveSampler {
  /** Called with every reading while subscribed; returns the unsubscribe. */
  subscribe(listener: (figures: LiveFigures) => void): () => void;
  /** The last reading, if any. */
  latest(): LiveFigures | undefined;
  subscribers(): number;
  stop(): void;
}

/**
 * One reading every `intervalMs`, shared by every subscriber, only while there is one. A reading
 * that takes longer than the interval delays the next instead of piling up (a busy Prometheus
 * gets one query set at a time).
 */
export function createLiveSampler(read: () => Promise<LiveFigures>, intervalMs = 1_000): LiveSampler {
  const listeners = new Set<(figures: LiveFigures) => void>();
  let latest: LiveFigures | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let reading = false;
  const tick = async (): Promise<void> => {
    timer = undefined;
    if (stopped || listeners.size === 0) return;
    const started = Date.now();
    reading = true;
    try {
      latest = await read();
      for (const listener of listeners) listener(latest);
    } catch {
      // A failed reading is skipped; the next tick tries again.
    } finally {
      reading = false;
    }
    if (!stopped && listeners.size > 0) timer = setTimeout(() => void tick(), Math.max(0, intervalMs - (Date.now() - started)));
  };
  return {
    subscribe(listener) {
      listeners.add(listener);
      if (latest) listener(latest);
      if (timer === undefined && !reading && listeners.size === 1) timer = setTimeout(() => void tick(), 0);
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0 && timer !== undefined) {
          clearTimeout(timer);
          timer = undefined;
        }
      };
    },
    latest: () => latest,
    subscribers: () => listeners.size,
    stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      listeners.clear();
    },
  };
}
