// The watchdog's stop, on real processes: in the order given, a paused one
// woken and ended by SIGTERM, one that ignores SIGTERM killed after its
// grace, and a pid that now belongs to another process left alone.

import { spawn, type ChildProcess } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { processStat, stillRunning, stopInOrder, type WatchedProcess } from './watchdog.ts';

/** A process that writes its name and SIGTERM's arrival on stdout, then exits (or not, when told to ignore it). */
function sleeper(name: string, ignoreTerm = false): Promise<{ child: ChildProcess; watched: WatchedProcess; lines: string[] }> {
  const script = `process.on('SIGTERM', () => { process.stdout.write('TERM ${name}\\n'); ${ignoreTerm ? '' : 'process.exit(0);'} }); process.stdout.write('up\\n'); setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  return new Promise((resolve) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      lines.push(...chunk.toString().trim().split('\n'));
      if (lines.includes('up')) {
        const pid = child.pid as number;
        resolve({ child, lines, watched: { name, pid, graceMs: 3_000, startTime: processStat(pid)?.startTime as string } });
      }
    });
  });
}

const exited = (child: ChildProcess) => new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));

describe('stopInOrder', () => {
  it('stops in the given order, wakes a paused process, and kills one that will not stop', async () => {
    const first = await sleeper('first');
    const paused = await sleeper('paused');
    const stubborn = await sleeper('stubborn', true);
    paused.child.kill('SIGSTOP');
    const order: string[] = [];
    for (const each of [first, paused, stubborn]) each.child.once('exit', () => order.push(each.watched.name));
    const log: string[] = [];
    await stopInOrder([first.watched, paused.watched, { ...stubborn.watched, graceMs: 300 }], (line) => log.push(line));
    await Promise.all([first, paused, stubborn].map((each) => exited(each.child)));
    expect(order).toEqual(['first', 'paused', 'stubborn']);
    expect(paused.lines).toContain('TERM paused');
    expect(stubborn.child.signalCode).toBe('SIGKILL');
    expect(log.filter((line) => line.includes('SIGKILL'))).toEqual([`stubborn (pid ${stubborn.watched.pid}) did not exit within 300 ms: SIGKILL`]);
  }, 20_000);

  it('leaves alone a pid whose start time says it is another process now', async () => {
    const other = await sleeper('other');
    try {
      const stale = { ...other.watched, startTime: '1' };
      expect(stillRunning(stale)).toBe(false);
      await stopInOrder([stale]);
      expect(stillRunning(other.watched)).toBe(true);
      expect(other.lines).not.toContain('TERM other');
    } finally {
      other.child.kill('SIGKILL');
      await exited(other.child);
    }
  });
});
