// A run's record: summary.json for machines, junit.xml (one test case per
// expectation) for CI, and the verdict table for people. Rendering is pure;
// writing is apart.

import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExpectationResult } from './expectations.ts';
import type { AlertInterval, SloRunReport } from './slo-run-report.ts';

export interface RunSummary {
  id: string;
  scenario: string;
  description: string;
  verdict: 'pass' | 'fail';
  startedAt: string;
  endedAt: string;
  durationMs: number;
  options: { disabled: string[]; timeScale: number; seed: number };
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
  const failures = summary.expectations.filter((e) => !e.ok).length;
  const seconds = (summary.durationMs / 1_000).toFixed(3);
  const cases = summary.expectations.map((e) => {
    const open = `    <testcase classname="faultline.${xml(summary.scenario)}" name="${xml(e.name)}" time="0">`;
    const failure = e.skipped
      ? `\n      <skipped message="${xml(e.skipped)}"/>`
      : e.ok
        ? ''
        : `\n      <failure message="${xml(`expected ${e.expected}; measured ${e.measured}`)}" type="${e.type}"/>`;
    const out = `\n      <system-out>${xml(`expected: ${e.expected}\nmeasured: ${e.measured}`)}</system-out>`;
    return `${open}${failure}${out}\n    </testcase>`;
  });
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="faultline" tests="${summary.expectations.length}" failures="${failures}" time="${seconds}">`,
    `  <testsuite name="${xml(summary.scenario)}" tests="${summary.expectations.length}" failures="${failures}" errors="0" skipped="${summary.expectations.filter((e) => e.skipped).length}" time="${seconds}" timestamp="${summary.startedAt}">`,
    ...cases,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}

function xml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c] as string);
}

/** The verdict table printed at the end of a run. */
export function renderVerdictTable(summary: RunSummary): string {
  const rows = summary.expectations.map((e) => (e.skipped ? ['SKIP', e.name, e.skipped] : [e.ok ? 'PASS' : 'FAIL', e.name, e.measured]));
  const widths = [4, Math.max(11, ...rows.map((r) => (r[1] as string).length)), Math.max(8, ...rows.map((r) => (r[2] as string).length))];
  const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i] as number)).join('  ').trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [
    line(['', 'expectation', 'measured']),
    rule,
    ...rows.map(line),
    rule,
    `${summary.verdict === 'pass' ? 'PASS' : 'FAIL'}: ${summary.scenario}, ${summary.expectations.filter((e) => e.ok && !e.skipped).length}/${summary.expectations.length} expectations held${skippedNote(summary)} (run ${summary.id})`,
  ].join('\n');
}

function skippedNote(summary: RunSummary): string {
  const skipped = summary.expectations.filter((e) => e.skipped).length;
  return skipped ? `, ${skipped} skipped` : '';
}

export async function writeRunRecord(runDir: string, summary: RunSummary): Promise<void> {
  await writeFile(join(runDir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  await writeFile(join(runDir, 'junit.xml'), renderJunit(summary));
}
