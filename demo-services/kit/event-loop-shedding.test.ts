import { once } from 'node:events';
import { createRequire } from 'node:module';
import type { Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import type expressModule from 'express';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createEventLoopShedding, eventLoopSheddingSchema, monitorEventLoopDelay, type EventLoopDelayMonitor } from './event-loop-shedding.ts';
import { createLogger } from './logger.ts';
import { useProblemHandlers } from './problem.ts';
import { blockFor, runQueueWaitMs } from './thread-time.ts';

const require = createRequire(import.meta.url);
const express = require('express') as typeof expressModule;

describe('eventLoopSheddingSchema', () => {
  it('fills the defaults and reads durations', () => {
    expect(eventLoopSheddingSchema.parse({})).toEqual({ enabled: true, maxDelay: 100, maxStall: 1_000, window: 100, retryAfter: 1_000 });
    expect(eventLoopSheddingSchema.parse({ maxDelay: '50ms', retryAfter: '2s' })).toMatchObject({ maxDelay: 50, retryAfter: 2_000 });
  });

  it('names every bad field', () => {
    const result = eventLoopSheddingSchema.safeParse({ maxDelay: '0ms', retryAfter: 'soon', extra: 1 });
    expect(result.success).toBe(false);
    const paths = result.error?.issues.map((issue) => issue.path.join('.') || issue.message) ?? [];
    expect(paths).toEqual(expect.arrayContaining(['maxDelay', 'retryAfter']));
    expect(JSON.stringify(result.error?.issues)).toMatch(/extra/);
  });
});

describe('monitorEventLoopDelay (fake time)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('reports how late the last tick ran, and the lateness of a tick due and not yet run', () => {
    vi.useFakeTimers();
    let clock = 0;
    // The thread never waits for a CPU: every delay is its own.
    const monitor = monitorEventLoopDelay({ intervalMs: 10, now: () => clock, waited: () => 0 });
    expect(monitor.delay()).toBe(0);
    // On time: the tick at 10 finds nothing late.
    clock = 10;
    vi.advanceTimersByTime(10);
    expect(monitor.delay()).toBe(0);
    // A 70 ms stall: the tick due at 20 is still waiting at 90...
    clock = 90;
    expect(monitor.delay()).toBe(70);
    // ...and when it runs, it says how late it was until the next one.
    vi.advanceTimersByTime(10);
    expect(monitor.delay()).toBe(70);
    clock = 100;
    vi.advanceTimersByTime(10);
    expect(monitor.delay()).toBe(0);
    monitor.stop();
  });

  it('judges the worst delay of the last window, so one over the limit refuses for that long', () => {
    vi.useFakeTimers();
    let clock = 0;
    const monitor = monitorEventLoopDelay({ intervalMs: 10, windowMs: 100, now: () => clock, waited: () => 0 });
    clock = 90;
    vi.advanceTimersByTime(10);
    expect(monitor.delay()).toBe(80);
    // On time again, but within the window of the stall.
    for (let at = 100; at <= 190; at += 10) {
      clock = at;
      vi.advanceTimersByTime(10);
    }
    expect(monitor.delay()).toBe(80);
    expect(monitor.stall()).toBe(80);
    clock = 200;
    vi.advanceTimersByTime(10);
    expect(monitor.delay()).toBe(0);
    expect(monitor.stall()).toBe(0);
    monitor.stop();
  });

  it('counts a delay less the time the thread waited for a CPU in it, though all of it is a stall', () => {
    vi.useFakeTimers();
    let clock = 0;
    let waited = 0;
    const monitor = monitorEventLoopDelay({ intervalMs: 10, now: () => clock, waited: () => waited });
    clock = 10;
    vi.advanceTimersByTime(10);
    // 80 ms late, 75 of them waiting for a CPU: a busy neighbour, not its own work; a stall all the same.
    clock = 100;
    waited = 75;
    expect(monitor.delay()).toBe(5);
    expect(monitor.stall()).toBe(80);
    vi.advanceTimersByTime(10);
    expect(monitor.delay()).toBe(5);
    expect(monitor.stall()).toBe(80);
    // 80 ms late again, never waiting: all its own.
    clock = 190;
    expect(monitor.delay()).toBe(80);
    monitor.stop();
  });
});

describe('thread time', () => {
  it('blockFor holds the thread for its length without using a CPU; the run-queue wait only grows', () => {
    const cpu = process.threadCpuUsage();
    const started = performance.now();
    const waited = runQueueWaitMs();
    blockFor(60);
    expect(performance.now() - started).toBeGreaterThanOrEqual(59);
    const used = process.threadCpuUsage(cpu);
    expect((used.user + used.system) / 1_000).toBeLessThan(30);
    expect(runQueueWaitMs()).toBeGreaterThanOrEqual(waited);
  });
});

describe('createEventLoopShedding', () => {
  const fixed = (ms: number, stall = ms): EventLoopDelayMonitor => ({ delay: () => ms, stall: () => stall, stop: () => undefined });
  const policy = eventLoopSheddingSchema.parse({ maxDelay: '50ms', maxStall: '500ms', retryAfter: '1500ms' });
  const exempt = (path: string) => path === '/healthz';

  const run = (shedding: ReturnType<typeof createEventLoopShedding>, path: string): unknown => {
    let passed: unknown = 'not called';
    shedding.middleware({ path } as never, {} as never, (error?: unknown) => {
      passed = error;
    });
    return passed;
  };

  it('admits while the loop is within the limit', () => {
    const onShed = vi.fn();
    expect(run(createEventLoopShedding({ policy, exempt, monitor: fixed(50), onShed }), '/checkout')).toBeUndefined();
    expect(onShed).not.toHaveBeenCalled();
  });

  it('refuses with 503 overloaded and Retry-After in whole seconds while the loop is later than the limit', () => {
    const onShed = vi.fn();
    const error = run(createEventLoopShedding({ policy, exempt, monitor: fixed(51), onShed }), '/checkout') as { problem: { status: number; type: string; detail: string }; headers: Record<string, string> };
    expect(error.problem).toMatchObject({ status: 503, type: 'https://faultline.dev/problems/overloaded' });
    expect(error.problem.detail).toMatch(/51 ms late through its own work, over the 50 ms limit/);
    expect(error.headers).toEqual({ 'retry-after': '2' });
    expect(onShed).toHaveBeenCalledWith(51, 51);
  });

  it('refuses a stall over maxStall whatever its cause, and admits a longer one the thread did not cause below it', () => {
    const stalled = run(createEventLoopShedding({ policy, exempt, monitor: fixed(5, 501) }), '/checkout') as { problem: { detail: string } };
    expect(stalled.problem.detail).toMatch(/501 ms late, over the 500 ms limit/);
    expect(run(createEventLoopShedding({ policy, exempt, monitor: fixed(5, 500) }), '/checkout')).toBeUndefined();
  });

  it('never refuses exempt paths, nor anything when switched off', () => {
    expect(run(createEventLoopShedding({ policy, exempt, monitor: fixed(500) }), '/healthz')).toBeUndefined();
    expect(run(createEventLoopShedding({ policy: { ...policy, enabled: false }, exempt, monitor: fixed(500) }), '/checkout')).toBeUndefined();
  });
});

describe('event-loop shedding in a server (real sockets)', () => {
  let server: Server | undefined;
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    server = undefined;
  });

  it('refuses a request that arrived while a hot request held the loop, and admits again once it is free', async () => {
    const shedding = createEventLoopShedding({ policy: eventLoopSheddingSchema.parse({ maxDelay: '150ms' }), exempt: () => false });
    const app = express();
    app.use(shedding.middleware);
    const hooks: { duringHot?: () => void } = {};
    // A request that holds the loop 400 ms, as request_block does (far over the limit, so a busy
    // machine's own delays cannot decide the test). The other request is already in
    // the kernel's buffers when the spin starts, so the loop reads it only afterwards.
    app.get('/hot', (_req, res) => {
      hooks.duringHot?.();
      blockFor(400);
      res.json({ ok: true });
    });
    app.get('/cheap', (_req, res) => {
      res.json({ ok: true });
    });
    useProblemHandlers(app, createLogger('test', 'test', 'silent'));
    server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as AddressInfo).port;
    const base = `http://127.0.0.1:${port}`;
    // fetch's first call loads undici, which holds the loop a while: warm it, then let the sampler settle.
    await fetch(`${base}/cheap`).then((response) => response.arrayBuffer());
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect((await fetch(`${base}/cheap`)).status).toBe(200);

    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    const ended = once(socket, 'end');
    hooks.duringHot = () => socket.write('GET /cheap HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n');
    expect((await fetch(`${base}/hot`)).status).toBe(200);
    await ended;
    const answer = Buffer.concat(chunks).toString('utf8');
    expect(answer).toMatch(/^HTTP\/1\.1 503 /);
    expect(answer).toMatch(/retry-after: 1\r\n/i);
    expect(answer).toContain('https://faultline.dev/problems/overloaded');

    // Once the window (100 ms) has passed, the loop is on time again.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await fetch(`${base}/cheap`)).status).toBe(200);
    shedding.stop();
  });
});
