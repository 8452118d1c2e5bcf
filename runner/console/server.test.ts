// The console's HTTP layer on a real listener (127.0.0.1, port 0): the guard
// in front of every route, input errors as 4xx problems naming the field, the
// fault board and game day behind the routes (over a fault target that
// records what it is asked), one live reading shared by every stream, and a
// close that ends open streams.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FaultSpec } from '../scenario.ts';
import { createFaultBoard } from './fault-board.ts';
import { createGameDay, type GameDay } from './game-day.ts';
import { createLiveSampler, type LiveFigures } from './live-state.ts';
import { startConsoleServer, type ConsoleParts, type ConsoleServer } from './server.ts';

const TOKEN = 't'.repeat(32);

describe('the console server', () => {
  let dir: string;
  let server: ConsoleServer;
  let applied: string[];
  let readings: number;
  let loadRate: number;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'console-server-'));
    applied = [];
    readings = 0;
    loadRate = 0;
    const board = createFaultBoard({
      target: {
        apply: async (fault: FaultSpec) => void applied.push(`apply ${fault.name}`),
        remove: async (fault: FaultSpec) => void applied.push(`remove ${fault.name}`),
      },
      logFile: join(dir, 'faults.jsonl'),
      startedAt: Date.now(),
    });
    let gameDay: GameDay | undefined;
    const sampler = createLiveSampler(async () => {
      readings++;
      return { timeMs: Date.now(), monitoring: false, services: [], edges: [], slos: [], alerts: [], notifications: [] } satisfies LiveFigures;
    }, 50);
    const parts: ConsoleParts = {
      runDir: dir,
      runsDir: dir,
      sampler,
      describe: async () => ({ session: dir }),
      faults: {
        state: async () => ({ active: board.active().map((f) => ({ name: f.name, target: f.target })) }),
        apply: (preset, target) => board.apply(preset, target),
        remove: (name) => board.remove(name),
        resetAll: async () => void (await board.resetAll()),
      },
      gameDay: {
        async start(input) {
          gameDay = createGameDay(input, { board });
          gameDay.start();
          return gameDay.state();
        },
        stop: async () => void (await gameDay?.stop()),
        state: () => gameDay?.state() ?? { running: false },
      },
      load: {
        state: () => ({ rate: loadRate }),
        async set(input) {
          if (typeof input.rate !== 'number' || input.rate < 0) throw Object.assign(new Error(`rate: must be a number >= 0 (got ${JSON.stringify(input.rate)})`), { code: 'FL_BAD_OPTION' });
          loadRate = input.rate;
          return { rate: loadRate };
        },
      },
      policies: { list: async () => ({ policies: [] }), change: async () => ({ change: null }), reset: async () => undefined },
      admission: {
        get: async () => ({ admission: { rateLimit: { enabled: true } } }),
        change: async (patch) => ({ change: { changed: ['rateLimit.enabled'], after: patch } }),
      },
      dashboards: { list: async () => ({ dashboards: [] }), get: async () => undefined, queryRange: async () => ({ series: [] }), labelValues: async () => [] },
      scenarios: async () => [{ name: 'payment-outage', description: 'the bank fails' }],
    };
    server = await startConsoleServer({ port: 0, token: TOKEN, parts });
  });
  afterEach(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    fetch(`${server.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
  const detail = async (response: Response) => ((await response.json()) as { detail: string }).detail;

  it('binds loopback, prints a URL with the token, and answers nothing without it', async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(server.openUrl).toBe(`${server.url}/?token=${TOKEN}`);
    const refused = await fetch(`${server.url}/api/faults`);
    expect(refused.status).toBe(401);
    expect(refused.headers.get('content-type')).toMatch(/problem\+json/);
    const page = await fetch(server.openUrl, { redirect: 'manual' });
    expect(page.status).toBe(303);
    expect(page.headers.get('set-cookie')).toMatch(/^faultline_console=t+; Path=\/; HttpOnly; SameSite=Strict$/);
  });

  it('applies and removes a preset, and says what is wrong with bad input', async () => {
    const applyOne = await call('POST', '/api/faults', { preset: 'errors-100', target: 'payment->bank' });
    expect(applyOne.status).toBe(200);
    const { name } = (await applyOne.json()) as { name: string };
    expect(applied).toEqual([`apply ${name}`]);
    expect(((await (await call('GET', '/api/faults')).json()) as { active: unknown[] }).active).toHaveLength(1);
    expect((await call('DELETE', `/api/faults/${name}`)).status).toBe(200);
    expect(applied).toEqual([`apply ${name}`, `remove ${name}`]);

    const missing = await call('POST', '/api/faults', { target: 'payment->bank' });
    expect(missing.status).toBe(400);
    expect(await detail(missing)).toMatch(/^preset: required/);
    const unknown = await call('POST', '/api/faults', { preset: 'meteor', target: 'payment->bank' });
    expect(unknown.status).toBe(400);
    expect(await detail(unknown)).toMatch(/no preset 'meteor'/);
    const broken = await call('POST', '/api/faults', '{"preset":');
    expect(broken.status).toBe(400);
    expect(await detail(broken)).toMatch(/^body: /);
    expect((await call('DELETE', '/api/faults/console-nothing-1')).status).toBe(404);
    expect((await call('POST', '/api/load', { rate: -3 })).status).toBe(400);
    expect(await detail(await call('POST', '/api/load', {}))).toMatch(/rate .* or mix/);
    expect((await call('GET', '/api/traces?status=maybe')).status).toBe(400);
    expect((await call('GET', '/api/nothing')).status).toBe(404);
    const run = await call('POST', '/api/scenarios/run', { name: 'no-such-scenario' });
    expect(run.status).toBe(400);
    expect(await detail(run)).toMatch(/no scenario 'no-such-scenario'/);
    expect((await call('POST', '/api/scenarios/run', { name: 'payment-outage', timeScale: 99 })).status).toBe(400);
  });

  it("changes the gateway's admission, marks the change, and refuses a body that is not an object", async () => {
    const changed = await call('PATCH', '/api/admission', { rateLimit: { enabled: false } });
    expect(changed.status).toBe(200);
    expect((await call('PATCH', '/api/admission', [1])).status).toBe(400);
    const foreign = await call('PATCH', '/api/admission', { rateLimit: { enabled: false } }, { origin: 'https://evil.example' });
    expect(foreign.status).toBe(403);
    const changes = ((await (await call('GET', '/api/changes')).json()) as { changes: Array<{ kind: string; text: string }> }).changes;
    expect(changes).toEqual([expect.objectContaining({ kind: 'pattern', text: 'gateway admission: rateLimit.enabled=false' })]);
  });

  it('starts a game day, refuses a bad one naming the field, and stops it', async () => {
    const bad = await call('POST', '/api/game-day', { seed: 1.5, presets: [], meanInterval: 10 });
    expect(bad.status).toBe(400);
    expect(await detail(bad)).toMatch(/seed/);
    const started = await call('POST', '/api/game-day', { seed: 7, presets: ['errors-10'], meanInterval: '60s', faultDuration: { min: '10s', max: '20s' } });
    expect(started.status).toBe(200);
    expect(((await (await call('GET', '/api/game-day')).json()) as { running: boolean }).running).toBe(true);
    expect((await call('DELETE', '/api/game-day')).status).toBe(200);
    expect(((await (await call('GET', '/api/game-day')).json()) as { running: boolean }).running).toBe(false);
    const changes = ((await (await call('GET', '/api/changes')).json()) as { changes: Array<{ text: string }> }).changes.map((c) => c.text);
    expect(changes).toEqual(['game day started (seed 7)', 'game day stopped, its faults removed']);
  });

  it('streams the same readings to every open stream, and close() ends them', async () => {
    const streams = await Promise.all(Array.from({ length: 3 }, () => call('GET', '/api/live')));
    const firstEvents = await Promise.all(
      streams.map(async (response) => {
        expect(response.headers.get('content-type')).toBe('text/event-stream');
        const reader = (response.body as ReadableStream<Uint8Array>).getReader();
        let text = '';
        while (!text.includes('data: ')) text += new TextDecoder().decode((await reader.read()).value);
        return reader;
      }),
    );
    // Three streams, one sampler: readings are shared, not tripled.
    const before = readings;
    const from = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 300));
    // A reading every 50 ms at most, however many streams and however late the timer woke: never three per tick.
    expect(readings - before).toBeLessThanOrEqual(Math.ceil((performance.now() - from) / 50) + 1);
    await server.close();
    // Each stream ends: cleanly, or cut off with the connection (undici says "terminated").
    for (const reader of firstEvents) {
      const ended = await (async () => {
        for (;;) if ((await reader.read()).done) return 'done';
      })().catch((error: unknown) => (error as Error).message);
      expect(['done', 'terminated']).toContain(ended);
    }
  });
});
