// `faultline runs list` and `faultline runs prune`: the run records under
// runs/ (one folder per run, named by newRunId), and deleting the old ones by
// count (--keep N newest) and by age (--older-than 7d). A run still in
// progress (run-lock.ts) is never deleted; a killed run is prunable like any other.
import { lstat, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DurationError, formatDuration, parseDuration } from '../demo-services/kit/durations.ts';
import { ERROR_CODE, FaultlineError } from './errors.ts';
import { readJson, whyInProgress } from './run-lock.ts';

/** newRunId's shape: 20261206T035007Z-<scenario or up>-<pid>. */
const RUN_ID = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z-.+-\d+$/;

export interface RunRecord {
  id: string;
  dir: string;
  startedAtMs: number;
  bytes: number;
  /** Why the run counts as in progress (undefined when it does not). */
  inProgress?: string;
  /** From summary.json, when the run wrote one. */
  verdict?: string;
}

/** Every run folder of runsDir, newest first; folders not named like a run (runs/chaos-mesh) are not runs. */
export async function listRuns(runsDir: string, now = Date.now()): Promise<RunRecord[]> {
  const entries = await readdir(runsDir, { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [];
    throw error;
  });
  const runs: RunRecord[] = [];
  for (const entry of entries) {
    if (!entry.isDirectory()) continue;
    const startedAtMs = runStartMs(entry.name);
    if (startedAtMs === undefined) continue;
    const dir = join(runsDir, entry.name);
    const [bytes, inProgress, verdict] = await Promise.all([folderBytes(dir), whyInProgress(dir, startedAtMs, now), readVerdict(dir)]);
    runs.push({ id: entry.name, dir, startedAtMs, bytes, ...(inProgress ? { inProgress } : {}), ...(verdict ? { verdict } : {}) });
  }
  return runs.sort((a, b) => b.startedAtMs - a.startedAtMs || b.id.localeCompare(a.id));
}

export interface PruneOptions {
  /** Keep this many of the newest runs. */
  keep?: number;
  /** Delete only runs that started longer ago than this. */
  olderThanMs?: number;
  /** Say what would go, delete nothing. */
  dryRun?: boolean;
  now?: number;
}

export interface PruneResult {
  removed: RunRecord[];
  kept: RunRecord[];
  /** Runs the options would have removed, left alone because they are in progress. */
  inProgress: RunRecord[];
}

/** A run goes when it is past the newest `keep` and (when given) older than `olderThanMs`; never one in progress. */
export async function pruneRuns(runsDir: string, options: PruneOptions): Promise<PruneResult> {
  if (options.keep === undefined && options.olderThanMs === undefined) {
    throw new FaultlineError(ERROR_CODE.badOption, 'runs prune: give --keep <n>, --older-than <duration>, or both');
  }
  const now = options.now ?? Date.now();
  const runs = await listRuns(runsDir, now);
  const result: PruneResult = { removed: [], kept: [], inProgress: [] };
  for (const [index, run] of runs.entries()) {
    const pastKeep = options.keep === undefined || index >= options.keep;
    const oldEnough = options.olderThanMs === undefined || now - run.startedAtMs > options.olderThanMs;
    if (!pastKeep || !oldEnough) result.kept.push(run);
    else if (run.inProgress) result.inProgress.push(run);
    else result.removed.push(run);
  }
  if (!options.dryRun) {
    for (const run of result.removed) await rm(run.dir, { recursive: true, force: true });
  }
  return result;
}

/** The CLI's flags as typed options; a bad value is a FaultlineError naming the flag (the CLI exits 2). */
export function parsePruneFlags(flags: { keep?: string; olderThan?: string; dryRun?: boolean }): PruneOptions {
  const options: PruneOptions = { dryRun: flags.dryRun === true };
  if (flags.keep !== undefined) {
    if (!/^\d+$/.test(flags.keep.trim())) throw new FaultlineError(ERROR_CODE.badOption, `--keep: must be a whole number >= 0, got ${JSON.stringify(flags.keep)}`);
    options.keep = Number(flags.keep.trim());
  }
  if (flags.olderThan !== undefined) {
    try {
      options.olderThanMs = parseDuration(flags.olderThan, '--older-than');
    } catch (error) {
      if (error instanceof DurationError) throw new FaultlineError(ERROR_CODE.badOption, error.message);
      throw error;
    }
  }
  return options;
}

export function renderPrune(result: PruneResult, dryRun: boolean): string {
  const lines: string[] = [];
  for (const run of result.removed) lines.push(`${dryRun ? 'would remove' : 'removed'} ${run.id} (${megabytes(run.bytes)})`);
  for (const run of result.inProgress) lines.push(`left ${run.id}: in progress (${run.inProgress})`);
  const freed = result.removed.reduce((sum, run) => sum + run.bytes, 0);
  lines.push(
    `${dryRun ? 'would remove' : 'removed'} ${result.removed.length} run${result.removed.length === 1 ? '' : 's'} (${megabytes(freed)}); kept ${result.kept.length + result.inProgress.length}`,
  );
  return lines.join('\n');
}

export function renderRunList(runs: readonly RunRecord[], now = Date.now()): string {
  if (runs.length === 0) return 'no runs';
  const width = Math.max(...runs.map((run) => run.id.length));
  const lines = runs.map((run) => {
    const state = run.inProgress ? 'in progress' : (run.verdict ?? 'no verdict');
    return `${run.id.padEnd(width)}  ${formatDuration(Math.max(0, now - run.startedAtMs)).padStart(9)} ago  ${megabytes(run.bytes).padStart(9)}  ${state}`;
  });
  const total = runs.reduce((sum, run) => sum + run.bytes, 0);
  lines.push(`${runs.length} run${runs.length === 1 ? '' : 's'}, ${megabytes(total)}`);
  return lines.join('\n');
}

function runStartMs(id: string): number | undefined {
  const match = RUN_ID.exec(id);
  if (!match) return undefined;
  const [, year, month, day, hour, minute, second] = match.map(Number) as number[];
  const ms = Date.UTC(year as number, (month as number) - 1, day, hour, minute, second);
  return Number.isNaN(ms) ? undefined : ms;
}

async function readVerdict(dir: string): Promise<string | undefined> {
  const summary = await readJson(join(dir, 'summary.json'));
  const verdict = (summary as { verdict?: unknown } | undefined)?.verdict;
  return typeof verdict === 'string' ? verdict : undefined;
}

/** Bytes of every file under dir (symlinks counted as themselves, never followed). */
async function folderBytes(dir: string): Promise<number> {
  let total = 0;
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += await folderBytes(path);
    else total += await lstat(path).then((stats) => stats.size, () => 0);
  }
  return total;
}

function megabytes(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}
