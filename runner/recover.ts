// `faultline recover <run>`: finish what a stopped or killed run left in
// flight. The books of a run whose lab died mid-saga (the runner SIGKILLed,
// the machine rebooted) hold orders still pending or owing a compensation,
// and their charges and holds. Those are the checkout's to finish: it resumes
// pending sagas from its order log at start, and its sweeper retries owed
// compensations. So recovery is: start checkout and what it calls (inventory,
// payment, the bank) on the run's own databases (runs/<id>/data/*.sqlite),
// wait until the books show nothing in flight, stop them in order, and check
// the books again. Damage that resuming cannot undo ("lost or doubled") is
// reported, not hidden. The recovery's logs and traces join the run's own.

import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { checkBooks, type BooksReport } from './books.ts';
import { ERROR_CODE, FaultlineError } from './errors.ts';
import { startLab } from './lab.ts';
import { LAB_LOCK_FILE } from './run-lock.ts';
import { stillRunning } from './watchdog.ts';

export interface RecoverOptions {
  /** Give up waiting for the in-flight work after this long (the books are reported as they are). */
  timeoutMs?: number;
  /** Progress lines. */
  say?: (line: string) => void;
  signal?: AbortSignal;
}

export interface RecoverResult {
  before: BooksReport;
  after: BooksReport;
  /** Whether a lab was started (nothing was in flight otherwise). */
  started: boolean;
}

/** How often the books are read while the services finish the work. */
const POLL_MS = 250;
const DEFAULT_TIMEOUT_MS = 60_000;

export async function recoverRun(runDir: string, options: RecoverOptions = {}): Promise<RecoverResult> {
  const say = options.say ?? (() => undefined);
  if (!existsSync(join(runDir, 'data', 'checkout.sqlite'))) {
    throw new FaultlineError(ERROR_CODE.badOption, `${runDir} has no checkout books (data/checkout.sqlite): nothing to recover`);
  }
  // Two checkouts on one order log would resume the same sagas twice over.
  const busy = await liveLabProcess(runDir);
  if (busy) throw new FaultlineError(ERROR_CODE.badOption, `the run's lab is still running (${busy}); stop it first`);

  const before = checkBooks(runDir);
  if (before.counts['in-flight'] === 0) {
    say(before.ok ? 'nothing in flight: the books balance' : 'nothing in flight to finish');
    return { before, after: before, started: false };
  }
  say(`${before.counts['in-flight']} in flight (${before.orders.pending} pending, ${before.orders.compensating} compensating): starting checkout, inventory, payment and the bank on the run's data`);
  const lab = await startLab({ runDir, services: ['checkout'], seed: 1 });
  try {
    const deadline = Date.now() + (options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    for (;;) {
      if (options.signal?.aborted) break;
      const now = checkBooks(runDir);
      if (now.counts['in-flight'] === 0) break;
      if (Date.now() > deadline) {
        say(`gave up waiting: ${now.counts['in-flight']} still in flight`);
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  } finally {
    await lab.stop();
  }
  const after = checkBooks(runDir);
  return { before, after, started: true };
}

/**
 * A process of the run's lab (or its runner) that still runs, by the pids the
 * run recorded. An exited process that nobody has reaped yet (a zombie: its
 * runner was killed) does not count.
 */
async function liveLabProcess(runDir: string): Promise<string | undefined> {
  const read = async (file: string): Promise<unknown> => JSON.parse(await readFile(join(runDir, file), 'utf8').catch(() => 'null'));
  const lock = (await read(LAB_LOCK_FILE)) as { pid?: unknown } | null;
  if (typeof lock?.pid === 'number' && stillRunning({ pid: lock.pid })) return `${LAB_LOCK_FILE} names live pid ${lock.pid}`;
  const processes = (await read('processes.json')) as Array<{ name?: unknown; pid?: unknown }> | null;
  for (const each of Array.isArray(processes) ? processes : []) {
    if (typeof each?.pid === 'number' && stillRunning({ pid: each.pid })) return `${String(each.name)} (pid ${each.pid}) is alive`;
  }
  return undefined;
}
