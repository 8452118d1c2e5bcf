// A run's record: summary.json for machines, junit.xml (one test case per
// expectation) for CI, and the verdict table for people. Rendering is pure;
// writing is apart.

import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExpectationResult } from './expectations.ts';
import type { MetricSeries } from './metric-series.ts';
import type { ProcessEvent } from './process-events.ts';
import type { MemoryReport } from './memory-limit.ts';
import type { PhasePressure } from './pressure.ts';
import type { AlertInterval, SloRunReport } from './slo-run-report.ts';

export type RunVerdict = 'pass' | 'fail' | 'inconclusive';

export interface RunSummary {
  id: string;
  scenario: string;
  description: string;
  verdict: RunVerdict;
  startedAt: string;
  endedAt: string;
  durationMs: number;
  options: { disabled: string[]; switchedOff?: string[]; timeScale: number; seed: number; strict?: boolean };
  /** The scenario file as read when the run began: its path and the sha256 of its bytes. */
  scenarioSource?: { file: string; sha256: string };
  /** Where the run was made, each field when it could be found at the run's start. */
  environment?: { commit?: string; node?: string; machine?: string; prometheus?: string; alertmanager?: string };
  /** Exits the supervisor saw, signals the fault timeline sent and restarts, with offsets from the run's start. */
  processEvents?: Array<ProcessEvent & { offsetMs: number }>;
  /** Per lab process: the most resident memory it held, its memory limit, OOM kills and restarts (runner/memory-limit.ts). */
  memory?: MemoryReport;
  /** Per-second series from the run's Prometheus: retries, attempts per call, bulkhead rejections, rate limiting, shedding. */
  metricSeries?: MetricSeries;
  /** How busy the machine was in each phase, and which limits it went over (runner/pressure.ts). */
  pressure?: PhasePressure[];
  /** Warm-up before the measured run: how many waves until the lab was steady, and whether it settled. */
  warmUp?: { waves: number; settled: boolean; lastMedianMs: number; durationMs: number };
  phases: Array<{ name: string; startMs: number; endMs: number }>;
  faults: unknown[];
  load: unknown;
  expectations: ExpectationResult[];
  timeSeries: unknown[];
  circuit: unknown[];
  telemetry: { spans: number; traces: number };
  /** Per SLO, as the run's Prometheus measured it; absent when Prometheus did not run (see monitoring). */
  slo?: SloRunReport[];
  /** Whether Prometheus and Alertmanager ran, and where. */
  monitoring: { available: boolean; reason?: string; prometheusUrl?: string; alerts?: AlertInterval[] };
  books: unknown;
  files: Record<string, string>;
}

export function renderJunit(summary: RunSummary): string {
  // INCONCLUSIVE is a skip with its reason: the case was not judged. `--strict` makes it a failure instead.
  const strict = summary.options.strict === true;
  const failing = (e: ExpectationResult) => e.status === 'fail' || (strict && e.status === 'inconclusive');
  const skipped = summary.expectations.filter((e) => e.status === 'skip' || (!strict && e.status === 'inconclusive')).length;
  const failed = summary.expectations.filter(failing).length;
  const seconds = (summary.durationMs / 1_000).toFixed(3);
  const cases = summary.expectations.map((e) => {
    const open = `    <testcase classname="faultline.${xml(summary.scenario)}" name="${xml(e.name)}" time="0">`;
    const why = e.status === 'inconclusive' ? `inconclusive: ${e.inconclusive ?? 'the machine was too busy'}; measured ${e.measured}` : undefined;
    const verdict =
      e.status === 'skip'
        ? `\n      <skipped message="${xml(e.skipped ?? 'skipped')}"/>`
        : e.status === 'inconclusive' && !strict
          ? `\n      <skipped message="${xml(why as string)}"/>`
          : failing(e)
            ? `\n      <failure message="${xml(why ?? `expected ${e.expected}; measured ${e.measured}`)}" type="${e.type}"/>`
            : '';
    const out = `\n      <system-out>${xml(`expected: ${e.expected}\nmeasured: ${e.measured}${e.inconclusive ? `\ninconclusive: ${e.inconclusive}` : ''}`)}</system-out>`;
    return `${open}${verdict}${out}\n    </testcase>`;
  });
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="faultline" tests="${summary.expectations.length}" failures="${failed}" time="${seconds}">`,
    `  <testsuite name="${xml(summary.scenario)}" tests="${summary.expectations.length}" failures="${failed}" errors="0" skipped="${skipped}" time="${seconds}" timestamp="${summary.startedAt}">`,
    ...cases,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}

function xml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c] as string);
}

/** The widest a verdict table gets: it must read in a 120-column terminal or CI log. */
export const VERDICT_TABLE_WIDTH = 120;

const STATUS_LABEL = { pass: 'PASS', fail: 'FAIL', skip: 'SKIP', inconclusive: 'INCONCLUSIVE' } as const;

/** Words of a cell broken into lines of at most `width` characters (a longer word is cut). */
export function wrapCell(text: string, width: number): string[] {
  const lines: string[] = [];
  let current = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    let rest = word;
    while (rest.length > width) {
      if (current) lines.push(current);
      current = '';
      lines.push(rest.slice(0, width));
      rest = rest.slice(width);
    }
    if (!current) current = rest;
    else if (current.length + 1 + rest.length <= width) current += ` ${rest}`;
    else {
      lines.push(current);
      current = rest;
    }
  }
  if (current || lines.length === 0) lines.push(current);
  return lines;
}

/** The verdict table printed at the end of a run: status, expectation, expected, measured; long cells wrap, so no line passes 120 columns. */
export function renderVerdictTable(summary: RunSummary): string {
  const statusWidth = summary.expectations.some((e) => e.status === 'inconclusive') ? 12 : 4;
  const rows = summary.expectations.map((e) => [STATUS_LABEL[e.status], e.name, e.expected, e.status === 'skip' ? `not measured: ${e.skipped}` : e.measured]);
  // Text columns share what the status column and the gaps leave, each no wider than its longest cell.
  const room = VERDICT_TABLE_WIDTH - statusWidth - 3 * 2;
  const natural = [1, 2, 3].map((i) => Math.max(['', 'expectation', 'expected', 'measured'][i]!.length, ...rows.map((r) => (r[i] as string).length)));
  const shares = [0.36, 0.3, 0.34];
  let widths = natural.map((n, i) => Math.min(n, Math.floor(room * (shares[i] as number))));
  // Give what a narrow column does not need to the others, in turn.
  let spare = room - widths.reduce((a, b) => a + b, 0);
  widths = widths.map((w, i) => {
    const extra = Math.min(spare, (natural[i] as number) - w);
    spare -= extra;
    return w + extra;
  });
  const all = [statusWidth, ...widths];
  const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(all[i] as number)).join('  ').trimEnd();
  const rule = all.map((w) => '-'.repeat(w)).join('  ');
  const body = rows.flatMap((cells, r) => {
    const wrapped = cells.map((cell, i) => (i === 0 ? [cell] : wrapCell(cell, all[i] as number)));
    const height = Math.max(...wrapped.map((w) => w.length));
    const lines = Array.from({ length: height }, (_, k) => line(wrapped.map((w) => w[k] ?? '')));
    const reason = summary.expectations[r]?.inconclusive;
    if (reason) for (const text of wrapCell(`not judged: ${reason}`, VERDICT_TABLE_WIDTH - statusWidth - 2)) lines.push(line(['', text]));
    return lines;
  });
  return [line(['', 'expectation', 'expected', 'measured']), rule, ...body, rule, verdictLine(summary)].join('\n');
}

/** The run's last line: PASS, FAIL or INCONCLUSIVE, with what held and what could not be judged. */
export function verdictLine(summary: RunSummary): string {
  const count = (status: ExpectationResult['status']) => summary.expectations.filter((e) => e.status === status).length;
  const total = summary.expectations.length;
  const notes = [
    count('inconclusive') ? `${count('inconclusive')} inconclusive (machine too busy)` : '',
    count('skip') ? `${count('skip')} skipped` : '',
  ].filter(Boolean);
  const label = summary.verdict === 'pass' ? 'PASS' : summary.verdict === 'fail' ? 'FAIL' : 'INCONCLUSIVE';
  const text = `${label}: ${summary.scenario}, ${count('pass')}/${total} expectations held${notes.length ? `, ${notes.join(', ')}` : ''}`;
  const run = `(run ${summary.id})`;
  return text.length + 1 + run.length <= VERDICT_TABLE_WIDTH ? `${text} ${run}` : `${text}\n${run}`;
}

export async function writeRunRecord(runDir: string, summary: RunSummary): Promise<void> {
  await writeFile(join(runDir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  await writeFile(join(runDir, 'junit.xml'), renderJunit(summary));
}
