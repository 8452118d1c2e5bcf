// `faultline run`: start the lab, drive the scenario's load and fault timeline,
// tear everything down, judge what was measured, and write the run record.
// The returned verdict is the CLI's exit code. An abort (Ctrl-C) stops the load,
// removes every fault and stops every process before it returns.

import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { readSpans } from '../collector/trace-query.ts';
import { issueToken } from '../demo-services/kit/jwt.ts';
import { createJourneyMix, journeyServices, journeyWeights, type JourneyMix } from '../load/journeys/mix.ts';
import { createLoadRecorder } from '../load/recorder.ts';
import { executorMaxVUs, runExecutor } from '../load/executors/index.ts';
import { runPhasedArrivalRate } from '../load/executors/phased-arrival-rate.ts';
import { createClientBackoff } from '../load/retry-after.ts';
import { createLoadMetrics, startLoadMetricsServer } from '../load/metrics.ts';
import { checkBooks } from './books.ts';
import { circuitTransitions } from './circuit-history.ts';
import { watchCircuit } from './circuit-watch.ts';
import { ERROR_CODE, FaultlineError } from './errors.ts';
import { evaluateExpectations, runVerdict, type AlertingMeasurement } from './expectations.ts';
import { percentile, phasePressure, renderPhasePressure, type PressureLimits } from './pressure.ts';
import { startPressureWatch, type PressureWatch } from './pressure-watch.ts';
import { formatMs } from '../demo-services/kit/units.ts';
import { ALERTS_FILE_NAME } from './alert-webhook.ts';
import { recordMonitoringProcesses, startMonitoring, type Monitoring, type ScrapeTarget } from './monitoring.ts';
import { alertIntervals, renderSloReports, sloRunReports, type SloRunReport } from './slo-run-report.ts';
import { LAB_TIME_SCALE } from '../slo/generate.ts';
import { loadSloSpecs } from '../slo/spec.ts';
import { buildTimeline, faultWindows, startTimeline } from './fault-timeline.ts';
import { chaosFaultTarget, labFaultTarget, processFaultTarget, serviceFaultTarget } from './chaos-target.ts';
import { startLab, type Lab } from './lab.ts';
import { createProgressPrinter } from './progress.ts';
import { renderVerdictTable, writeRunRecord, type RunSummary } from './report.ts';
import { runMeta, writeRunReport } from './report-html/write.ts';
import { queryMetricSeries, type MetricSeries } from './metric-series.ts';
import { recordProcessEvents } from './process-events.ts';
import { crashRestartRecorder, reapplyingDataFaults, restartCrashedInstances } from './crash-restart.ts';
import { watchLabMemory } from './lab-memory.ts';
import { formatMiB } from './memory-limit.ts';
import { clientGroups, executorConfig, phaseWindows, SCENARIO_DIR, streamSegments, totalDurationMs, type Scenario } from './scenario.ts';
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
  /** Inconclusive counts as failure (junit and exit code), for pipelines that want only pass or fail. */
  strict?: boolean;
  /** The scenario's file, hashed into the record; scenarios/<name>.yaml when absent and present. */
  scenarioFile?: string;
  /**
   * Called once the run has taken its last measurement (the load is over and
   * Prometheus has scraped its last second), before the lab stops and the
   * verdict is worked out: from here on, other work on the machine cannot
   * change the verdict. The catalogue's matrix starts its next run then.
   */
  onMeasured?: () => void;
}

export interface RunResult {
  summary: RunSummary;
  runDir: string;
}

/**
 * Warm-up: waves of a few journeys at once until the lab is steady (the
 * median of a wave within 25% or 5 ms of the one before, after at least
 * three), bounded in waves and time, so a cold first run after a clone (JIT,
 * first connections, SQLite pages) is not measured as the baseline.
 */
const WARM_UP = { concurrency: 5, minWaves: 3, maxWaves: 40, maxMs: 20_000, settledRatio: 0.25, settledMs: 5 } as const;

export async function runScenario(scenario: Scenario, options: RunOptions = {}): Promise<RunResult> {
  const id = newRunId(scenario.name);
  const runDir = join(options.runsDir ?? join(PROJECT_ROOT, 'runs'), id);
  await mkdir(runDir, { recursive: true });
  const out = options.output;
  const say = (line: string) => out?.write(`${line}\n`);
  if (options.signal?.aborted) throw new FaultlineError(ERROR_CODE.interrupted, 'interrupted before the lab started; lab stopped (nothing had started)');

  say(`faultline: ${scenario.name}: ${scenario.description}`);
  if (scenario.switchedOff?.length) say(`patterns switched off: ${scenario.switchedOff.join(', ')} (--disable ${options.disabled?.join(' --disable ') ?? ''})`);
  say(`run record: ${relative(process.cwd(), runDir) || runDir}`);
  // Where the run is made and which scenario bytes it ran, found while the lab starts.
  const environment = runMeta().then(({ builtAt: _builtAt, ...found }) => found);
  const scenarioSource = scenarioFileHash(options.scenarioFile ?? join(SCENARIO_DIR, `${scenario.name}.yaml`));
  // Prometheus and Alertmanager start beside the lab, not after it: Prometheus
  // scrapes a new target only at its next hand-over (its discovery and scrape
  // managers run on 5 s tickers), so started after the lab it would idle a
  // whole one before the load could begin (docs/benchmarks.md).
  const monitoringStarting = startRunMonitoring(options.monitoring !== false, runDir);
  monitoringStarting.catch(() => undefined);
  const lab: Lab = await startLab({
    runDir,
    // A service's own patterns (checkout's recovery) travel with its call policies, as the service reads them.
    policies: Object.fromEntries([...new Set([...Object.keys(scenario.policies), ...Object.keys(scenario.services)])].map((service) => [service, { ...scenario.policies[service], ...scenario.services[service] }])),
    gateway: scenario.gateway,
    seed: scenario.seed,
    services: [...new Set([scenario.load, ...scenario.load.streams].flatMap((load) => journeyServices(load.journey === undefined && load.journeys === undefined ? scenario.load : load)))],
    // Ctrl-C while the lab starts stops what has started and rejects at once (FL_INTERRUPTED).
    ...(options.signal ? { signal: options.signal } : {}),
  }).catch(async (error: unknown) => {
    await stopStartedMonitoring(monitoringStarting);
    throw error;
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
  const processEvents = recordProcessEvents(lab);
  const totalMs = totalDurationMs(scenario);
  const windows = faultWindows(scenario);
  const phases = phaseWindows(scenario);
  const watched = scenario.expectations.find((e) => e.type === 'circuit');
  const breakerOff = watched?.type === 'circuit' && scenario.policies[watched.service]?.[watched.dependency]?.circuitBreaker.enabled === false;
  const watch = watched?.type === 'circuit' && !breakerOff ? watchCircuit(lab.serviceUrl(watched.service), watched.dependency) : undefined;
  let pressureWatch: PressureWatch | undefined;
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
  // Named clients (the main load's `clients`, every stream's) each get a token of their own and
  // honour Retry-After; what they held back and sent early is counted per group.
  const named = scenario.load.clients !== undefined || scenario.load.streams.length > 0;
  const backoff = named ? createClientBackoff() : undefined;
  const clientTokens = (group: string, count: number) => Promise.all(Array.from({ length: count }, (_, i) => issueToken(lab.authSecret, `${group}-${i + 1}`)));
  const mainClients = scenario.load.clients ? { group: scenario.load.clients.name, tokens: await clientTokens(scenario.load.clients.name, scenario.load.clients.count) } : undefined;
  const journey = createJourneyMix({
    ...journeyOptions,
    ...(scenario.load.thinkTime === undefined ? {} : { thinkTime: scenario.load.thinkTime }),
    recorder,
    seed: scenario.seed,
    runId: id,
    ...(mainClients ? { clients: mainClients } : {}),
    ...(backoff ? { backoff } : {}),
  });
  // Each stream: its own mix (its journeys, or the main load's), seeded and keyed apart from the others.
  const streams = await Promise.all(
    scenario.load.streams.map(async (stream, i) => {
      const own = stream.journey !== undefined || stream.journeys !== undefined;
      const thinkTime = stream.thinkTime ?? scenario.load.thinkTime;
      const mix = createJourneyMix({
        ...journeyOptions,
        journeys: journeyWeights(own ? stream : scenario.load),
        ...(thinkTime === undefined ? {} : { thinkTime }),
        recorder,
        seed: scenario.seed + 100 * (i + 1),
        runId: `${id}-${stream.name}`,
        clients: { group: stream.name, tokens: await clientTokens(stream.name, stream.clients) },
        ...(backoff ? { backoff } : {}),
      });
      return { stream, mix };
    }),
  );

  let startedAt = Date.now();
  let endedAt = startedAt;
  /** What went wrong while the lab ran, held until it is stopped: by then a Ctrl-C behind it is known. */
  let failure: { error: unknown } | undefined;
  /** When the lab had stopped: holds still open then are judged against it, not against whenever the books are read. */
  let labStoppedAt: number;
  let load: Awaited<ReturnType<typeof runExecutor>> | undefined;
  let streamResults: Array<Awaited<ReturnType<typeof runPhasedArrivalRate>>> = [];
  let monitoring: Monitoring | undefined;
  let monitoringNote: string | undefined;
  let warmUpRecord: WarmUpResult | undefined;
  // Every lab process's resident memory, sampled for `memory` expectations; an instance over its
  // service's memoryLimit is killed and started again, as a container runtime would.
  const memory = watchLabMemory({ lab, scenario, processEvents, faultsLog: join(runDir, 'faults.jsonl'), startedAt: () => startedAt, registry: loadMetrics.registry });
  // An instance that exits by itself (a crash) is started again, backing off, and gets back the data faults it had.
  const serviceFaults = reapplyingDataFaults(serviceFaultTarget(lab), (instance) => lab.processes().some((p) => p.name === instance));
  const crashes = restartCrashedInstances({
    supervisor: lab.supervisor,
    processEvents,
    afterRestart: (instance) => serviceFaults.reapply(instance),
    onEvent: crashRestartRecorder({ chaosAdminUrl: lab.chaosAdminUrl, faultsLog: join(runDir, 'faults.jsonl'), startedAt: () => startedAt, registry: loadMetrics.registry, say }),
  });
  try {
    say(`lab up: gateway ${lab.gatewayUrl}, fault proxy ${lab.chaosAdminUrl}, load generator metrics ${metricsServer.url}; ${totalMs / 1_000}s of ${loadConfig.executor} load`);
    // The wait for Prometheus's first scrape of the lab runs beside the warm-up.
    const monitoringStart = scrapeLab(monitoringStarting, runDir, [
      ...lab.scrapeTargets(),
      { job: 'loadgen', instance: 'loadgen', address: new URL(metricsServer.url).host },
    ]);
    monitoringStart.catch(() => undefined);
    let warmUp: WarmUpResult;
    try {
      warmUp = await warmUpUntilSteady(
        createJourneyMix({ ...journeyOptions, thinkTime: { min: 0, max: 0 }, recorder: createLoadRecorder(), seed: scenario.seed + 1, runId: `${id}-warm-up` }),
        abortLoad.signal,
      );
    } catch (error) {
      await (await monitoringStart.catch(() => undefined))?.monitoring?.stop();
      throw error;
    }
    say(`warm-up: ${warmUp.waves} waves in ${(warmUp.durationMs / 1_000).toFixed(1)}s, ${warmUp.settled ? `steady at ${formatMs(warmUp.lastMedianMs)} a journey` : `not steady yet (${formatMs(warmUp.lastMedianMs)} a journey); going on`}`);
    warmUpRecord = warmUp;
    ({ monitoring, note: monitoringNote } = await monitoringStart);
    say(monitoring ? `prometheus ${monitoring.prometheusUrl} (every process scraped each ${monitoring.scrapeIntervalMs / 1_000}s, SLO rules at lab scale x${LAB_TIME_SCALE}), alertmanager ${monitoring.alertmanagerUrl}` : `note: ${monitoringNote}`);
    // Fault targets are left out of the event-loop figure: a paused or burning process's delay is the fault itself.
    const faultTargets = new Set(scenario.faults.flatMap((fault) => ('target' in fault ? [fault.target] : [])));
    pressureWatch = startPressureWatch({
      targets: lab.scrapeTargets().map((target) => ({ name: target.instance, address: target.address })),
      excluded: (name) => faultTargets.has(name),
    });
    const pressure = pressureWatch;
    startedAt = Date.now();
    const timeline = startTimeline(buildTimeline(scenario), labFaultTarget(faults, processFaultTarget(processEvents.lab), serviceFaults), { startedAt, logFile: join(runDir, 'faults.jsonl') });
    // The streams run beside the main load, on the same clock, into the same recorder.
    const streamRuns = streams.map(({ stream, mix }) =>
      runPhasedArrivalRate(
        { segments: streamSegments(stream, scenario.phases), preAllocatedVUs: Math.min(10, stream.maxVUs), maxVUs: stream.maxVUs },
        loadMetrics.instrumentIteration((ctx) => {
          pressure.recordLag(ctx.intendedStartMs, Date.now() - ctx.intendedStartMs);
          return mix(ctx);
        }),
        { signal: abortLoad.signal, onDropped: (dropped) => recorder.recordDropped(dropped.intendedStartMs) },
      ),
    );
    try {
      load = await runExecutor(
        loadConfig,
        loadMetrics.instrumentIteration((ctx) => {
          pressure.recordLag(ctx.intendedStartMs, Date.now() - ctx.intendedStartMs);
          return journey(ctx);
        }),
        loadMetrics.instrumentRuntime({
          signal: abortLoad.signal,
          onDropped: (dropped) => recorder.recordDropped(dropped.intendedStartMs),
          onTick: (snapshot) => {
            const elapsed = Date.now() - startedAt;
            // The last few seconds only: the whole run's series, every tick, would cost more the longer the run.
            const series = recorder.timeSeries(Math.floor(Date.now() / 1_000) - 3);
            progress.update({
              elapsedMs: elapsed,
              totalMs,
              phase: phases.find((p) => elapsed >= p.startMs && elapsed < p.endMs)?.name ?? 'draining',
              last: series.at(-2) ?? series.at(-1),
              inFlight: snapshot.inFlight,
              dropped: snapshot.dropped,
              circuit: breakerOff ? 'off' : (watch?.state() ?? '-'),
              pressure: pressure.latest(),
              faults: windows.filter((w) => elapsed >= w.startMs && elapsed < w.endMs).map((w) => w.name),
            });
          },
        }),
      );
      streamResults = await Promise.all(streamRuns);
    } finally {
      await Promise.allSettled(streamRuns);
      endedAt = Math.min(Date.now(), startedAt + totalMs);
      await timeline.stop();
      progress.finish();
    }
  } catch (error) {
    failure = { error };
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    watch?.stop();
    pressureWatch?.stop();
    // Before the lab stops: no OOM restart may race the stop.
    await memory.stop();
    await crashes.stop();
    await faults.reset().catch(() => undefined);
    await journey.close();
    await Promise.all(streams.map(({ mix }) => mix.close()));
    // One more scrape and rule evaluation, so Prometheus holds the run's last second.
    if (monitoring && !options.signal?.aborted) await new Promise((resolve) => setTimeout(resolve, monitoring!.scrapeIntervalMs * 1.5));
    if (!failure && !options.signal?.aborted) options.onMeasured?.();
    await metricsServer.close();
    await lab.stop();
    labStoppedAt = Date.now();
    if (options.signal?.aborted || failure) await monitoring?.stop();
  }
  // A terminal's Ctrl-C reaches Prometheus and Alertmanager too, which may then fail their
  // start before our own SIGINT is seen: once the lab is stopped, the interruption wins.
  if (options.signal?.aborted) throw new FaultlineError(ERROR_CODE.interrupted, `interrupted; lab stopped, partial record in ${runDir}`);
  if (failure) throw failure.error;

  // Alerts and SLOs as the run's Prometheus and Alertmanager saw them.
  let alerting: AlertingMeasurement;
  let slo: SloRunReport[] | undefined;
  let scrapeGaps: Map<string, { missed: number; due: number }> | undefined;
  let metricSeries: MetricSeries | undefined;
  try {
    if (monitoring) {
      scrapeGaps = await missedScrapes(monitoring, phases, startedAt, lab.scrapeTargets().length + 1);
      metricSeries = await queryMetricSeries(monitoring, startedAt, endedAt);
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
  const books = checkBooks(runDir, labStoppedAt);
  const pressure = phasePressure(
    phases.map((p) => ({ name: p.name, fromMs: startedAt + p.startMs, toMs: startedAt + p.endMs })),
    {
      samples: pressureWatch?.samples() ?? [],
      lags: pressureWatch?.lags() ?? [],
      arrivals: (fromMs, toMs) => {
        const window = recorder.summary({ fromMs, toMs });
        return { dropped: window.dropped, due: window.count + window.dropped };
      },
      ...(scrapeGaps ? { scrapeGaps } : {}),
    },
    scenario.pressure,
  );
  const expectations = evaluateExpectations({ scenario, startedAt, endedAt, recorder, spans, books, alerting, pressure, memory: memory.samples(), ...(backoff ? { backoff } : {}) });
  const traces = new Set(spans.map((span) => span.traceId));
  const circuit = watched?.type === 'circuit' ? circuitTransitions(spans, watched.service, watched.dependency).map((t) => ({ ...t, offsetMs: t.timeMs - startedAt })) : [];
  const summary: RunSummary = {
    id,
    scenario: scenario.name,
    description: scenario.description,
    verdict: runVerdict(expectations),
    startedAt: new Date(startedAt).toISOString(),
    endedAt: new Date(endedAt).toISOString(),
    durationMs: endedAt - startedAt,
    options: { disabled: options.disabled ?? [], ...(scenario.switchedOff ? { switchedOff: scenario.switchedOff } : {}), timeScale: options.timeScale ?? 1, seed: scenario.seed, strict: options.strict === true },
    ...(await scenarioSource.then((source) => (source ? { scenarioSource: source } : {}))),
    environment: await environment,
    processEvents: processEvents.events().map((e) => ({ ...e, offsetMs: e.timeMs - startedAt })).filter((e) => e.offsetMs >= 0),
    memory: memory.report(),
    ...(metricSeries ? { metricSeries } : {}),
    pressure,
    ...(warmUpRecord ? { warmUp: warmUpRecord } : {}),
    phases: phases.map((p) => ({ name: p.name, startMs: p.startMs, endMs: p.endMs })),
    faults: windows,
    load: {
      executor: scenario.load,
      result: load,
      summary: recorder.summary(),
      steps: recorder.steps(),
      stats: recorder.stats(),
      ...(streams.length ? { streams: streams.map(({ stream }, i) => ({ name: stream.name, result: streamResults[i] })) } : {}),
      // Per client group: requests answered 429, held back while waiting out a Retry-After, and sent before it had passed.
      ...(backoff ? { clients: clientGroups(scenario.load).map((group) => ({ group, ...backoff.counts({ group }) })) } : {}),
    },
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
  for (const [instance, m] of Object.entries(summary.memory?.instances ?? {})) {
    if (m.limitBytes !== undefined || m.oomKills > 0) say(`memory: ${instance} peak ${formatMiB(m.peakBytes)}${m.limitBytes === undefined ? '' : ` (limit ${formatMiB(m.limitBytes)})`}, ${m.oomKills} OOM kill${m.oomKills === 1 ? '' : 's'}, ${m.restarts} restart${m.restarts === 1 ? '' : 's'}`);
  }
  say(`machine, per phase (limits: ${describeLimits(scenario.pressure)}):\n${renderPhasePressure(pressure)}\n`);
  say(renderVerdictTable(summary));
  // report.html: the run drawn for people; its path is the run's last line. A report that cannot be built does not change the verdict.
  say(await writeRunReport(runDir).then((file) => `report: ${file}`, (error: Error) => `report not built: ${error.message}`));
  return { summary, runDir };
}

/** The scenario file's path and the sha256 of its bytes; undefined when it cannot be read. */
async function scenarioFileHash(file: string): Promise<{ file: string; sha256: string } | undefined> {
  if (!existsSync(file)) return undefined;
  const bytes = await readFile(file).catch(() => undefined);
  return bytes ? { file: relative(PROJECT_ROOT, file) || file, sha256: createHash('sha256').update(bytes).digest('hex') } : undefined;
}

/** Start Prometheus and Alertmanager for a run when wanted and installed, scraping nothing yet; otherwise say why not, once. */
async function startRunMonitoring(wanted: boolean, runDir: string): Promise<{ monitoring?: Monitoring; note?: string }> {
  if (!wanted) return { note: 'Prometheus and Alertmanager turned off (--no-monitoring): SLO report and alert expectations skipped' };
  try {
    return { monitoring: await startMonitoring({ runDir, targets: [] }) };
  } catch (error) {
    if (error instanceof FaultlineError && error.code === ERROR_CODE.monitoringUnavailable) return { note: `${error.message}: SLO report and alert expectations skipped` };
    throw error;
  }
}

/** Point the run's Prometheus at the lab and wait until it has scraped every target, and evaluated its rules, before the load. */
async function scrapeLab(starting: ReturnType<typeof startRunMonitoring>, runDir: string, targets: ScrapeTarget[]): Promise<{ monitoring?: Monitoring; note?: string }> {
  const started = await starting;
  if (!started.monitoring) return started;
  try {
    await recordMonitoringProcesses(runDir, started.monitoring);
    await started.monitoring.setTargets(targets);
    await started.monitoring.waitForTargets();
  } catch (error) {
    await started.monitoring.stop();
    throw error;
  }
  return started;
}

/** Stop whatever of the run's monitoring has started (the lab did not come up). */
async function stopStartedMonitoring(starting: ReturnType<typeof startRunMonitoring>): Promise<void> {
  await (await starting.catch(() => undefined))?.monitoring?.stop();
}

interface WarmUpResult {
  waves: number;
  settled: boolean;
  lastMedianMs: number;
  durationMs: number;
}

/** Unrecorded journeys in waves until a wave's median settles (see WARM_UP); the mix is closed after. */
async function warmUpUntilSteady(mix: JourneyMix, signal: AbortSignal): Promise<WarmUpResult> {
  const started = performance.now();
  const medians: number[] = [];
  let settled = false;
  try {
    for (let wave = 0; wave < WARM_UP.maxWaves && !signal.aborted && performance.now() - started < WARM_UP.maxMs; wave += 1) {
      const times = await Promise.all(
        Array.from({ length: WARM_UP.concurrency }, async (_, i) => {
          const begun = performance.now();
          await mix({ vu: i + 1, iteration: wave * WARM_UP.concurrency + i, intendedStartMs: Date.now(), signal });
          return performance.now() - begun;
        }),
      );
      medians.push(percentile(times, 50));
      if (medians.length >= WARM_UP.minWaves) {
        const [before, last] = medians.slice(-2) as [number, number];
        if (Math.abs(last - before) <= Math.max(WARM_UP.settledMs, WARM_UP.settledRatio * before)) {
          settled = true;
          break;
        }
      }
    }
  } finally {
    await mix.close();
  }
  return { waves: medians.length, settled, lastMedianMs: medians.at(-1) ?? 0, durationMs: performance.now() - started };
}

/** Scrapes Prometheus missed per phase: `up` samples it has against what every target should have had at its interval. */
async function missedScrapes(monitoring: Monitoring, phases: ReadonlyArray<{ name: string; startMs: number; endMs: number }>, startedAt: number, targets: number): Promise<Map<string, { missed: number; due: number }>> {
  const gaps = new Map<string, { missed: number; due: number }>();
  for (const phase of phases) {
    const seconds = Math.floor((phase.endMs - phase.startMs) / 1_000);
    if (seconds < 2) continue;
    const got = (await monitoring.query(`sum(count_over_time(up[${seconds}s]))`, startedAt + phase.endMs).catch(() => []))[0]?.value;
    if (got === undefined || Number.isNaN(got)) continue;
    const due = Math.floor((seconds * 1_000) / monitoring.scrapeIntervalMs) * targets;
    gaps.set(phase.name, { missed: Math.max(0, due - got), due });
  }
  return gaps;
}

function describeLimits(limits: PressureLimits): string {
  return `cpu pressure ${(limits.cpuPressure * 100).toFixed(0)}%, generator lag ${limits.generatorLag}ms, event loop ${limits.eventLoopDelay}ms, dropped ${(limits.dropped * 100).toFixed(0)}%`;
}
