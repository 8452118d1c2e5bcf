// Local mode's real Prometheus and Alertmanager (Debian's binaries) over a real
// lab: started before the lab and given its targets after (file_sd), every service instance, the collector and the fault proxy are scraped
// and up, every /metrics endpoint passes `promtool check metrics`, an alert
// reaches the runner's webhook and lands in alerts.jsonl, and neither binary
// outlives its runner, even one killed with SIGKILL. Skipped with a message
// where the binaries are missing (.ci/run installs them).

import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLab, type Lab } from '../../runner/lab.ts';
import { monitoringAvailability, startMonitoring, type Monitoring } from '../../runner/monitoring.ts';
import { PROJECT_ROOT } from '../../runner/supervisor.ts';
import { findTool } from '../../slo/tools.ts';

const run = promisify(execFile);
const availability = await monitoringAvailability();
const promtool = await findTool('promtool');
if (!availability.available) console.warn(`SKIPPED: ${availability.missing.join(' and ')} not on PATH (${availability.install}); local Prometheus and Alertmanager are not exercised.`);

/** Pids of running processes whose command line mentions the text. */
async function processesMentioning(text: string): Promise<number[]> {
  const { stdout } = await run('ps', ['-eo', 'pid=,args=']);
  return stdout
    .split('\n')
    .filter((line) => line.includes(text) && !line.includes('ps -eo'))
    .map((line) => Number(line.trim().split(/\s+/)[0]));
}

async function eventually(what: string, probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe.skipIf(!availability.available)('local Prometheus and Alertmanager', () => {
  let runDir: string;
  let lab: Lab;
  let monitoring: Monitoring;

  beforeAll(async () => {
    runDir = await mkdtemp(join(tmpdir(), 'faultline-monitoring-'));
    // As a run does: Prometheus first, scraping nothing, then the lab's targets once it is up.
    monitoring = await startMonitoring({ runDir, targets: [] });
    lab = await startLab({ runDir, seed: 3 });
    await monitoring.setTargets(lab.scrapeTargets());
  }, 90_000);

  afterAll(async () => {
    await monitoring?.stop();
    await lab?.stop();
    if (runDir) {
      expect(await processesMentioning(runDir)).toEqual([]);
      await rm(runDir, { recursive: true, force: true });
    }
  });

  it('binds both to loopback and scrapes every instance, the collector and the fault proxy until all are up', async () => {
    expect(new URL(monitoring.prometheusUrl).hostname).toBe('127.0.0.1');
    expect(new URL(monitoring.alertmanagerUrl).hostname).toBe('127.0.0.1');
    await monitoring.waitForTargets(30_000);
    const targets = await monitoring.targets();
    const instances = targets.map((t) => `${t.job}/${t.instance}`).sort();
    for (const expected of ['payment/payment-1', 'payment/payment-2', 'catalog/catalog-1', 'catalog/catalog-2', 'gateway/gateway', 'bank/bank', 'checkout/checkout', 'collector/collector', 'chaos/chaos']) {
      expect(instances).toContain(expected);
    }
    expect(targets.every((t) => t.health === 'up')).toBe(true);
    const up = await monitoring.query('sum(up)');
    expect(up[0]?.value).toBe(targets.length);
  }, 40_000);

  it('finds no naming problem on any /metrics endpoint with promtool check metrics', async () => {
    expect(promtool, 'promtool comes with prometheus').toBeDefined();
    const problems: string[] = [];
    for (const target of lab.scrapeTargets()) {
      // promtool lints the classic text format, which every endpoint serves unless OpenMetrics is asked for.
      const text = await (await fetch(`http://${target.address}/metrics`, { headers: { accept: 'text/plain' } })).text();
      const child = spawn(promtool as string, ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stdin.end(text);
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      if (code !== 0 || output.trim()) problems.push(`${target.instance}: ${output.trim()}`);
    }
    expect(problems).toEqual([]);
  }, 30_000);

  it('evaluates the lab-scale SLO rules', async () => {
    await eventually('SLO recording rules to produce series', async () => ((await monitoring.query('count({__name__="slo:objective:ratio"})'))[0]?.value ?? 0) > 0, 10_000);
    const objectives = await monitoring.query('slo:objective:ratio');
    expect(objectives.map((s) => s.labels.sloth_id)).toContain('checkout-availability');
  });

  it('delivers an alert through Alertmanager to the webhook, which writes alerts.jsonl', async () => {
    const posted = await fetch(`${monitoring.alertmanagerUrl}/api/v2/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([{ labels: { alertname: 'MonitoringTest', severity: 'page', sloth_id: 'test' }, annotations: { summary: 'test' }, startsAt: new Date().toISOString() }]),
    });
    expect(posted.ok).toBe(true);
    await eventually('the alert at the webhook', async () => monitoring.alerts().some((a) => a.alertname === 'MonitoringTest'), 10_000);
    const lines = (await readFile(monitoring.alertsFile, 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as { alertname: string; status: string });
    expect(lines).toContainEqual(expect.objectContaining({ alertname: 'MonitoringTest', status: 'firing' }));
  }, 20_000);
});

describe.skipIf(!availability.available)('a killed runner', () => {
  it('takes Prometheus and Alertmanager with it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'faultline-monitoring-kill-'));
    try {
      const script = `import { startMonitoring } from ${JSON.stringify(join(PROJECT_ROOT, 'runner/monitoring.ts'))};
await startMonitoring({ runDir: ${JSON.stringify(dir)}, targets: [] });
process.stdout.write('ready\\n');
setInterval(() => {}, 1000);`;
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && resolve());
        child.on('exit', (code) => reject(new Error(`runner exited early (${code})`)));
      });
      expect((await processesMentioning(dir)).length).toBeGreaterThanOrEqual(2);
      child.kill('SIGKILL');
      await eventually('Prometheus and Alertmanager to exit', async () => (await processesMentioning(dir)).length === 0, 10_000);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
