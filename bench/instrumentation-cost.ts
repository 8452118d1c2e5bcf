// The cost of instrumentation: throughput of the catalog read path through
// the gateway (GET /api/products/:sku, gateway -> proxy -> catalog x2) with
// full telemetry (traces and logs exported to the collector, metrics) against
// the same lab with telemetry off. Both labs run side by side and autocannon
// alternates between them in rounds (off, on, on, off, ...), so load that comes
// and goes on the machine hits both alike; the ratio is the median of the
// per-round ratios.
//   node bench/instrumentation-cost.ts [seconds per round] [connections] [rounds]

import autocannon from 'autocannon';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { issueToken } from '../demo-services/kit/jwt.ts';
import { startLab, type Lab } from '../runner/lab.ts';
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
}

async function startTarget(telemetry: boolean): Promise<Target> {
  const runDir = await mkdtemp(join(tmpdir(), 'faultline-bench-'));
  const lab = await startLab({ runDir, telemetry, services: ['catalog'], gateway: { rateLimit: { enabled: false }, loadShedding: { enabled: false } } });
  const token = await issueToken(lab.authSecret, 'bench-user');
  return { lab, runDir, options: { url: `${lab.gatewayUrl}/api/products/sku-3`, connections, headers: { authorization: `Bearer ${token}` } } };
}

async function measure(target: Target, duration: number): Promise<Round> {
  const result = await autocannon({ ...target.options, duration });
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, errors: result.errors + result.non2xx };
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
    results.off.push(pair.off as Round);
    results.on.push(pair.on as Round);
    results.ratios.push((pair.on as Round).rps / (pair.off as Round).rps);
  }
  const row = (label: string, list: Round[]): string =>
    `| ${label} | ${median(list.map((r) => r.rps)).toFixed(0)} | ${median(list.map((r) => r.p50))} | ${median(list.map((r) => r.p99))} | ${list.reduce((sum, r) => sum + r.errors, 0)} |`;
  console.log(`| telemetry | req/s (median of ${rounds} rounds) | p50 ms | p99 ms | errors |`);
  console.log(`| --- | --- | --- | --- | --- |`);
  console.log(row('off', results.off));
  console.log(row('on (spans and logs to the collector, metrics)', results.on));
  console.log(`ratio on/off: median ${median(results.ratios).toFixed(2)} (rounds: ${results.ratios.map((r) => r.toFixed(2)).join(', ')})`);
  console.log(`node bench/instrumentation-cost.ts ${seconds} ${connections} ${rounds}; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
} finally {
  for (const target of [off, on]) {
    await target.lab.stop();
    await rm(target.runDir, { recursive: true, force: true });
  }
}
