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

  it('fails for the reasons the breaker exists, says the breaker is off, and exits 1', { timeout: 150_000 }, async () => {
    runsDir = await mkdtemp(join(tmpdir(), 'faultline-e2e-'));
    const result = await runCli(['run', 'payment-outage', '--disable', 'circuitBreaker', '--time-scale', '0.5', '--runs-dir', runsDir]);
    expect(result.code, result.stdout).toBe(1);
    expect(result.stdout).toContain('FAIL: payment-outage');
    // Every breaker the flag switched off, the bank's behind payment included.
    expect(result.stdout).toContain('patterns switched off: checkout->payment circuitBreaker, payment->bank circuitBreaker (--disable circuitBreaker)');
    expect(result.stdout).toContain('breaker off');
    expect(result.stdout).not.toContain('breaker unknown');
    const [id] = await readdir(runsDir);
    const runDir = join(runsDir, id as string);
    const summary = JSON.parse(await readFile(join(runDir, 'summary.json'), 'utf8'));
    expect(summary.verdict).toBe('fail');
    expect(summary.options.switchedOff).toEqual(['checkout->payment circuitBreaker', 'payment->bank circuitBreaker']);
    const failed = summary.expectations.filter((e: { status: string }) => e.status === 'fail').map((e: { name: string }) => e.name);
    // Exactly the breaker's reasons: it never opens, so failing checkouts never fail fast, and every
    // checkout in the outage hammers the failing bank. These are states and counts: no busy machine changes them.
    expect(failed.sort()).toEqual(
      [
        'once the breaker is open, failed checkouts fail fast',
        'the breaker spares the failing bank (most checkouts in the outage never reach it)',
        'the payment breaker opens during the outage and closes after it',
      ].sort(),
    );
    const byName = new Map(summary.expectations.map((e: { name: string; measured: string }) => [e.name, e]));
    expect(byName.get('the payment breaker opens during the outage and closes after it')).toMatchObject({ measured: 'the circuit never changed state' });
    const spared = (byName.get('the breaker spares the failing bank (most checkouts in the outage never reach it)') as { measured: string }).measured;
    expect(spared).toMatch(/^max 3, mean \d\.\d\d over \d+ traces$/);
    // Nearly every checkout makes all three attempts against the failing bank (with the breaker: a fraction of one).
    expect(Number(/mean (\d\.\d\d)/.exec(spared)?.[1])).toBeGreaterThan(2);
    // Retries stay bounded without a breaker: the bound counts Charge attempts, not the compensating Refunds.
    expect(byName.get('no checkout in the outage makes more payment attempts than the retry policy allows')).toMatchObject({ status: 'pass' });
    const junit = await readFile(join(runDir, 'junit.xml'), 'utf8');
    expect(junit).toMatch(/failures="3"/);
    for (const pid of await startedPids(runDir)) expect(isAlive(pid)).toBe(false);
  });
});
