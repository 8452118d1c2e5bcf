// The catalogue's matrix: every scenario of scenarios/ run with its pattern
// (must PASS) and without it (`--without`, must FAIL), each through the real
// CLI, and each verdict checked. `npm run test:catalogue` runs it and `.ci/run`
// runs that after the other tests, so a scenario that stops proving its
// pattern fails the build.
//
//   node scripts/catalogue-matrix.ts [--time-scale 0.5] [--retries 2] [--neighbours 0]
//        [--scenarios a,b] [--skip c,d] [--out runs/catalogue-matrix.jsonl]
//
// An INCONCLUSIVE run (exit 3: the machine was too busy while a phase was
// measured) is not a wrong verdict: it is run again, up to --retries times,
// and the cell stays INCONCLUSIVE (and the matrix red) only if every try was.
// A wrong verdict or an error fails at once. Each try starts once the one
// before has taken its last measurement (`faultline run` says so over an IPC
// channel), so a run's teardown and verdict overlap the next one's start-up
// but no two runs are measured at once. --neighbours keeps that many cores
// busy beside the whole matrix (issue 16's three busy runs). Each try appends a
// line to --out, and the run records of a try that was not right are kept in
// a catalogue-matrix-<time>/ folder beside it; the table at the end is what
// docs/benchmarks.md quotes.

import { spawn } from 'node:child_process';
import { appendFile, cp, mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { RUN_MEASURED_MESSAGE } from '../runner/catalogue.ts';
import type { ExpectationResult } from '../runner/expectations.ts';
import type { RunSummary } from '../runner/report.ts';
import { startBusyNeighbour } from './busy-neighbour.ts';

const ROOT = new URL('..', import.meta.url).pathname;

export interface MatrixOptions {
  timeScale: number;
  retries: number;
  neighbours: number;
  scenarios: string[] | undefined;
  /** Scenarios left out (each must exist): a known weakness is named where the matrix is run, not hidden. */
  skip: string[];
  out: string;
}

/** What one try of a cell gave: the CLI's exit code read against what the cell expects. */
export type CellOutcome = 'right' | 'wrong' | 'inconclusive' | 'error';

export interface CellTry {
  scenario: string;
  mode: 'with' | 'without';
  attempt: number;
  exitCode: number | null;
  outcome: CellOutcome;
  wallMs: number;
  at: string;
  /** Where the try's run records were kept (tries that were not right). */
  kept?: string;
  /** For a try that was not right: each expectation that failed or could not be judged, as its run's summary.json gives it. */
  why?: string[];
}

/**
 * A single run exits 0 pass, 1 fail, 2 error, 3 inconclusive; under --without the CLI already
 * counts a FAIL as the expected outcome (exit 0) and a PASS as the failure (exit 1).
 */
export function outcomeOf(exitCode: number | null): CellOutcome {
  if (exitCode === 0) return 'right';
  if (exitCode === 1) return 'wrong';
  if (exitCode === 3) return 'inconclusive';
  return 'error';
}

export function parseMatrixArgs(argv: readonly string[]): MatrixOptions {
  const value = (flag: string): string | undefined => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const number = (flag: string, fallback: number, min: number): number => {
    const raw = value(flag);
    if (raw === undefined) return fallback;
    const parsed = Number(raw);
    if (!Number.isFinite(parsed) || parsed < min) throw new Error(`${flag}: expected a number of at least ${min} (got ${raw})`);
    return parsed;
  };
  const list = value('--scenarios');
  return {
    timeScale: number('--time-scale', 0.5, 0.1),
    retries: Math.floor(number('--retries', 2, 0)),
    neighbours: Math.floor(number('--neighbours', 0, 0)),
    scenarios: list === undefined ? undefined : list.split(',').filter(Boolean),
    skip: (value('--skip') ?? '').split(',').filter(Boolean),
    out: value('--out') ?? join(ROOT, 'runs', 'catalogue-matrix.jsonl'),
  };
}

/** Every scenario of scenarios/, by file name. */
async function catalogueNames(): Promise<string[]> {
  const files = await readdir(join(ROOT, 'scenarios'));
  return files.filter((file) => file.endsWith('.yaml')).map((file) => file.replace(/\.yaml$/, '')).sort();
}

/** The parts of a run's summary.json that say why it did not pass. */
type JudgedRun = Pick<RunSummary, 'scenario'> & { expectations: ReadonlyArray<Pick<ExpectationResult, 'name' | 'status' | 'expected' | 'measured' | 'inconclusive'>> };

/**
 * One line per expectation that failed or could not be judged, so a red matrix in a CI log says
 * what moved without its run records (CI keeps only the log). A run that passed where it should
 * have failed has none, and says so.
 */
export function whyNotRight(runs: readonly JudgedRun[]): string[] {
  const lines = runs.flatMap((run) =>
    run.expectations
      .filter((e) => e.status === 'fail' || e.status === 'inconclusive')
      .map((e) => `${run.scenario}: ${e.status.toUpperCase()} ${e.name}: expected ${e.expected}; measured ${e.measured}${e.inconclusive ? ` (${e.inconclusive})` : ''}`),
  );
  return lines.length > 0 ? lines : runs.map((run) => `${run.scenario}: every expectation held`);
}

/** The run summaries under a runs folder (a catalogue command's own summary.json has no expectations). */
async function judgedRuns(runsDir: string): Promise<JudgedRun[]> {
  const runs: JudgedRun[] = [];
  for (const entry of await readdir(runsDir, { withFileTypes: true }).catch(() => [])) {
    if (!entry.isDirectory()) continue;
    const summary = await readFile(join(runsDir, entry.name, 'summary.json'), 'utf8').then(JSON.parse, () => undefined);
    if (summary && Array.isArray(summary.expectations)) runs.push(summary as JudgedRun);
  }
  return runs;
}

/** One try of a cell under way: `measured` once its run has taken its last measurement (or it has exited), `done` when it has exited. */
interface StartedCell {
  measured: Promise<void>;
  done: Promise<{ exitCode: number | null; wallMs: number; kept?: string; why?: string[] }>;
}

/**
 * One try of a cell through the CLI. Its run records are thrown away when it was right, and kept
 * under `keepDir/<scenario>-<mode>-<attempt>/` otherwise, so a red matrix leaves what to read.
 */
async function startCell(scenario: string, mode: 'with' | 'without', timeScale: number, attempt: number, keepDir: string): Promise<StartedCell> {
  const runsDir = await mkdtemp(join(tmpdir(), 'faultline-matrix-'));
  const started = performance.now();
  const args = [join(ROOT, 'scripts/faultline.js'), 'run', scenario, '--time-scale', String(timeScale), '--runs-dir', runsDir, ...(mode === 'without' ? ['--without'] : [])];
  // The IPC channel carries one message, RUN_MEASURED_MESSAGE. A Ctrl-C reaches the whole process group; the CLI stops its lab and exits 130.
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const measured = new Promise<void>((resolve) => {
    child.on('message', (message) => {
      if (message === RUN_MEASURED_MESSAGE) resolve();
    });
    void exited.then(() => resolve());
  });
  const done = exited.then(async (exitCode) => {
    let kept: string | undefined;
    let why: string[] | undefined;
    try {
      if (outcomeOf(exitCode) !== 'right') {
        kept = join(keepDir, `${scenario}-${mode}-${attempt}`);
        await mkdir(keepDir, { recursive: true });
        await cp(runsDir, kept, { recursive: true });
        why = whyNotRight(await judgedRuns(runsDir));
      }
      return { exitCode, wallMs: performance.now() - started, ...(kept ? { kept } : {}), ...(why ? { why } : {}) };
    } finally {
      await rm(runsDir, { recursive: true, force: true });
    }
  });
  return { measured, done };
}

/** One try under way, as the scheduler sees it. */
export interface ScheduledTry {
  /** Settles once the try has taken its last measurement (or has ended). */
  measured: Promise<void>;
  outcome: Promise<CellOutcome>;
}

/**
 * Every scenario with, then without, its pattern, one try at a time as far as measuring goes: the
 * next try starts once the one before has measured all it will (its load over, its last scrape
 * taken), so a run's teardown and verdict overlap the next one's start-up, and at most two tries
 * are alive at once. An INCONCLUSIVE try is tried again, up to `retries` more times, first in line.
 */
export async function runPipelined(
  scenarios: readonly string[],
  retries: number,
  stopped: () => boolean,
  start: (scenario: string, mode: 'with' | 'without', attempt: number) => ScheduledTry,
): Promise<void> {
  const queue: Array<{ scenario: string; mode: 'with' | 'without'; attempt: number }> = scenarios.flatMap((scenario) => [
    { scenario, mode: 'with' as const, attempt: 1 },
    { scenario, mode: 'without' as const, attempt: 1 },
  ]);
  const running = new Set<Promise<void>>();
  while (!stopped()) {
    // At most one try tearing down beside the one starting; a retry it asks for goes first.
    while (running.size > 1) await Promise.race(running);
    const next = queue.shift();
    if (!next) {
      if (running.size === 0) break;
      await Promise.race(running);
      continue;
    }
    const { scenario, mode, attempt } = next;
    const underWay = start(scenario, mode, attempt);
    const finished: Promise<void> = underWay.outcome
      .then((outcome) => {
        if (outcome === 'inconclusive' && attempt <= retries && !stopped()) queue.unshift({ scenario, mode, attempt: attempt + 1 });
      })
      .finally(() => running.delete(finished));
    running.add(finished);
    await underWay.measured;
  }
  await Promise.all(running);
}

/** The markdown table of a matrix: per scenario, each mode's final outcome and how many tries it took. */
export function matrixTable(tries: readonly CellTry[], elapsedMs?: number): string {
  const cells = new Map<string, CellTry[]>();
  for (const t of tries) cells.set(`${t.scenario}|${t.mode}`, [...(cells.get(`${t.scenario}|${t.mode}`) ?? []), t]);
  const scenarios = [...new Set(tries.map((t) => t.scenario))].sort();
  const describeCell = (scenario: string, mode: 'with' | 'without'): string => {
    const group = cells.get(`${scenario}|${mode}`) ?? [];
    const last = group.at(-1);
    if (!last) return 'not run';
    const verdict = last.outcome === 'right' ? (mode === 'with' ? 'PASS' : 'FAIL') : last.outcome === 'wrong' ? (mode === 'with' ? 'FAIL (wrong)' : 'PASS (wrong)') : last.outcome.toUpperCase();
    return group.length > 1 ? `${verdict} (try ${group.length})` : verdict;
  };
  const wall = (scenario: string) => tries.filter((t) => t.scenario === scenario).reduce((sum, t) => sum + t.wallMs, 0);
  const rows = scenarios.map((s) => `| ${s} | ${describeCell(s, 'with')} | ${describeCell(s, 'without')} | ${(wall(s) / 1_000).toFixed(0)} s |`);
  // Tries overlap (each next one starts while the one before is torn down), so the matrix's own wall time is not their sum.
  const total = elapsedMs ?? tries.reduce((sum, t) => sum + t.wallMs, 0);
  return ['| scenario | with (expect PASS) | without (expect FAIL) | wall |', '| --- | --- | --- | --- |', ...rows, `| all ${scenarios.length} | | | ${(total / 60_000).toFixed(1)} min |`].join('\n');
}

/** Whether every cell ended right. */
export function matrixHolds(tries: readonly CellTry[]): boolean {
  const last = new Map<string, CellTry>();
  for (const t of tries) last.set(`${t.scenario}|${t.mode}`, t);
  return last.size > 0 && [...last.values()].every((t) => t.outcome === 'right');
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write('usage: node scripts/catalogue-matrix.ts [--time-scale 0.5] [--retries 2] [--neighbours 0] [--scenarios a,b] [--skip c,d] [--out runs/catalogue-matrix.jsonl]\n');
    return;
  }
  let options: MatrixOptions;
  try {
    options = parseMatrixArgs(argv);
  } catch (error) {
    process.stderr.write(`catalogue-matrix: ${(error as Error).message}\n`);
    process.exitCode = 2;
    return;
  }
  const known = await catalogueNames();
  const unknown = [...(options.scenarios ?? []), ...options.skip].filter((name) => !known.includes(name));
  if (unknown.length) {
    process.stderr.write(`catalogue-matrix: no scenario named ${unknown.join(', ')} in scenarios/ (there are: ${known.join(', ')})\n`);
    process.exitCode = 2;
    return;
  }
  const names = (options.scenarios ?? known).filter((name) => !options.skip.includes(name));
  if (options.skip.length) process.stdout.write(`left out: ${options.skip.join(', ')}\n`);
  await mkdir(dirname(options.out), { recursive: true });
  // Beside the --out file: the records of every try that was not right.
  const keepDir = join(dirname(options.out), `catalogue-matrix-${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '')}`);
  const neighbour = startBusyNeighbour(options.neighbours);
  const tries: CellTry[] = [];
  let interrupted = false;
  process.once('SIGINT', () => {
    interrupted = true;
  });
  const matrixStarted = performance.now();
  try {
    await runPipelined(names, options.retries, () => interrupted, (scenario, mode, attempt) => {
      const cell = startCell(scenario, mode, options.timeScale, attempt, keepDir);
      return {
        measured: cell.then((c) => c.measured),
        outcome: cell.then(async ({ done }) => {
          const { exitCode, wallMs, kept, why } = await done;
          const record: CellTry = { scenario, mode, attempt, exitCode, outcome: exitCode === 130 ? 'error' : outcomeOf(exitCode), wallMs, at: new Date().toISOString(), ...(kept ? { kept } : {}), ...(why ? { why } : {}) };
          tries.push(record);
          await appendFile(options.out, `${JSON.stringify({ ...record, timeScale: options.timeScale, neighbours: options.neighbours })}\n`);
          process.stdout.write(`${record.at} ${scenario} ${mode}: ${record.outcome}${attempt > 1 ? ` (try ${attempt})` : ''} exit ${exitCode} in ${(wallMs / 1_000).toFixed(0)} s${kept ? `; its records: ${kept}` : ''}\n${(why ?? []).map((line) => `    ${line}\n`).join('')}`);
          return record.outcome;
        }),
      };
    });
  } finally {
    await neighbour.stop();
  }
  const elapsedMs = performance.now() - matrixStarted;
  // The table lists cells in scenario order whatever order their tries ended in.
  tries.sort((a, b) => names.indexOf(a.scenario) - names.indexOf(b.scenario) || (a.mode === b.mode ? a.attempt - b.attempt : a.mode === 'with' ? -1 : 1));
  process.stdout.write(`\n${matrixTable(tries, elapsedMs)}\n`);
  const holds = !interrupted && matrixHolds(tries);
  process.stdout.write(holds ? `\nthe catalogue holds: ${names.length} scenarios, each PASS with its pattern and FAIL without it\n` : '\nthe catalogue does NOT hold (see the table)\n');
  process.exitCode = interrupted ? 130 : holds ? 0 : 1;
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
