// Process faults end to end through the CLI: a crashed payment instance is
// absorbed by retries and the balancer, and a frozen bank shows what happens
// without timeouts (the scenario fails, as it must).

import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectPassOrInconclusive, isAlive, runCli, startedPids } from './cli.ts';

let runsDir: string;
beforeAll(async () => {
  runsDir = await mkdtemp(join(tmpdir(), 'faultline-e2e-'));
});
afterAll(async () => {
  await rm(runsDir, { recursive: true, force: true });
});

async function lastSummary(scenario: string) {
  const id = (await readdir(runsDir)).filter((name) => name.includes(scenario)).sort().at(-1) as string;
  const runDir = join(runsDir, id);
  return { runDir, summary: JSON.parse(await readFile(join(runDir, 'summary.json'), 'utf8')) };
}

describe('process faults', () => {
  it('payment-instance-crash passes: the instance is killed, restarted, and checkouts never notice', { timeout: 150_000 }, async () => {
    const result = await runCli(['run', 'payment-instance-crash', '--time-scale', '0.6', '--runs-dir', runsDir]);
    const { runDir, summary } = await lastSummary('payment-instance-crash');
    expectPassOrInconclusive(result.code, summary, result.stdout);
    const faults = (await readFile(join(runDir, 'faults.jsonl'), 'utf8')).trim().split('\n').map((line) => JSON.parse(line));
    expect(faults.map((f) => `${f.action} ${f.target} ${f.ok}`)).toEqual(['apply payment-1 true', 'remove payment-1 true']);
    expect(summary.books.ok).toBe(true);
    // The restarted instance is a new process, and it is stopped too.
    for (const pid of await startedPids(runDir)) expect(isAlive(pid)).toBe(false);
  });

  it('bank-pause without timeouts fails: checkouts hang behind the frozen bank and the breaker never opens', { timeout: 150_000 }, async () => {
    const result = await runCli(['run', 'bank-pause', '--disable', 'timeout', '--time-scale', '0.6', '--runs-dir', runsDir]);
    const { summary } = await lastSummary('bank-pause');
    // The breaker never changing state is a fact no busy machine explains: this run is a FAIL, exit 1.
    expect(result.code, result.stdout).toBe(1);
    const byName = new Map(summary.expectations.map((e: { name: string; status: string; measured: string }) => [e.name, e]));
    expect(byName.get('the breaker opens on the timeouts and closes after the bank is back')).toMatchObject({ status: 'fail', measured: 'the circuit never changed state' });
    expect(['fail', 'inconclusive']).toContain((byName.get('no checkout hangs while the bank is frozen') as { status: string }).status);
    expect(byName.get('the books balance')).toMatchObject({ status: 'pass' });
  });
});
