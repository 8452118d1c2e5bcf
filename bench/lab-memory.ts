// Total resident memory of the lab while a scenario runs: every process the
// lab started (collector, fault proxy, services) plus the runner itself,
// which hosts the load generator. Sampled twice a second from /proc.
//   node bench/lab-memory.ts [scenario] [time-scale]

import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mib, proportionalBytes, residentBytes, totalOf } from './process-memory.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const scenarioName = process.argv[2] ?? 'payment-outage';
const timeScale = Number(process.argv[3] ?? 1);
const runsDir = await mkdtemp(join(tmpdir(), 'faultline-bench-'));

const pids = async (): Promise<number[]> => {
  const [id] = await readdir(runsDir).catch(() => []);
  if (!id) return [];
  try {
    return (JSON.parse(await readFile(join(runsDir, id, 'processes.json'), 'utf8')) as Array<{ pid: number }>).map((p) => p.pid);
  } catch {
    return [];
  }
};

// The CLI exactly as `npm start` runs it; it hosts the runner and the load generator.
const cli = spawn(process.execPath, [join(ROOT, 'scripts/faultline.js'), 'run', scenarioName, '--time-scale', String(timeScale), '--runs-dir', runsDir], {
  cwd: ROOT,
  stdio: ['ignore', 'pipe', 'inherit'],
});
let output = '';
cli.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));

const samples: Array<{ rss: number; pss: number; runnerRss: number; processes: number }> = [];
const sampler = setInterval(() => {
  void (async () => {
    const lab = await pids();
    if (lab.length === 0 || cli.pid === undefined) return;
    const all = [...lab, cli.pid];
    samples.push({ rss: await totalOf(residentBytes, all), pss: await totalOf(proportionalBytes, all), runnerRss: await residentBytes(cli.pid), processes: all.length });
  })();
}, 500);

const code = await new Promise<number | null>((resolve) => cli.once('exit', resolve));
clearInterval(sampler);
await rm(runsDir, { recursive: true, force: true });
const verdict = code === 0 ? 'pass' : `fail (exit ${code})\n${output}`;
const peakOf = (key: 'rss' | 'pss') => Math.max(...samples.map((s) => s[key]));
const meanOf = (key: 'rss' | 'pss') => samples.reduce((sum, s) => sum + s[key], 0) / samples.length;
console.log(`scenario ${scenarioName} x${timeScale}: verdict ${verdict}, ${samples.length} samples, ${samples[0]?.processes} processes (lab + the CLI hosting runner and load generator)`);
console.log(`| summed PSS (physical memory) | peak ${mib(peakOf('pss'))} | mean ${mib(meanOf('pss'))} |`);
console.log(`| summed RSS (shared pages counted per process) | peak ${mib(peakOf('rss'))} | mean ${mib(meanOf('rss'))} |`);
console.log(`| CLI (runner + load generator) RSS at the end | ${mib(samples.at(-1)?.runnerRss ?? 0)} | |`);
