// Where the main thread's time goes, for what wall-clock time alone cannot
// tell apart: a thread that waited for a CPU (the machine did not run it: a
// busy neighbour, a full run queue) from one that was busy or blocked in its
// own work. Linux keeps the first per thread in /proc/thread-self/schedstat.

import { readFileSync } from 'node:fs';

let schedstatReadable = true;

/**
 * Milliseconds this thread has spent runnable but waiting for a CPU since it started (the second
 * field of /proc/thread-self/schedstat, in ns); 0 where the kernel does not say, so that a delay
 * then counts in full.
 */
export function runQueueWaitMs(): number {
  if (!schedstatReadable) return 0;
  try {
    const fields = readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ');
    return Number(fields[1]) / 1e6 || 0;
  } catch {
    schedstatReadable = false;
    return 0;
  }
}

const blocker = new Int32Array(new SharedArrayBuffer(4));

/**
 * Blocks the calling thread for `ms` without using a CPU, as a synchronous call does (a file read
 * on a slow disk, execSync, a synchronous DNS lookup): its event loop does nothing else meanwhile,
 * whatever the machine's speed, and the rest of the machine is not slowed by it.
 */
export function blockFor(ms: number): void {
  Atomics.wait(blocker, 0, 0, ms);
}
