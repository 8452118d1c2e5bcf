// CPU time of another process, read from /proc (Linux), for benches that
// charge each process its own cost per request (a proxy, a collector).

import { readFile } from 'node:fs/promises';

/** Clock ticks per second in /proc/<pid>/stat (USER_HZ, 100 on every Linux this runs on). */
const CLOCK_TICKS = 100;

/** User + system CPU time of a process (all its threads) in µs, from the fields after the command name in /proc/<pid>/stat. */
export function cpuMicrosFromStat(stat: string): number {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`not a /proc/<pid>/stat line: ${stat.slice(0, 80)}`);
  return ((utime + stime) * 1e6) / CLOCK_TICKS;
}

export async function cpuMicrosOf(pid: number): Promise<number> {
  return cpuMicrosFromStat(await readFile(`/proc/${pid}/stat`, 'utf8'));
}
