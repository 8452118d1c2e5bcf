// The lab's watchdog: a tiny process the supervisor starts beside the lab, in
// its own session (so a terminal's Ctrl-C to the runner's group does not reach
// it), that outlives the supervisor. Node has no PR_SET_PDEATHSIG, and a death
// signal would not help a paused lab process anyway: a stopped process does
// not act on SIGTERM until it is continued. So when the supervisor dies (its
// IPC channel disconnects, or our parent pid changes), the watchdog does what
// the supervisor's stopAll would have done: it wakes (SIGCONT) every process
// it was told about, then in the supervisor's stop order SIGTERMs each, waits
// up to that process's grace for it to drain and exit, and SIGKILLs it if it
// has not. Then it exits.
// A pid is only signalled while it is still the process it was told about
// (same start time in /proc), so a reused pid is never hit.
//
// Protocol (IPC from the supervisor): { type: 'watch', processes: WatchedProcess[] }
// with the full list in stop order, sent whenever it changes. When the
// supervisor has stopped everything it sends an empty list and disconnects:
// nothing left to do, the watchdog exits.

import { existsSync, readFileSync } from 'node:fs';

export interface WatchedProcess {
  name: string;
  pid: number;
  /** Field 22 of /proc/<pid>/stat (clock ticks after boot); undefined where /proc is not available. */
  startTime?: string;
  /** How long it may take to drain after SIGTERM before it is killed. */
  graceMs: number;
}

export interface WatchMessage {
  type: 'watch';
  processes: WatchedProcess[];
}

/** Start time and state of a process from /proc/<pid>/stat; undefined when there is no such process. */
export function processStat(pid: number): { startTime: string; state: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: fields after it follow the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0] as string, startTime: fields[19] as string };
  } catch {
    return undefined;
  }
}

/** Whether `watched` still runs (a zombie has exited; a pid with another start time is another process). */
export function stillRunning(watched: Pick<WatchedProcess, 'pid'> & { startTime?: string | undefined }): boolean {
  const stat = processStat(watched.pid);
  if (stat) return stat.state !== 'Z' && stat.state !== 'X' && (watched.startTime === undefined || stat.startTime === watched.startTime);
  if (existsSync('/proc/self/stat')) return false;
  // No /proc here: all that can be asked is whether the pid exists.
  try {
    process.kill(watched.pid, 0);
    return true;
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // Gone already.
  }
}

/**
 * Stop each process in the given order: ask it to drain, kill it if it has
 * not exited within its grace. Every paused process is woken first, not only
 * when its turn comes: a caller draining before it (checkout) may need its
 * answers (a frozen bank would leave the refunds owed).
 */
export async function stopInOrder(processes: readonly WatchedProcess[], log: (line: string) => void = () => undefined): Promise<void> {
  for (const watched of processes) if (stillRunning(watched)) signal(watched.pid, 'SIGCONT');
  for (const watched of processes) {
    if (!stillRunning(watched)) continue;
    // A paused process holds SIGTERM pending until it runs again.
    signal(watched.pid, 'SIGCONT');
    signal(watched.pid, 'SIGTERM');
    const deadline = Date.now() + watched.graceMs;
    while (stillRunning(watched) && Date.now() < deadline) await sleep(50);
    if (stillRunning(watched)) {
      log(`${watched.name} (pid ${watched.pid}) did not exit within ${watched.graceMs} ms: SIGKILL`);
      signal(watched.pid, 'SIGKILL');
      const killDeadline = Date.now() + 5_000;
      while (stillRunning(watched) && Date.now() < killDeadline) await sleep(50);
    } else {
      log(`${watched.name} (pid ${watched.pid}) stopped`);
    }
  }
}

/** The watchdog's main: watch the parent, and stop the lab when it dies. */
function runWatchdog(): void {
  const parent = process.ppid;
  let watched: WatchedProcess[] = [];
  let ending = false;
  const log = (line: string) => process.stderr.write(`${new Date().toISOString()} watchdog: ${line}\n`);
  const end = async (why: string): Promise<void> => {
    if (ending) return;
    ending = true;
    const left = watched.filter(stillRunning);
    if (left.length > 0) {
      log(`${why}: stopping ${left.map((p) => p.name).join(', ')}`);
      await stopInOrder(left, log);
    }
    process.exit(0);
  };
  process.on('message', (message: WatchMessage) => {
    if (message?.type === 'watch' && Array.isArray(message.processes)) watched = message.processes;
  });
  process.on('disconnect', () => void end('supervisor disconnected'));
  // A terminal's signals are for the runner; this process only ends the lab when the runner is gone.
  process.on('SIGINT', () => undefined);
  process.on('SIGHUP', () => undefined);
  // Backup for the channel: the parent pid changes when the parent dies (we are reparented).
  setInterval(() => {
    if (process.ppid !== parent) void end('supervisor gone');
  }, 500);
}

if (process.send && process.argv[1] && import.meta.filename === process.argv[1]) runWatchdog();
