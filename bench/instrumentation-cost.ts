// The cost of instrumentation: throughput of the catalog read path through
// the gateway (GET /api/products/:sku, gateway -> proxy -> catalog x2) with
// full telemetry (traces exported to the collector, metrics, logs) against the
// same lab with telemetry off, measured back to back in one run with autocannon.
//   node bench/instrumentation-cost.ts [seconds] [connections]

import autocannon from 'autocannon';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { issueToken } from '../demo-services/kit/jwt.ts';
import { startLab } from '../runner/lab.ts';

const seconds = Number(process.argv[2] ?? 10);
const connections = Number(process.argv[3] ?? 16);

async function measure(telemetry: boolean): Promise<{ rps: number; p50: number; p99: number; errors: number }> {
  const runDir = await mkdtemp(join(tmpdir(), 'faultline-bench-'));
  const lab = await startLab({ runDir, telemetry, services: ['catalog'], gateway: { rateLimit: { enabled: false }, loadShedding: { enabled: false } } });
  try {
    const token = await issueToken(lab.authSecret, 'bench-user');
    const options = { url: `${lab.gatewayUrl}/api/products/sku-3`, connections, headers: { authorization: `Bearer ${token}` } };
    await autocannon({ ...options, duration: 2 }); // warm-up: JIT, caches, keep-alive pools
    const result = await autocannon({ ...options, duration: seconds });
    return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, errors: result.errors + result.non2xx };
  } finally {
    await lab.stop();
    await rm(runDir, { recursive: true, force: true });
  }
}

const off = await measure(false);
const on = await measure(true);
console.log(`| telemetry | req/s | p50 ms | p99 ms | errors |`);
console.log(`| --- | --- | --- | --- | --- |`);
console.log(`| off | ${off.rps.toFixed(0)} | ${off.p50} | ${off.p99} | ${off.errors} |`);
console.log(`| on (traces to the collector, metrics, logs) | ${on.rps.toFixed(0)} | ${on.p50} | ${on.p99} | ${on.errors} |`);
console.log(`ratio on/off: ${(on.rps / off.rps).toFixed(2)} (node bench/instrumentation-cost.ts ${seconds} ${connections})`);
