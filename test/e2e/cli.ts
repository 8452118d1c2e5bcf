// Helpers for end-to-end tests: run the real CLI as a child process, and
// check that processes a run started are gone.

import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'vitest';

export const ROOT = new URL('../..', import.meta.url).pathname;

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `onMessage` opens an IPC channel to the CLI, as the catalogue's matrix does, and gets each message with the stdout so far. */
export function runCli(args: string[], options: { timeoutMs?: number; onStdout?: (text: string) => void; onMessage?: (message: unknown, stdout: string) => void } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'scripts/faultline.js'), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe', ...(options.onMessage ? ['ipc' as const] : [])] });
    let stdout = '';
    child.on('message', (message) => options.onMessage?.(message, stdout));
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      options.onStdout?.(stdout);
    });
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`faultline ${args.join(' ')} did not finish in ${options.timeoutMs} ms\n${stdout}\n${stderr}`));
    }, options.timeoutMs ?? 120_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function startedPids(runDir: string): Promise<number[]> {
  const processes = JSON.parse(await readFile(join(runDir, 'processes.json'), 'utf8')) as Array<{ pid: number }>;
  return processes.map((p) => p.pid);
}

/** `faultline up` on ephemeral ports, resolved once it printed its URLs, with the pids it started. */
export async function startUp(runsDir: string): Promise<{ child: ChildProcess; stdout: string; pids: number[] }> {
  const child = spawn(process.execPath, [join(ROOT, 'scripts/faultline.js'), 'up', '--gateway-port', '0', '--collector-port', '0', '--collector-http-port', '0', '--chaos-port', '0', '--console-port', '0', '--prometheus-port', '0', '--alertmanager-port', '0', '--runs-dir', runsDir], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`faultline up not ready: ${stdout}`)), 30_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.includes('Ctrl-C stops everything')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  const [id] = await readdir(runsDir);
  return { child, stdout, pids: await startedPids(join(runsDir, id as string)) };
}

interface JudgedSummary {
  verdict: string;
  expectations: Array<{ name: string; status: string }>;
  pressure?: Array<{ overLimits: string[] }>;
}

/**
 * A run that must not pass (a pattern switched off): FAIL (exit 1), or INCONCLUSIVE (exit 3) only
 * when the run itself recorded a phase over its pressure limits. `mustNotHold` names expectations
 * that must be FAIL or INCONCLUSIVE, never PASS: the failure is there, only maybe not judged.
 */
export function expectFailOrInconclusive(code: number | null, summary: JudgedSummary, mustNotHold: readonly string[], output = ''): void {
  const status = new Map(summary.expectations.map((e) => [e.name, e.status]));
  for (const name of mustNotHold) expect(['fail', 'inconclusive'], `${name}\n${output}`).toContain(status.get(name));
  if (code === 3) {
    expect(summary.verdict).toBe('inconclusive');
    expect(summary.pressure?.some((p) => p.overLimits.length > 0), output).toBe(true);
  } else {
    expect(code, output).toBe(1);
    expect(summary.verdict).toBe('fail');
  }
}

/** A run that must pass: PASS (exit 0), or INCONCLUSIVE (exit 3) only under recorded pressure; never a FAIL. */
export function expectPassOrInconclusive(code: number | null, summary: JudgedSummary, output = ''): void {
  expect(summary.expectations.filter((e) => e.status === 'fail').map((e) => e.name), output).toEqual([]);
  if (code === 3) expect(summary.pressure?.some((p) => p.overLimits.length > 0), output).toBe(true);
  else expect(code, output).toBe(0);
}
