// `faultline up` with size caps, end to end: --max-telemetry-mb reaches the
// collector (traces.jsonl rotates, rotated files are still read, /metrics
// counts rotations), --max-log-mb reaches the process logs, the session's
// lab.lock keeps `runs prune` off it while it runs and is gone after Ctrl-C.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listRotated } from '../../collector/rotated-files.ts';
import { readSpans } from '../../collector/trace-query.ts';
import { ROOT, isAlive, runCli, startedPids } from './cli.ts';
import { until } from '../until.ts';

let runsDir: string;
beforeAll(async () => {
  runsDir = await mkdtemp(join(tmpdir(), 'faultline-e2e-disk-'));
});
afterAll(async () => {
  await rm(runsDir, { recursive: true, force: true });
});

describe('faultline up with disk caps', () => {
  it('rotates telemetry and process logs under the caps given, and protects the live session from prune', { timeout: 120_000 }, async () => {
    // 0.05 MB per signal: files of ~10 KB, four rotated kept. 0.004 MB per process log: ~2 KB files, one rotated kept.
    const args = ['up', '--gateway-port', '0', '--collector-port', '0', '--collector-http-port', '0', '--chaos-port', '0', '--console-port', '0', '--no-monitoring', '--max-telemetry-mb', '0.05', '--max-log-mb', '0.004', '--runs-dir', runsDir];
    const child = spawn(process.execPath, [join(ROOT, 'scripts/faultline.js'), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      await until('faultline up ready', () => (stdout.includes('Ctrl-C stops everything') ? true : undefined), 60_000);
      const [id] = await readdir(runsDir);
      const runDir = join(runsDir, id as string);
      const curl = /curl -s -X POST (\S+) .*authorization: Bearer ([^']+)'/.exec(stdout);
      const headers = { authorization: `Bearer ${curl?.[2]}`, 'content-type': 'application/json' };
      const body = JSON.stringify({ userId: 'user-1', items: [{ sku: 'sku-1', quantity: 1 }], amount: 1999 });
      for (let round = 0; round < 8; round++) {
        await Promise.all(Array.from({ length: 5 }, () => fetch(curl?.[1] as string, { method: 'POST', headers, body }).then((response) => response.arrayBuffer())));
      }
      const tracesFile = join(runDir, 'traces.jsonl');
      await until('traces.jsonl rotated twice', async () => ((await listRotated(tracesFile)).length >= 2 ? true : undefined), 20_000);
      const rotated = await listRotated(tracesFile);
      expect(rotated.length).toBeLessThanOrEqual(4);
      expect((await readSpans(tracesFile)).length).toBeGreaterThan(0);
      const metricsUrl = /collector metrics\s+(\S+)/.exec(stdout)?.[1] as string;
      const metrics = await (await fetch(metricsUrl)).text();
      expect(Number(/^collector_rotations_total\{signal="traces"\} (\d+)/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(2);

      const logs = await readdir(join(runDir, 'logs'));
      expect(logs.some((name) => /\.1\.jsonl$/.test(name))).toBe(true);
      expect(logs.some((name) => /\.2\.jsonl$/.test(name))).toBe(false);
      for (const name of logs) expect((await stat(join(runDir, 'logs', name))).size, name).toBeLessThan(2_097 + 4_096);

      // The live session is never pruned.
      expect(existsSync(join(runDir, 'lab.lock'))).toBe(true);
      const prune = await runCli(['runs', 'prune', '--keep', '0', '--runs-dir', runsDir], { timeoutMs: 60_000 });
      expect(prune.code).toBe(0);
      expect(prune.stdout).toContain(`left ${id}: in progress (lab.lock names live pid ${child.pid})`);
      expect(existsSync(runDir)).toBe(true);

      const pids = await startedPids(runDir);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(existsSync(join(runDir, 'lab.lock'))).toBe(false);
      await until('every lab process gone', () => (pids.every((pid) => !isAlive(pid)) ? true : undefined), 10_000);
    } finally {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    }
  });
});
