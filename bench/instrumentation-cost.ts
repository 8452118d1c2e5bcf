// The cost of instrumentation: throughput of the catalog read path through
// the gateway (GET /api/products/:sku, gateway -> proxy -> catalog x2) with
// full telemetry (traces and logs exported to the collector, metrics) against
// the same lab with telemetry off. Both labs run side by side and autocannon
// alternates between them in rounds (off, on, on, off, ...), so load that comes
// and goes on the machine hits both alike; the ratio is the median of the
// per-round ratios. Each round also charges every lab process its CPU time
// (from /proc) per request, which shows where the difference goes.
//   node bench/instrumentation-cost.ts [seconds per round] [connections] [rounds]

import autocannon from 'autocannon';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { issueToken } from '../demo-services/kit/jwt.ts';
import { startLab, type Lab } from '../runner/lab.ts';
import { cpuMicrosOf } from './process-cpu.ts';
import { median } from './stats.ts';

const seconds = Number(process.argv[2] ?? 5);
const connections = Number(process.argv[3] ?? 16);
const rounds = Number(process.argv[4] ?? 6);

interface Target {
  lab: Lab;
  runDir: string;
  options: Parameters<typeof autocannon>[0];
}

interface Round {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  /** CPU µs per request, by service (instances summed: catalog-1 and catalog-2 are "catalog"). */
  cpu: Record<string, number>;
}

async function startTarget(telemetry: boolean): Promise<Target> {
  const runDir = await mkdtemp(join(tmpdir(), 'faultline-bench-'));
  const lab = await startLab({ runDir, telemetry, services: ['catalog'], gateway: { rateLimit: { enabled: false }, loadShedding: { enabled: false } } });
  const token = await issueToken(lab.authSecret, 'bench-user');
  return { lab, runDir, options: { url: `${lab.gatewayUrl}/api/products/sku-3`, connections, headers: { authorization: `Bearer ${token}` } } };
}

const serviceOf = (processName: string): string => processName.replace(/-\d+$/, '');

async function measure(target: Target, duration: number): Promise<Round> {
  const processes = target.lab.processes();
  const before = await Promise.all(processes.map((p) => cpuMicrosOf(p.pid)));
  const result = await autocannon({ ...target.options, duration });
  const after = await Promise.all(processes.map((p) => cpuMicrosOf(p.pid)));
  const cpu: Record<string, number> = {};
  processes.forEach((p, i) => {
    const service = serviceOf(p.name);
    cpu[service] = (cpu[service] ?? 0) + ((after[i] as number) - (before[i] as number)) / Math.max(1, result.requests.total);
  });
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, errors: result.errors + result.non2xx, cpu };
}

const off = await startTarget(false);
const on = await startTarget(true);
try {
  // Warm-up: JIT, caches, keep-alive pools.
  await measure(off, 2);
  await measure(on, 2);
  const results: { off: Round[]; on: Round[]; ratios: number[] } = { off: [], on: [], ratios: [] };
  for (let round = 0; round < rounds; round += 1) {
    const order = round % 2 === 0 ? ['off', 'on'] as const : ['on', 'off'] as const;
    const pair: Partial<Record<'off' | 'on', Round>> = {};
    for (const mode of order) pair[mode] = await measure(mode === 'off' ? off : on, seconds);
    const [offRound, onRound] = [pair.off as Round, pair.on as Round];
    results.off.push(offRound);
    results.on.push(onRound);
    results.ratios.push(onRound.rps / offRound.rps);
    console.error(`round ${round + 1}: off ${offRound.rps.toFixed(0)} req/s, on ${onRound.rps.toFixed(0)} req/s`);
  }
  const row = (label: string, list: Round[]): string =>
    `| ${label} | ${median(list.map((r) => r.rps)).toFixed(0)} | ${median(list.map((r) => r.p50))} | ${median(list.map((r) => r.p99))} | ${list.reduce((sum, r) => sum + r.errors, 0)} |`;
  console.log(`| telemetry | req/s (median of ${rounds} rounds) | p50 ms | p99 ms | errors |`);
  console.log(`| --- | --- | --- | --- | --- |`);
  console.log(row('off', results.off));
  console.log(row('on (spans and logs to the collector, metrics)', results.on));
  console.log(`ratio on/off: median ${median(results.ratios).toFixed(2)} (rounds: ${results.ratios.map((r) => r.toFixed(2)).join(', ')})`);
  const services = [...new Set([...results.off, ...results.on].flatMap((r) => Object.keys(r.cpu)))].sort();
  const cpuOf = (list: Round[], service: string): number => median(list.map((r) => r.cpu[service] ?? 0));
  console.log(`\n| CPU µs per request (median of rounds) | ${services.join(' | ')} | all |`);
  console.log(`| --- | ${services.map(() => '---').join(' | ')} | --- |`);
  for (const [label, list] of [['off', results.off], ['on', results.on]] as const) {
    const values = services.map((service) => cpuOf(list, service));
    console.log(`| ${label} | ${values.map((v) => v.toFixed(0)).join(' | ')} | ${values.reduce((a, b) => a + b, 0).toFixed(0)} |`);
  }
  console.log(`\nnode bench/instrumentation-cost.ts ${seconds} ${connections} ${rounds}; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
} finally {
  for (const target of [off, on]) {
    await target.lab.stop();
    await rm(target.runDir, { recursive: true, force: true });
  }
}
