#!/usr/bin/env node
// The `faultline` CLI: a thin typed table over the runner's programmatic API.
// A known error prints one line and sets a non-zero exit code; a stack trace
// is printed only for a bug.

import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import { RUN_MEASURED_MESSAGE, SWITCH_NAMES, type CatalogueRun } from '../runner/catalogue.ts';
import { DEFAULT_UP_CAPS, diskCaps } from '../runner/disk-caps.ts';
import { FaultlineError } from '../runner/errors.ts';
import type { ConsoleSession } from '../runner/console/console-session.ts';
import type { Lab } from '../runner/lab.ts';
import type { Monitoring } from '../runner/monitoring.ts';
import { PROJECT_ROOT } from '../runner/supervisor.ts';

// Commands load what they use (dynamic imports below): `up` keeps the CLI
// process beside the lab for the whole session, so it should not carry the
// scenario runner, the load generator or the reports in memory.

/** The verdict as an exit code: 0 pass, 1 fail, 2 error (the run could not be made), 3 inconclusive (the machine was too busy to judge). */
const EXIT = { pass: 0, fail: 1, error: 2, inconclusive: 3, interrupted: 130 } as const;

/** One abort signal for the whole command: Ctrl-C or SIGTERM stops whatever is running. */
function interruptSignal(): AbortSignal {
  const controller = new AbortController();
  const stop = (signal: string) => {
    if (controller.signal.aborted) {
      process.stderr.write(`faultline: ${signal} again, exiting now\n`);
      process.exit(EXIT.interrupted);
    }
    process.stderr.write(`\nfaultline: ${signal}: stopping the lab...\n`);
    controller.abort(new FaultlineError('FL_INTERRUPTED', signal));
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  return controller.signal;
}

function port(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > 65_535) throw new InvalidArgumentError('must be a port number from 0 to 65535');
  return parsed;
}

function positive(value: string): number {
  const parsed = Number(value);
  if (!(parsed > 0)) throw new InvalidArgumentError('must be a number > 0');
  return parsed;
}

/** A size limit in megabytes; 0 turns the cap off. */
function megabytes(value: string): number {
  const parsed = Number(value);
  if (value.trim() === '' || !Number.isFinite(parsed) || parsed < 0) throw new InvalidArgumentError('must be a number of megabytes >= 0 (0: no cap)');
  return parsed;
}

/** What `--disable` switches off: a call policy, or a service's own pattern (checkout's crash recovery); runner/catalogue.ts. */
function policyName(value: string, previous: string[] = []): string[] {
  if (!(SWITCH_NAMES as readonly string[]).includes(value)) throw new InvalidArgumentError(`must be one of ${SWITCH_NAMES.join(', ')}`);
  return [...previous, value];
}

export function buildCli(): Command {
  const program = new Command('faultline')
    .description('Observability and traffic-simulation lab: run a scenario, see the fault move the metrics, get a verdict.')
    .showHelpAfterError('(run faultline --help for usage)')
    .configureOutput({ outputError: (text, write) => write(text) })
    // Usage errors (a missing argument, a bad flag value) come back to main() as a
    // CommanderError instead of commander's own process.exit(1): they exit 2, as every
    // error before a run does. Set before any subcommand is added: they inherit it.
    .exitOverride();

  program
    .command('list')
    .description('list the scenarios by category, one line each: name, pattern(s) demonstrated, description')
    .action(async () => {
      const [{ listScenarioFiles, loadScenario }, { CATEGORIES, groupByCategory }] = await Promise.all([import('../runner/scenario.ts'), import('../runner/catalogue.ts')]);
      const files = await listScenarioFiles();
      const entries = await Promise.all(
        files.map(async (file) => {
          const name = basename(file, '.yaml');
          try {
            const scenario = await loadScenario(file);
            return { name, description: scenario.description, category: scenario.category, demonstrates: scenario.demonstrates };
          } catch (error) {
            return { name, description: `(invalid: ${(error as Error).message})`, category: undefined, demonstrates: undefined };
          }
        }),
      );
      const width = Math.max(24, ...entries.map((entry) => entry.name.length));
      const patterns = (entry: (typeof entries)[number]) => `[${(entry.demonstrates ?? []).join(', ')}]`;
      const patternWidth = Math.max(...entries.map((entry) => patterns(entry).length));
      for (const group of groupByCategory(entries)) {
        process.stdout.write(`${group.category}: ${group.category === 'uncategorised' ? 'scenarios without a category' : CATEGORIES[group.category]}\n`);
        for (const entry of group.entries) process.stdout.write(`${entry.name.padEnd(width)} ${patterns(entry).padEnd(patternWidth)} ${entry.description}\n`);
      }
    });

  program
    .command('run')
    .description('start the lab, run a scenario, tear everything down; the exit code is the verdict. Several scenarios (or --all): one after another, one combined junit.xml and summary, the exit code the worst')
    .argument('[scenario...]', 'scenario name (see `faultline list`) or path to a scenario YAML file; several run one after another')
    .option('--all', 'run every scenario of scenarios/')
    .option('--without', "run each scenario with its `without` switches off (its pattern removed): each must FAIL, and a FAIL counts as passing")
    .option('--disable <policy>', `switch a resilience policy off everywhere (${SWITCH_NAMES.join(', ')}); repeatable`, policyName)
    .option('--time-scale <factor>', 'multiply every phase and fault duration (0.5 runs twice as fast)', positive)
    .option('--runs-dir <dir>', 'where run records go', join(PROJECT_ROOT, 'runs'))
    .option('--no-monitoring', 'do not start Prometheus and Alertmanager, even when installed (no SLO report, alert expectations skipped)')
    .option('--strict', 'an INCONCLUSIVE verdict (the machine too busy to judge) fails: exit 1 instead of 3, failures in junit.xml')
    .action(async function (this: Command, names: string[], flags: RunFlags) {
      if (names.length === 0 && !flags.all) this.error("error: missing required argument 'scenario'", { code: 'commander.missingArgument' });
      if (names.length === 1 && !flags.all && !flags.without) {
        await runOne(names[0] as string, flags);
        return;
      }
      await runCatalogue(names, flags);
    });

  program
    .command('check')
    .description("check a run's books: every confirmed order charged once, no stray charge, stock never negative, no hold past its TTL")
    .argument('<run>', 'a run directory (runs/<id>) or a run id')
    .option('--runs-dir <dir>', 'where run records are', join(PROJECT_ROOT, 'runs'))
    .action(async (run: string, flags: { runsDir: string }) => {
      const runDir = existsSync(run) ? run : join(flags.runsDir, run);
      if (!existsSync(runDir)) throw new FaultlineError('FL_RUN_NOT_FOUND', `no run '${run}' (looked in ${runDir})`);
      const summary = await readFile(join(runDir, 'summary.json'), 'utf8').then((text) => JSON.parse(text) as { endedAt?: string }, () => ({}) as { endedAt?: string });
      const { checkBooks, renderBooks } = await import('../runner/books.ts');
      const report = checkBooks(runDir, summary.endedAt ? Date.parse(summary.endedAt) + 10_000 : Date.now());
      process.stdout.write(`${renderBooks(report)}\n`);
      process.exitCode = report.ok ? EXIT.pass : EXIT.fail;
    });

  program
    .command('recover')
    .description("finish what a stopped or killed run left in flight (pending orders, owed refunds and releases) on that run's data, then check its books")
    .argument('<run>', 'a run directory (runs/<id>) or a run id')
    .option('--runs-dir <dir>', 'where run records are', join(PROJECT_ROOT, 'runs'))
    .option('--timeout <seconds>', 'give up waiting for the in-flight work after this long', positive, 60)
    .action(async (run: string, flags: { runsDir: string; timeout: number }) => {
      const signal = interruptSignal();
      const runDir = existsSync(run) ? run : join(flags.runsDir, run);
      if (!existsSync(runDir)) throw new FaultlineError('FL_RUN_NOT_FOUND', `no run '${run}' (looked in ${runDir})`);
      const [{ recoverRun }, { renderBooks }] = await Promise.all([import('../runner/recover.ts'), import('../runner/books.ts')]);
      const { after } = await recoverRun(runDir, { timeoutMs: flags.timeout * 1_000, signal, say: (line) => process.stdout.write(`${line}\n`) });
      process.stdout.write(`${renderBooks(after)}\n`);
      process.exitCode = after.ok ? EXIT.pass : EXIT.fail;
    });

  program
    .command('slo')
    .description('SLO tooling')
    .command('generate')
    .description('render the SLO specs (slo/specs) to Prometheus rules, promtool tests and Alertmanager config')
    .allowUnknownOption()
    .helpOption(false)
    .argument('[options...]', '--time-scale N, --out-dir DIR, --webhook-url URL, --evaluation-interval D, --specs-dir DIR, --alert-style tiers|sloth, --all')
    .action(async (args: string[]) => {
      const { runGenerateCli } = await import('../slo/generate.ts');
      process.exitCode = await runGenerateCli(args);
    });

  program
    .command('chaos')
    .description('chaos tooling')
    .command('export')
    .description("write a scenario's faults as Chaos Mesh manifests (experiments plus a Workflow replaying the timeline)")
    .argument('<scenario>', 'scenario name or path')
    .option('--out-dir <dir>', 'where to write (a folder per scenario)', join(PROJECT_ROOT, 'runs', 'chaos-mesh'))
    .option('--namespace <ns>', 'Kubernetes namespace of the services', 'faultline')
    .option('--schedule <cron>', 'wrap the timeline in a Schedule with this cron expression')
    .action(async (scenario: string, flags: { outDir: string; namespace: string; schedule?: string }) => {
      const { loadScenario } = await import('../runner/scenario.ts');
      await loadScenario(scenario);
      const { writeChaosMeshExport } = await import('../chaos/chaos-mesh/write.ts');
      const written = await writeChaosMeshExport(scenario, flags.outDir, { namespace: flags.namespace, ...(flags.schedule ? { schedule: flags.schedule } : {}) });
      for (const file of written.files) process.stdout.write(`${join(written.dir, file)}\n`);
      for (const warning of written.warnings) process.stderr.write(`approximation: ${warning}\n`);
    });

  program
    .command('k8s')
    .description('Kubernetes manifests (deploy/kubernetes)')
    .command('render')
    .description('regenerate deploy/kubernetes (--write), check it is fresh (--check), or print an overlay as kubectl kustomize renders it (--overlay base|observability)')
    .allowUnknownOption()
    .helpOption(false)
    .argument('[options...]', '--check | --write | --overlay NAME')
    .action(async (args: string[]) => {
      // Lazy: the generator uses devDependencies (kubernetes-models, rolldown).
      const { main } = await import('../deploy/kubernetes/render.ts');
      process.exitCode = await main(args);
    });

  program
    .command('traces')
    .description("a run's traces: one as a waterfall with its logs, retries, breaker decisions and the faults that touched each span (--trace), or the slowest that pass the filters, with when each started and in which phase")
    .argument('<run>', 'a run directory (runs/<id>) or a run id')
    .option('--trace <id>', 'show this trace (32 hex digits) as a waterfall, followed by its logs')
    .option('--slowest <n>', 'list the N slowest traces (default 20)')
    .option('--service <name>', 'only traces with a span of this service')
    .option('--attr <key=value>', 'only traces with a span carrying this attribute value; repeatable', (value: string, previous: string[] = []) => [...previous, value])
    .option('--status <status>', 'only traces with (error) or without (ok) a failed span')
    .option('--min-duration <duration>', 'only traces at least this long (200ms, 1.5s)')
    .option('--phase <name>', "only traces that started in this phase of the run (the listing's phase column)")
    .option('--width <columns>', 'output width (default: the terminal width)')
    .option('--json', 'machine-readable output')
    .option('--runs-dir <dir>', 'where run records are', join(PROJECT_ROOT, 'runs'))
    .action(async (run: string, flags: Record<string, unknown> & { runsDir: string }) => {
      const { TracesQueryError, runTracesCommand } = await import('../collector/traces-cli.ts');
      try {
        await runTracesCommand(run, flags, { stdout: process.stdout, stderr: process.stderr, columns: process.stdout.columns });
      } catch (error) {
        if (error instanceof TracesQueryError) throw new FaultlineError(error.code, error.message);
        throw error;
      }
    });

  program
    .command('report')
    .description("(re)build a run's report.html; with two runs, a page comparing them on one time axis")
    .argument('<run>', 'a run directory (runs/<id>) or a run id')
    .argument('[runB]', 'a second run to compare with the first')
    .option('--out <file>', 'where to write the comparison page (default: compare-<runB id>.html in the first run)')
    .option('--runs-dir <dir>', 'where run records are', join(PROJECT_ROOT, 'runs'))
    .action(async (run: string, runB: string | undefined, flags: { out?: string; runsDir: string }) => {
      const dirOf = (id: string) => {
        const dir = existsSync(id) ? id : join(flags.runsDir, id);
        if (!existsSync(dir)) throw new FaultlineError('FL_RUN_NOT_FOUND', `no run '${id}' (looked in ${dir})`);
        return dir;
      };
      const { writeComparisonReport, writeRunReport } = await import('../runner/report-html/write.ts');
      const dirA = dirOf(run);
      const file = runB === undefined ? await writeRunReport(dirA) : await writeComparisonReport(dirA, dirOf(runB), flags.out ?? join(dirA, `compare-${basename(dirOf(runB))}.html`));
      process.stdout.write(`report: ${file}\n`);
    });

  const runs = program.command('runs').description('the run records under runs/');
  runs
    .command('list')
    .description('every run, newest first: age, size on disk, verdict or "in progress"')
    .option('--runs-dir <dir>', 'where run records are', join(PROJECT_ROOT, 'runs'))
    .action(async (flags: { runsDir: string }) => {
      const { listRuns, renderRunList } = await import('../runner/runs-prune.ts');
      process.stdout.write(`${renderRunList(await listRuns(flags.runsDir))}\n`);
    });
  runs
    .command('prune')
    .description('delete old runs: past the newest N (--keep) and/or started longer ago than --older-than; never one in progress')
    .option('--keep <n>', 'keep the N newest runs')
    .option('--older-than <duration>', 'only delete runs that started longer ago than this (12h, 7d)')
    .option('--dry-run', 'say what would be deleted, delete nothing')
    .option('--runs-dir <dir>', 'where run records are', join(PROJECT_ROOT, 'runs'))
    .action(async (flags: { keep?: string; olderThan?: string; dryRun?: boolean; runsDir: string }) => {
      const { parsePruneFlags, pruneRuns, renderPrune } = await import('../runner/runs-prune.ts');
      const options = parsePruneFlags(flags);
      process.stdout.write(`${renderPrune(await pruneRuns(flags.runsDir, options), options.dryRun === true)}\n`);
    });

  program
    .command('up')
    .description('start the lab and keep it running until Ctrl-C, printing every URL')
    .option('--gateway-port <port>', 'gateway port', port, 8080)
    .option('--collector-port <port>', 'collector OTLP/gRPC port', port, 4317)
    .option('--collector-http-port <port>', 'collector OTLP/HTTP port', port, 4318)
    .option('--chaos-port <port>', 'fault proxy admin API port (Toxiproxy dialect)', port, 8474)
    .option('--prometheus-port <port>', 'Prometheus port (when installed)', port, 9090)
    .option('--alertmanager-port <port>', 'Alertmanager port (when installed)', port, 9093)
    .option('--no-monitoring', 'do not start Prometheus and Alertmanager, even when installed')
    .option('--load <rate>', 'background traffic: this many journeys a second (open model: browse, recommendations, cart, checkout) until Ctrl-C; the console changes it live', positive)
    .option('--console-port <port>', 'the live console (loopback, its URL carries a token)', port, 9990)
    .option('--no-console', 'do not serve the live console')
    .option('--runs-dir <dir>', 'where the session record goes', join(PROJECT_ROOT, 'runs'))
    .option('--max-telemetry-mb <mb>', 'cap per telemetry signal: traces, logs and metrics files each rotate to stay under it (0: no cap)', megabytes, DEFAULT_UP_CAPS.telemetryMbPerSignal)
    .option('--max-log-mb <mb>', "cap per lab process's log file in runs/<id>/logs (0: no cap)", megabytes, DEFAULT_UP_CAPS.processLogMb)
    .action(async (flags: UpFlags) => {
      const signal = interruptSignal();
      const started = performance.now();
      const [{ newRunId }, { startLab }, { issueToken }, up] = await Promise.all([
        import('../runner/run-id.ts'),
        import('../runner/lab.ts'),
        import('../demo-services/kit/jwt.ts'),
        import('../runner/up.ts'),
      ]);
      // Every fixed port first: a port in use is reported before anything starts.
      const monitoringInstalled = flags.monitoring && (await import('../runner/monitoring.ts').then((m) => m.monitoringAvailability())).available;
      await up.checkPortsFree([
        { name: 'gateway', flag: '--gateway-port', port: flags.gatewayPort },
        { name: 'collector OTLP/gRPC', flag: '--collector-port', port: flags.collectorPort },
        { name: 'collector OTLP/HTTP', flag: '--collector-http-port', port: flags.collectorHttpPort },
        { name: 'fault proxy admin', flag: '--chaos-port', port: flags.chaosPort },
        ...(flags.console ? [{ name: 'console', flag: '--console-port', port: flags.consolePort }] : []),
        ...(monitoringInstalled
          ? [
              { name: 'prometheus', flag: '--prometheus-port', port: flags.prometheusPort },
              { name: 'alertmanager', flag: '--alertmanager-port', port: flags.alertmanagerPort },
            ]
          : []),
      ]);
      const runId = newRunId('up');
      const runDir = join(flags.runsDir, runId);
      await mkdir(runDir, { recursive: true });
      process.stdout.write(`faultline: starting the lab (session record ${runDir}); Ctrl-C stops it\n`);
      const lab = await startLab({
        runDir,
        ports: { gateway: flags.gatewayPort, collectorGrpc: flags.collectorPort, collectorOtlpHttp: flags.collectorHttpPort, chaosAdmin: flags.chaosPort },
        diskCaps: diskCaps({ telemetryMbPerSignal: flags.maxTelemetryMb, processLogMb: flags.maxLogMb }),
        signal,
      });
      let monitoring: Monitoring | undefined;
      let load: Awaited<ReturnType<typeof up.startBackgroundLoad>> | undefined;
      try {
        monitoring = await untilAborted(startUpMonitoring(flags, runDir, lab), signal, (late) => late?.stop());
        // With the console, traffic is always there to turn up (at rate 0 until asked).
        if (flags.load !== undefined || flags.console) load = await up.startBackgroundLoad(lab, flags.load ?? 0, { runId });
      } catch (error) {
        await load?.stop();
        await monitoring?.stop();
        await lab.stop();
        if (signal.aborted) throw new FaultlineError('FL_INTERRUPTED', `${(signal.reason as Error).message} during start-up; lab stopped`);
        throw error;
      }
      const sessionStart = Date.now();
      let consoleSession: ConsoleSession | undefined;
      if (flags.console && load) {
        try {
          const { startConsoleSession } = await import('../runner/console/console-session.ts');
          const version = monitoring ? await up.prometheusVersion(monitoring.prometheusUrl) : undefined;
          consoleSession = await startConsoleSession({ lab, ...(monitoring ? { monitoring } : {}), runsDir: flags.runsDir, startedAt: sessionStart, load, port: flags.consolePort, ...(version ? { prometheusVersion: version } : {}) });
        } catch (error) {
          await load.stop();
          await monitoring?.stop();
          await lab.stop();
          throw error;
        }
      }
      // The console writes its own faults to faults.jsonl (source: console); the poll records the rest.
      const manualFaults = up.recordManualFaults(lab, sessionStart, Date.now, consoleSession ? (fault) => consoleSession.board.owns(fault) : undefined);
      process.stdout.write(`faultline lab ready in ${((performance.now() - started) / 1_000).toFixed(2)} s\n`);
      if (consoleSession) process.stdout.write(`  ${'console (open this)'.padEnd(36)} ${consoleSession.server.openUrl}\n`);
      for (const { name, url } of lab.urls) process.stdout.write(`  ${name.padEnd(36)} ${url}\n`);
      if (monitoring) for (const { name, url } of await up.monitoringLinks(monitoring)) process.stdout.write(`  ${name.padEnd(36)} ${url}\n`);
      process.stdout.write(`  ${'faults set by hand (recorded)'.padEnd(36)} ${join(runDir, 'faults.jsonl')}\n`);
      if (load) process.stdout.write(`  ${`background load (${flags.load ?? 0}/s)`.padEnd(36)} ${load.metricsUrl}\n`);
      const token = await issueToken(lab.authSecret, 'user-1', 24 * 3_600);
      process.stdout.write(`A checkout by hand (bearer token for user-1, valid 24 h):\n`);
      process.stdout.write(
        `  curl -s -X POST ${lab.gatewayUrl}/api/checkout -H 'content-type: application/json' -H 'authorization: Bearer ${token}' -d '{"userId":"user-1","items":[{"sku":"sku-1","quantity":1}],"amount":1999}'\n`,
      );
      process.stdout.write('Ctrl-C stops everything.\n');
      lab.supervisor.onUnexpectedExit((name, code, sig) => process.stderr.write(`faultline: ${name} exited (code ${code}, signal ${sig})\n`));
      if (!signal.aborted) await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
      await consoleSession?.stop();
      await load?.stop();
      await manualFaults.poll();
      await manualFaults.stop();
      await monitoring?.stop();
      await lab.stop();
      process.stdout.write('faultline: lab stopped\n');
    });

  return program;
}

interface RunFlags {
  all?: boolean;
  without?: boolean;
  disable?: string[];
  timeScale?: number;
  runsDir: string;
  monitoring: boolean;
  strict?: boolean;
}

/** One scenario, as `run` has always run it: its verdict is the exit code. */
async function runOne(name: string, flags: RunFlags): Promise<void> {
  const signal = interruptSignal();
  const [{ adjustScenario, loadScenario, scenarioPath }, { runScenario }] = await Promise.all([import('../runner/scenario.ts'), import('../runner/run-scenario.ts')]);
  const scenario = adjustScenario(await loadScenario(name), { disable: flags.disable ?? [], timeScale: flags.timeScale ?? 1 });
  const { summary } = await runScenario(scenario, {
    scenarioFile: scenarioPath(name),
    runsDir: flags.runsDir,
    disabled: flags.disable ?? [],
    timeScale: flags.timeScale ?? 1,
    signal,
    output: process.stdout,
    monitoring: flags.monitoring,
    strict: flags.strict === true,
    // Started with an IPC channel (the catalogue's matrix): say when the run has measured all it will.
    ...(process.send ? { onMeasured: () => process.send?.(RUN_MEASURED_MESSAGE) } : {}),
  });
  process.exitCode = summary.verdict === 'pass' ? EXIT.pass : summary.verdict === 'inconclusive' && !flags.strict ? EXIT.inconclusive : EXIT.fail;
}

/**
 * Several scenarios (or --all), one after another: every one is loaded and adjusted before the
 * first starts (a bad name or switch is exit 2 with nothing run); a run that cannot be made is
 * an error for that scenario and the next one runs; Ctrl-C stops the current run and the rest.
 * The combined record goes to <runs-dir>/<id of the catalogue>/ (summary.json, junit.xml).
 */
async function runCatalogue(names: string[], flags: RunFlags): Promise<void> {
  const [{ adjustScenario, listScenarioFiles, loadScenario, scenarioPath }, catalogue] = await Promise.all([import('../runner/scenario.ts'), import('../runner/catalogue.ts')]);
  if (flags.all && names.length > 0) throw new FaultlineError('FL_BAD_OPTION', `--all runs every scenario: give no names with it (got ${names.join(', ')})`);
  if (flags.without && flags.disable?.length) throw new FaultlineError('FL_BAD_OPTION', '--without switches off what each scenario names in `without`: give no --disable with it');
  const chosen = flags.all ? (await listScenarioFiles()).map((file) => basename(file, '.yaml')) : names;
  const twice = chosen.filter((name, i) => chosen.indexOf(name) !== i);
  if (twice.length) throw new FaultlineError('FL_BAD_OPTION', `${[...new Set(twice)].join(', ')}: named more than once`);
  if (chosen.length === 0) throw new FaultlineError('FL_SCENARIO_NOT_FOUND', 'no scenarios to run (scenarios/ has no .yaml file)');
  const timeScale = flags.timeScale ?? 1;
  const plans = [];
  for (const name of chosen) {
    const loaded = await loadScenario(name);
    if (flags.without && !loaded.without) throw new FaultlineError('FL_BAD_OPTION', `--without: scenario '${loaded.name}' has no \`without\` field (the switches that remove its pattern)`);
    const disabled = flags.without ? [...(loaded.without ?? [])] : (flags.disable ?? []);
    plans.push({ name, file: scenarioPath(name), disabled, scenario: adjustScenario(loaded, { disable: disabled, timeScale }) });
  }

  const signal = interruptSignal();
  const { runScenario } = await import('../runner/run-scenario.ts');
  const { renderJunit } = await import('../runner/report.ts');
  const { newRunId } = await import('../runner/run-id.ts');
  const startedAt = new Date();
  const id = newRunId('catalogue', startedAt);
  const runs: CatalogueRun[] = [];
  const expected = flags.without ? 'fail' : 'pass';
  let interrupted: unknown;
  for (const [i, plan] of plans.entries()) {
    process.stdout.write(`\n=== ${i + 1}/${plans.length} ${plan.name}${flags.without ? ` without ${plan.disabled.join(', ')} (must FAIL)` : ''}\n`);
    try {
      const result = await runScenario(plan.scenario, {
        scenarioFile: plan.file,
        runsDir: flags.runsDir,
        disabled: plan.disabled,
        timeScale,
        signal,
        output: process.stdout,
        monitoring: flags.monitoring,
        strict: flags.strict === true,
        // Under the catalogue's matrix (an IPC channel): the last run's last measurement is the command's.
        ...(process.send && i === plans.length - 1 ? { onMeasured: () => process.send?.(RUN_MEASURED_MESSAGE) } : {}),
      });
      runs.push({ scenario: plan.scenario.name, disabled: plan.disabled, expected, outcome: result.summary.verdict, id: result.summary.id, runDir: result.runDir, summary: result.summary });
    } catch (error) {
      if (!(error instanceof FaultlineError)) throw error;
      runs.push({ scenario: plan.scenario.name, disabled: plan.disabled, expected, outcome: 'error', error: error.message });
      if (error.code === 'FL_INTERRUPTED' || signal.aborted) {
        // main() says why; the record of what ran is written first.
        interrupted = error;
        break;
      }
      process.stderr.write(`faultline: ${plan.name}: ${error.message} (going on with the next scenario)\n`);
    }
  }
  const strict = flags.strict === true;
  const summary = catalogue.catalogueSummary(runs, {
    id,
    mode: flags.without ? 'without' : 'with',
    startedAt: startedAt.toISOString(),
    endedAt: new Date().toISOString(),
    timeScale,
    strict,
    monitoring: flags.monitoring,
    interrupted: interrupted !== undefined,
  });
  const dir = join(flags.runsDir, id);
  await catalogue.writeCatalogueRecord(dir, summary, catalogue.mergeJunit(runs, renderJunit, strict));
  process.stdout.write(`\n${catalogue.renderCatalogueTable(summary, (runDir) => relative(process.cwd(), runDir) || runDir)}\n`);
  process.stdout.write(`catalogue record: ${relative(process.cwd(), dir) || dir} (summary.json, junit.xml)\n`);
  if (interrupted !== undefined) throw interrupted;
  process.exitCode = summary.exitCode;
}

/**
 * A start-up step given up at once on Ctrl-C (rejecting FL_INTERRUPTED); what it still brings
 * up afterwards is handed to `cleanUp`, which the caller's stop waits for only through `pending`.
 */
async function untilAborted<T>(promise: Promise<T>, signal: AbortSignal, cleanUp: (late: T) => unknown): Promise<T> {
  if (signal.aborted) {
    await promise.then(cleanUp, () => undefined);
    throw new FaultlineError('FL_INTERRUPTED', 'interrupted during start-up');
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      // Whatever the step still starts is stopped as soon as it is up.
      pending.push(promise.then(cleanUp, () => undefined));
      reject(new FaultlineError('FL_INTERRUPTED', 'interrupted during start-up'));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/** Clean-ups still running when a command gives up; main() waits for them before exiting. */
const pending: Array<Promise<unknown>> = [];

interface UpFlags {
  gatewayPort: number;
  collectorPort: number;
  collectorHttpPort: number;
  chaosPort: number;
  prometheusPort: number;
  alertmanagerPort: number;
  monitoring: boolean;
  load?: number;
  console: boolean;
  consolePort: number;
  runsDir: string;
  maxTelemetryMb: number;
  maxLogMb: number;
}

/** Prometheus and Alertmanager for `up` when installed; a note once when not. */
async function startUpMonitoring(flags: UpFlags, runDir: string, lab: Lab): Promise<Monitoring | undefined> {
  if (!flags.monitoring) return undefined;
  const { startMonitoringIfInstalled } = await import('../runner/monitoring.ts');
  const started = await startMonitoringIfInstalled({ runDir, targets: lab.scrapeTargets(), ports: { prometheus: flags.prometheusPort, alertmanager: flags.alertmanagerPort } });
  if ('unavailable' in started) {
    process.stdout.write(`note: ${started.unavailable}, so no local Prometheus or Alertmanager\n`);
    return undefined;
  }
  return started.monitoring;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildCli().parseAsync(argv);
  } catch (error) {
    await Promise.all(pending);
    if (error instanceof CommanderError) {
      // Commander has printed the message (and the help when asked for); --help and --version exit 0.
      process.exitCode = error.exitCode === 0 ? EXIT.pass : EXIT.error;
      return;
    }
    if (error instanceof FaultlineError) {
      process.stderr.write(`faultline: ${error.message}\n`);
      process.exitCode = error.code === 'FL_INTERRUPTED' ? EXIT.interrupted : EXIT.error;
      return;
    }
    process.stderr.write(`faultline: internal error (a bug; please report it)\n${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = EXIT.error;
  }
}

await main(process.argv);
