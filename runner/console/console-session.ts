// The console of one `faultline up` session: builds what the server exposes
// from the running lab (the fault board over the lab's fault targets, the
// game day, the background load, each service's live policies, the
// dashboards, the live figures) and starts the server on loopback with a
// fresh token. Stopping it stops the game day and the scenario runs it
// started; the lab's own stop removes the faults.

import { randomBytes } from 'node:crypto';
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chaosFaultTarget, labFaultTarget, processFaultTarget, serviceFaultTarget } from '../chaos-target.ts';
import { ERROR_CODE, FaultlineError } from '../errors.ts';
import type { Lab } from '../lab.ts';
import type { Monitoring } from '../monitoring.ts';
import { listScenarioFiles, loadScenario } from '../scenario.ts';
import { PROJECT_ROOT } from '../supervisor.ts';
import { ENTRY_SERVICE, SERVICES, instanceNames } from '../topology.ts';
import { BACKGROUND_JOURNEYS, type BackgroundLoad } from '../up.ts';
import { dashboardList, loadDashboards, parseLabelValues, type DashboardModel } from './dashboard-model.ts';
import { createFaultBoard, labFaultAdmin, type FaultBoard } from './fault-board.ts';
import { preset, presetCatalogue } from './fault-presets.ts';
import { createGameDay, type GameDay } from './game-day.ts';
import { alertRuleTiers, createLiveSampler, readLiveFigures } from './live-state.ts';
import { startConsoleServer, type ConsoleParts, type ConsoleServer } from './server.ts';

export interface ConsoleSessionOptions {
  lab: Lab;
  monitoring?: Monitoring;
  runsDir: string;
  /** When the session started (faults.jsonl offsets count from it). */
  startedAt: number;
  /** Background load, started at `up --load` or at rate 0 for the console to turn up. */
  load: BackgroundLoad;
  host?: string;
  port: number;
  /** The version of the Prometheus running, for links to its graph page. */
  prometheusVersion?: string;
}

export interface ConsoleSession {
  server: ConsoleServer;
  board: FaultBoard;
  stop(): Promise<void>;
}

/** Each service's instances with their admin URL (a service not running in this lab is left out). */
function adminUrls(lab: Lab, service: string): string[] {
  const urls: string[] = [];
  for (const instance of instanceNames(service)) {
    try {
      urls.push(lab.adminUrl(instance));
    } catch {
      // Not running in this lab.
    }
  }
  return urls;
}

async function adminJson(url: string, init: RequestInit = {}): Promise<unknown> {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(5_000) });
  const body = (await response.json().catch(() => ({}))) as { detail?: string };
  if (!response.ok) throw Object.assign(new Error(body.detail ?? `${response.status} from ${url}`), { status: response.status >= 400 && response.status < 500 ? response.status : 502 });
  return body;
}

/** The same change to every instance of a service, one after another; the first instance's answer is the one shown. */
async function patchEvery(urls: readonly string[], path: string, patch: unknown): Promise<unknown> {
  const answers = [];
  for (const url of urls) answers.push(await adminJson(`${url}${path}`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify(patch) }));
  return answers[0];
}

/**
 * Seconds of the background load's figures each reading sends: a second's
 * figures are final once its slowest request has ended, at most the journey
 * timeout (10 s) after it.
 */
const LOAD_SECONDS_RESENT = 12;

/**
 * A patterns.jsonl line: one live change of a resilience pattern, kept beside
 * faults.jsonl so that a session's record says when the breaker went off as
 * well as when the bank failed.
 */
export interface PatternChangeRecord {
  time: string;
  offsetMs: number;
  source: 'console';
  /** `checkout->payment`, `gateway admission`, or `every policy` for a reset. */
  target: string;
  action: 'patch' | 'reset';
  /** The paths that changed (`circuitBreaker.enabled`); empty when nothing did. */
  changed: string[];
  before?: unknown;
  after?: unknown;
}

export async function startConsoleSession(options: ConsoleSessionOptions): Promise<ConsoleSession> {
  const { lab, monitoring, load } = options;
  const recordPattern = async (target: string, action: PatternChangeRecord['action'], answer: unknown): Promise<void> => {
    const change = (answer as { change?: { changed?: string[]; before?: unknown; after?: unknown } | null } | undefined)?.change;
    const now = Date.now();
    const record: PatternChangeRecord = {
      time: new Date(now).toISOString(),
      offsetMs: now - options.startedAt,
      source: 'console',
      target,
      action,
      changed: change?.changed ?? [],
      ...(change ? { before: change.before, after: change.after } : {}),
    };
    await appendFile(join(lab.runDir, 'patterns.jsonl'), `${JSON.stringify(record)}\n`);
  };
  const board = createFaultBoard({
    target: labFaultTarget(chaosFaultTarget(lab.chaosAdminUrl), processFaultTarget(lab), serviceFaultTarget(lab)),
    logFile: join(lab.runDir, 'faults.jsonl'),
    startedAt: options.startedAt,
    admin: labFaultAdmin(lab),
  });
  let gameDay: GameDay | undefined;
  const stopGameDay = async () => {
    if (gameDay?.state().running) await gameDay.stop();
  };
  const sampler = createLiveSampler(async () => {
    const figures = await readLiveFigures({
      ...(monitoring ? { prometheus: monitoring, alertRules: alertRuleTiers(monitoring.prometheusUrl), notifications: () => monitoring.alerts() } : {}),
      runningProcesses: () => new Set(lab.processes().map((p) => p.name)),
      pausedInstances: () => new Set(board.active().filter((f) => f.fault.type === 'process' && f.fault.action === 'pause').map((f) => f.target)),
    });
    // Not the second under way: it has only begun, and would draw as a drop at the chart's edge.
    const current = Math.floor(Date.now() / 1_000);
    figures.load = load
      .recentSeconds(LOAD_SECONDS_RESENT)
      .filter((second) => second.t < current)
      .map(({ t, ok, failed, dropped, p50, p95, p99 }) => ({ t, ok, failed, dropped, p50, p95, p99 }));
    return figures;
  });
  let dashboards: DashboardModel[] | undefined;
  const allDashboards = async () => (dashboards ??= await loadDashboards(join(PROJECT_ROOT, 'dashboards', 'faultline')));
  const token = randomBytes(24).toString('base64url');

  const parts: ConsoleParts = {
    runDir: lab.runDir,
    runsDir: options.runsDir,
    sampler,
    async describe() {
      return {
        session: lab.runDir,
        services: SERVICES.map((s) => ({ name: s.name, instances: instanceNames(s.name), calls: s.calls })),
        presets: presetCatalogue(),
        journeys: load.state().weights ?? { ...BACKGROUND_JOURNEYS },
        monitoring: monitoring
          ? { prometheus: monitoring.prometheusUrl, alertmanager: monitoring.alertmanagerUrl, version: options.prometheusVersion }
          : { note: 'No Prometheus in this session (not installed, or --no-monitoring): SLOs, alerts, charts and dashboards need prometheus and prometheus-alertmanager (sudo apt-get install prometheus prometheus-alertmanager).' },
      };
    },
    faults: {
      async state() {
        return { active: board.active().map((f) => ({ name: f.name, title: preset(f.preset).title, target: f.target, type: f.type, source: f.origin ?? 'console', since: f.appliedAt })) };
      },
      apply: (preset, target) => board.apply(preset, target),
      remove: (name) => board.remove(name),
      async resetAll() {
        await board.resetAll();
      },
    },
    gameDay: {
      async start(input) {
        if (gameDay?.state().running) throw Object.assign(new Error('a game day is running: stop it first'), { status: 409 });
        const next = createGameDay(input, { board });
        next.start();
        gameDay = next;
        return { ...next.state(), plan: next.plan() };
      },
      stop: stopGameDay,
      state() {
        if (!gameDay) return { running: false };
        const state = gameDay.state();
        return { ...state, planned: gameDay.plan().length, applied: state.applied.length, next: state.next ?? null };
      },
    },
    load: {
      state: () => load.state(),
      async set(input) {
        if (input.mix !== undefined) load.setMix(input.mix as Parameters<BackgroundLoad['setMix']>[0]);
        if (input.rate !== undefined) {
          if (typeof input.rate !== 'number') throw new FaultlineError(ERROR_CODE.badOption, `rate: must be a number of journeys a second (got ${JSON.stringify(input.rate)})`);
          load.setRate(input.rate);
        }
        return load.state();
      },
    },
    policies: {
      async list() {
        const policies: Array<{ service: string; dependency: string; policy: unknown }> = [];
        for (const service of SERVICES) {
          const [first] = adminUrls(lab, service.name);
          if (first === undefined) continue;
          const listed = (await adminJson(`${first}/admin/policies`).catch(() => ({ policies: {} }))) as { policies?: Record<string, unknown> };
          for (const [dependency, policy] of Object.entries(listed.policies ?? {})) policies.push({ service: service.name, dependency, policy });
        }
        return { policies };
      },
      async change(service, dependency, patch) {
        const urls = adminUrls(lab, service);
        if (urls.length === 0) throw Object.assign(new Error(`service: ${service} is not running in this lab`), { status: 404 });
        const answer = await patchEvery(urls, `/admin/policies/${encodeURIComponent(dependency)}`, patch);
        await recordPattern(`${service}->${dependency}`, 'patch', answer);
        return answer;
      },
      async reset() {
        for (const service of SERVICES) for (const url of adminUrls(lab, service.name)) await adminJson(`${url}/admin/policies/reset`, { method: 'POST' }).catch(() => undefined);
        for (const url of adminUrls(lab, ENTRY_SERVICE)) await adminJson(`${url}/admin/admission/reset`, { method: 'POST' }).catch(() => undefined);
        await recordPattern('every policy', 'reset', undefined);
      },
    },
    admission: {
      async get() {
        const [first] = adminUrls(lab, ENTRY_SERVICE);
        if (first === undefined) throw Object.assign(new Error(`${ENTRY_SERVICE} is not running in this lab`), { status: 409 });
        return adminJson(`${first}/admin/admission`);
      },
      async change(patch) {
        const urls = adminUrls(lab, ENTRY_SERVICE);
        if (urls.length === 0) throw Object.assign(new Error(`${ENTRY_SERVICE} is not running in this lab`), { status: 409 });
        const answer = await patchEvery(urls, '/admin/admission', patch);
        await recordPattern(`${ENTRY_SERVICE} admission`, 'patch', answer);
        return answer;
      },
    },
    dashboards: {
      list: async () => ({ dashboards: dashboardList(await allDashboards()), prometheus: monitoring?.prometheusUrl ?? null, version: options.prometheusVersion ?? null }),
      get: async (uid) => (await allDashboards()).find((d) => d.uid === uid),
      async queryRange(expr, startMs, endMs, stepMs) {
        if (!monitoring) throw Object.assign(new Error('no Prometheus in this session'), { status: 409 });
        return { series: await monitoring.queryRange(expr, startMs, endMs, stepMs) };
      },
      async labelValues(query) {
        if (!monitoring) return [];
        const parsed = parseLabelValues(query);
        if (!parsed) throw Object.assign(new Error(`query: '${query}' is not label_values(...)`), { status: 400 });
        const params = new URLSearchParams(parsed.match ? { 'match[]': parsed.match } : {});
        const body = (await adminJson(`${monitoring.prometheusUrl}/api/v1/label/${encodeURIComponent(parsed.label)}/values?${params}`)) as { data?: string[] };
        return body.data ?? [];
      },
    },
    async scenarios() {
      const files = await listScenarioFiles();
      const found = [];
      for (const file of files) {
        try {
          const scenario = await loadScenario(file);
          found.push({ name: scenario.name, description: scenario.description ?? '' });
        } catch {
          // A scenario that does not load is `faultline list`'s to report.
        }
      }
      return found;
    },
  };
  const server = await startConsoleServer({ port: options.port, token, parts, ...(options.host ? { host: options.host } : {}) });
  return {
    server,
    board,
    async stop() {
      sampler.stop();
      await stopGameDay();
      await server.close();
    },
  };
}
