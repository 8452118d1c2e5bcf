// Resident memory of the whole shop as `faultline up` starts it (every service
// and instance, the collector, the fault proxy, and the CLI), idle after start
// and then under a light storefront and checkout load, from /proc.
//   node bench/lab-up-memory.ts

import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mib, proportionalBytes, residentBytes, totalOf } from './process-memory.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const runsDir = await mkdtemp(join(tmpdir(), 'faultline-bench-'));
const cli = spawn(process.execPath, [join(ROOT, 'scripts/faultline.js'), 'up', '--gateway-port', '0', '--collector-port', '0', '--collector-http-port', '0', '--chaos-port', '0', '--prometheus-port', '0', '--alertmanager-port', '0', '--runs-dir', runsDir], {
  cwd: ROOT,
  stdio: ['ignore', 'pipe', 'inherit'],
});
let output = '';
await new Promise<void>((resolve, reject) => {
  cli.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    if (output.includes('Ctrl-C stops everything')) resolve();
  });
  cli.once('exit', () => reject(new Error(`faultline up exited:\n${output}`)));
});
const [id] = await readdir(runsDir);
const named = [...(JSON.parse(await readFile(join(runsDir, id as string, 'processes.json'), 'utf8')) as Array<{ name: string; pid: number }>), { name: 'CLI', pid: cli.pid as number }];
const lab = named.slice(0, -1).map((p) => p.pid);
const all = named.map((p) => p.pid);
/** PSS of each process, to say where the memory is. */
const perProcess = async (): Promise<number[]> => Promise.all(all.map(proportionalBytes));
const curl = /curl -s -X POST (\S+) .*authorization: Bearer ([^']+)'/.exec(output);
const [gateway, token] = [curl?.[1] ?? '', curl?.[2] ?? ''];

const sample = async () => ({ pss: await totalOf(proportionalBytes, all), rss: await totalOf(residentBytes, all) });
await new Promise((resolve) => setTimeout(resolve, 2_000));
const idle = await sample();
const idleEach = await perProcess();
let peakEach = idleEach;
// Light traffic for 10 s: 20 storefront reads and 10 checkouts a second.
const base = gateway.replace(/\/api\/checkout$/, '');
const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
let peak = idle;
for (let second = 0; second < 10; second += 1) {
  const requests = [
    ...Array.from({ length: 20 }, (_, i) => fetch(`${base}/api/products/sku-${(i % 20) + 1}`, { headers })),
    ...Array.from({ length: 10 }, () =>
      fetch(`${base}/api/checkout`, { method: 'POST', headers, body: JSON.stringify({ userId: 'user-1', items: [{ sku: 'sku-1', quantity: 1 }], amount: 1999 }) }),
    ),
  ];
  await Promise.all(requests.map((request) => request.then((response) => response.arrayBuffer(), () => undefined)));
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  const now = await sample();
  if (now.pss > peak.pss) {
    peak = now;
    peakEach = await perProcess();
  }
}
cli.kill('SIGTERM');
await new Promise((resolve) => cli.once('exit', resolve));
await rm(runsDir, { recursive: true, force: true });
console.log(`whole shop: ${all.length} processes (${lab.length} lab + the CLI)`);
console.log(`| idle after start | PSS ${mib(idle.pss)} | RSS ${mib(idle.rss)} |`);
console.log(`| peak under light load (20 reads + 10 checkouts / s) | PSS ${mib(peak.pss)} | RSS ${mib(peak.rss)} |`);
console.log(`PSS per process, idle / at the peak: ${named.map((p, i) => `${p.name} ${mib(idleEach[i] ?? 0)} / ${mib(peakEach[i] ?? 0)}`).join(', ')}`);
