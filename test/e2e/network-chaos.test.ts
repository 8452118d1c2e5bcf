// The network-fault scenarios with their key pattern switched off must fail:
// without retries, packet-trouble's connection resets reach the shoppers;
// without timeouts, checkout-inventory-partition's black hole holds every
// checkout until the client gives up. Each run also leaves every step of its
// serial fault group in faults.jsonl, applied and removed, and no process behind.

import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { expectFailOrInconclusive, isAlive, runCli, startedPids } from './cli.ts';

const runsDirs: string[] = [];

async function run(args: string[]): Promise<{ code: number | null; stdout: string; runDir: string; summary: { verdict: string; expectations: Array<{ name: string; ok: boolean; status: string }>; pressure?: Array<{ overLimits: string[] }> }; faults: Array<{ action: string; fault: string; ok: boolean }> }> {
  const runsDir = await mkdtemp(join(tmpdir(), 'faultline-e2e-'));
  runsDirs.push(runsDir);
  const result = await runCli([...args, '--runs-dir', runsDir]);
  const [id] = await readdir(runsDir);
  const runDir = join(runsDir, id as string);
  const summary = JSON.parse(await readFile(join(runDir, 'summary.json'), 'utf8'));
  const faults = (await readFile(join(runDir, 'faults.jsonl'), 'utf8')).trim().split('\n').map((line) => JSON.parse(line));
  return { ...result, runDir, summary, faults };
}

const okByName = (summary: { expectations: Array<{ name: string; ok: boolean }> }) => Object.fromEntries(summary.expectations.map((e) => [e.name, e.ok]));
const statusOf = (summary: { expectations: Array<{ name: string; status: string }> }, name: string) => summary.expectations.find((e) => e.name === name)?.status;

describe('network chaos scenarios without their key pattern', () => {
  afterAll(async () => {
    for (const dir of runsDirs) await rm(dir, { recursive: true, force: true });
  });

  it('packet-trouble --disable retry: the resets reach the shoppers', { timeout: 90_000 }, async () => {
    const result = await run(['run', 'packet-trouble', '--disable', 'retry', '--time-scale', '0.5']);
    expectFailOrInconclusive(result.code, result.summary, ['retries contain the connection resets (under 2% of checkouts fail)'], result.stdout);
    const ok = okByName(result.summary);
    expect(ok['the baseline is healthy'] || statusOf(result.summary, 'the baseline is healthy') === 'inconclusive').toBe(true);
    expect(result.faults.map((record) => `${record.action}:${record.fault}:${record.ok}`)).toEqual([
      'apply:bank-jitter:true',
      'remove:bank-jitter:true',
      'apply:bank-resets:true',
      'remove:bank-resets:true',
    ]);
    for (const pid of await startedPids(result.runDir)) expect(isAlive(pid)).toBe(false);
  });

  it('checkout-inventory-partition --disable timeout: no call lost in the black hole ends by a timeout', { timeout: 90_000 }, async () => {
    const result = await run(['run', 'checkout-inventory-partition', '--disable', 'timeout', '--time-scale', '0.75']);
    expectFailOrInconclusive(result.code, result.summary, ['the inventory timeout ends the calls lost in the black hole'], result.stdout);
    // Too few timeouts is a fact no slowness explains: a FAIL on any machine.
    expect(statusOf(result.summary, 'the inventory timeout ends the calls lost in the black hole'), result.stdout).toBe('fail');
    expect(result.code, result.stdout).toBe(1);
    for (const name of ['the baseline is healthy', 'the error rate is back under 1% in the recovery phase']) expect(['pass', 'inconclusive'], name).toContain(statusOf(result.summary, name));
    expect(result.faults.map((record) => `${record.action}:${record.fault}:${record.ok}`)).toEqual([
      'apply:split-blackhole:true',
      'remove:split-blackhole:true',
      'apply:split-refused:true',
      'remove:split-refused:true',
      'apply:split-flaky:true',
      'remove:split-flaky:true',
    ]);
    for (const pid of await startedPids(result.runDir)) expect(isAlive(pid)).toBe(false);
  });
});
