// A `faultline up` session as a person uses it: the monitoring links it prints
// open on the Prometheus and Alertmanager that are installed, `--load` drives
// background traffic through the shop, and faults set and cleared by hand
// through the admin APIs land in the session's faults.jsonl.

import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { monitoringAvailability } from '../../runner/monitoring.ts';
import { isAlive, ROOT, startedPids } from './cli.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'faultline-up-session-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** Sum of a counter's samples in a Prometheus text page. */
function counter(text: string, name: string): number {
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name} `) || line.startsWith(`${name}{`))
    .reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
}

describe('faultline up session', () => {
  it('links that open, background load, and hand-set faults in faults.jsonl', async () => {
    const runsDir = join(dir, 'runs');
    const child = spawn(
      process.execPath,
      [join(ROOT, 'scripts/faultline.js'), 'up', '--gateway-port', '0', '--collector-port', '0', '--collector-http-port', '0', '--chaos-port', '0', '--console-port', '0', '--prometheus-port', '0', '--alertmanager-port', '0', '--load', '10', '--runs-dir', runsDir],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    let pids: number[] | undefined;
    try {
      const readyBy = Date.now() + 60_000;
      while (!stdout.includes('Ctrl-C stops everything')) {
        if (child.exitCode !== null || Date.now() > readyBy) throw new Error(`up did not get ready\n${stdout}\n${stderr}`);
        await sleep(100);
      }
      const [id] = await readdir(runsDir);
      const runDir = join(runsDir, id as string);
      pids = await startedPids(runDir);
      const link = (pattern: RegExp): string => {
        const match = pattern.exec(stdout);
        expect(match, stdout).not.toBeNull();
        return (match as RegExpExecArray)[1] as string;
      };

      // Monitoring links open (200), whichever Prometheus and Alertmanager are installed.
      if ((await monitoringAvailability()).available) {
        const prometheus = link(/^\s+prometheus \S+ \(SLO rules at lab scale\)\s+(\S+)$/m);
        const page = await fetch(prometheus);
        expect(page.status, prometheus).toBe(200);
        expect(await page.text()).toMatch(/<html/i);
        const alertmanager = link(/^\s+alertmanager(?: \(API only: this build has no web UI\))?\s+(\S+)$/m);
        expect((await fetch(alertmanager)).status, alertmanager).toBe(200);
        // The name says "no web UI" exactly when GET / on Alertmanager is not a page.
        const root = await fetch(`${new URL(alertmanager).origin}/`);
        await root.body?.cancel();
        expect(stdout.includes('no web UI')).toBe(!root.ok);
      }

      // --load: the generator starts journeys and the gateway serves them.
      const loadgen = link(/^\s+background load \(10\/s\)\s+(\S+)$/m);
      const iterations = await until('background journeys', async () => {
        const count = counter(await (await fetch(loadgen)).text(), 'loadgen_http_reqs_total');
        return count >= 5 ? count : undefined;
      });
      expect(iterations).toBeGreaterThanOrEqual(5);
      const gatewayMetrics = link(/^\s+gateway(?:-1)? metrics\s+(\S+)$/m);
      expect(counter(await (await fetch(gatewayMetrics)).text(), 'http_server_request_duration_seconds_count')).toBeGreaterThan(0);

      // A toxic set and cleared by hand on the fault proxy, and an in-service fault on an instance.
      const proxiesUrl = link(/^\s+fault proxy admin \(Toxiproxy API\)\s+(\S+)$/m);
      const proxies = (await (await fetch(proxiesUrl)).json()) as Record<string, unknown>;
      const proxy = Object.keys(proxies)[0] as string;
      const created = await fetch(`${proxiesUrl}/${proxy}/toxics`, { method: 'POST', body: JSON.stringify({ name: 'by-hand', type: 'latency', attributes: { latency: 50 } }) });
      expect(created.status, await created.text()).toBeLessThan(300);
      const bankFaults = link(/^\s+bank faults \(admin, loopback\)\s+(\S+)$/m);
      const burn = await fetch(bankFaults, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'hand-burn', type: 'cpu_burn', attributes: { percent: 5 } }) });
      expect(burn.status, await burn.text()).toBe(201);
      type FaultLine = { action: string; fault: string; type: string; target: string; offsetMs: number };
      const records = async (): Promise<FaultLine[]> =>
        (await readFile(join(runDir, 'faults.jsonl'), 'utf8').catch(() => ''))
          .split('\n')
          .filter(Boolean)
          .map((line) => JSON.parse(line) as FaultLine);
      const recorded = (action: string) => until(`${action} records`, async () => {
        const found = await records();
        return ['by-hand', 'hand-burn'].every((fault) => found.some((r) => r.fault === fault && r.action === action)) ? found : undefined;
      });
      // Each fault is seen while it is active (the admin APIs are read every MANUAL_FAULT_POLL_MS), then cleared.
      await recorded('apply');
      expect((await fetch(`${proxiesUrl}/${proxy}/toxics/by-hand`, { method: 'DELETE' })).status).toBeLessThan(300);
      expect((await fetch(`${bankFaults}/hand-burn`, { method: 'DELETE' })).status).toBe(204);
      const all = await recorded('remove');
      expect(all.filter((r) => r.fault === 'by-hand').map((r) => [r.action, r.type, r.target])).toEqual([
        ['apply', 'latency', proxy],
        ['remove', 'latency', proxy],
      ]);
      expect(all.filter((r) => r.fault === 'hand-burn').map((r) => [r.action, r.type, r.target])).toEqual([
        ['apply', 'cpu_burn', 'bank'],
        ['remove', 'cpu_burn', 'bank'],
      ]);
      for (const record of all) expect(record.offsetMs).toBeGreaterThanOrEqual(0);
    } finally {
      child.kill('SIGINT');
      expect(await exited, `${stdout}\n${stderr}`).toBe(0);
    }
    expect(stdout).toContain('faultline: lab stopped');
    for (const pid of pids ?? []) expect(isAlive(pid)).toBe(false);
  }, 120_000);
});
