// Reading a run's record for the report and writing report.html (or a
// comparison page): summary.json, traces.jsonl, faults.jsonl and the sampled
// traces' logs in; one self-contained HTML file out. The rendering is render.ts.

import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { streamLogs, type FlatLogRecord } from '../../collector/log-query.ts';
import { readSpans } from '../../collector/trace-query.ts';
import { ERROR_CODE, FaultlineError } from '../errors.ts';
import type { FaultRecord } from '../fault-timeline.ts';
import type { RunSummary } from '../report.ts';
import { PROJECT_ROOT } from '../supervisor.ts';
import { appliedFaultWindows, runStartMs } from './model.ts';
import { renderComparison, renderRunReport, type ChartLibrary, type RunMeta, type RunRecord } from './render.ts';
import { pickSampleTraces, tracesById } from './traces.ts';

export const REPORT_FILE = 'report.html';

let library: Promise<ChartLibrary> | undefined;

/** uPlot's minified script and style, read once from node_modules. */
export function chartLibrary(): Promise<ChartLibrary> {
  library ??= (async () => {
    const require = createRequire(import.meta.url);
    const dist = join(require.resolve('uplot/package.json'), '..', 'dist');
    const [script, style] = await Promise.all([readFile(join(dist, 'uPlot.iife.min.js'), 'utf8'), readFile(join(dist, 'uPlot.min.css'), 'utf8')]);
    // Inline, a literal `</script` would end the element early.
    return { script: script.replace(/<\/script/gi, '<\\/script'), style };
  })();
  return library;
}

/** Everything the report needs from a run directory. A missing or unreadable summary.json is an error naming the file. */
export async function readRunRecord(runDir: string): Promise<RunRecord> {
  const summaryFile = join(runDir, 'summary.json');
  let summary: RunSummary;
  try {
    summary = JSON.parse(await readFile(summaryFile, 'utf8')) as RunSummary;
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file (is this a run directory?)' : (error as Error).message;
    throw new FaultlineError(ERROR_CODE.badOption, `${summaryFile}: ${reason}`);
  }
  if (typeof summary !== 'object' || summary === null || !Array.isArray(summary.expectations) || !Array.isArray(summary.timeSeries) || typeof summary.startedAt !== 'string') {
    throw new FaultlineError(ERROR_CODE.badOption, `${summaryFile}: not a run summary (expectations, timeSeries or startedAt missing)`);
  }
  const spans = await readSpans(join(runDir, 'traces.jsonl')).catch(() => []);
  const faultRecords = await readFaultRecords(join(runDir, 'faults.jsonl'));
  const record: RunRecord = { summary, spans, ...(faultRecords ? { faultRecords } : {}) };
  record.logs = await sampledTraceLogs(record, join(runDir, 'logs.jsonl'));
  return record;
}

async function readFaultRecords(file: string): Promise<FaultRecord[] | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .flatMap((line) => {
      try {
        return [JSON.parse(line) as FaultRecord];
      } catch {
        return [];
      }
    });
}

/** The log records of the traces the report will draw (one pass over logs.jsonl). */
async function sampledTraceLogs(record: RunRecord, file: string): Promise<FlatLogRecord[]> {
  const start = runStartMs(record.summary);
  const windows = appliedFaultWindows(record.summary, record.faultRecords).map((w) => ({ name: w.name, fromMs: start + w.fromMs, toMs: start + w.toMs }));
  const wanted = new Set(pickSampleTraces(tracesById(record.spans), windows, start).map((s) => s.traceId));
  const found: FlatLogRecord[] = [];
  if (wanted.size === 0) return found;
  try {
    for await (const records of streamLogs(file)) for (const log of records) if (log.traceId && wanted.has(log.traceId)) found.push(log);
  } catch {
    return found;
  }
  return found.sort((a, b) => a.timeMs - b.timeMs);
}

async function firstLine(command: string, args: string[]): Promise<string | undefined> {
  try {
    const { stdout, stderr } = await promisify(execFile)(command, args, { timeout: 2_000, cwd: PROJECT_ROOT });
    return (stdout || stderr).split('\n')[0]?.trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Where the report is built: commit, Node, machine, Prometheus and Alertmanager versions, each when it can be found. */
export async function runMeta(): Promise<RunMeta> {
  const [commit, prometheus, alertmanager] = await Promise.all([
    firstLine('git', ['rev-parse', 'HEAD']),
    firstLine('prometheus', ['--version']),
    firstLine('prometheus-alertmanager', ['--version']),
  ]);
  const cpu = cpus();
  return {
    ...(commit ? { commit } : {}),
    node: process.version,
    machine: `${cpu.length} x ${cpu[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, ${process.platform} ${process.arch}`,
    ...(prometheus ? { prometheus } : {}),
    ...(alertmanager ? { alertmanager } : {}),
    builtAt: new Date().toISOString(),
  };
}

/** Build runs/<id>/report.html from the run's record; returns its path. */
export async function writeRunReport(runDir: string, meta?: RunMeta): Promise<string> {
  const [record, lib, about] = await Promise.all([readRunRecord(runDir), chartLibrary(), meta ?? runMeta()]);
  const file = join(runDir, REPORT_FILE);
  await writeFile(file, renderRunReport(record, lib, about));
  return file;
}

/** Write a page comparing two runs to `outFile`; returns its path. */
export async function writeComparisonReport(runDirA: string, runDirB: string, outFile: string): Promise<string> {
  const [a, b, lib, about] = await Promise.all([readRunRecord(runDirA), readRunRecord(runDirB), chartLibrary(), runMeta()]);
  await writeFile(outFile, renderComparison(a, b, lib, about));
  return outFile;
}
