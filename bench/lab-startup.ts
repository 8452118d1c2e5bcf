// Time from `faultline up` to ready: the CLI is spawned as a user would run
// it (ephemeral ports so nothing collides), and the clock stops when it has
// printed every URL. Repeated, median reported.
//   node bench/lab-startup.ts [runs] [extra faultline up flags, e.g. --no-monitoring]

import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = new URL('..', import.meta.url).pathname;
const runs = Number(process.argv[2] ?? 5);
const extraFlags = process.argv.slice(3);

async function once(runsDir: string): Promise<number> {
  const started = performance.now();
  const child = spawn(process.execPath, [join(ROOT, 'scripts/faultline.js'), 'up', '--gateway-port', '0', '--collector-port', '0', '--collector-http-port', '0', '--chaos-port', '0', '--prometheus-port', '0', '--alertmanager-port', '0', '--runs-dir', runsDir, ...extraFlags], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  const readyMs = await new Promise<number>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('Ctrl-C stops everything')) resolve(performance.now() - started);
    });
    child.once('exit', () => reject(new Error(`faultline up exited before ready:\n${out}`)));
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
  return readyMs;
}

const runsDir = await mkdtemp(join(tmpdir(), 'faultline-bench-'));
const times: number[] = [];
for (let i = 0; i < runs; i += 1) times.push(await once(runsDir));
await rm(runsDir, { recursive: true, force: true });
times.sort((a, b) => a - b);
const median = times[Math.floor(times.length / 2)] as number;
console.log(`| faultline up${extraFlags.length ? ` ${extraFlags.join(' ')}` : ''} to ready (${runs} runs) | median ${(median / 1_000).toFixed(2)} s | min ${((times[0] as number) / 1_000).toFixed(2)} s | max ${((times.at(-1) as number) / 1_000).toFixed(2)} s |`);
