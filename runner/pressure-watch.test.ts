// The watch against a /proc it is pointed at (files this test writes, so the
// figures are known) and real /metrics servers on loopback.

import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readCpuSomeTotalUs, readRunnable, readStealMs, startPressureWatch } from './pressure-watch.ts';
import { until } from '../test/until.ts';

const servers: Server[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

async function metricsServer(p99Seconds: number): Promise<string> {
  const server = createServer((_req, res) => res.end(`# TYPE nodejs_eventloop_lag_p99_seconds gauge\nnodejs_eventloop_lag_p99_seconds ${p99Seconds}\n`));
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function fakeProc(someTotalUs: number, running: number): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'faultline-proc-'));
  dirs.push(root);
  await mkdir(join(root, 'pressure'));
  await writeFile(join(root, 'pressure', 'cpu'), `some avg10=1.00 avg60=2.00 avg300=3.00 total=${someTotalUs}\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n`);
  await writeFile(join(root, 'stat'), `cpu  1 2 3 4\nprocs_running ${running}\nprocs_blocked 0\n`);
  return root;
}

describe('reading /proc', () => {
  it('reads PSI "some" and the run queue, and says undefined where they are absent', async () => {
    const root = await fakeProc(123_456, 5);
    expect(readCpuSomeTotalUs(root)).toBe(123_456);
    expect(readRunnable(root)).toBe(5);
    expect(readCpuSomeTotalUs(join(root, 'nowhere'))).toBeUndefined();
    expect(readRunnable(join(root, 'nowhere'))).toBeUndefined();
  });

  it("reads each CPU's steal in ms (USER_HZ ticks of 10 ms), and undefined without per-CPU lines", async () => {
    const root = await fakeProc(0, 1);
    expect(readStealMs(root)).toBeUndefined();
    await writeFile(join(root, 'stat'), 'cpu  10 0 5 100 1 0 2 33 0 0\ncpu0 5 0 2 50 1 0 1 3 0 0\ncpu1 5 0 3 50 0 0 1 30 0 0\nprocs_running 1\n');
    expect(readStealMs(root)).toEqual([30, 300]);
    expect(readStealMs(join(root, 'nowhere'))).toBeUndefined();
  });
});

describe('startPressureWatch', () => {
  it('samples CPU pressure as a share of wall time, the worst lab event loop, and leaves fault targets out', async () => {
    const root = await fakeProc(0, 3);
    const checkout = await metricsServer(0.04);
    const bank = await metricsServer(5);
    const watch = startPressureWatch({
      targets: [
        { name: 'checkout', address: checkout },
        { name: 'bank', address: bank },
      ],
      excluded: (name) => name === 'bank',
      intervalMs: 200,
      procRoot: root,
    });
    try {
      // 100 ms of waiting per 200 ms interval, written as the kernel would: a growing total.
      let total = 0;
      const bump = setInterval(() => {
        total += 100_000;
        void writeFile(join(root, 'pressure', 'cpu'), `some avg10=0 avg60=0 avg300=0 total=${total}\n`);
      }, 200);
      try {
        await until('three samples with a lab event-loop figure', () => (watch.samples().filter((s) => s.labLoopP99Ms !== undefined).length >= 3 ? true : undefined), 10_000);
      } finally {
        clearInterval(bump);
      }
      const late = watch.samples().slice(1);
      // Half of every interval is written as waiting; the two timers drift apart on a busy machine, so
      // one interval can see two bumps and the next none: the mean is judged, loosely.
      const shares = late.map((s) => s.cpuSome as number);
      const meanShare = shares.reduce((a, b) => a + b, 0) / shares.length;
      expect(meanShare).toBeGreaterThan(0.2);
      for (const share of shares) expect(share).toBeLessThanOrEqual(1);
      const withLoop = late.filter((s) => s.labLoopP99Ms !== undefined);
      expect(withLoop.every((s) => s.labLoopWorst === 'checkout' && Math.abs((s.labLoopP99Ms as number) - 40) < 1e-6)).toBe(true);
      expect(late[0]?.runQueuePerCore).toBeGreaterThan(0);
      watch.recordLag(1_000, 12);
      watch.recordLag(2_000, -3);
      expect(watch.lags()).toEqual([
        [1_000, 12],
        [2_000, 0],
      ]);
    } finally {
      watch.stop();
    }
  });

  it("records the most steal any one CPU had in each interval", async () => {
    const root = await fakeProc(0, 1);
    const stat = (cpu1Steal: number) => `cpu  0 0 0 0 0 0 0 ${3 + cpu1Steal} 0 0\ncpu0 0 0 0 0 0 0 0 3 0 0\ncpu1 0 0 0 0 0 0 0 ${cpu1Steal} 0 0\nprocs_running 1\n`;
    await writeFile(join(root, 'stat'), stat(7));
    const watch = startPressureWatch({ targets: [], intervalMs: 100, procRoot: root });
    try {
      await until('a first sample', () => (watch.samples().length >= 1 ? true : undefined), 10_000);
      // 12 ticks (120 ms) stolen from cpu1 once; cpu0 had none.
      await writeFile(join(root, 'stat'), stat(19));
      await until('a sample after the steal', () => (watch.samples().some((s) => (s.stealMs ?? 0) > 0) ? true : undefined), 10_000);
      expect(watch.samples().map((s) => s.stealMs).filter((ms) => ms !== 0)).toEqual([120]);
    } finally {
      watch.stop();
    }
  });
});
