// The catalogue through the real CLI: several scenarios in one command, each
// run without its pattern must FAIL for that pattern's reasons, and the
// combined record (summary.json, junit.xml) says so. The two scenarios are
// the ones whose patterns are the gateway's fallback and the retry budget, so
// their switches are exercised end to end on a real lab.

import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RUN_MEASURED_MESSAGE } from '../../runner/catalogue.ts';
import { isAlive, runCli, startedPids } from './cli.ts';

interface Expectation {
  name: string;
  status: string;
  measured: string;
}

describe('faultline run <several> --without', () => {
  let runsDir: string;
  afterAll(async () => {
    if (runsDir) await rm(runsDir, { recursive: true, force: true });
  });

  it('runs each scenario without its pattern, each FAILs for its own reasons, and the catalogue exits 0', { timeout: 240_000 }, async () => {
    runsDir = await mkdtemp(join(tmpdir(), 'faultline-e2e-'));
    const messages: Array<{ message: unknown; stdout: string }> = [];
    const result = await runCli(['run', 'recommendations-down', 'retry-storm', '--without', '--time-scale', '0.5', '--no-monitoring', '--runs-dir', runsDir], {
      onMessage: (message, stdout) => messages.push({ message, stdout }),
    });
    expect(result.code, result.stdout).toBe(0);
    expect(result.stdout).toContain('as expected without fallback');
    expect(result.stdout).toContain('as expected without retryBudget');
    // The matrix starts its next run on this message: once, when the last scenario has measured and before its verdict.
    expect(messages.map((m) => m.message)).toEqual([RUN_MEASURED_MESSAGE]);
    expect(messages[0]?.stdout).toContain('=== 2/2 retry-storm');
    expect(messages[0]?.stdout).not.toContain('FAIL: retry-storm');

    const ids = await readdir(runsDir);
    const catalogueId = ids.find((id) => id.includes('-catalogue-')) as string;
    const catalogue = JSON.parse(await readFile(join(runsDir, catalogueId, 'summary.json'), 'utf8'));
    expect(catalogue).toMatchObject({ kind: 'catalogue', mode: 'without', verdict: 'pass', exitCode: 0 });
    expect(catalogue.runs.map((r: { scenario: string; verdict: string; disabled: string[] }) => [r.scenario, r.verdict, r.disabled])).toEqual([
      ['recommendations-down', 'fail', ['fallback']],
      ['retry-storm', 'fail', ['retryBudget']],
    ]);
    const junit = await readFile(join(runsDir, catalogueId, 'junit.xml'), 'utf8');
    expect(junit).toContain('recommendations-down');
    expect(junit).toContain('retry-storm');

    const expectations = async (scenario: string): Promise<Map<string, Expectation>> => {
      const id = ids.find((name) => name.includes(`-${scenario}-`)) as string;
      const summary = JSON.parse(await readFile(join(runsDir, id, 'summary.json'), 'utf8'));
      for (const pid of await startedPids(join(runsDir, id))) expect(isAlive(pid)).toBe(false);
      return new Map(summary.expectations.map((e: Expectation) => [e.name, e]));
    };
    // Without the fallback, recommendations are 502 dependency-unreachable: answers, not slowness, so a FAIL on any machine.
    const storefront = await expectations('recommendations-down');
    const refused = storefront.get('no storefront request fails because recommendations are unreachable');
    expect(refused?.status).toBe('fail');
    expect(Number(/^(\d+\.\d\d)%/.exec(refused?.measured ?? '')?.[1])).toBeGreaterThan(20);
    // Without budgets every hop retries: the bank gets several calls per checkout (with them, about 1.2).
    const storm = await expectations('retry-storm');
    const atBank = storm.get('the bank gets at most two calls per checkout during the storm');
    expect(atBank?.status).toBe('fail');
    expect(Number(/mean (\d\.\d\d)/.exec(atBank?.measured ?? '')?.[1])).toBeGreaterThan(3);
    expect(storm.get('the books balance (every confirmed order charged once, failed ones compensated)')?.status).toBe('pass');
  });
});
