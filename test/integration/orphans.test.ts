// No orphan, ever: a runner-like parent (a real Node process with the real
// supervisor) starts a service, pauses it with SIGSTOP as a process fault
// does, and is then SIGKILLed. A paused process never acts on the signals
// meant to end it, so only the supervisor's watchdog can end it: it must
// wake it, let it drain, and see it exit. Checked by pid, with a bounded wait.

import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../runner/supervisor.ts';
import { processStat } from '../../runner/watchdog.ts';
import { until } from '../until.ts';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'faultline-orphans-'));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Running, not a zombie (children of a dead parent are reaped by whoever adopts them). */
const running = (pid: number) => {
  const stat = processStat(pid);
  return stat !== undefined && stat.state !== 'Z' && stat.state !== 'X';
};

describe('a SIGKILLed runner', () => {
  it('takes a paused (SIGSTOPped) service with it: woken, drained, gone', async () => {
    const script = `import { createSupervisor } from ${JSON.stringify(join(PROJECT_ROOT, 'runner/supervisor.ts'))};
const supervisor = createSupervisor({ logDir: ${JSON.stringify(join(dir, 'logs'))} });
const config = { name: 'bank', instance: 'bank', port: 0, telemetry: false, dependencies: {}, policies: {}, logLevel: 'info' };
const bank = await supervisor.start({ name: 'bank', entry: 'demo-services/bank/main.ts', nodeArgs: ['--import', './demo-services/kit/instrument.ts'], env: { FAULTLINE_SERVICE_CONFIG: JSON.stringify(config) }, readyTimeoutMs: 30000 });
supervisor.signal('bank', 'SIGSTOP');
process.stdout.write(JSON.stringify({ bank: bank.pid }) + '\\n');
setInterval(() => {}, 1000);`;
    const runner = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    const bankPid = await new Promise<number>((resolve, reject) => {
      runner.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const line = out.split('\n').find((candidate) => candidate.startsWith('{'));
        if (line) resolve((JSON.parse(line) as { bank: number }).bank);
      });
      runner.once('exit', (code) => reject(new Error(`the runner exited early (${code}): ${out}`)));
    });
    try {
      // The bank is paused: state T (stopped).
      await until('the bank paused', () => (processStat(bankPid)?.state === 'T' ? true : undefined));
      const exited = new Promise((resolve) => runner.once('exit', resolve));
      runner.kill('SIGKILL');
      await exited;
      // The watchdog stops it in order: SIGCONT, SIGTERM, then its drain (a few seconds at most when idle).
      await until('the paused bank to be gone', () => (running(bankPid) ? undefined : true), 30_000, 100);
      // The watchdog writes its line after it saw the bank exit: wait for it rather than race it.
      const watchdogLog = await until('the watchdog to log the stop', async () => {
        const text = await readFile(join(dir, 'logs', 'watchdog.log'), 'utf8').catch(() => '');
        return text.includes(`bank (pid ${bankPid}) stopped`) ? text : undefined;
      }, 10_000);
      // It drained and exited on SIGTERM: no SIGKILL was needed.
      expect(watchdogLog).toContain(`bank (pid ${bankPid}) stopped`);
      expect(watchdogLog).not.toContain('SIGKILL');
    } finally {
      if (running(bankPid)) process.kill(bankPid, 'SIGKILL');
    }
  }, 60_000);
});
