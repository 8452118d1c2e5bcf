// The cost of instrumentation: throughput of the catalog read path through
// the gateway (GET /api/products/:sku, gateway -> proxy -> catalog x2) with
// full telemetry (traces and logs exported to the collector, metrics) against
// the same lab with telemetry off. Both labs run side by side and autocannon
// alternates between them in rounds (off, on, on, off, ...), so load that comes
// and goes on the machine hits both alike; the ratio is the median of the
// per-round ratios. Each round also charges every lab process its CPU time
// (from /proc) per request, which shows where the difference goes.
// With --baseline <checkout>, a third lab with telemetry on is started from
// another checkout of the project (a `git worktree add` of an earlier commit,
// built with `npm run build:lab`) and measured in the same rounds, so a change
// to the instrumentation is compared with what it replaces under the same load.

import autocannon from 'autocannon';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { LAB_METRIC } from '../demo-services/kit/conventions.ts';
import { issueToken } from '../demo-services/kit/jwt.ts';
import { startLab, type Lab, type LabOptions } from '../runner/lab.ts';
import { cpuMicrosOf } from './process-cpu.ts';
import { median } from './stats.ts';

const USAGE = `usage: node bench/instrumentation-cost.ts [seconds per round] [connections] [rounds] [--baseline <checkout>]
  defaults: 5 s, 16 connections, 6 rounds
  --baseline <checkout>  also measure telemetry on as another checkout of Faultline does it (built, with node_modules), in the same rounds`;

const { values: flags, positionals } = parseArgs({
  options: { baseline: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  allowPositionals: true,
});
if (flags.help) {
  console.log(USAGE);
  process.exit(0);
}
const numberArg = (index: number, fallback: number, name: string): number => {
  const raw = positionals[index];
  const value = raw === undefined ? fallback : Number(raw);
  if (!Number.isInteger(value) || value <= 0) {
    console.error(`instrumentation-cost: ${name} must be a positive integer, got ${JSON.stringify(raw)}\n${USAGE}`);
    process.exit(2);
  }
  return value;
};
const seconds = numberArg(0, 5, 'seconds per round');
const connections = numberArg(1, 16, 'connections');
const rounds = numberArg(2, 6, 'rounds');
const baselineRoot = flags.baseline === undefined ? undefined : resolve(flags.baseline);

type Mode = 'off' | 'on' | 'baseline';

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

async function startTarget(telemetry: boolean, start: (options: LabOptions) => Promise<Lab> = startLab): Promise<Target> {
  const runDir = await mkdtemp(join(tmpdir(), 'faultline-bench-'));
  const lab = await start({ runDir, telemetry, services: ['catalog'], gateway: { rateLimit: { enabled: false }, loadShedding: { enabled: false } } });
  const token = await issueToken(lab.authSecret, 'bench-user');
  return { lab, runDir, options: { url: `${lab.gatewayUrl}/api/products/sku-3`, connections, headers: { authorization: `Bearer ${token}` } } };
}

/** startLab of another checkout: its runner starts that checkout's services, with its own instrumentation. */
async function baselineStartLab(root: string): Promise<(options: LabOptions) => Promise<Lab>> {
  const module = (await import(pathToFileURL(join(root, 'runner/lab.ts')).href)) as { startLab: (options: LabOptions) => Promise<Lab> };
  return module.startLab;
}

const serviceOf = (processName: string): string => processName.replace(/-\d+$/, '');

/** Spans the lab's services exported and dropped so far (their /metrics), so that a setting that drops spans cannot pass for a cheap one. */
async function spanCounts(lab: Lab): Promise<{ exported: number; dropped: number }> {
  const totals = { exported: 0, dropped: 0 };
  for (const target of lab.scrapeTargets()) {
    const text = await fetch(`http://${target.address}${target.metricsPath ?? '/metrics'}`).then((r) => r.text(), () => '');
    for (const [key, name] of [['exported', LAB_METRIC.spansExported], ['dropped', LAB_METRIC.spansDropped]] as const) {
      const value = new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1];
      if (value !== undefined) totals[key] += Number(value);
    }
  }
  return totals;
}

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

/** Round r's order: the modes rotated by r, and reversed every other round, so none always goes first or follows the same mode. */
function orderOf(modes: readonly Mode[], round: number): Mode[] {
  const rotated = modes.map((_, i) => modes[(i + round) % modes.length] as Mode);
  return Math.floor(round / modes.length) % 2 === 0 ? rotated : rotated.reverse();
}

const targets: Partial<Record<Mode, Target>> = {};
try {
  targets.off = await startTarget(false);
  targets.on = await startTarget(true);
  if (baselineRoot) targets.baseline = await startTarget(true, await baselineStartLab(baselineRoot));
  const modes = Object.keys(targets) as Mode[];
  // Warm-up: JIT, caches, keep-alive pools.
  for (const mode of modes) await measure(targets[mode] as Target, 2);
  const results: Record<Mode, Round[]> = { off: [], on: [], baseline: [] };
  const ratios: Record<Mode, number[]> = { off: [], on: [], baseline: [] };
  for (let round = 0; round < rounds; round += 1) {
    const measured: Partial<Record<Mode, Round>> = {};
    for (const mode of orderOf(modes, round)) measured[mode] = await measure(targets[mode] as Target, seconds);
    const off = measured.off as Round;
    for (const mode of modes) {
      results[mode].push(measured[mode] as Round);
      ratios[mode].push((measured[mode] as Round).rps / off.rps);
    }
    console.error(`round ${round + 1}: ${modes.map((mode) => `${mode} ${(measured[mode] as Round).rps.toFixed(0)} req/s`).join(', ')}`);
  }
  const labels: Record<Mode, string> = {
    off: 'off',
    on: 'on (spans and logs to the collector, metrics)',
    baseline: `on, as ${baselineRoot ?? ''} does it`,
  };
  const row = (label: string, list: Round[]): string =>
    `| ${label} | ${median(list.map((r) => r.rps)).toFixed(0)} | ${median(list.map((r) => r.p50))} | ${median(list.map((r) => r.p99))} | ${list.reduce((sum, r) => sum + r.errors, 0)} |`;
  console.log(`| telemetry | req/s (median of ${rounds} rounds) | p50 ms | p99 ms | errors |`);
  console.log(`| --- | --- | --- | --- | --- |`);
  for (const mode of modes) console.log(row(labels[mode], results[mode]));
  for (const mode of modes.filter((m) => m !== 'off')) {
    console.log(`ratio ${mode}/off: median ${median(ratios[mode]).toFixed(2)} (rounds: ${ratios[mode].map((r) => r.toFixed(2)).join(', ')})`);
  }
  const services = [...new Set(modes.flatMap((mode) => results[mode].flatMap((r) => Object.keys(r.cpu))))].sort();
  const cpuOf = (list: Round[], service: string): number => median(list.map((r) => r.cpu[service] ?? 0));
  console.log(`\n| CPU µs per request (median of rounds) | ${services.join(' | ')} | all |`);
  console.log(`| --- | ${services.map(() => '---').join(' | ')} | --- |`);
  const cpuTotal: Partial<Record<Mode, number>> = {};
  for (const mode of modes) {
    const values = services.map((service) => cpuOf(results[mode], service));
    cpuTotal[mode] = values.reduce((a, b) => a + b, 0);
    console.log(`| ${mode} | ${values.map((v) => v.toFixed(0)).join(' | ')} | ${(cpuTotal[mode] as number).toFixed(0)} |`);
  }
  // At saturation the lab is CPU-bound, so off's CPU per request over a mode's is the throughput ratio that
  // mode would reach on an otherwise idle machine; it moves less than req/s when other work comes and goes.
  for (const mode of modes.filter((m) => m !== 'off')) {
    console.log(`CPU per request, off/${mode}: ${((cpuTotal.off as number) / (cpuTotal[mode] as number)).toFixed(2)}`);
  }
  for (const mode of modes.filter((m) => m !== 'off')) {
    const counts = await spanCounts((targets[mode] as Target).lab);
    console.log(`spans ${mode}: ${counts.exported} exported, ${counts.dropped} dropped`);
  }
  const baselineFlag = baselineRoot ? ` --baseline ${flags.baseline ?? ''}` : '';
  console.log(`\nnode bench/instrumentation-cost.ts ${seconds} ${connections} ${rounds}${baselineFlag}; ${new Date().toISOString()}; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
} finally {
  for (const target of Object.values(targets)) {
    await target.lab.stop();
    await rm(target.runDir, { recursive: true, force: true });
  }
}
