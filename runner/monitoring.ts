// Local mode's real Prometheus and Alertmanager (Debian's `prometheus` and
// `prometheus-alertmanager`), when their binaries are on PATH: each run gets
// its own configuration and data directory under runs/<id>/monitoring/;
// Prometheus scrapes every lab process once a second (static targets: the lab
// is up before Prometheus starts, and instances keep their ports across
// restarts; Prometheus applies targets about 5 s after it starts, so a run
// waits for the first scrape of every target before its load begins), evaluates
// the lab-scale rules from slo/generated/ (the SLOs' and the telemetry-loss
// alert), and sends alerts to
// Alertmanager, which posts them to the runner's webhook (alerts.jsonl).
//
// Both are Go binaries that know nothing of the lab's IPC lifeline, so they
// are started under `setpriv --pdeathsig TERM`: if the runner dies (even by
// SIGKILL) the kernel stops them, and no run leaves them behind.

import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { renderAlertmanagerConfig } from '../slo/alertmanager.ts';
import { GENERATED_DIR, LAB_TIME_SCALE, RULES_DIR } from '../slo/generate.ts';
import { findTool } from '../slo/tools.ts';
import { ALERTS_FILE_NAME, startAlertWebhook, type AlertEvent } from './alert-webhook.ts';
import { ERROR_CODE, FaultlineError } from './errors.ts';

/** One endpoint Prometheus scrapes, labelled as the SLO rules and dashboards expect. */
export interface ScrapeTarget {
  /** The service (or lab part: collector, chaos, loadgen); becomes the `job` label. */
  job: string;
  /** The instance id (payment-1, checkout...); becomes the `instance` label. */
  instance: string;
  /** host:port */
  address: string;
  /** Default /metrics. */
  metricsPath?: string;
}

export interface MonitoringOptions {
  runDir: string;
  /** What to scrape from the start; `setTargets` replaces them (a run starts Prometheus before its lab is up). */
  targets: readonly ScrapeTarget[];
  host?: string;
  /** Fixed ports (for `up`); ephemeral when absent. */
  ports?: { prometheus?: number; alertmanager?: number };
  /** Default 1000 ms: every lab process is scraped once a second (the generated lab rules, the telemetry alert's window included, assume it). */
  scrapeIntervalMs?: number;
  /** The SLO rules' time scale; the committed lab-scale rules by default. */
  timeScale?: number;
}

export interface PrometheusSample {
  labels: Record<string, string>;
  value: number;
}

export interface PrometheusSeries {
  labels: Record<string, string>;
  /** [ms since the epoch, value] */
  points: Array<[number, number]>;
}

export interface Monitoring extends PrometheusQueries {
  prometheusUrl: string;
  alertmanagerUrl: string;
  webhookUrl: string;
  alertsFile: string;
  scrapeIntervalMs: number;
  /** Scrape targets as Prometheus sees them. */
  targets(): Promise<Array<{ job: string; instance: string; health: string; lastError: string }>>;
  /** Replace what is scraped (written to the file Prometheus discovers targets from). */
  setTargets(targets: readonly ScrapeTarget[]): Promise<void>;
  /** Resolves once every target has been scraped successfully and every rule group evaluated after that; rejects naming what was not. */
  waitForTargets(timeoutMs?: number): Promise<void>;
  /** Alert notifications received so far. */
  alerts(): AlertEvent[];
  /** The two processes (setpriv execs into the binary, so the pid is the server's). */
  processes(): Array<{ name: string; pid: number; address: string }>;
  stop(): Promise<void>;
}

export type MonitoringAvailability = { available: true; prometheus: string; alertmanager: string } | { available: false; missing: string[]; install: string };

/** Whether this machine has the binaries, and what to install when it does not. */
export async function monitoringAvailability(): Promise<MonitoringAvailability> {
  const prometheus = await findTool('prometheus');
  const alertmanager = (await findTool('prometheus-alertmanager')) ?? (await findTool('alertmanager'));
  if (prometheus !== undefined && alertmanager !== undefined) return { available: true, prometheus, alertmanager };
  const missing = [...(prometheus === undefined ? ['prometheus'] : []), ...(alertmanager === undefined ? ['prometheus-alertmanager'] : [])];
  return { available: false, missing, install: `sudo apt-get install ${missing.join(' ')}` };
}

const READY_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 5_000;

export async function startMonitoring(options: MonitoringOptions): Promise<Monitoring> {
  const availability = await monitoringAvailability();
  if (!availability.available) {
    throw new FaultlineError(ERROR_CODE.monitoringUnavailable, `${availability.missing.join(' and ')} not on PATH (${availability.install})`);
  }
  const host = options.host ?? '127.0.0.1';
  const scrapeIntervalMs = options.scrapeIntervalMs ?? 1_000;
  const timeScale = options.timeScale ?? LAB_TIME_SCALE;
  const dir = join(options.runDir, 'monitoring');
  const logDir = join(options.runDir, 'logs');
  await mkdir(dir, { recursive: true });
  await mkdir(logDir, { recursive: true });
  const webhook = await startAlertWebhook({ file: join(options.runDir, ALERTS_FILE_NAME), host });
  const started: GoProcess[] = [];
  try {
    const alertmanagerConfig = join(dir, 'alertmanager.yaml');
    await writeFile(alertmanagerConfig, renderAlertmanagerConfig({ webhookUrl: webhook.url, timeScale }));
    const alertmanager = await startGoProcess({
      name: 'alertmanager',
      binary: availability.alertmanager,
      args: [
        `--config.file=${alertmanagerConfig}`,
        `--storage.path=${join(dir, 'alertmanager-data')}`,
        `--web.listen-address=${host}:${options.ports?.alertmanager ?? 0}`,
        // A single local instance: no gossip port to bind.
        '--cluster.listen-address=',
      ],
      logFile: join(logDir, 'alertmanager.log'),
    });
    started.push(alertmanager);

    const targetsFile = join(dir, TARGETS_FILE);
    let targets = options.targets;
    const setTargets = async (next: readonly ScrapeTarget[]) => {
      targets = next;
      // Whole or not at all: Prometheus watches the folder and reads the file on every change.
      await writeFile(`${targetsFile}.tmp`, renderScrapeTargets(next));
      await rename(`${targetsFile}.tmp`, targetsFile);
    };
    await setTargets(targets);
    const prometheusConfig = join(dir, 'prometheus.yaml');
    await writeFile(prometheusConfig, renderPrometheusConfig({ scrapeIntervalMs, timeScale, targetsFile, alertmanager: alertmanager.address }));
    const prometheus = await startGoProcess({
      name: 'prometheus',
      binary: availability.prometheus,
      args: [
        `--config.file=${prometheusConfig}`,
        `--storage.tsdb.path=${join(dir, 'prometheus-data')}`,
        `--web.listen-address=${host}:${options.ports?.prometheus ?? 0}`,
        '--storage.tsdb.retention.time=2d',
        // A long `up` session stays bounded on disk too (about 1 MB a minute at 20 checkouts/s, docs/benchmarks.md).
        '--storage.tsdb.retention.size=256MB',
        // Exemplars link latency panels to traces.
        '--enable-feature=exemplar-storage',
      ],
      logFile: join(logDir, 'prometheus.log'),
    });
    started.push(prometheus);

    const prometheusUrl = `http://${prometheus.address}`;
    const { query, queryRange } = prometheusClient(prometheusUrl);
    const monitoring: Monitoring = {
      prometheusUrl,
      alertmanagerUrl: `http://${alertmanager.address}`,
      webhookUrl: webhook.url,
      alertsFile: webhook.file,
      scrapeIntervalMs,
      query,
      queryRange,
      async targets() {
        const response = await fetch(`${prometheusUrl}/api/v1/targets?state=active`, { signal: AbortSignal.timeout(10_000) });
        const body = (await response.json()) as { data: { activeTargets: Array<{ labels: Record<string, string>; health: string; lastError: string }> } };
        return body.data.activeTargets.map((t) => ({ job: t.labels.job ?? '', instance: t.labels.instance ?? '', health: t.health, lastError: t.lastError }));
      },
      setTargets,
      async waitForTargets(timeoutMs = 20_000) {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const seen = await monitoring.targets().catch(() => []);
          const notUp = targets.filter((t) => !seen.some((s) => s.job === t.job && s.instance === t.instance && s.health === 'up'));
          if (notUp.length === 0) break;
          if (Date.now() > deadline) {
            const why = notUp.map((t) => `${t.instance} (${seen.find((s) => s.instance === t.instance)?.lastError || 'not scraped yet'})`);
            throw new FaultlineError(ERROR_CODE.monitoringStart, `Prometheus could not scrape ${why.join(', ')} within ${timeoutMs / 1_000}s`);
          }
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
        // Then one evaluation of every rule group over scraped data: the first
        // one is Prometheus's heaviest moment (every SLO rule on a fresh
        // head), and traffic measured while it runs pays for it.
        const upAt = Date.now();
        for (;;) {
          const evaluated = await ruleGroupsEvaluatedSince(prometheusUrl, upAt).catch(() => false);
          if (evaluated) return;
          if (Date.now() > deadline) throw new FaultlineError(ERROR_CODE.monitoringStart, `Prometheus did not evaluate its rules within ${timeoutMs / 1_000}s`);
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      },
      alerts: () => webhook.events(),
      processes: () => started.map(({ name, pid, address }) => ({ name, pid, address })),
      async stop() {
        // Prometheus first (it flushes its head and stops sending), then Alertmanager, then the webhook.
        for (const process of [...started].reverse()) await process.stop();
        await webhook.close();
      },
    };
    return monitoring;
  } catch (error) {
    for (const process of [...started].reverse()) await process.stop();
    await webhook.close();
    throw error;
  }
}

/** Prometheus's HTTP API, the two calls the runner and the tests make. */
export interface PrometheusQueries {
  /** Instant query; time in ms since the epoch (now when absent). */
  query(expr: string, timeMs?: number): Promise<PrometheusSample[]>;
  queryRange(expr: string, startMs: number, endMs: number, stepMs: number): Promise<PrometheusSeries[]>;
}

export function prometheusClient(prometheusUrl: string): PrometheusQueries {
  const api = async (path: string, params: Record<string, string>): Promise<unknown> => {
    const response = await fetch(`${prometheusUrl}${path}`, { method: 'POST', body: new URLSearchParams(params), signal: AbortSignal.timeout(10_000) });
    const body = (await response.json()) as { status: string; data?: unknown; error?: string };
    if (body.status !== 'success') throw new FaultlineError(ERROR_CODE.monitoringQuery, `Prometheus ${path} ${JSON.stringify(params)}: ${body.error ?? response.status}`);
    return body.data;
  };
  return {
    async query(expr, timeMs) {
      const data = (await api('/api/v1/query', { query: expr, ...(timeMs === undefined ? {} : { time: String(timeMs / 1_000) }) })) as {
        resultType: string;
        result: Array<{ metric: Record<string, string>; value: [number, string] }> | [number, string];
      };
      if (data.resultType === 'scalar') return [{ labels: {}, value: Number((data.result as [number, string])[1]) }];
      return (data.result as Array<{ metric: Record<string, string>; value: [number, string] }>).map((r) => ({ labels: r.metric, value: Number(r.value[1]) }));
    },
    async queryRange(expr, startMs, endMs, stepMs) {
      const data = (await api('/api/v1/query_range', {
        query: expr,
        start: String(startMs / 1_000),
        end: String(endMs / 1_000),
        step: String(stepMs / 1_000),
      })) as { result: Array<{ metric: Record<string, string>; values: Array<[number, string]> }> };
      return data.result.map((r) => ({ labels: r.metric, points: r.values.map(([t, v]) => [t * 1_000, Number(v)] as [number, number]) }));
    },
  };
}

/**
 * A Prometheus over a finished run's data (runs/<id>/monitoring/prometheus-data),
 * scraping nothing: to query a run after the fact, as a person with Grafana
 * would and as the dashboard test does.
 */
export async function servePrometheusData(options: { dataDir: string; logFile: string; host?: string }): Promise<PrometheusQueries & { url: string; stop(): Promise<void> }> {
  const availability = await monitoringAvailability();
  if (!availability.available) throw new FaultlineError(ERROR_CODE.monitoringUnavailable, `${availability.missing.join(' and ')} not on PATH (${availability.install})`);
  const config = join(dirname(options.dataDir), 'prometheus-replay.yaml');
  await writeFile(config, '# Generated by runner/monitoring.ts: serve a finished run\'s data; scrape nothing.\nglobal: {}\n');
  const prometheus = await startGoProcess({
    name: 'prometheus',
    binary: availability.prometheus,
    args: [`--config.file=${config}`, `--storage.tsdb.path=${options.dataDir}`, `--web.listen-address=${options.host ?? '127.0.0.1'}:0`, '--enable-feature=exemplar-storage'],
    logFile: options.logFile,
  });
  const url = `http://${prometheus.address}`;
  return { url, ...prometheusClient(url), stop: () => prometheus.stop() };
}

/**
 * Prometheus and Alertmanager for a session (`run` or `up`) when installed,
 * added to the session's processes.json beside the lab's processes so they are
 * accounted for (and checked gone) like the rest; when not installed, what is
 * missing and how to install it.
 */
export async function startMonitoringIfInstalled(options: MonitoringOptions): Promise<{ monitoring: Monitoring } | { unavailable: string }> {
  let monitoring: Monitoring;
  try {
    monitoring = await startMonitoring(options);
  } catch (error) {
    if (error instanceof FaultlineError && error.code === ERROR_CODE.monitoringUnavailable) return { unavailable: error.message };
    throw error;
  }
  try {
    await recordMonitoringProcesses(options.runDir, monitoring);
  } catch (error) {
    await monitoring.stop();
    throw error;
  }
  return { monitoring };
}

/** Add Prometheus and Alertmanager to the session's processes.json, which the lab wrote when it was up. */
export async function recordMonitoringProcesses(runDir: string, monitoring: Pick<Monitoring, 'processes'>): Promise<void> {
  const file = join(runDir, 'processes.json');
  const listed = JSON.parse(await readFile(file, 'utf8')) as unknown[];
  await writeFile(file, `${JSON.stringify([...listed, ...monitoring.processes()], null, 2)}\n`);
}

export interface PrometheusConfigOptions {
  scrapeIntervalMs: number;
  timeScale: number;
  /** The file_sd file the targets are read from (renderScrapeTargets). */
  targetsFile: string;
  /** host:port */
  alertmanager: string;
}

/**
 * prometheus.yaml for a local run: the generated rules of its time scale, Alertmanager,
 * and the lab's targets from a file (file_sd) rather than listed here, so
 * Prometheus can start beside the lab, before its ports are known: targets
 * that appear later are scraped at its next 5 s hand-over, where starting it
 * after the lab waits a full one (docs/benchmarks.md).
 */
export function renderPrometheusConfig(options: PrometheusConfigOptions): string {
  const interval = `${options.scrapeIntervalMs}ms`;
  const rules = join(GENERATED_DIR, options.timeScale === 1 ? 'production' : `lab-x${options.timeScale}`, RULES_DIR, '*.yaml');
  return [
    '# Generated by runner/monitoring.ts for one local run; do not edit.',
    'global:',
    `  scrape_interval: ${interval}`,
    `  scrape_timeout: ${interval}`,
    `  evaluation_interval: ${interval}`,
    'rule_files:',
    `  - ${JSON.stringify(rules)}`,
    'alerting:',
    '  alertmanagers:',
    '    - static_configs:',
    `        - targets: [${JSON.stringify(options.alertmanager)}]`,
    'scrape_configs:',
    // The file's labels set job and instance (a target's own labels win over job_name).
    '  - job_name: "lab"',
    '    file_sd_configs:',
    `      - files: [${JSON.stringify(options.targetsFile)}]`,
    '',
  ].join('\n');
}

/** File name of the scrape targets beside prometheus.yaml. */
export const TARGETS_FILE = 'targets.json';

/**
 * The file_sd targets: job = service, instance = instance id, as in
 * deploy/prometheus/prometheus.yml, so rules and dashboards agree.
 */
export function renderScrapeTargets(targets: readonly ScrapeTarget[]): string {
  const groups = targets.map((target) => ({
    targets: [target.address],
    labels: { job: target.job, instance: target.instance, __metrics_path__: target.metricsPath ?? '/metrics' },
  }));
  return `${JSON.stringify(groups, null, 2)}\n`;
}

interface GoProcess {
  name: string;
  pid: number;
  address: string;
  stop(): Promise<void>;
}

/**
 * Go's garbage collector target for Prometheus and Alertmanager: collect when
 * the heap has grown 50 % over what is live, not 100 %. At the lab's scale
 * this costs little CPU and keeps Prometheus ~10 MB smaller under load
 * (docs/benchmarks.md). A GOGC in the environment wins.
 */
const LAB_GOGC = '50';

/** Whether every rule group has been evaluated after `since` (ms since the epoch). */
async function ruleGroupsEvaluatedSince(prometheusUrl: string, since: number): Promise<boolean> {
  const response = await fetch(`${prometheusUrl}/api/v1/rules`, { signal: AbortSignal.timeout(10_000) });
  const body = (await response.json()) as { data: { groups: Array<{ lastEvaluation?: string }> } };
  return body.data.groups.every((group) => Date.parse(group.lastEvaluation ?? '') >= since);
}

interface GoProcessSpec {
  name: string;
  binary: string;
  args: string[];
  logFile: string;
}

/**
 * Start a Go server of the Prometheus family and wait until it listens: the
 * address it logs ("Listening on" address=host:port) is the real one even when
 * the port asked for was 0. Exits before that (a port in use, a bad config)
 * become one error naming the process and its last log line.
 */
async function startGoProcess(spec: GoProcessSpec): Promise<GoProcess> {
  const setpriv = await findTool('setpriv');
  const [command, args] = setpriv ? [setpriv, ['--pdeathsig', 'TERM', '--', spec.binary, ...spec.args]] : [spec.binary, spec.args];
  const child: ChildProcess = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { GOGC: LAB_GOGC, ...process.env } });
  const log = createWriteStream(spec.logFile, { flags: 'a' });
  let tail = '';
  let resolveAddress: (address: string) => void = () => undefined;
  const listening = new Promise<string>((resolve) => (resolveAddress = resolve));
  const onOutput = (chunk: Buffer) => {
    log.write(chunk);
    tail = (tail + chunk.toString('utf8')).slice(-8_192);
    const match = /msg="Listening on"[^\n]*?address=(\S+)/.exec(tail);
    if (match) resolveAddress(match[1] as string);
  };
  child.stdout?.on('data', onOutput);
  child.stderr?.on('data', onOutput);
  const exited = once(child, 'exit').then(() => undefined);
  const lastLine = () => tail.trim().split('\n').filter((line) => /level=(error|warn)|err=/.test(line)).at(-1) ?? tail.trim().split('\n').at(-1) ?? '';
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(timer);
    }
    await new Promise((resolve) => log.end(resolve));
  };
  const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), READY_TIMEOUT_MS).unref());
  const first = await Promise.race([listening, exited.then(() => 'exited' as const), timeout]);
  if (first === 'exited' || first === 'timeout') {
    await stop();
    const why = first === 'exited' ? `exited at start (code ${child.exitCode ?? child.signalCode})` : `did not listen within ${READY_TIMEOUT_MS / 1_000}s`;
    throw new FaultlineError(ERROR_CODE.monitoringStart, `${spec.name} ${why}: ${lastLine()} (log: ${spec.logFile})`);
  }
  const address = first;
  // Listening is not ready: wait for /-/ready (Prometheus replays its WAL, Alertmanager loads its config).
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    const ready = await fetch(`http://${address}/-/ready`, { signal: AbortSignal.timeout(2_000) }).then((r) => r.ok, () => false);
    if (ready) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new FaultlineError(ERROR_CODE.monitoringStart, `${spec.name} never became ready: ${lastLine()} (log: ${spec.logFile})`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { name: spec.name, pid: child.pid as number, address, stop };
}
