// `faultline run`: start the lab, drive the scenario's load and fault timeline,
// tear everything down, judge what was measured, and write the run record.
// The returned verdict is the CLI's exit code. An abort (Ctrl-C) stops the load,
// removes every fault and stops every process before it returns.

import { mkdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { readSpans } from '../collector/trace-query.ts';
import { issueToken } from '../demo-services/kit/jwt.ts';
import { createJourneyMix, journeyServices, journeyWeights } from '../load/journeys/mix.ts';
import { createLoadRecorder } from '../load/recorder.ts';
import { executorMaxVUs, runExecutor } from '../load/executors/index.ts';
import { createLoadMetrics, startLoadMetricsServer } from '../load/metrics.ts';
import { checkBooks } from './books.ts';
import { circuitTransitions } from './circuit-history.ts';
import { watchCircuit } from './circuit-watch.ts';
import { ERROR_CODE, FaultlineError } from './errors.ts';
import { evaluateExpectations, type AlertingMeasurement } from './expectations.ts';
import { ALERTS_FILE_NAME } from './alert-webhook.ts';
import { startMonitoringIfInstalled, type Monitoring, type ScrapeTarget } from './monitoring.ts';
import { alertIntervals, renderSloReports, sloRunReports, type SloRunReport } from './slo-run-report.ts';
import { LAB_TIME_SCALE } from '../slo/generate.ts';
import { loadSloSpecs } from '../slo/spec.ts';
import { buildTimeline, faultWindows, startTimeline } from './fault-timeline.ts';
import { chaosFaultTarget, labFaultTarget, processFaultTarget, serviceFaultTarget } from './chaos-target.ts';
import { startLab, type Lab } from './lab.ts';
import { createProgressPrinter } from './progress.ts';
import { renderVerdictTable, writeRunRecord, type RunSummary } from './report.ts';
import { executorConfig, phaseWindows, totalDurationMs, type Scenario } from './scenario.ts';
import { PROJECT_ROOT } from './supervisor.ts';
import { newRunId } from './run-id.ts';

export interface RunOptions {
  runsDir?: string;
  disabled?: string[];
  timeScale?: number;
  signal?: AbortSignal;
  /** Where progress and the verdict table go; nothing is printed when absent. */
  output?: NodeJS.WriteStream;
  /** Real Prometheus and Alertmanager when their binaries are on PATH (default true). */
  monitoring?: boolean;
}

export interface RunResult {
  summary: RunSummary;
  runDir: string;
}

/** Journeys run before the load starts: waves of a few at once. */
const WARM_UP_WAVES = 4;
const WARM_UP_CONCURRENCY = 5;

export async function runScenario(scenario: Scenario, options: RunOptions = {}): Promise<RunResult> {
  const id = newRunId(scenario.name);
  const runDir = join(options.runsDir ?? join(PROJECT_ROOT, 'runs'), id);
  await mkdir(runDir, { recursive: true });
  const out = options.output;
  const say = (line: string) => out?.write(`${line}\n`);
  if (options.signal?.aborted) throw new FaultlineError(ERROR_CODE.interrupted, 'interrupted before the run started');

  say(`faultline: ${scenario.name}: ${scenario.description}`);
  say(`run record: ${relative(process.cwd(), runDir) || runDir}`);
  const lab: Lab = await startLab({
    runDir,
    policies: scenario.policies,
    gateway: scenario.gateway,
    seed: scenario.seed,
    services: journeyServices(scenario.load),
  });
  const abortLoad = new AbortController();
  const onAbort = () => abortLoad.abort();
  options.signal?.addEventListener('abort', onAbort, { once: true });

  const loadConfig = executorConfig(scenario);
  // The generator's own metrics (loadgen_*), served for Prometheus while the run lasts.
  const loadMetrics = createLoadMetrics();
  const metricsServer = await startLoadMetricsServer({ metrics: loadMetrics });
  const recorder = loadMetrics.tee(createLoadRecorder());
  const faults = chaosFaultTarget(lab.chaosAdminUrl);
  const totalMs = totalDurationMs(scenario);
  const windows = faultWindows(scenario);
  const phases = phaseWindows(scenario);
  const watched = scenario.expectations.find((e) => e.type === 'circuit');
  const watch = watched?.type === 'circuit' ? watchCircuit(lab.serviceUrl(watched.service), watched.dependency) : undefined;
  const progress = createProgressPrinter(out);
  // Every virtual user gets its own token before the run starts: signing is configure-time work.
  const maxVUs = executorMaxVUs(loadConfig);
  const tokens = await Promise.all(Array.from({ length: maxVUs + 1 }, (_, vu) => issueToken(lab.authSecret, `user-${vu}`)));
  const journeyOptions = {
    journeys: journeyWeights(scenario.load),
    tokenFor: (vu: number) => tokens[vu] ?? (tokens[0] as string),
    gatewayUrl: lab.gatewayUrl,
    timeoutMs: scenario.load.requestTimeout,
  };
  const journey = createJourneyMix({
    ...journeyOptions,
    ...(scenario.load.thinkTime === undefined ? {} : { thinkTime: scenario.load.thinkTime }),
    recorder,
    seed: scenario.seed,
    runId: id,
  });

  let startedAt = Date.now();
  let endedAt: number;
  let load: Awaited<ReturnType<typeof runExecutor>> | undefined;
  let monitoring: Monitoring | undefined;
  let monitoringNote: string | undefined;
  try {
    say(`lab up: gateway ${lab.gatewayUrl}, fault proxy ${lab.chaosAdminUrl}, load generator metrics ${metricsServer.url}; ${totalMs / 1_000}s of ${loadConfig.executor} load`);
    // Warm-up: a few unrecorded journeys, before Prometheus's first scrape, so
    // JIT compilation and first connections are not measured as the baseline.
    const warmUp = createJourneyMix({ ...journeyOptions, thinkTime: { min: 0, max: 0 }, recorder: createLoadRecorder(), seed: scenario.seed + 1, runId: `${id}-warm-up` });
    for (let wave = 0; wave < WARM_UP_WAVES; wave += 1) {
      await Promise.all(
        Array.from({ length: WARM_UP_CONCURRENCY }, (_, i) => warmUp({ vu: i + 1, iteration: wave * WARM_UP_CONCURRENCY + i, intendedStartMs: Date.now(), signal: abortLoad.signal })),
      );
    }
    await warmUp.close();
    ({ monitoring, note: monitoringNote } = await startRunMonitoring(options.monitoring !== false, runDir, [
      ...lab.scrapeTargets(),
      { job: 'loadgen', instance: 'loadgen', address: new URL(metricsServer.url).host },
    ]));
    say(monitoring ? `prometheus ${monitoring.prometheusUrl} (every process scraped each ${monitoring.scrapeIntervalMs / 1_000}s, SLO rules at lab scale x${LAB_TIME_SCALE}), alertmanager ${monitoring.alertmanagerUrl}` : `note: ${monitoringNote}`);
    startedAt = Date.now();
    const timeline = startTimeline(buildTimeline(scenario), labFaultTarget(faults, processFaultTarget(lab), serviceFaultTarget(lab)), { startedAt, logFile: join(runDir, 'faults.jsonl') });
    try {
      load = await runExecutor(
        loadConfig,
        loadMetrics.instrumentIteration(journey),
        loadMetrics.instrumentRuntime({
          signal: abortLoad.signal,
          onDropped: (dropped) => recorder.recordDropped(dropped.intendedStartMs),
          onTick: (snapshot) => {
            const elapsed = Date.now() - startedAt;
            const series = recorder.timeSeries();
            progress.update({
              elapsedMs: elapsed,
              totalMs,
              phase: phases.find((p) => elapsed >= p.startMs && elapsed < p.endMs)?.name ?? 'draining',
              last: series.at(-2) ?? series.at(-1),
              inFlight: snapshot.inFlight,
              dropped: snapshot.dropped,
              circuit: watch?.state() ?? '-',
              faults: windows.filter((w) => elapsed >= w.startMs && elapsed < w.endMs).map((w) => w.name),
            });
          },
        }),
      );
    } finally {
      endedAt = Math.min(Date.now(), startedAt + totalMs);
      await timeline.stop();
      progress.finish();
    }
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    watch?.stop();
    await faults.reset().catch(() => undefined);
    await journey.close();
    // One more scrape and rule evaluation, so Prometheus holds the run's last second.
    if (monitoring && !options.signal?.aborted) await new Promise((resolve) => setTimeout(resolve, monitoring!.scrapeIntervalMs * 1.5));
    await metricsServer.close();
    await lab.stop();
    if (options.signal?.aborted) await monitoring?.stop();
  }
  if (options.signal?.aborted) throw new FaultlineError(ERROR_CODE.interrupted, `interrupted; lab stopped, partial record in ${runDir}`);

  // Alerts and SLOs as the run's Prometheus and Alertmanager saw them.
  let alerting: AlertingMeasurement;
  let slo: SloRunReport[] | undefined;
  try {
    if (monitoring) {
      const alerts = alertIntervals(monitoring.alerts(), startedAt);
      alerting = { available: true, alerts };
      const running = monitoring;
      slo = await sloRunReports({
        slos: await loadSloSpecs(),
        query: async (expr, timeMs) => {
          const value = (await running.query(expr, timeMs))[0]?.value;
          return value === undefined || Number.isNaN(value) ? undefined : value;
        },
        startedAt,
        endedAt,
        phases,
        alerts,
        timeScale: LAB_TIME_SCALE,
      });
    } else alerting = { available: false, reason: monitoringNote ?? 'Prometheus did not run' };
  } finally {
    await monitoring?.stop();
  }

  const spans = await readSpans(join(runDir, 'traces.jsonl')).catch(() => []);
  // Holds still open when the lab stopped are judged against the stop, not against whenever this runs.
  const books = checkBooks(runDir, Date.now());
  const expectations = evaluateExpectations({ scenario, startedAt, endedAt, recorder, spans, books, alerting });
  const traces = new Set(spans.map((span) => span.traceId));
  const circuit = watched?.type === 'circuit' ? circuitTransitions(spans, watched.service, watched.dependency).map((t) => ({ ...t, offsetMs: t.timeMs - startedAt })) : [];
  const summary: RunSummary = {
    id,
    scenario: scenario.name,
    description: scenario.description,
    verdict: expectations.every((e) => e.ok) ? 'pass' : 'fail',
    startedAt: new Date(startedAt).toISOString(),
    endedAt: new Date(endedAt).toISOString(),
    durationMs: endedAt - startedAt,
    options: { disabled: options.disabled ?? [], timeScale: options.timeScale ?? 1, seed: scenario.seed },
    phases: phases.map((p) => ({ name: p.name, startMs: p.startMs, endMs: p.endMs })),
    faults: windows,
    load: { executor: scenario.load, result: load, summary: recorder.summary(), stats: recorder.stats() },
    expectations,
    timeSeries: recorder.timeSeries(),
    circuit,
    telemetry: { spans: spans.length, traces: traces.size },
    books,
    ...(slo ? { slo } : {}),
    monitoring: alerting.available
      ? { available: true, prometheusUrl: monitoring?.prometheusUrl, alerts: alerting.alerts }
      : { available: false, reason: alerting.reason },
    files: {
      summary: 'summary.json',
      junit: 'junit.xml',
      traces: 'traces.jsonl',
      faults: 'faults.jsonl',
      logs: 'logs/',
      processes: 'processes.json',
      ...(monitoring ? { alerts: ALERTS_FILE_NAME, prometheus: 'monitoring/prometheus-data/' } : {}),
    },
  };
  await writeRunRecord(runDir, summary);
  say('');
  if (slo) say(`${renderSloReports(slo, windows)}\n`);
  say(renderVerdictTable(summary));
  return { summary, runDir };
}

/** Start Prometheus and Alertmanager for a run when wanted and installed, scraping every target before the load; otherwise say why not, once. */
async function startRunMonitoring(wanted: boolean, runDir: string, targets: ScrapeTarget[]): Promise<{ monitoring?: Monitoring; note?: string }> {
  if (!wanted) return { note: 'Prometheus and Alertmanager turned off (--no-monitoring): SLO report and alert expectations skipped' };
  const started = await startMonitoringIfInstalled({ runDir, targets });
  if ('unavailable' in started) return { note: `${started.unavailable}: SLO report and alert expectations skipped` };
  try {
    await started.monitoring.waitForTargets();
  } catch (error) {
    await started.monitoring.stop();
    throw error;
  }
  return { monitoring: started.monitoring };
}
