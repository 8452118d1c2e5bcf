// The scenario catalogue: what each scenario demonstrates and how it is run
// without it, and `faultline run` over several scenarios (or --all): one
// combined junit.xml (a testsuite per scenario) and summary.json, the exit code
// the worst verdict. The combining is pure (data in, text out); the CLI runs
// the scenarios and writes the files.

import { writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { POLICY_NAMES } from '../demo-services/resilience/policy-config.ts';
import type { RunSummary, RunVerdict } from './report.ts';

/**
 * What `--disable` switches off, and what a scenario's `without` may name: a call policy, the retry
 * budget inside the retry policy, a service's own pattern (checkout's crash recovery, its retries of
 * owed compensations), or one of the
 * gateway's (rate limit, load shedding, the recommendations' fallback).
 */
export const SWITCH_NAMES = [...POLICY_NAMES, 'retryBudget', 'recovery', 'compensation', 'rateLimit', 'loadShedding', 'fallback', 'idempotency', 'deadlines', 'coalescing', 'outlierDetection', 'healthChecks', 'memoryLimit', 'asyncTelemetry', 'jitter', 'eventLoopShedding', 'quarantine'] as const;
export type SwitchName = (typeof SWITCH_NAMES)[number];

/** Kinds of failure, in the order `faultline list` and docs/scenarios show them; each with one line for the index. */
export const CATEGORIES = {
  'dependency-failure': 'a dependency fails, hangs or answers errors',
  network: 'the network between two services delays, drops, resets or splits',
  process: 'a process crashes, is killed or freezes',
  overload: 'more work arrives than the system can do',
  resource: 'a process runs short of memory, CPU or connections',
  'data-integrity': 'money and stock must stay right whatever fails',
  deployment: 'a bad instance, a failed readiness, a rollout',
  observability: 'the telemetry pipeline itself fails',
} as const;
export type Category = keyof typeof CATEGORIES;
export const CATEGORY_NAMES = Object.keys(CATEGORIES) as [Category, ...Category[]];

/** What one scenario of the catalogue says about itself (the scenario's own fields). */
export interface CatalogueEntry {
  name: string;
  description: string;
  category?: Category | undefined;
  demonstrates?: readonly string[] | undefined;
  without?: readonly string[] | undefined;
}

/** Entries grouped by category, in CATEGORIES order, names sorted; those without one last, under `uncategorised`. */
export function groupByCategory<T extends CatalogueEntry>(entries: readonly T[]): Array<{ category: Category | 'uncategorised'; entries: T[] }> {
  const groups = [...CATEGORY_NAMES, 'uncategorised' as const].map((category) => ({
    category,
    entries: entries.filter((entry) => (entry.category ?? 'uncategorised') === category).sort((a, b) => a.name.localeCompare(b.name)),
  }));
  return groups.filter((group) => group.entries.length > 0);
}

/** `--disable` flags that run a scenario without its pattern. */
export function withoutFlags(entry: Pick<CatalogueEntry, 'without'>): string[] {
  return (entry.without ?? []).flatMap((name) => ['--disable', name]);
}

// ---------------------------------------------------------------------------
// Several runs in one command.

/** How one run of a catalogue command ended: its verdict, or an error before or during the run (no verdict). */
export type Outcome = RunVerdict | 'error';

export interface CatalogueRun {
  scenario: string;
  /** The switches applied: `--disable` as given, or the scenario's `without` under --without. */
  disabled: string[];
  /** What the run should give: pass normally, fail under --without (the pattern removed, the scenario must fail). */
  expected: 'pass' | 'fail';
  outcome: Outcome;
  /** Set when the run made a record. */
  id?: string;
  runDir?: string;
  /** The run's summary; absent on error. */
  summary?: RunSummary;
  /** Why the run could not be made or finished. */
  error?: string;
}

/** Worst first: an error beats a failure beats an inconclusive run beats a pass. */
const SEVERITY: Record<Outcome, number> = { pass: 0, inconclusive: 1, fail: 2, error: 3 };

/**
 * What a run counts as for the catalogue: its own verdict when it was expected to pass; under
 * --without a FAIL is what was expected (pass) and a PASS is the failure (the pattern made no
 * difference). Inconclusive and error stay what they are. `strict`: inconclusive fails.
 */
export function judged(run: Pick<CatalogueRun, 'outcome' | 'expected'>, strict = false): Outcome {
  const outcome = run.expected === 'fail' && (run.outcome === 'pass' || run.outcome === 'fail') ? (run.outcome === 'fail' ? 'pass' : 'fail') : run.outcome;
  return strict && outcome === 'inconclusive' ? 'fail' : outcome;
}

/** The worst of the outcomes; pass when there are none. */
export function worstOutcome(outcomes: readonly Outcome[]): Outcome {
  return outcomes.reduce<Outcome>((worst, outcome) => (SEVERITY[outcome] > SEVERITY[worst] ? outcome : worst), 'pass');
}

/**
 * What `faultline run` sends its parent over an IPC channel, when it has one,
 * once the run has taken its last measurement (RunOptions.onMeasured): the
 * catalogue's matrix starts its next run then, beside this one's teardown.
 */
export const RUN_MEASURED_MESSAGE = 'faultline:measured';

/** The exit code of an outcome, as for one run: 0 pass, 1 fail, 2 error, 3 inconclusive. */
export function exitCodeOf(outcome: Outcome): number {
  return { pass: 0, fail: 1, error: 2, inconclusive: 3 }[outcome];
}

export interface CatalogueSummary {
  kind: 'catalogue';
  id: string;
  /** with: every scenario as written (or with --disable); without: each with its `without` switches, expecting FAIL. */
  mode: 'with' | 'without';
  /** The worst of the judged outcomes (runs list reads it). */
  verdict: Outcome;
  exitCode: number;
  startedAt: string;
  endedAt: string;
  options: { timeScale: number; strict: boolean; monitoring: boolean };
  /** Set when Ctrl-C stopped the command before every scenario ran. */
  interrupted?: boolean;
  runs: Array<{ scenario: string; expected: 'pass' | 'fail'; verdict: Outcome; judged: Outcome; disabled: string[]; id?: string; runDir?: string; error?: string }>;
}

export function catalogueSummary(
  runs: readonly CatalogueRun[],
  meta: { id: string; mode: 'with' | 'without'; startedAt: string; endedAt: string; timeScale: number; strict: boolean; monitoring: boolean; interrupted?: boolean },
): CatalogueSummary {
  const outcomes = runs.map((run) => judged(run, meta.strict));
  const verdict = worstOutcome(outcomes);
  return {
    kind: 'catalogue',
    id: meta.id,
    mode: meta.mode,
    verdict,
    exitCode: exitCodeOf(verdict),
    startedAt: meta.startedAt,
    endedAt: meta.endedAt,
    options: { timeScale: meta.timeScale, strict: meta.strict, monitoring: meta.monitoring },
    ...(meta.interrupted ? { interrupted: true } : {}),
    runs: runs.map((run, i) => ({
      scenario: run.scenario,
      expected: run.expected,
      verdict: run.outcome,
      judged: outcomes[i] as Outcome,
      disabled: run.disabled,
      ...(run.id !== undefined ? { id: run.id } : {}),
      ...(run.runDir !== undefined ? { runDir: run.runDir } : {}),
      ...(run.error !== undefined ? { error: run.error } : {}),
    })),
  };
}

/** A run's testsuite blocks, as renderJunit wrote them (indented two spaces inside <testsuites>). */
export function junitSuites(junit: string): string[] {
  return [...junit.matchAll(/^ {2}<testsuite [\s\S]*?^ {2}<\/testsuite>$/gm)].map((match) => match[0]);
}

const attribute = (block: string, name: string): number => Number(new RegExp(`^ {2}<testsuite [^>]*\\b${name}="([\\d.]+)"`).exec(block)?.[1] ?? 0);

/**
 * One junit.xml for several runs: one testsuite per run, the root's counts their sums. `junitOf`
 * renders a run's own file (report.ts renderJunit). Under --without each run is one test case,
 * "fails without <switches>", failing when the scenario passed; an error is an <error> case.
 */
export function mergeJunit(runs: readonly CatalogueRun[], junitOf: (summary: RunSummary) => string, strict = false): string {
  const suites = runs.flatMap((run) => {
    if (run.summary && run.expected === 'pass') return junitSuites(junitOf(run.summary));
    return [singleCaseSuite(run, strict)];
  });
  const sum = (name: string) => suites.reduce((total, block) => total + attribute(block, name), 0);
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="faultline" tests="${sum('tests')}" failures="${sum('failures')}" errors="${sum('errors')}" time="${sum('time').toFixed(3)}">`,
    ...suites,
    '</testsuites>',
    '',
  ].join('\n');
}

/** A testsuite of one case: a run that could not be made, or a run under --without. */
function singleCaseSuite(run: CatalogueRun, strict: boolean): string {
  const outcome = judged(run, strict);
  const suiteName = run.expected === 'fail' ? `${run.scenario} without ${run.disabled.join(', ')}` : run.scenario;
  const caseName = run.expected === 'fail' ? `fails without ${run.disabled.join(', ')}` : 'runs';
  const summary = run.summary;
  const seconds = ((summary?.durationMs ?? 0) / 1_000).toFixed(3);
  const held = summary ? summary.expectations.filter((e) => e.status === 'pass').map((e) => e.name) : [];
  const failed = summary ? summary.expectations.filter((e) => e.status === 'fail').map((e) => e.name) : [];
  const unjudged = summary ? summary.expectations.filter((e) => e.status === 'inconclusive').map((e) => e.name) : [];
  const detail = summary
    ? `verdict ${summary.verdict.toUpperCase()} (run ${summary.id})\nfailed: ${failed.join('; ') || 'none'}${unjudged.length ? `\ninconclusive: ${unjudged.join('; ')}` : ''}\nheld: ${held.join('; ') || 'none'}`
    : `error: ${run.error ?? 'no verdict'}`;
  const verdict =
    outcome === 'error'
      ? `\n      <error message="${xml(run.error ?? 'no verdict')}" type="error"/>`
      : outcome === 'fail'
        ? `\n      <failure message="${xml(run.expected === 'fail' ? `the scenario passed without ${run.disabled.join(', ')}: the pattern made no difference` : `verdict ${run.outcome}`)}" type="without"/>`
        : outcome === 'inconclusive'
          ? `\n      <skipped message="${xml('inconclusive: the machine was too busy to judge')}"/>`
          : '';
  const count = (flag: boolean) => (flag ? 1 : 0);
  return [
    `  <testsuite name="${xml(suiteName)}" tests="1" failures="${count(outcome === 'fail')}" errors="${count(outcome === 'error')}" skipped="${count(outcome === 'inconclusive')}" time="${seconds}"${summary ? ` timestamp="${summary.startedAt}"` : ''}>`,
    `    <testcase classname="faultline.${xml(run.scenario)}" name="${xml(caseName)}" time="0">${verdict}`,
    `      <system-out>${xml(detail)}</system-out>`,
    '    </testcase>',
    '  </testsuite>',
  ].join('\n');
}

function xml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c] as string);
}

const LABEL: Record<Outcome, string> = { pass: 'PASS', fail: 'FAIL', inconclusive: 'INCONCLUSIVE', error: 'ERROR' };

/** The lines printed after the last run: each run's verdict (and what was expected under --without), then the worst. */
export function renderCatalogueTable(summary: CatalogueSummary, relativeDir: (dir: string) => string = (dir) => dir): string {
  const width = Math.max(...summary.runs.map((run) => run.scenario.length), 8);
  const lines = summary.runs.map((run) => {
    const verdict = LABEL[run.verdict].padEnd(12);
    const how = run.judged === 'pass' ? 'as expected' : run.judged === 'fail' ? 'NOT as expected' : run.judged === 'inconclusive' ? 'not judged (machine too busy)' : 'not run';
    const expectation = run.expected === 'fail' ? `${how} without ${run.disabled.join(', ')}; ` : '';
    const where = run.runDir ? relativeDir(run.runDir) : (run.error ?? '');
    return `  ${verdict} ${run.scenario.padEnd(width)}  ${expectation}${where}`;
  });
  const mode = summary.mode === 'without' ? ' without their patterns (each must FAIL)' : '';
  const tail = summary.interrupted ? ', interrupted' : '';
  return [`catalogue: ${summary.runs.length} run${summary.runs.length === 1 ? '' : 's'}${mode}${tail}`, ...lines, `${LABEL[summary.verdict]}: the catalogue's worst outcome (exit ${summary.exitCode})`].join('\n');
}

/** Write summary.json and junit.xml of a catalogue command into its own folder. */
export async function writeCatalogueRecord(dir: string, summary: CatalogueSummary, junit: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  await writeFile(join(dir, 'junit.xml'), junit);
}
