// The memory limit against a real process: a small Node process grows its
// resident memory (filled buffers) until the watch, reading /proc, sees it over
// the limit, kills it with SIGKILL and starts it again; the new one does not
// leak and is left alone. Each child bounds itself (it stops growing at 256 MiB
// and exits after 20 s) and the test kills whatever it started, so nothing
// outlives it.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { createMemoryWatch, memoryLimitSchema, readRss, type MemoryEvent } from '../../runner/memory-limit.ts';
import { until } from '../until.ts';

const MIB = 1024 * 1024;
const CHILD = `
const leak = process.env.LEAK === '1';
const kept = [];
let held = 0;
setInterval(() => {
  if (leak && held < 256 * 1024 * 1024) { kept.push(Buffer.alloc(8 * 1024 * 1024, 0xa5)); held += 8 * 1024 * 1024; }
}, 100);
setTimeout(() => process.exit(0), 20000);
process.on('disconnect', () => process.exit(0));
`;

const children: ChildProcess[] = [];
const spawnChild = (leak: boolean): ChildProcess => {
  const child = spawn(process.execPath, ['-e', CHILD], { env: { ...process.env, LEAK: leak ? '1' : '0' }, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  children.push(child);
  return child;
};
const alive = (child: ChildProcess) => child.exitCode === null && child.signalCode === null;

afterEach(async () => {
  await Promise.all(
    children.splice(0).map(
      (child) =>
        new Promise<void>((resolve) => {
          if (!alive(child)) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGKILL');
        }),
    ),
  );
});

describe.skipIf(!existsSync('/proc/self/status'))('memory limit on a real process', () => {
  it('kills a process that grows over its limit with SIGKILL and starts it again', async () => {
    const running = new Map<string, ChildProcess>([['leaky-1', spawnChild(true)]]);
    const first = running.get('leaky-1') as ChildProcess;
    const events: MemoryEvent[] = [];
    const watch = createMemoryWatch({
      processes: () => [...running].filter(([, child]) => alive(child)).map(([name, child]) => ({ name, pid: child.pid as number })),
      limitOf: () => memoryLimitSchema.parse({ limit: '128MiB', interval: '100ms' }),
      async kill(name) {
        const child = running.get(name) as ChildProcess;
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.kill('SIGKILL');
        await exited;
      },
      async restart(name) {
        running.set(name, spawnChild(false));
      },
      onEvent: (event) => events.push(event),
    });
    watch.start(100);
    try {
      await until('the OOM kill and the restart', () => (events.some((e) => e.kind === 'restarted') ? true : undefined), 15_000, 50);
    } finally {
      await watch.stop();
    }
    expect(events.map((e) => e.kind)).toEqual(['oom-killed', 'restarted']);
    const killed = events[0] as Extract<MemoryEvent, { kind: 'oom-killed' }>;
    expect(killed.rssBytes).toBeGreaterThan(128 * MIB);
    // Caught within a few of the leak's 8 MiB steps of the limit.
    expect(killed.rssBytes).toBeLessThan(200 * MIB);
    expect(first.signalCode).toBe('SIGKILL');
    const second = running.get('leaky-1') as ChildProcess;
    expect(second.pid).not.toBe(first.pid);
    expect(alive(second)).toBe(true);
    expect(readRss(second.pid as number)).toBeLessThan(128 * MIB);
    expect(Math.max(...watch.samples().filter((s) => s.instance === 'leaky-1').map((s) => s.rssBytes))).toBe(killed.rssBytes);
  }, 30_000);
});
