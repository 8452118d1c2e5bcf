// Whether a run folder belongs to a run still going: startLab writes lab.lock
// (the runner's pid) when it starts and removes it when the lab stops, and
// processes.json names every lab process. A run counts as in progress while
// either names a live process, or in its first minute (before the lock may be
// written). A lock whose process is gone is a killed run. A reused pid can
// only make a finished run look live, which errs on the side of keeping it.
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const LAB_LOCK_FILE = 'lab.lock';

/** A run this young counts as in progress whatever its files say. */
const STARTING_GRACE_MS = 60_000;

/** Returns the lock's path, for removeRunLock. */
export async function writeRunLock(runDir: string): Promise<string> {
  const file = join(runDir, LAB_LOCK_FILE);
  await writeFile(file, `${JSON.stringify({ pid: process.pid, startedAt: new Date().toISOString() })}\n`);
  return file;
}

export async function removeRunLock(file: string): Promise<void> {
  await rm(file, { force: true });
}

/** Why the run in `dir` counts as in progress, or undefined when it does not. */
export async function whyInProgress(dir: string, startedAtMs: number, now = Date.now()): Promise<string | undefined> {
  const lock = await readJson(join(dir, LAB_LOCK_FILE));
  const lockPid = (lock as { pid?: unknown } | undefined)?.pid;
  if (typeof lockPid === 'number' && isAlive(lockPid)) return `${LAB_LOCK_FILE} names live pid ${lockPid}`;
  const processes = await readJson(join(dir, 'processes.json'));
  if (Array.isArray(processes)) {
    for (const each of processes as Array<{ name?: unknown; pid?: unknown } | null>) {
      if (typeof each?.pid === 'number' && isAlive(each.pid)) return `processes.json: ${String(each.name)} (pid ${each.pid}) is alive`;
    }
  }
  if (now - startedAtMs < STARTING_GRACE_MS) return 'started under a minute ago';
  return undefined;
}

/** Signal 0 tests for a process without touching it; EPERM means it exists but is someone else's. */
export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function readJson(file: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as unknown;
  } catch {
    // Missing or half-written: says nothing about the run.
    return undefined;
  }
}
