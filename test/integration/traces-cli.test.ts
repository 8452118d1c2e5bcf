// `faultline traces` on a real run: a lab serving the checkout path (gateway,
// checkout, inventory, payment, bank) takes a few checkouts, stops (flushing
// the collector), and the CLI, as its own process, lists the run's traces and
// draws one checkout as a waterfall spanning every service it crossed.

import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HEADER } from '../../demo-services/kit/conventions.ts';
import { issueToken } from '../../demo-services/kit/jwt.ts';
import { startLab, type Lab } from '../../runner/lab.ts';
import { PROJECT_ROOT } from '../../runner/supervisor.ts';

const run = promisify(execFile);
const CLI = join(PROJECT_ROOT, 'scripts', 'faultline.ts');

async function faultline(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { cwd: PROJECT_ROOT, timeout: 20_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof failed.code === 'number' ? failed.code : -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

let lab: Lab | undefined;
let runDir: string;

beforeAll(async () => {
  runDir = await mkdtemp(join(tmpdir(), 'faultline-traces-cli-'));
  lab = await startLab({ runDir, services: ['checkout'], gateway: { rateLimit: { enabled: false } } });
  const token = await issueToken(lab.authSecret, 'user-traces');
  for (let i = 0; i < 4; i++) {
    const response = await fetch(`${lab.gatewayUrl}/api/checkout`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, [HEADER.idempotencyKey]: `traces-cli-${i}-${Date.now()}` },
      body: JSON.stringify({ userId: 'user-traces', items: [{ sku: 'sku-1', quantity: 1 }], amount: 1999 }),
    });
    expect(response.status, await response.text()).toBeLessThan(300);
  }
  // Stopping the lab flushes every service's spans and the collector's file.
  await lab.stop();
  lab = undefined;
}, 60_000);

afterAll(async () => {
  await lab?.stop();
  await rm(runDir, { recursive: true, force: true });
});

describe('faultline traces on a real run', () => {
  it('lists the checkouts and draws one as a cross-service waterfall', async () => {
    const listed = await faultline('traces', runDir, '--slowest', '10', '--attr', 'http.route=/api/checkout', '--json');
    expect(listed.code, listed.stderr).toBe(0);
    const listing = JSON.parse(listed.stdout) as { matched: number; traces: { traceId: string; service: string; status: string; spanCount: number }[] };
    expect(listing.matched).toBe(4);
    const [checkout] = listing.traces;
    expect(checkout).toMatchObject({ service: 'gateway', status: 'ok' });
    expect(checkout?.spanCount).toBeGreaterThan(5);

    const shown = await faultline('traces', runDir, '--trace', checkout?.traceId ?? '', '--width', '140');
    expect(shown.code, shown.stderr).toBe(0);
    const lines = shown.stdout.split('\n');
    expect(lines[0]).toMatch(new RegExp(`^trace ${checkout?.traceId}  `));
    const depthOf = (service: string): number => {
      const line = lines.find((text) => new RegExp(`^ *${service} `).test(text));
      expect(line, `a span of ${service} in\n${shown.stdout}`).toBeDefined();
      return (line ?? '').search(/\S/) / 2;
    };
    // gateway -> checkout -> payment -> bank, each one level (or more, through client spans) under its caller.
    const depths = ['gateway', 'checkout', 'payment', 'bank'].map(depthOf);
    expect(depths[0]).toBe(0);
    for (let i = 1; i < depths.length; i++) expect(depths[i]).toBeGreaterThan(depths[i - 1] ?? 0);
    expect(depthOf('inventory')).toBeGreaterThan(depths[1] ?? 0);
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(140);
    expect(shown.stdout).toMatch(/^logs/m);
  }, 30_000);

  it('answers an unknown trace, an unknown run and a bad filter with one line and exit code 2', async () => {
    const results = await Promise.all([
      faultline('traces', runDir, '--trace', 'f'.repeat(32)),
      faultline('traces', join(runDir, 'nope')),
      faultline('traces', runDir, '--min-duration', 'fast'),
    ]);
    for (const result of results) {
      expect(result.code).toBe(2);
      expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
    }
    expect(results.map((result) => result.stderr)).toEqual([
      expect.stringMatching(/^faultline: no trace f{32} in /),
      expect.stringMatching(/^faultline: no run /),
      expect.stringMatching(/^faultline: --min-duration: invalid duration "fast"/),
    ]);
  }, 30_000);
});
