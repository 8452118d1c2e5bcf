// Verdict agreement: does a scenario's verdict stay right when the machine is
// busy? Each scenario runs with its patterns (must PASS) and with its key
// pattern switched off (must FAIL), through the real CLI, beside 0, 1 and 2
// busy-loop neighbours (scripts/busy-neighbour.ts) on this 2-core machine.
// A verdict is right when it is the expected one; INCONCLUSIVE (exit 3) is
// honest but not right, and counted apart; the opposite verdict is wrong.
//
//   node bench/verdict-agreement.ts [--runs 10] [--neighbours 0,1,2] [--time-scale 1]
//        [--scenarios payment-outage:circuitBreaker,bank-pause:timeout] [--modes with,without]
//        [--out runs/verdict-agreement.jsonl]
//
// Every run appends one JSON line to --out (so a long bench can be read while
// it goes, or stopped and summarised), and the table at the end is the
// markdown that docs/benchmarks.md quotes.

import { spawn } from 'node:child_process';
import { appendFile, mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { PhasePressure } from '../runner/pressure.ts';
import { startBusyNeighbour } from '../scripts/busy-neighbour.ts';

const ROOT = new URL('..', import.meta.url).pathname;

interface Options {
  runs: number;
  neighbours: number[];
  timeScale: number;
  scenarios: Array<{ name: string; pattern: string }>;
  /** Which runs to make: with the pattern, without it, or both (the default). */
  modes: boolean[];
  out: string;
}

export interface RunRecord {
  scenario: string;
  pattern: string;
  /** With the pattern (expect pass) or without it (expect fail). */
  withPattern: boolean;
  neighbours: number;
  exitCode: number | null;
  verdict: string;
  right: boolean;
  failed: string[];
  inconclusive: string[];
  /** Per phase, the pressure figures the verdict was judged against (for calibrating the limits); absent in older records. */
  pressure?: Array<{ phase: string; cpuPressure?: number; runQueuePerCore: number; generatorLagP99Ms: number; eventLoopMaxMs?: number; overLimits: string[] }>;
  /** What each expectation that did not pass measured, and why it was not judged; absent in older records. */
  misses?: Array<{ name: string; status: string; measured: string; inconclusive?: string }>;
  wallMs: number;
  at: string;
}

function parseArgs(argv: string[]): Options {
  const value = (flag: string, fallback: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 && argv[i + 1] !== undefined ? (argv[i + 1] as string) : fallback;
  };
  return {
    runs: Number(value('--runs', '10')),
    neighbours: value('--neighbours', '0,1,2').split(',').map(Number),
    timeScale: Number(value('--time-scale', '1')),
    scenarios: value('--scenarios', 'payment-outage:circuitBreaker,bank-pause:timeout')
      .split(',')
      .map((pair) => {
        const [name, pattern] = pair.split(':');
        return { name: name as string, pattern: pattern as string };
      }),
    modes: value('--modes', 'with,without')
      .split(',')
      .map((mode) => {
        if (mode !== 'with' && mode !== 'without') throw new Error(`--modes: expected with, without or both (got ${mode})`);
        return mode === 'with';
      }),
    out: value('--out', join(ROOT, 'runs', 'verdict-agreement.jsonl')),
  };
}

async function runOnce(scenario: string, pattern: string, withPattern: boolean, neighbours: number, timeScale: number): Promise<RunRecord> {
  const runsDir = await mkdtemp(join(tmpdir(), 'faultline-verdicts-'));
  const started = performance.now();
  const args = [join(ROOT, 'scripts/faultline.js'), 'run', scenario, '--time-scale', String(timeScale), '--runs-dir', runsDir, ...(withPattern ? [] : ['--disable', pattern])];
  const exitCode = await new Promise<number | null>((resolve) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
    child.once('exit', (code) => resolve(code));
  });
  const wallMs = performance.now() - started;
  let verdict = 'error';
  let failed: string[] = [];
  let inconclusive: string[] = [];
  let pressure: RunRecord['pressure'];
  let misses: RunRecord['misses'];
  try {
    const [id] = await readdir(runsDir);
    const summary = JSON.parse(await readFile(join(runsDir, id as string, 'summary.json'), 'utf8')) as { verdict: string; expectations: Array<{ name: string; status: string; measured: string; inconclusive?: string }>; pressure?: PhasePressure[] };
    pressure = summary.pressure?.map((p) => ({
      phase: p.phase,
      ...(p.cpuPressure ? { cpuPressure: p.cpuPressure.mean } : {}),
      runQueuePerCore: p.runQueuePerCore.mean,
      generatorLagP99Ms: p.generatorLagMs.p99,
      ...(p.eventLoopDelayMs ? { eventLoopMaxMs: p.eventLoopDelayMs.max } : {}),
      overLimits: p.overLimits,
    }));
    verdict = summary.verdict;
    misses = summary.expectations
      .filter((e) => e.status === 'fail' || e.status === 'inconclusive')
      .map((e) => ({ name: e.name, status: e.status, measured: e.measured, ...(e.inconclusive ? { inconclusive: e.inconclusive } : {}) }));
    failed = summary.expectations.filter((e) => e.status === 'fail').map((e) => e.name);
    inconclusive = summary.expectations.filter((e) => e.status === 'inconclusive').map((e) => e.name);
  } catch {
    // No summary: the run could not be made (exit 2); recorded as 'error'.
  } finally {
    await rm(runsDir, { recursive: true, force: true });
  }
  const expected = withPattern ? 'pass' : 'fail';
  return { scenario, pattern, withPattern, neighbours, exitCode, verdict, right: verdict === expected, failed, inconclusive, ...(pressure ? { pressure } : {}), ...(misses?.length ? { misses } : {}), wallMs, at: new Date().toISOString() };
}

/** The markdown table of a set of records: one row per scenario, mode and neighbour count. */
export function agreementTable(records: readonly RunRecord[]): string {
  const groups = new Map<string, RunRecord[]>();
  for (const record of records) {
    const key = `${record.scenario}|${record.withPattern ? 'with' : `without ${record.pattern}`}|${record.neighbours}`;
    groups.set(key, [...(groups.get(key) ?? []), record]);
  }
  const rows = [...groups.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([key, group]) => {
    const [scenario, mode, neighbours] = key.split('|');
    const count = (verdict: string) => group.filter((r) => r.verdict === verdict).length;
    const expected = group[0]?.withPattern ? 'pass' : 'fail';
    const wrong = group.filter((r) => !r.right && r.verdict !== 'inconclusive').length;
    const median = [...group.map((r) => r.wallMs)].sort((a, b) => a - b)[Math.floor(group.length / 2)] ?? 0;
    return `| ${scenario} | ${mode} (expect ${expected.toUpperCase()}) | ${neighbours} | ${group.length} | ${count('pass')} | ${count('fail')} | ${count('inconclusive')} | ${count('error')} | ${wrong} | ${(median / 1_000).toFixed(0)} s |`;
  });
  return ['| scenario | run | busy cores | runs | PASS | FAIL | INCONCLUSIVE | error | wrong | median wall |', '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |', ...rows].join('\n');
}

/**
 * The pressure each cell saw, for calibrating the limits of runner/pressure.ts: per
 * run the worst phase of each figure, then the median and the worst run of the cell,
 * and how many runs went over some limit.
 */
export function pressureTable(records: readonly RunRecord[]): string {
  const cells = new Map<string, RunRecord[]>();
  for (const record of records) {
    if (!record.pressure?.length) continue;
    const key = `${record.scenario}|${record.neighbours}`;
    cells.set(key, [...(cells.get(key) ?? []), record]);
  }
  const middle = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
  const figure = (values: number[], digits: number, unit = '') => (values.length ? `${middle(values).toFixed(digits)}${unit} / ${Math.max(...values).toFixed(digits)}${unit}` : 'n/a');
  const rows = [...cells.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([key, group]) => {
    const [scenario, neighbours] = key.split('|');
    const worst = (pick: (p: NonNullable<RunRecord['pressure']>[number]) => number | undefined) =>
      group.map((r) => Math.max(...(r.pressure ?? []).map((p) => pick(p) ?? Number.NEGATIVE_INFINITY))).filter((v) => Number.isFinite(v));
    const over = group.filter((r) => r.pressure?.some((p) => p.overLimits.length > 0)).length;
    return `| ${scenario} | ${neighbours} | ${group.length} | ${figure(worst((p) => (p.cpuPressure === undefined ? undefined : p.cpuPressure * 100)), 0, '%')} | ${figure(worst((p) => p.generatorLagP99Ms), 0, ' ms')} | ${figure(worst((p) => p.eventLoopMaxMs), 0, ' ms')} | ${over} |`;
  });
  return [
    '| scenario | busy cores | runs | cpu pressure, worst phase (median / max run) | generator lag p99 | lab event-loop delay, worst | runs over a limit |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
  ].join('\n');
}

const USAGE = `usage: node bench/verdict-agreement.ts [--runs 10] [--neighbours 0,1,2] [--time-scale 1]
       [--scenarios payment-outage:circuitBreaker,bank-pause:timeout] [--modes with,without]
       [--out runs/verdict-agreement.jsonl]
       node bench/verdict-agreement.ts --table FILE.jsonl   (the table of runs already recorded)
`;

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE);
    return;
  }
  const tableOf = argv.indexOf('--table');
  if (tableOf >= 0) {
    const text = await readFile(argv[tableOf + 1] ?? '', 'utf8');
    const records = text.split('\n').filter((line) => line.trim()).map((line) => JSON.parse(line) as RunRecord);
    process.stdout.write(`${agreementTable(records)}\n\n${pressureTable(records)}\n`);
    return;
  }
  const options = parseArgs(argv);
  await mkdir(dirname(options.out), { recursive: true });
  const records: RunRecord[] = [];
  for (const neighbours of options.neighbours) {
    const neighbour = startBusyNeighbour(neighbours);
    try {
      for (let run = 0; run < options.runs; run += 1) {
        for (const { name, pattern } of options.scenarios) {
          for (const withPattern of options.modes) {
            const record = await runOnce(name, pattern, withPattern, neighbours, options.timeScale);
            records.push(record);
            await appendFile(options.out, `${JSON.stringify(record)}\n`);
            process.stdout.write(`${record.at} ${name} ${withPattern ? 'with' : `without ${pattern}`} beside ${neighbours} busy: ${record.verdict.toUpperCase()} (exit ${record.exitCode})${record.right ? '' : record.verdict === 'inconclusive' ? ' inconclusive' : ' WRONG'} ${record.failed.length ? `failed: ${record.failed.join('; ')}` : ''}\n`);
          }
        }
      }
    } finally {
      await neighbour.stop();
    }
  }
  process.stdout.write(`\n${agreementTable(records)}\n\n${pressureTable(records)}\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
