// Crash safety of whole runs (issue 20's numbers): `faultline run` of a
// scenario, in a process group of its own as a terminal's foreground job,
// interrupted at a random offset during its load, N times each way:
// - ctrl-c: SIGINT to the whole group (what the terminal sends); then the
//   books (`faultline check`) must balance;
// - kill: SIGKILL to the runner alone (bank-pause: sometimes while the bank
//   is SIGSTOPped); then no process of the lab may be left (by pid, /proc
//   state, zombies counting as gone), and after `faultline recover` the books
//   must balance.
// Usage: node bench/crash-safety.ts [trials per way, default 10] [--time-scale F]
// Prints one line per trial and a summary.

import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { processStat } from '../runner/watchdog.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const CLI = join(ROOT, 'scripts/faultline.js');
const args = process.argv.slice(2);
const trials = Number(args.find((arg) => /^\d+$/.test(arg)) ?? 10);
const scaleAt = args.indexOf('--time-scale');
const timeScale = scaleAt >= 0 ? Number(args[scaleAt + 1]) : 0.5;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const running = (pid: number) => {
  const stat = processStat(pid);
  return stat !== undefined && stat.state !== 'Z' && stat.state !== 'X';
};

function cli(cliArgs: string[]): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...cliArgs], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.on('exit', (code) => resolve({ code, stdout }));
  });
}

interface Trial {
  way: 'ctrl-c' | 'kill';
  scenario: string;
  atMs: number;
  balanced: boolean;
  orphans: number;
  recovered?: boolean;
  note: string;
}

async function trial(way: Trial['way'], scenario: string, loadMs: number): Promise<Trial> {
  const runsDir = await mkdtemp(join(tmpdir(), 'faultline-crash-bench-'));
  let keep = false;
  try {
    const runner = spawn(process.execPath, [CLI, 'run', scenario, '--no-monitoring', '--time-scale', String(timeScale), '--runs-dir', runsDir], {
      cwd: ROOT,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<void>((resolve) => runner.once('exit', () => resolve()));
    let out = '';
    runner.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    runner.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    // Load starts with the first progress line ("  1s/..."): interrupt at a random point of it.
    while (!/\d+s\/\d+s/.test(out) && runner.exitCode === null) await sleep(50);
    const atMs = Math.round(Math.random() * loadMs);
    await sleep(atMs);
    const [id] = await readdir(runsDir);
    const runDir = join(runsDir, id as string);
    const pids = (JSON.parse(await readFile(join(runDir, 'processes.json'), 'utf8')) as Array<{ pid: number }>).map((p) => p.pid);
    // The load may have ended first: interrupt at a shorter offset next time rather than judge a finished run.
    if (runner.exitCode !== null) return trial(way, scenario, atMs);
    if (way === 'ctrl-c') process.kill(-(runner.pid as number), 'SIGINT');
    else runner.kill('SIGKILL');
    await exited;
    const deadline = Date.now() + 60_000;
    while (pids.some(running) && Date.now() < deadline) await sleep(100);
    const orphans = pids.filter(running).length;
    for (const pid of pids.filter(running)) process.kill(pid, 'SIGKILL');
    const check = await cli(['check', runDir]);
    const balanced = check.code === 0;
    const violations = check.stdout.split('\n').filter((line) => line.startsWith('VIOLATION')).slice(0, 3);
    const result: Trial = { way, scenario, atMs, balanced, orphans, note: [check.stdout.trim().split('\n').pop() ?? '', ...violations].join(' | ') };
    keep = !balanced;
    if (keep) result.note += ` | kept: ${runDir}`;
    if (way === 'kill' && !balanced) {
      const recover = await cli(['recover', runDir]);
      result.recovered = recover.code === 0;
      result.note += ` | recover: ${recover.stdout.trim().split('\n').pop()}`;
    } else if (way === 'kill') result.recovered = true;
    return result;
  } finally {
    // A run whose books do not balance is kept, to be looked at.
    if (!keep) await rm(runsDir, { recursive: true, force: true });
  }
}

const results: Trial[] = [];
// payment-outage's load lasts 36 s, bank-pause's 28 s (at --time-scale 1).
for (let i = 0; i < trials; i += 1) {
  for (const [way, scenario, loadMs] of [
    ['ctrl-c', 'payment-outage', 36_000],
    ['kill', 'bank-pause', 28_000],
  ] as const) {
    const result = await trial(way, scenario, loadMs * timeScale);
    results.push(result);
    process.stdout.write(`${JSON.stringify(result)}\n`);
  }
}
const ctrlC = results.filter((r) => r.way === 'ctrl-c');
const kill = results.filter((r) => r.way === 'kill');
process.stdout.write(
  `ctrl-c: ${ctrlC.filter((r) => r.balanced).length}/${ctrlC.length} balanced, ${ctrlC.reduce((sum, r) => sum + r.orphans, 0)} orphans\n` +
    `kill: ${kill.reduce((sum, r) => sum + r.orphans, 0)} orphans, ${kill.filter((r) => r.balanced).length}/${kill.length} balanced at once, ${kill.filter((r) => r.recovered).length}/${kill.length} balanced after recover\n`,
);
