// The same scenario with the circuit breaker switched off must fail: the
// expectations are able to fail, and the CLI says so with its exit code.

import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isAlive, runCli, startedPids } from './cli.ts';

describe('faultline run payment-outage --disable circuitBreaker', () => {
  let runsDir: string;
  afterAll(async () => {
    if (runsDir) await rm(runsDir, { recursive: true, force: true });
  });

  it('fails the breaker expectations and exits non-zero', { timeout: 150_000 }, async () => {
    runsDir = await mkdtemp(join(tmpdir(), 'faultline-e2e-'));
    const result = await runCli(['run', 'payment-outage', '--disable', 'circuitBreaker', '--time-scale', '0.5', '--runs-dir', runsDir]);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('FAIL: payment-outage');
    const [id] = await readdir(runsDir);
    const runDir = join(runsDir, id as string);
    const summary = JSON.parse(await readFile(join(runDir, 'summary.json'), 'utf8'));
    expect(summary.verdict).toBe('fail');
    const byName = Object.fromEntries(summary.expectations.map((e: { name: string; ok: boolean }) => [e.name, e.ok]));
    expect(byName['the payment breaker opens during the outage and closes after it']).toBe(false);
    expect(byName['once the breaker is open, failed checkouts fail fast']).toBe(false);
    // Retries stay bounded and the system still recovers without a breaker.
    expect(byName['no checkout in the outage makes more payment attempts than the retry policy allows']).toBe(true);
    expect(byName['the error rate is back under 1% in the recovery phase']).toBe(true);
    const junit = await readFile(join(runDir, 'junit.xml'), 'utf8');
    expect(junit).toMatch(/failures="2"/);
    for (const pid of await startedPids(runDir)) expect(isAlive(pid)).toBe(false);
  });
});
