// What an open live console costs the lab (the limits: under 3% of
// one core at idle traffic, memory flat over an eight-hour session, ten tabs
// not changing that much). Two parts, each measured the way its limit is
// stated:
//
// 1. CPU, against a real `faultline up` (whole shop, Prometheus and
//    Alertmanager, background load at rate 0), from /proc/<pid>/stat
//    (utime+stime) over a fixed window: the `up` process (it hosts the
//    console, the runner and the idle load generator), Prometheus (the
//    console's 14 instant queries a reading make it work), and the sum over
//    every lab process. Phases: no tab (the baseline), one tab, ten tabs (a
//    tab is one SSE client on /api/live reading every event; with --browser
//    also one real Chromium page, whose own CPU is not counted). The console's
//    cost is a phase minus the baseline of the same round; the phases are
//    interleaved (a, b, c, a, b, c, ...) so a busy neighbour on this shared
//    machine falls on every phase alike, and the report gives each figure's
//    median and range over the rounds.
// 2. Memory, in-process at an accelerated clock: a forked child (run with
//    --expose-gc) holds a real startConsoleServer and createLiveSampler with
//    a fake reader that returns a real reading (taken from the lab in part 1,
//    or a synthetic one with --soak-only) every 1 ms, so eight hours of
//    readings at 1/s (28,800) pass in about a minute; this process holds ten
//    SSE clients on it and pushes 10,000 changes through POST /api/load (a
//    stub load part) spread over the soak. The child's heapUsed after gc() at
//    the start, 1/4, 1/2, 3/4 and the end; growth from 1/4 to the end over
//    the bound (--growth-limit-mb, 5) fails the run (exit code 1). The clients
//    live in another process so their buffers are not counted as the console's.
//
//   node bench/console-cost.ts [--window 60] [--rounds 3] [--settle 5] [--tabs 10] [--browser] [--soak-only]
//                              [--readings 28800] [--changes 10000] [--growth-limit-mb 5]
//
// Prints a table per part and one JSON line.

import { fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Browser } from 'playwright-core';
import { LIVE_QUERIES, LIVE_QUERY, createLiveSampler, type LiveFigures } from '../runner/console/live-state.ts';
import { prometheusClient } from '../runner/monitoring.ts';
import { startConsoleServer, type ConsoleParts } from '../runner/console/server.ts';
import { SERVICES, instanceNames } from '../runner/topology.ts';
import { cpuMicrosOf } from './process-cpu.ts';
import { median } from './stats.ts';

const { values: options } = parseArgs({
  options: {
    role: { type: 'string', default: 'main' },
    window: { type: 'string', default: '60' },
    rounds: { type: 'string', default: '3' },
    settle: { type: 'string', default: '5' },
    tabs: { type: 'string', default: '10' },
    browser: { type: 'boolean', default: false },
    'soak-only': { type: 'boolean', default: false },
    readings: { type: 'string', default: '28800' },
    changes: { type: 'string', default: '10000' },
    'growth-limit-mb': { type: 'string', default: '5' },
  },
});
const ROOT = new URL('..', import.meta.url).pathname;
const CHROMIUM = '/usr/bin/chromium';
const WINDOW_MS = Number(options.window) * 1_000;
const SETTLE_MS = Number(options.settle) * 1_000;
const ROUNDS = Number(options.rounds);
const MANY_TABS = Number(options.tabs);
const READINGS = Number(options.readings);
const CHANGES = Number(options.changes);
const GROWTH_LIMIT_MB = Number(options['growth-limit-mb']);
const MB = 1_048_576;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const fixed = (value: number, digits = 2) => value.toFixed(digits);

// ---------------------------------------------------------------- SSE tabs

/** One tab's /api/live stream: counts events and bytes, keeps the first payload. */
interface Tab {
  events: number;
  /** Changes the events carried (counted only when asked: it parses every event). */
  changes: number;
  bytes: number;
  first: Promise<string>;
  close(): void;
}

function openTab(base: string, token: string, onEvent?: () => void, countChanges = false): Tab {
  const abort = new AbortController();
  let resolveFirst: (payload: string) => void = () => undefined;
  let rejectFirst: (error: unknown) => void = () => undefined;
  const first = new Promise<string>((resolve, reject) => {
    resolveFirst = resolve;
    rejectFirst = reject;
  });
  first.catch(() => undefined);
  const tab: Tab = { events: 0, changes: 0, bytes: 0, first, close: () => abort.abort() };
  void (async () => {
    try {
      const response = await fetch(`${base}/api/live`, { headers: { authorization: `Bearer ${token}` }, signal: abort.signal });
      if (!response.ok || !response.body) throw new Error(`/api/live answered ${response.status}`);
      const decoder = new TextDecoder();
      let pending = '';
      for await (const chunk of response.body) {
        tab.bytes += (chunk as Uint8Array).byteLength;
        pending += decoder.decode(chunk as Uint8Array, { stream: true });
        let end = pending.indexOf('\n\n');
        while (end !== -1) {
          const message = pending.slice(0, end);
          pending = pending.slice(end + 2);
          if (message.startsWith('data: ')) {
            if (tab.events === 0) resolveFirst(message.slice('data: '.length));
            tab.events += 1;
            if (countChanges) tab.changes += (JSON.parse(message.slice('data: '.length)) as { changes: unknown[] }).changes.length;
            onEvent?.();
          }
          end = pending.indexOf('\n\n');
        }
      }
      rejectFirst(new Error('/api/live ended before its first event'));
    } catch (error) {
      if (!abort.signal.aborted) rejectFirst(error);
    }
  })();
  return tab;
}

// ---------------------------------------------------------------- part 1: CPU against a real lab

interface LabProcess {
  name: string;
  pid: number;
  address?: string;
}

interface PhaseSample {
  phase: string;
  round: number;
  seconds: number;
  /** % of one core over the window. */
  up: number;
  prometheus: number;
  alertmanager: number;
  lab: number;
  /** Instant queries Prometheus answered a second (/api/v1/query). */
  queriesPerSecond: number;
  /** Events a tab received a second, and bytes an event (first tab). */
  eventsPerSecond: number;
  bytesPerEvent: number;
}

async function prometheusQueryCount(prometheusUrl: string | undefined): Promise<number> {
  if (prometheusUrl === undefined) return 0;
  const body = await (await fetch(`${prometheusUrl}/metrics`, { signal: AbortSignal.timeout(5_000) })).text();
  let total = 0;
  for (const line of body.split('\n')) if (line.startsWith('prometheus_http_requests_total{') && line.includes('handler="/api/v1/query"')) total += Number(line.split(' ').at(-1));
  return total;
}

interface QueryCost {
  name: string;
  /** Prometheus CPU a query, less its idle rate over the same time. */
  cpuMs: number;
  wallMs: number;
  series: number;
}

/**
 * What each of the console's instant queries costs Prometheus: each run QUERY_REPS times in a row,
 * Prometheus's CPU over them less its no-tab rate over the same time. /proc counts in 10 ms ticks, so
 * a figure under about 0.5 ms a query is noise.
 */
const QUERY_REPS = 40;
/** The row of the query a reading sends: every figure in one (runner/console/live-state.ts LIVE_QUERY). */
const ONE_QUERY = 'all in one (what a reading sends)';
async function profileQueries(prometheusUrl: string, pid: number, idlePercent: number): Promise<QueryCost[]> {
  const client = prometheusClient(prometheusUrl);
  const costs: QueryCost[] = [];
  for (const [name, expr] of [...Object.entries(LIVE_QUERIES), [ONE_QUERY, LIVE_QUERY] as const]) {
    await client.query(expr);
    const c0 = await cpuMicrosOf(pid);
    const t0 = performance.now();
    let series = 0;
    for (let i = 0; i < QUERY_REPS; i += 1) series = (await client.query(expr)).length;
    const wallMs = performance.now() - t0;
    const cpuMs = ((await cpuMicrosOf(pid)) - c0) / 1_000 - (idlePercent / 100) * wallMs;
    costs.push({ name, cpuMs: cpuMs / QUERY_REPS, wallMs: wallMs / QUERY_REPS, series });
  }
  return costs;
}

async function cpuMicrosAll(processes: LabProcess[]): Promise<Map<number, number>> {
  const micros = new Map<number, number>();
  await Promise.all(
    processes.map(async (p) => {
      try {
        micros.set(p.pid, await cpuMicrosOf(p.pid));
      } catch {
        // Gone (a restart): left out of this window, and said so below.
      }
    }),
  );
  return micros;
}

async function measureLab(): Promise<{ samples: PhaseSample[]; template: string | undefined; labProcesses: number; queries: QueryCost[]; missing: string[] }> {
  const runsDir = await mkdtemp(join(tmpdir(), 'faultline-console-cost-'));
  const up = spawn(
    process.execPath,
    [join(ROOT, 'scripts/faultline.js'), 'up', '--gateway-port', '0', '--collector-port', '0', '--collector-http-port', '0', '--chaos-port', '0', '--console-port', '0', '--prometheus-port', '0', '--alertmanager-port', '0', '--runs-dir', runsDir],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  up.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  up.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => up.once('exit', () => resolve()));
  const stopUp = async () => {
    if (up.exitCode !== null || up.signalCode !== null) return;
    up.kill('SIGINT');
    const timeout = sleep(60_000).then(() => 'timeout');
    if ((await Promise.race([exited.then(() => 'exited'), timeout])) === 'timeout') {
      up.kill('SIGKILL');
      await exited;
    }
  };
  const onSignal = () => void stopUp().then(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let browser: Browser | undefined;
  const missing = new Set<string>();
  try {
    const started = Date.now();
    while (!output.includes('Ctrl-C stops everything')) {
      if (up.exitCode !== null) throw new Error(`faultline up exited (${up.exitCode}):\n${output}`);
      if (Date.now() - started > 180_000) throw new Error(`faultline up not ready after 180 s:\n${output}`);
      await sleep(100);
    }
    const printed = /console \(open this\)\s+(http:\/\/127\.0\.0\.1:\d+\/\?token=(\S+))/.exec(output);
    if (!printed) throw new Error(`no console URL in the output of up:\n${output}`);
    const consoleUrl = printed[1] as string;
    const token = printed[2] as string;
    const base = new URL(consoleUrl).origin;
    const [id] = await readdir(runsDir);
    const runDir = join(runsDir, id as string);
    let labProcesses: LabProcess[] = [];
    while (!labProcesses.some((p) => p.name === 'prometheus') && Date.now() - started < 190_000) {
      labProcesses = JSON.parse(await readFile(join(runDir, 'processes.json'), 'utf8')) as LabProcess[];
      if (!labProcesses.some((p) => p.name === 'prometheus')) await sleep(200);
    }
    const prometheus = labProcesses.find((p) => p.name === 'prometheus');
    const alertmanager = labProcesses.find((p) => p.name === 'alertmanager');
    const prometheusUrl = prometheus?.address !== undefined ? `http://${prometheus.address}` : undefined;
    const all: LabProcess[] = [{ name: 'up', pid: up.pid as number }, ...labProcesses];
    console.error(`lab ready in ${((Date.now() - started) / 1_000).toFixed(1)} s: ${all.length} processes (up + ${labProcesses.length}), Prometheus ${prometheusUrl ?? 'absent'}`);

    // One reading as the console serves it, for the soak's fake reader.
    const probe = openTab(base, token);
    const template = await Promise.race([probe.first, sleep(30_000).then(() => undefined)]);
    probe.close();
    // Start-up's own work (compiles, first scrapes, rule loading) settles before the first window.
    await sleep(Math.max(10_000, SETTLE_MS));

    if (options.browser) {
      const { chromium } = await import('playwright-core');
      browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
    }
    const phases: Array<{ name: string; tabs: number; browser: boolean }> = [
      { name: 'no tab', tabs: 0, browser: false },
      { name: '1 tab', tabs: 1, browser: false },
      { name: `${MANY_TABS} tabs`, tabs: MANY_TABS, browser: false },
      ...(browser ? [{ name: '1 Chromium page', tabs: 0, browser: true }] : []),
    ];
    const samples: PhaseSample[] = [];
    for (let round = 1; round <= ROUNDS; round += 1) {
      for (const phase of phases) {
        const tabs = Array.from({ length: phase.tabs }, () => openTab(base, token));
        const context = phase.browser ? await browser?.newContext() : undefined;
        if (context) {
          const page = await context.newPage();
          await page.goto(consoleUrl);
          await page.locator('#connection[data-state="live"]').waitFor({ timeout: 60_000 });
        }
        await Promise.all(tabs.map((t) => t.first));
        await sleep(SETTLE_MS);
        const before = await cpuMicrosAll(all);
        const queriesBefore = await prometheusQueryCount(prometheusUrl);
        const eventsBefore = tabs[0]?.events ?? 0;
        const bytesBefore = tabs[0]?.bytes ?? 0;
        const t0 = performance.now();
        await sleep(WINDOW_MS);
        const after = await cpuMicrosAll(all);
        const seconds = (performance.now() - t0) / 1_000;
        const queries = (await prometheusQueryCount(prometheusUrl)) - queriesBefore;
        const events = (tabs[0]?.events ?? 0) - eventsBefore;
        const bytes = (tabs[0]?.bytes ?? 0) - bytesBefore;
        for (const t of tabs) t.close();
        await context?.close();
        const percent = (pids: LabProcess[]) => {
          let micros = 0;
          for (const p of pids) {
            const a = before.get(p.pid);
            const b = after.get(p.pid);
            if (a === undefined || b === undefined) missing.add(`${p.name} (pid ${p.pid}) in round ${round}, ${phase.name}`);
            else micros += b - a;
          }
          return (micros / (seconds * 1e6)) * 100;
        };
        const sample: PhaseSample = {
          phase: phase.name,
          round,
          seconds,
          up: percent(all.slice(0, 1)),
          prometheus: prometheus ? percent([prometheus]) : 0,
          alertmanager: alertmanager ? percent([alertmanager]) : 0,
          lab: percent(all),
          queriesPerSecond: queries / seconds,
          eventsPerSecond: events / seconds,
          bytesPerEvent: events > 0 ? bytes / events : 0,
        };
        samples.push(sample);
        console.error(
          `round ${round} ${phase.name.padEnd(16)} up ${fixed(sample.up)}%  prometheus ${fixed(sample.prometheus)}%  lab ${fixed(sample.lab)}%  ${fixed(sample.queriesPerSecond, 1)} queries/s  ${fixed(sample.eventsPerSecond, 2)} events/s  load ${loadavg()
            .map((l) => l.toFixed(2))
            .join(' ')}`,
        );
        // Let the sampler notice the last tab left (it stops reading) before the next window.
        await sleep(SETTLE_MS);
      }
    }
    const idlePrometheus = median(samples.filter((x) => x.phase === phases[0]?.name).map((x) => x.prometheus));
    const queries = prometheusUrl && prometheus ? await profileQueries(prometheusUrl, prometheus.pid, idlePrometheus) : [];
    return { samples, template, labProcesses: all.length, queries, missing: [...missing] };
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await browser?.close();
    await stopUp();
    await rm(runsDir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- part 2: memory soak (child role)

/** A reading shaped like a real one, for --soak-only: the shop's services and edges, five SLOs over Sloth's windows, two alerts, notifications. */
function syntheticFigures(): LiveFigures {
  const windows = ['5m', '30m', '1h', '2h', '6h', '1d', '3d', '30d'];
  return {
    timeMs: Date.now(),
    monitoring: true,
    services: SERVICES.map((s) => ({ name: s.name, rate: 12.5, errorRatio: 0.004, p95Ms: 41.2, instances: instanceNames(s.name).map((id) => ({ id, state: 'up' as const })) })),
    edges: SERVICES.flatMap((s) => s.calls.map((c) => ({ caller: s.name, dependency: c.service, rate: 8.25, errorRatio: 0.01, p95Ms: 23.4, retriesPerSecond: 0.1, breaker: 'closed', ejected: [] }))),
    slos: ['checkout-availability', 'checkout-latency', 'catalog-availability', 'payment-availability', 'cart-availability'].map((id) => ({
      id,
      service: id.split('-')[0] as string,
      objective: 0.999,
      budgetLeft: 0.93,
      windows: windows.map((window) => ({ window, burnRate: 0.4 })),
      tiers: [
        { tier: 'page-1h', severity: 'page', factor: 14.4, longWindow: '1h', shortWindow: '5m', burning: false },
        { tier: 'page-6h', severity: 'page', factor: 6, longWindow: '6h', shortWindow: '30m', burning: false },
        { tier: 'ticket-1d', severity: 'ticket', factor: 3, longWindow: '1d', shortWindow: '2h', burning: false },
        { tier: 'ticket-3d', severity: 'ticket', factor: 1, longWindow: '3d', shortWindow: '6h', burning: false },
      ],
    })),
    alerts: [],
    notifications: [],
  };
}

interface HeapMark {
  reading: number;
  heapUsedMb: number;
  rssMb: number;
  externalMb: number;
}

type SoakToChild = { template: LiveFigures } | { close: true };
type SoakFromChild = { ready: true; base: string; token: string } | { done: true; marks: HeapMark[]; seconds: number; changesKept: number };

async function soakChild(): Promise<void> {
  const gc = globalThis.gc;
  if (!gc) throw new Error('the soak child needs --expose-gc');
  const send = (message: SoakFromChild) => process.send?.(message);
  const template = await new Promise<LiveFigures>((resolve) => process.once('message', (message: SoakToChild) => 'template' in message && resolve(message.template)));
  const marksAt = new Set([Math.round(READINGS / 4), Math.round(READINGS / 2), Math.round((3 * READINGS) / 4), READINGS]);
  const marks: HeapMark[] = [];
  const mark = (reading: number) => {
    gc();
    const usage = process.memoryUsage();
    marks.push({ reading, heapUsedMb: usage.heapUsed / MB, rssMb: usage.rss / MB, externalMb: (usage.external + usage.arrayBuffers) / MB });
  };
  let readings = 0;
  let startedAt = 0;
  let loadRate = 0;
  // A fresh object each reading, as readLiveFigures builds one: the template with this tick's time and numbers.
  const read = async (): Promise<LiveFigures> => {
    if (readings === 0) {
      while (sampler.subscribers() < MANY_TABS) await sleep(5);
      mark(0);
      startedAt = performance.now();
    }
    readings += 1;
    if (marksAt.has(readings)) mark(readings);
    if (readings === READINGS) send({ done: true, marks, seconds: (performance.now() - startedAt) / 1_000, changesKept: server.changes().length });
    const wobble = 1 + (readings % 7) / 100;
    return {
      ...template,
      timeMs: Date.now(),
      services: template.services.map((s) => ({ ...s, rate: s.rate * wobble, instances: s.instances.map((i) => ({ ...i })) })),
      edges: template.edges.map((e) => ({ ...e, rate: e.rate * wobble, ejected: [...e.ejected] })),
      slos: template.slos.map((s) => ({ ...s, windows: s.windows.map((w) => ({ ...w })), tiers: s.tiers.map((t) => ({ ...t })) })),
      alerts: template.alerts.map((a) => ({ ...a, labels: { ...a.labels } })),
      notifications: template.notifications.map((n) => ({ ...n })),
    };
  };
  const sampler = createLiveSampler(read, 1);
  const nothing = async () => undefined;
  const parts: ConsoleParts = {
    runDir: tmpdir(),
    runsDir: tmpdir(),
    sampler,
    describe: async () => ({}),
    faults: { state: async () => ({ active: [] }), apply: nothing, remove: nothing, resetAll: nothing },
    gameDay: { start: nothing, stop: nothing, state: () => ({ running: false }) },
    load: {
      state: () => ({ rate: loadRate }),
      set: async (input) => {
        loadRate = Number(input.rate ?? loadRate);
        return { rate: loadRate };
      },
    },
    policies: { list: async () => ({ policies: [] }), change: nothing, reset: nothing },
    admission: { get: nothing, change: nothing },
    dashboards: { list: async () => ({ dashboards: [] }), get: nothing, queryRange: async () => ({ series: [] }), labelValues: async () => [] },
    scenarios: async () => [],
  };
  const token = 'soak-token-0123456789abcdef';
  const server = await startConsoleServer({ port: 0, token, parts });
  send({ ready: true, base: server.url, token });
  await new Promise<void>((resolve) => process.on('message', (message: SoakToChild) => 'close' in message && resolve()));
  sampler.stop();
  await server.close();
  process.disconnect();
}

// ---------------------------------------------------------------- part 2: memory soak (this side)

interface SoakResult {
  marks: HeapMark[];
  seconds: number;
  readingsPerSecond: number;
  changesSent: number;
  changesRefused: number;
  changesKept: number;
  /** Changes the first tab was sent over its events. */
  changesDelivered: number;
  eventsPerTab: number[];
  growthMb: number;
}

async function soak(template: LiveFigures): Promise<SoakResult> {
  const child: ChildProcess = fork(new URL(import.meta.url).pathname, ['--role', 'soak', '--readings', String(READINGS), '--tabs', String(MANY_TABS)], { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    const ready = await new Promise<Extract<SoakFromChild, { ready: true }>>((resolve, reject) => {
      child.once('message', (message: SoakFromChild) => ('ready' in message ? resolve(message) : reject(new Error('soak child: unexpected message'))));
      child.once('exit', (code) => reject(new Error(`soak child exited (${code}) before it was ready`)));
      child.send({ template } satisfies SoakToChild);
    });
    const done = new Promise<Extract<SoakFromChild, { done: true }>>((resolve) => child.on('message', (message: SoakFromChild) => 'done' in message && resolve(message)));
    // Changes spread over the first 90% of the soak (so each can reach the tabs before it ends): one POST
    // /api/load whenever the first tab's events say one is due, at most four in flight.
    let sent = 0;
    let refused = 0;
    let inFlight = 0;
    const post = () => {
      inFlight += 1;
      sent += 1;
      fetch(`${ready.base}/api/load`, { method: 'POST', headers: { authorization: `Bearer ${ready.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ rate: sent % 50 }) })
        .then(
          (response) => {
            if (!response.ok) refused += 1;
            return response.arrayBuffer();
          },
          () => (refused += 1),
        )
        .finally(() => (inFlight -= 1))
        .catch(() => undefined);
    };
    const tabs: Tab[] = [];
    const pace = () => {
      const due = Math.min(CHANGES, Math.ceil(((tabs[0]?.events ?? 0) * CHANGES) / (0.9 * READINGS)));
      while (sent < due && inFlight < 4) post();
    };
    for (let i = 0; i < MANY_TABS; i += 1) tabs.push(openTab(ready.base, ready.token, i === 0 ? pace : undefined, i === 0));
    const result = await done;
    for (const t of tabs) t.close();
    const quarter = result.marks.find((m) => m.reading === Math.round(READINGS / 4));
    const end = result.marks.at(-1);
    return {
      marks: result.marks,
      seconds: result.seconds,
      readingsPerSecond: READINGS / result.seconds,
      changesSent: sent,
      changesRefused: refused,
      changesKept: result.changesKept,
      changesDelivered: tabs[0]?.changes ?? 0,
      eventsPerTab: tabs.map((t) => t.events),
      growthMb: (end?.heapUsedMb ?? 0) - (quarter?.heapUsedMb ?? 0),
    };
  } finally {
    if (child.connected) child.send({ close: true } satisfies SoakToChild);
    const timeout = sleep(10_000).then(() => 'timeout');
    if ((await Promise.race([exited.then(() => 'exited'), timeout])) === 'timeout') child.kill('SIGKILL');
  }
}

// ---------------------------------------------------------------- report

function summarise(values: number[]): { median: number; min: number; max: number } {
  return { median: median(values), min: Math.min(...values), max: Math.max(...values) };
}
const range = (s: { median: number; min: number; max: number }, digits = 2) => `${fixed(s.median, digits)} (${fixed(s.min, digits)} to ${fixed(s.max, digits)})`;

async function main(): Promise<void> {
  const startedAt = new Date();
  const command = `node bench/console-cost.ts ${process.argv.slice(2).join(' ')}`.trim();
  console.log(`${command}\n${startedAt.toISOString()}, ${cpus().length} cores, load average at start ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  let cpu: Awaited<ReturnType<typeof measureLab>> | undefined;
  const costs: Record<string, Record<'up' | 'upPlusPrometheus' | 'lab', { median: number; min: number; max: number }>> = {};
  let template: LiveFigures = syntheticFigures();
  let templateSource = 'synthetic';
  if (!options['soak-only']) {
    cpu = await measureLab();
    if (cpu.template !== undefined) {
      template = (JSON.parse(cpu.template) as { figures: LiveFigures }).figures;
      templateSource = 'a real /api/live event of the lab';
    }
    const phases = [...new Set(cpu.samples.map((s) => s.phase))];
    const baseline = phases[0] as string;
    const byPhase = (phase: string) => cpu?.samples.filter((s) => s.phase === phase) ?? [];
    console.log(`\nCPU, % of one core over ${WINDOW_MS / 1_000} s windows, ${ROUNDS} interleaved rounds: median (min to max); ${cpu.labProcesses} processes in "lab" (up + processes.json)`);
    console.log('| phase | up (console + runner) | Prometheus | up + Prometheus | Alertmanager | whole lab | Prometheus queries/s | events/s a tab | bytes/event |');
    console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const phase of phases) {
      const s = byPhase(phase);
      console.log(
        `| ${phase} | ${range(summarise(s.map((x) => x.up)))} | ${range(summarise(s.map((x) => x.prometheus)))} | ${range(summarise(s.map((x) => x.up + x.prometheus)))} | ${range(summarise(s.map((x) => x.alertmanager)))} | ${range(summarise(s.map((x) => x.lab)))} | ${fixed(median(s.map((x) => x.queriesPerSecond)), 1)} | ${s[0]?.eventsPerSecond === 0 ? '-' : fixed(median(s.map((x) => x.eventsPerSecond)), 2)} | ${s[0]?.bytesPerEvent === 0 ? '-' : fixed(median(s.map((x) => x.bytesPerEvent)), 0)} |`,
      );
    }
    console.log('\nThe console\'s cost: a phase minus the same round\'s "no tab", % of one core, median (min to max)');
    console.log('| phase | up | up + Prometheus | whole lab |');
    console.log('| --- | ---: | ---: | ---: |');
    for (const phase of phases.slice(1)) {
      const pairs = byPhase(phase).map((s) => ({ s, b: cpu?.samples.find((x) => x.phase === baseline && x.round === s.round) as PhaseSample }));
      const cost = {
        up: summarise(pairs.map(({ s, b }) => s.up - b.up)),
        upPlusPrometheus: summarise(pairs.map(({ s, b }) => s.up + s.prometheus - b.up - b.prometheus)),
        lab: summarise(pairs.map(({ s, b }) => s.lab - b.lab)),
      };
      costs[phase] = cost;
      console.log(`| ${phase} | ${range(cost.up)} | ${range(cost.upPlusPrometheus)} | ${range(cost.lab)} |`);
    }
    if (cpu.queries.length > 0) {
      const parts = cpu.queries.filter((q) => q.name !== ONE_QUERY);
      const total = parts.reduce((sum, q) => sum + q.cpuMs, 0);
      const one = cpu.queries.find((q) => q.name === ONE_QUERY);
      console.log(
        `\nPrometheus CPU per live query (${QUERY_REPS} in a row each, less its idle rate): the ${parts.length} figures asked one by one ${fixed(total, 1)} ms (${fixed(total / 10, 1)}% of a core at one reading a second); all in one query, as a reading asks them, ${fixed(one?.cpuMs ?? Number.NaN, 1)} ms (${fixed((one?.cpuMs ?? Number.NaN) / 10, 1)}%)`,
      );
      console.log('| query | CPU ms | wall ms | series |');
      console.log('| --- | ---: | ---: | ---: |');
      for (const q of [...cpu.queries].sort((a, b) => b.cpuMs - a.cpuMs)) console.log(`| ${q.name} | ${fixed(q.cpuMs)} | ${fixed(q.wallMs)} | ${q.series} |`);
    }
    if (cpu.missing.length > 0) console.log(`processes gone during a window (left out of it): ${cpu.missing.join('; ')}`);
  }

  console.log(`\nMemory soak: ${READINGS} readings at a 1 ms interval (${fixed(READINGS / 3_600, 1)} h at 1/s), ${MANY_TABS} SSE tabs, ${CHANGES} changes via POST /api/load; reading from ${templateSource} (${JSON.stringify(template).length} bytes of JSON)`);
  const memory = await soak(template);
  console.log('| mark | reading | heapUsed after gc | RSS | external + array buffers |');
  console.log('| --- | ---: | ---: | ---: | ---: |');
  const names = ['start', '1/4', '1/2', '3/4', 'end'];
  memory.marks.forEach((m, i) => console.log(`| ${names[i] ?? i} | ${m.reading} | ${fixed(m.heapUsedMb)} MiB | ${fixed(m.rssMb, 1)} MiB | ${fixed(m.externalMb)} MiB |`));
  const flat = memory.growthMb < GROWTH_LIMIT_MB;
  console.log(
    `${fixed(memory.seconds, 1)} s (${fixed(memory.readingsPerSecond, 0)} readings/s); events per tab ${Math.min(...memory.eventsPerTab)} to ${Math.max(...memory.eventsPerTab)}; changes sent ${memory.changesSent} (refused ${memory.changesRefused}), kept by the server ${memory.changesKept}, delivered to the first tab ${memory.changesDelivered}`,
  );
  console.log(`heapUsed growth from 1/4 to the end: ${fixed(memory.growthMb)} MiB (bound ${GROWTH_LIMIT_MB} MiB): ${flat ? 'flat' : 'OVER THE BOUND'}`);
  console.log(
    JSON.stringify({
      bench: 'console-cost',
      at: startedAt.toISOString(),
      command,
      cores: cpus().length,
      windowSeconds: WINDOW_MS / 1_000,
      rounds: ROUNDS,
      cpu: cpu ? { samples: cpu.samples, costs, queries: cpu.queries, missing: cpu.missing } : null,
      memory: { ...memory, boundMb: GROWTH_LIMIT_MB, flat },
    }),
  );
  if (!flat) process.exitCode = 1;
}

if (options.role === 'soak') await soakChild();
else await main();
