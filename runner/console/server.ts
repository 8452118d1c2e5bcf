// The console's HTTP server: the page, its scripts, and the API behind it.
// Every change goes through what the lab already has: faults through the
// fault board (the admin APIs, recorded in faults.jsonl), patterns through
// each service's loopback /admin/policies, load through the background load
// controller; reads come from Prometheus, Alertmanager and the session's
// telemetry files. express, as the services use it; the guard (guard.ts)
// runs before every route.

import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type expressModule from 'express';
import type { NextFunction, Request, Response } from 'express';
import { PROBLEM_CONTENT_TYPE } from '../../demo-services/kit/conventions.ts';
import { PROJECT_ROOT } from '../supervisor.ts';
import { SERVICES } from '../topology.ts';
import { checkRequest, CONSOLE_COOKIE } from './guard.ts';
import type { LiveFigures, LiveSampler } from './live-state.ts';
import { renderConsolePage } from './page.ts';
import { SearchInputError, searchLogs, searchTraces, tailLogs, traceView } from './telemetry-search.ts';

const require = createRequire(import.meta.url);
const express = require('express') as typeof expressModule;

/** A change a person made, shown on the charts as a mark and in the activity list. */
export interface ConsoleChange {
  /** Counts up from 1: a stream sends each change once, however many share a millisecond. */
  seq: number;
  timeMs: number;
  kind: 'fault' | 'pattern' | 'load' | 'game-day' | 'reset' | 'scenario';
  text: string;
}

/** A request the console refuses with 400 and this message. */
export class BadRequestError extends Error {
  readonly status = 400;
}

/** What the console drives; each part is the lab's own, the server only exposes it. */
export interface ConsoleParts {
  runDir: string;
  runsDir: string;
  sampler: LiveSampler;
  /** Everything the page needs once: topology, presets, links. */
  describe(): Promise<Record<string, unknown>>;
  faults: {
    state(): Promise<unknown>;
    apply(preset: string, target: string): Promise<unknown>;
    remove(name: string): Promise<void>;
    resetAll(): Promise<void>;
  };
  gameDay: {
    start(input: unknown): Promise<unknown>;
    stop(): Promise<void>;
    state(): unknown;
  };
  load: {
    state(): unknown;
    set(input: { rate?: unknown; mix?: unknown }): Promise<unknown>;
  };
  policies: {
    list(): Promise<unknown>;
    change(service: string, dependency: string, patch: unknown): Promise<unknown>;
    /** Every policy, and the gateway's admission, back to how the lab started. */
    reset(): Promise<void>;
  };
  /** The gateway's rate limit and load shedding, live (its /admin/admission). */
  admission: {
    get(): Promise<unknown>;
    change(patch: unknown): Promise<unknown>;
  };
  dashboards: {
    list(): Promise<unknown>;
    get(uid: string): Promise<unknown | undefined>;
    /** Read-only Prometheus reads for the dashboard panels: query_range and label values. */
    queryRange(expr: string, startMs: number, endMs: number, stepMs: number): Promise<unknown>;
    labelValues(query: string): Promise<string[]>;
  };
  /** Scenario names and descriptions, as `faultline list` gives them. */
  scenarios(): Promise<Array<{ name: string; description: string; category?: string }>>;
}

export interface ConsoleServerOptions {
  host?: string;
  /** 0 picks a free port. */
  port: number;
  token: string;
  parts: ConsoleParts;
}

export interface ConsoleServer {
  url: string;
  /** The URL to print: it carries the token. */
  openUrl: string;
  port: number;
  changes(): ConsoleChange[];
  close(): Promise<void>;
}

/** What a live change changed, as a person reads it: `circuitBreaker.enabled=false, retry.maxAttempts=5`. */
function describeChange(change: { changed?: string[]; after?: unknown } | null | undefined): string {
  const valueAt = (path: string) => path.split('.').reduce<unknown>((at, key) => (at as Record<string, unknown> | undefined)?.[key], change?.after);
  const changed = (change?.changed ?? []).map((path) => `${path}=${JSON.stringify(valueAt(path))}`);
  return changed.length > 0 ? changed.join(', ') : 'no change';
}

/** Keeps the activity list and the chart marks bounded over an eight-hour session. */
const MAX_CHANGES = 500;
const MAX_SCENARIO_LINES = 2_000;

interface ScenarioRun {
  id: number;
  name: string;
  startedAt: number;
  lines: string[];
  exitCode: number | null;
  reportPath?: string;
  child: ChildProcess;
}

const TITLES: Record<number, string> = { 400: 'Bad Request', 404: 'Not Found', 409: 'Conflict' };

function problem(res: Response, status: number, title: string, detail: string): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  res.status(status).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify({ type: 'about:blank', title, status, detail, instance: res.req.originalUrl }));
}

function text(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.trim() === '') throw new BadRequestError(`${field}: required, a non-empty string`);
  return value.trim();
}

export async function startConsoleServer(options: ConsoleServerOptions): Promise<ConsoleServer> {
  const { parts, token } = options;
  const host = options.host ?? '127.0.0.1';
  const changes: ConsoleChange[] = [];
  const scenarioRuns: ScenarioRun[] = [];
  let seq = 0;
  const note = (kind: ConsoleChange['kind'], what: string) => {
    changes.push({ seq: ++seq, timeMs: Date.now(), kind, text: what });
    if (changes.length > MAX_CHANGES) changes.splice(0, changes.length - MAX_CHANGES);
  };
  let port = 0;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  app.use((req: Request, res: Response, next: NextFunction) => {
    const verdict = checkRequest(req, { token, port, ...(host !== '127.0.0.1' && host !== 'localhost' ? { extraHosts: [host] } : {}) });
    if (!verdict.ok) {
      problem(res, verdict.status, verdict.status === 401 ? 'Unauthorized' : verdict.status === 415 ? 'Unsupported Media Type' : 'Forbidden', verdict.detail);
      return;
    }
    res.set({ 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer', 'x-frame-options': 'DENY' });
    // The printed URL's token becomes a cookie only this origin's own requests carry, and leaves the address bar.
    if (verdict.tokenFromQuery && req.method === 'GET' && req.path === '/') {
      res.cookie(CONSOLE_COOKIE, token, { httpOnly: true, sameSite: 'strict', path: '/' });
      res.redirect(303, '/');
      return;
    }
    next();
  });
  app.use(express.json({ limit: '32kb' }));

  const handle =
    (fn: (req: Request, res: Response) => Promise<unknown>) =>
    (req: Request, res: Response): void => {
      fn(req, res).then(
        (body) => {
          if (!res.headersSent) res.json(body ?? { ok: true });
        },
        (error: unknown) => {
          // Input errors carry their 4xx (the fault board's, the search's, the load controller's FL_BAD_OPTION); the rest is the lab refusing.
          const status = error instanceof SearchInputError || (error as { code?: string }).code === 'FL_BAD_OPTION' ? 400 : (error as { status?: unknown }).status;
          if (typeof status === 'number' && status >= 400 && status < 500) problem(res, status, TITLES[status] ?? 'Bad Request', (error as Error).message);
          else problem(res, 502, 'Bad Gateway', `the lab did not take it: ${(error as Error).message}`);
        },
      );
    };

  // The page and its scripts.
  app.get('/', (_req, res) => {
    res.type('html').send(renderConsolePage());
  });
  // Browsers ask for it on their own; the console has none.
  app.get('/favicon.ico', (_req, res) => {
    res.status(204).end();
  });
  const staticFiles: Record<string, { file: () => string; type: string }> = {
    'uplot.js': { file: () => join(require.resolve('uplot/package.json'), '..', 'dist', 'uPlot.iife.min.js'), type: 'text/javascript' },
    'uplot.css': { file: () => join(require.resolve('uplot/package.json'), '..', 'dist', 'uPlot.min.css'), type: 'text/css' },
  };
  app.get('/static/:file', (req, res) => {
    const name = String(req.params.file);
    const known = staticFiles[name];
    const built = /^[a-z-]+\.js$/.test(name) ? join(PROJECT_ROOT, '.lab', 'console', name) : undefined;
    const file = known ? known.file() : built !== undefined && existsSync(built) ? built : undefined;
    if (file === undefined) {
      problem(res, 404, 'Not Found', built !== undefined ? `${name} is not built: run npm run build:lab` : `no static file ${name}`);
      return;
    }
    readFile(file).then(
      (body) => res.type(known ? known.type : 'text/javascript').send(body),
      (error: unknown) => problem(res, 500, 'Internal Server Error', (error as Error).message),
    );
  });

  app.get('/api/describe', handle(() => parts.describe()));
  app.get('/api/changes', handle(async () => ({ changes })));

  // Live figures, once a second, over server-sent events; one sampler for every tab.
  app.get('/api/live', (req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    res.write('retry: 2000\n\n');
    // Changes made before the stream opened are the page's to fetch (/api/changes); after, each goes once.
    let sent = seq;
    const unsubscribe = parts.sampler.subscribe((figures: LiveFigures) => {
      const fresh = changes.filter((c) => c.seq > sent);
      sent = seq;
      res.write(`data: ${JSON.stringify({ figures, changes: fresh })}\n\n`);
    });
    req.on('close', unsubscribe);
  });

  // Faults.
  app.get('/api/faults', handle(() => parts.faults.state()));
  app.post(
    '/api/faults',
    handle(async (req) => {
      const body = (req.body ?? {}) as { preset?: unknown; target?: unknown };
      const preset = text(body.preset, 'preset');
      const target = text(body.target, 'target');
      const applied = await parts.faults.apply(preset, target);
      note('fault', `${preset} on ${target}`);
      return applied;
    }),
  );
  app.delete(
    '/api/faults/:name',
    handle(async (req) => {
      const name = String(req.params.name);
      await parts.faults.remove(name);
      note('fault', `removed ${name}`);
      return { removed: name };
    }),
  );
  app.post(
    '/api/reset',
    handle(async () => {
      await parts.gameDay.stop();
      await parts.faults.resetAll();
      note('reset', 'every fault removed, game day stopped');
      return { reset: true };
    }),
  );

  // The game day.
  app.get('/api/game-day', handle(async () => parts.gameDay.state()));
  app.post(
    '/api/game-day',
    handle(async (req) => {
      const started = await parts.gameDay.start(req.body);
      const seed = (req.body as { seed?: unknown } | undefined)?.seed;
      note('game-day', `game day started (seed ${String(seed)})`);
      return started;
    }),
  );
  app.delete(
    '/api/game-day',
    handle(async () => {
      await parts.gameDay.stop();
      note('game-day', 'game day stopped, its faults removed');
      return parts.gameDay.state();
    }),
  );

  // Background load.
  app.get('/api/load', handle(async () => parts.load.state()));
  app.post(
    '/api/load',
    handle(async (req) => {
      const body = (req.body ?? {}) as { rate?: unknown; mix?: unknown };
      if (body.rate === undefined && body.mix === undefined) throw new BadRequestError('give rate (journeys a second, 0 stops) or mix (journey weights)');
      const state = await parts.load.set(body);
      note('load', body.rate !== undefined ? `load ${String(body.rate)}/s` : `journey mix ${JSON.stringify(body.mix)}`);
      return state;
    }),
  );

  // Resilience patterns, live.
  app.get('/api/policies', handle(() => parts.policies.list()));
  app.patch(
    '/api/policies/:service/:dependency',
    handle(async (req) => {
      const service = String(req.params.service);
      const dependency = String(req.params.dependency);
      if (!SERVICES.some((s) => s.name === service)) throw new BadRequestError(`service: '${service}' is not a service of the shop (${SERVICES.map((s) => s.name).join(', ')})`);
      if (req.body === undefined || typeof req.body !== 'object' || req.body === null) throw new BadRequestError('body: a JSON object with the policy fields to change');
      const result = (await parts.policies.change(service, dependency, req.body)) as { change?: { changed?: string[]; after?: unknown } | null } | undefined;
      note('pattern', `${service}->${dependency}: ${describeChange(result?.change)}`);
      return result;
    }),
  );
  app.get('/api/admission', handle(() => parts.admission.get()));
  app.patch(
    '/api/admission',
    handle(async (req) => {
      if (req.body === undefined || typeof req.body !== 'object' || req.body === null || Array.isArray(req.body)) throw new BadRequestError('body: a JSON object with the rate limit or load shedding fields to change');
      const result = (await parts.admission.change(req.body)) as { change?: { changed?: string[]; after?: unknown } | null } | undefined;
      note('pattern', `gateway admission: ${describeChange(result?.change)}`);
      return result;
    }),
  );
  app.post(
    '/api/policies/reset',
    handle(async () => {
      await parts.policies.reset();
      note('pattern', 'every policy and the gateway admission back to how the lab started');
      return { reset: true };
    }),
  );

  // SLOs and alerts come with the live figures; these are for scripts and the first paint.
  app.get('/api/slos', handle(async () => parts.sampler.latest()?.slos ?? []));

  // Traces and logs of the session.
  app.get('/api/traces', handle((req) => searchTraces(parts.runDir, new URL(req.originalUrl, 'http://console.invalid').searchParams)));
  app.get(
    '/api/traces/:id',
    handle(async (req) => {
      const view = await traceView(parts.runDir, String(req.params.id));
      if (!view) throw Object.assign(new Error(`no trace ${String(req.params.id)} in this session (yet: spans reach the collector within a few seconds)`), { status: 404 });
      return view;
    }),
  );
  app.get('/api/logs', handle((req) => searchLogs(parts.runDir, new URL(req.originalUrl, 'http://console.invalid').searchParams)));
  app.get('/api/logs/tail', (req, res) => {
    void tailLogs(parts.runDir).then((tail) => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
      let busy = false;
      const timer = setInterval(() => {
        if (busy) return;
        busy = true;
        tail
          .read()
          .then(({ records, skipped }) => {
            if (records.length > 0 || skipped > 0) res.write(`data: ${JSON.stringify({ records, skipped })}\n\n`);
          })
          .catch(() => undefined)
          .finally(() => (busy = false));
      }, 1_000);
      req.on('close', () => {
        clearInterval(timer);
        void tail.close();
      });
    });
  });

  // The prebuilt dashboards, drawn from their JSON.
  app.get('/api/dashboards', handle(() => parts.dashboards.list()));
  app.get(
    '/api/dashboards/:uid',
    handle(async (req) => {
      const model = await parts.dashboards.get(String(req.params.uid));
      if (model === undefined) throw Object.assign(new Error(`no dashboard ${String(req.params.uid)}`), { status: 404 });
      return model;
    }),
  );
  app.get(
    '/api/prometheus/query_range',
    handle(async (req) => {
      const q = req.query as Record<string, string | undefined>;
      const expr = text(q.query, 'query');
      const [start, end, step] = ['start', 'end', 'step'].map((name) => {
        const value = Number(q[name]);
        if (!Number.isFinite(value) || value < 0) throw new BadRequestError(`${name}: '${q[name] ?? ''}' is not a number (ms)`);
        return value;
      }) as [number, number, number];
      if (end < start || step < 250 || (end - start) / step > 11_000) throw new BadRequestError('start, end, step: end before start, or more than 11000 points, or a step under 250 ms');
      return parts.dashboards.queryRange(expr, start, end, step);
    }),
  );
  app.get('/api/prometheus/label_values', handle(async (req) => ({ values: await parts.dashboards.labelValues(text((req.query as Record<string, string>).query, 'query')) })));

  // Scenarios, each in a fresh lab of its own (`faultline run`), output streamed to the page.
  app.get('/api/scenarios', handle(async () => ({ scenarios: await parts.scenarios(), runs: scenarioRuns.map(runView) })));
  app.post(
    '/api/scenarios/run',
    handle(async (req) => {
      const body = (req.body ?? {}) as { name?: unknown; timeScale?: unknown };
      const name = text(body.name, 'name');
      const known = await parts.scenarios();
      if (!known.some((s) => s.name === name)) throw new BadRequestError(`name: no scenario '${name}' (see faultline list)`);
      const timeScale = body.timeScale === undefined ? 1 : Number(body.timeScale);
      if (!Number.isFinite(timeScale) || timeScale < 0.1 || timeScale > 10) throw new BadRequestError('timeScale: a number from 0.1 to 10');
      if (scenarioRuns.some((r) => r.exitCode === null)) throw new BadRequestError('a scenario is running: wait for its verdict (two labs at once would be each other’s busy neighbour)');
      const child = spawn(process.execPath, [join(PROJECT_ROOT, 'scripts', 'faultline.js'), 'run', name, '--time-scale', String(timeScale), '--runs-dir', parts.runsDir], {
        cwd: PROJECT_ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const run: ScenarioRun = { id: scenarioRuns.length + 1, name, startedAt: Date.now(), lines: [], exitCode: null, child };
      const collect = (chunk: Buffer) => {
        for (const line of chunk.toString('utf8').split('\n')) {
          if (line === '') continue;
          run.lines.push(line);
          if (/report\.html\s*$/.test(line.trim())) run.reportPath = line.trim().split(/\s+/).at(-1);
        }
        if (run.lines.length > MAX_SCENARIO_LINES) run.lines.splice(0, run.lines.length - MAX_SCENARIO_LINES);
      };
      child.stdout?.on('data', collect);
      child.stderr?.on('data', collect);
      child.on('exit', (code, signal) => {
        run.exitCode = code ?? (signal ? 128 : 1);
        note('scenario', `${name}: ${verdictOf(run)}`);
      });
      scenarioRuns.push(run);
      note('scenario', `${name} started (time scale ${timeScale})`);
      return runView(run);
    }),
  );
  app.get(
    '/api/scenarios/runs/:id',
    handle(async (req) => {
      const run = scenarioRuns.find((r) => r.id === Number(req.params.id));
      if (!run) throw Object.assign(new Error(`no scenario run ${String(req.params.id)}`), { status: 404 });
      return { ...runView(run), lines: run.lines };
    }),
  );
  app.get('/api/scenarios/runs/:id/report', (req, res) => {
    const run = scenarioRuns.find((r) => r.id === Number(req.params.id));
    if (!run?.reportPath) {
      problem(res, 404, 'Not Found', 'this run has no report (yet)');
      return;
    }
    readFile(run.reportPath).then(
      (body) => res.type('html').send(body),
      () => problem(res, 404, 'Not Found', `${run.reportPath ?? ''} is gone`),
    );
  });

  app.use((req: Request, res: Response) => problem(res, 404, 'Not Found', `no route ${req.method} ${req.path}`));
  app.use((error: Error & { status?: number; type?: string }, _req: Request, res: Response, _next: NextFunction) => {
    const status = error.status !== undefined && error.status >= 400 && error.status < 500 ? error.status : 500;
    problem(res, status, status === 500 ? 'Internal Server Error' : 'Bad Request', status === 500 ? 'the console failed to answer' : `body: ${error.message}`);
  });

  const server: Server = createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  const url = `http://${shownHost}:${port}`;
  let closing: Promise<void> | undefined;
  return {
    url,
    openUrl: `${url}/?token=${token}`,
    port,
    changes: () => [...changes],
    close() {
      closing ??= (async () => {
        for (const run of scenarioRuns) if (run.exitCode === null) run.child.kill('SIGINT');
        await Promise.all(scenarioRuns.filter((r) => r.exitCode === null).map((r) => new Promise((resolve) => r.child.once('exit', resolve))));
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
      })();
      return closing;
    },
  };
}

function verdictOf(run: ScenarioRun): string {
  if (run.exitCode === null) return 'running';
  return run.exitCode === 0 ? 'PASS' : run.exitCode === 3 ? 'INCONCLUSIVE' : run.exitCode === 130 ? 'stopped' : 'FAIL';
}

function runView(run: ScenarioRun) {
  return { id: run.id, name: run.name, startedAt: run.startedAt, exitCode: run.exitCode, verdict: verdictOf(run), report: run.reportPath !== undefined, tail: run.lines.slice(-3) };
}
