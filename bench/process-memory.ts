// Resident memory of a set of processes, read from /proc (Linux): the number
// the "well under a gigabyte" promise is about. Two measures: RSS summed over
// processes counts the pages of the Node binary shared by all of them once per
// process (an overstatement); PSS splits shared pages between the processes that
// map them, so summed PSS is the physical memory the lab really occupies.

import { readFile } from 'node:fs/promises';

/** VmRSS of one process in bytes, or 0 when it is gone. */
export async function residentBytes(pid: number): Promise<number> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
    return kb ? Number(kb) * 1_024 : 0;
  } catch {
    return 0;
  }
}

/** Proportional set size of one process in bytes (shared pages divided among their users), or 0 when it is gone. */
export async function proportionalBytes(pid: number): Promise<number> {
  try {
    const rollup = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8');
    const kb = /^Pss:\s+(\d+) kB$/m.exec(rollup)?.[1];
    return kb ? Number(kb) * 1_024 : 0;
  } catch {
    return 0;
  }
}

export async function totalOf(measure: (pid: number) => Promise<number>, pids: number[]): Promise<number> {
  const sizes = await Promise.all(pids.map(measure));
  return sizes.reduce((sum, size) => sum + size, 0);
}

export const mib = (bytes: number): string => `${(bytes / 1_048_576).toFixed(0)} MiB`;
