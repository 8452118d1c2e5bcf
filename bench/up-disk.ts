// Disk taken by a `faultline up` session with the default caps, under 20
// checkouts a second (open model: one every 50 ms, whether or not earlier ones
// finished). Measures the run folder by kind of file every 15 s for a few
// minutes, fits the growth rate of each after a warm-up, and extrapolates an
// hour: capped kinds stop at their cap, the others keep growing at the rate
// measured. An extrapolation, not an hour-long measurement.
//   node bench/up-disk.ts [minutes, default 3]

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { lstat, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { DEFAULT_UP_CAPS } from '../runner/disk-caps.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const minutes = Number(process.argv[2] ?? 3);
const SAMPLE_MS = 15_000;
const WARMUP_MS = 30_000;
const MB = 1024 * 1024;

const runsDir = await mkdtemp(join(tmpdir(), 'faultline-bench-disk-'));
const cli = spawn(
  process.execPath,
  [join(ROOT, 'scripts/faultline.js'), 'up', '--gateway-port', '0', '--collector-port', '0', '--collector-http-port', '0', '--chaos-port', '0', '--prometheus-port', '0', '--alertmanager-port', '0', '--runs-dir', runsDir],
  { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
);
let output = '';
await new Promise<void>((resolve, reject) => {
  cli.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    if (output.includes('Ctrl-C stops everything')) resolve();
  });
  cli.once('exit', () => reject(new Error(`faultline up exited:\n${output}`)));
});
const [id] = await readdir(runsDir);
const runDir = join(runsDir, id as string);
const curl = /curl -s -X POST (\S+) .*authorization: Bearer ([^']+)'/.exec(output);
const [checkoutUrl, token] = [curl?.[1] ?? '', curl?.[2] ?? ''];
const collectorMetricsUrl = /collector metrics\s+(\S+)/.exec(output)?.[1] ?? '';
const lockedWhileUp = existsSync(join(runDir, 'lab.lock'));

/** Kinds of file in a run folder, by path relative to it. */
const KINDS: Array<[string, RegExp]> = [
  ['traces (traces*.jsonl)', /^traces(\.\d+)?\.jsonl$/],
  ['service logs via OTLP (logs*.jsonl)', /^logs(\.\d+)?\.jsonl$/],
  ['OTLP metrics (metrics*.jsonl)', /^metrics(\.\d+)?\.jsonl$/],
  ['process logs (logs/*.jsonl)', /^logs\/.*\.jsonl$/],
  ['SQLite WAL (data/*-wal, -shm)', /^data\/.*-(wal|shm)$/],
  ['SQLite books (data/)', /^data\//],
  ['Prometheus, Alertmanager (monitoring/, logs/*.log)', /^(monitoring\/|logs\/.*\.log$)/],
  ['other', /./],
];

async function sizesByKind(): Promise<Map<string, number>> {
  const sizes = new Map<string, number>(KINDS.map(([kind]) => [kind, 0]));
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        await walk(path);
        continue;
      }
      const size = await lstat(path).then((stats) => stats.size, () => 0);
      const kind = KINDS.find(([, pattern]) => pattern.test(relative(runDir, path)))?.[0] ?? 'other';
      sizes.set(kind, (sizes.get(kind) ?? 0) + size);
    }
  };
  await walk(runDir);
  return sizes;
}

// 20 checkouts a second, on schedule.
const statuses = new Map<string, number>();
const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
const body = JSON.stringify({ userId: 'user-1', items: [{ sku: 'sku-1', quantity: 1 }], amount: 1999 });
const started = performance.now();
let sent = 0;
const load = setInterval(() => {
  const due = Math.floor((performance.now() - started) / 50) + 1;
  for (; sent < due; sent++) {
    fetch(checkoutUrl, { method: 'POST', headers, body }).then(
      async (response) => {
        await response.arrayBuffer();
        statuses.set(String(response.status), (statuses.get(String(response.status)) ?? 0) + 1);
      },
      () => statuses.set('error', (statuses.get('error') ?? 0) + 1),
    );
  }
}, 10);

const samples: Array<{ ms: number; sizes: Map<string, number> }> = [];
const durationMs = minutes * 60_000;
while (performance.now() - started < durationMs) {
  await new Promise((resolve) => setTimeout(resolve, SAMPLE_MS));
  samples.push({ ms: performance.now() - started, sizes: await sizesByKind() });
  process.stderr.write(`${(samples.at(-1)?.ms ?? 0) / 1000} s: ${[...(samples.at(-1)?.sizes ?? [])].map(([kind, bytes]) => `${kind.split(' ')[0]} ${(bytes / MB).toFixed(1)}`).join(', ')}\n`);
}
clearInterval(load);
const elapsedS = (performance.now() - started) / 1_000;
const collectorMetrics = await fetch(collectorMetricsUrl).then((response) => response.text(), () => '');
cli.kill('SIGTERM');
await new Promise((resolve) => cli.once('exit', resolve));
const afterStop = await sizesByKind();
const lockLeft = existsSync(join(runDir, 'lab.lock'));
const processLogs = (await readdir(join(runDir, 'logs'))).filter((name) => /^[^.]+\.jsonl$/.test(name)).length;
await rm(runsDir, { recursive: true, force: true });

/** Least-squares slope in bytes per minute over the samples after the warm-up. */
function ratePerMinute(kind: string): number {
  const points = samples.filter((sample) => sample.ms >= WARMUP_MS).map((sample) => [sample.ms / 60_000, sample.sizes.get(kind) ?? 0] as const);
  const n = points.length;
  if (n < 2) return 0;
  const meanX = points.reduce((sum, [x]) => sum + x, 0) / n;
  const meanY = points.reduce((sum, [, y]) => sum + y, 0) / n;
  const num = points.reduce((sum, [x, y]) => sum + (x - meanX) * (y - meanY), 0);
  const den = points.reduce((sum, [x]) => sum + (x - meanX) ** 2, 0);
  return den === 0 ? 0 : num / den;
}

const last = samples.at(-1)?.sizes ?? new Map<string, number>();
const telemetryCap = DEFAULT_UP_CAPS.telemetryMbPerSignal * MB;
const caps: Record<string, number | undefined> = {
  'traces (traces*.jsonl)': telemetryCap,
  'service logs via OTLP (logs*.jsonl)': telemetryCap,
  'OTLP metrics (metrics*.jsonl)': telemetryCap,
  'process logs (logs/*.jsonl)': processLogs * DEFAULT_UP_CAPS.processLogMb * MB,
};
console.log(`faultline up, default caps (${DEFAULT_UP_CAPS.telemetryMbPerSignal} MB per telemetry signal, ${DEFAULT_UP_CAPS.processLogMb} MB per process log), 20 checkouts/s for ${elapsedS.toFixed(0)} s`);
console.log(`checkout answers: ${[...statuses].map(([status, count]) => `${status} x${count}`).join(', ')}`);
console.log('| files | after the run | growth measured | one hour, extrapolated |');
console.log('| --- | ---: | ---: | ---: |');
let hourTotal = 0;
for (const [kind] of KINDS) {
  const rate = Math.max(0, ratePerMinute(kind));
  const now = last.get(kind) ?? 0;
  const cap = caps[kind];
  const hour = Math.max(now, now + rate * (60 - elapsedS / 60));
  const capped = cap === undefined ? hour : Math.min(hour, cap);
  hourTotal += capped;
  console.log(`| ${kind} | ${(now / MB).toFixed(1)} MB | ${(rate / MB).toFixed(2)} MB/min | ${(capped / MB).toFixed(0)} MB${cap !== undefined && hour > cap ? ' (cap)' : ''} |`);
}
console.log(`| total | ${([...last.values()].reduce((sum, bytes) => sum + bytes, 0) / MB).toFixed(1)} MB | | ${(hourTotal / MB).toFixed(0)} MB |`);
const counter = (name: string): string =>
  [...collectorMetrics.matchAll(new RegExp(`^${name}\\{signal="(\\w+)"\\} (\\S+)$`, 'gm'))].map((match) => `${match[1]} ${match[2]}`).join(', ');
console.log(`collector rotations: ${counter('collector_rotations_total')}; discarded items: ${counter('collector_discarded_total')}`);
console.log(`${processLogs} process logs, capped at ${DEFAULT_UP_CAPS.processLogMb} MB each (the live file and one rotated); lab.lock present while up: ${lockedWhileUp}, left after stop: ${lockLeft}`);
console.log(`SQLite WAL after a clean stop: ${((afterStop.get('SQLite WAL (data/*-wal, -shm)') ?? 0) / MB).toFixed(2)} MB`);
