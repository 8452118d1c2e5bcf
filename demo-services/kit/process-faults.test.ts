import { once } from 'node:events';
import { createRequire } from 'node:module';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type expressModule from 'express';
import type { NextFunction, Request, Response } from 'express';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import client from 'prom-client';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { SPAN_ATTR, SPAN_EVENT } from './conventions.ts';
import { ProblemError, sendProblem } from './problem.ts';
import { createProcessFaults, DATA_FAULT_TYPES, isLoopbackAddress, PoisonRequestError, ProcessFaultError } from './process-faults.ts';

const require = createRequire(import.meta.url);
const express = require('express') as typeof expressModule;

function problemOf(action: () => unknown): ProblemError {
  try {
    action();
  } catch (error) {
    if (error instanceof ProblemError) return error;
    throw error;
  }
  throw new Error('expected a ProblemError');
}

describe('isLoopbackAddress', () => {
  it.each([
    ['127.0.0.1', true],
    ['127.4.5.6', true],
    ['::1', true],
    ['::ffff:127.0.0.1', true],
    ['::FFFF:127.0.0.9', true],
    ['10.0.0.1', false],
    ['::ffff:10.0.0.1', false],
    ['192.168.1.20', false],
    ['fe80::1', false],
    ['', false],
    [undefined, false],
  ])('%s is loopback: %s', (address, expected) => {
    expect(isLoopbackAddress(address)).toBe(expected);
  });
});

describe('fault lifecycle (fake timers)', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('burns percent of each slice until its duration ends, then stops and resets the gauge', async () => {
    const registry = new client.Registry<client.OpenMetricsContentType>();
    registry.setContentType(client.Registry.OPENMETRICS_CONTENT_TYPE);
    const spins: number[] = [];
    const faults = createProcessFaults({ target: 'bank-1', registry, spin: (ms) => spins.push(ms) });
    const view = faults.add({ name: 'hot', type: 'cpu_burn', attributes: { percent: 40, slice: '50ms' }, duration: '1s' });
    expect(view).toMatchObject({ name: 'hot', type: 'cpu_burn', attributes: { percent: 40, slice: 50 }, durationMs: 1000 });
    expect(await registry.metrics()).toContain('chaos_fault_active{fault="hot",target="bank-1"} 1');

    vi.advanceTimersByTime(500);
    // 20 ms busy then 30 ms idle per slice; the fake spin takes no time, so a slice every 30 ms here.
    expect(spins.length).toBeGreaterThanOrEqual(16);
    expect(spins.length).toBeLessThanOrEqual(18);
    expect(new Set(spins)).toEqual(new Set([20]));

    vi.advanceTimersByTime(600);
    const after = spins.length;
    expect(faults.list()).toEqual([]);
    vi.advanceTimersByTime(1_000);
    expect(spins.length).toBe(after);
    expect(await registry.metrics()).toContain('chaos_fault_active{fault="hot",target="bank-1"} 0');
  });

  it('blocks once, or every period, for the block length', () => {
    const spins: number[] = [];
    const faults = createProcessFaults({ target: 't', spin: (ms) => spins.push(ms) });
    faults.add({ name: 'once', type: 'event_loop_block', attributes: { block: '300ms' } });
    vi.advanceTimersByTime(5_000);
    expect(spins).toEqual([300]);
    expect(faults.list().map((fault) => fault.name)).toEqual(['once']);
    faults.remove('once');

    spins.length = 0;
    faults.add({ name: 'tick', type: 'event_loop_block', attributes: { block: 100, every: '1s' }, duration: '3500ms' });
    vi.advanceTimersByTime(10_000);
    // At 0, 1 s, 2 s and 3 s; expired at 3.5 s.
    expect(spins).toEqual([100, 100, 100, 100]);
    expect(faults.list()).toEqual([]);
  });

  it('grows retained memory at its rate up to the cap and releases it on removal', () => {
    const collectGarbage = vi.fn();
    const faults = createProcessFaults({ target: 't', spin: () => undefined, collectGarbage });
    faults.add({ name: 'leak', type: 'memory_leak', attributes: { rateMiBPerSecond: 10, capMiB: 25 } });
    vi.advanceTimersByTime(1_000);
    const retained = faults.list()[0]?.retainedBytes ?? 0;
    expect(retained).toBeGreaterThanOrEqual(9 * 1024 * 1024);
    expect(retained).toBeLessThanOrEqual(11 * 1024 * 1024);
    vi.advanceTimersByTime(5_000);
    expect(faults.list()[0]?.retainedBytes).toBe(25 * 1024 * 1024);
    faults.remove('leak');
    expect(faults.list()).toEqual([]);
    expect(collectGarbage).toHaveBeenCalledTimes(1);
  });

  it('removes every fault at once, cancelling their timers', () => {
    const spins: number[] = [];
    const faults = createProcessFaults({ target: 't', spin: (ms) => spins.push(ms) });
    faults.add({ name: 'a', type: 'cpu_burn', attributes: { percent: 10 } });
    faults.add({ name: 'b', type: 'event_loop_block', attributes: { block: 10, every: 100 }, duration: '1m' });
    faults.add({ name: 'c', type: 'concurrency_limit', attributes: { maxInFlight: 1 } });
    faults.removeAll();
    vi.advanceTimersByTime(10_000);
    expect(spins).toEqual([]);
    expect(faults.list()).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('fault requests', () => {
  const faults = createProcessFaults({ target: 't', spin: () => undefined });

  it.each([
    [{ type: 'cpu_burn', attributes: { percent: 10 } }, 'body.name'],
    [{ name: 'bad name!', type: 'cpu_burn', attributes: { percent: 10 } }, 'body.name'],
    [{ name: 'x', type: 'meteor', attributes: {} }, 'body.type'],
    [{ name: 'x', type: 'cpu_burn', attributes: { percent: 0 } }, 'body.attributes.percent'],
    [{ name: 'x', type: 'cpu_burn', attributes: { percent: 150 } }, 'body.attributes.percent'],
    [{ name: 'x', type: 'cpu_burn', attributes: { percent: 50, slice: '2s' } }, 'body.attributes.slice'],
    [{ name: 'x', type: 'event_loop_block', attributes: { block: 'soon' } }, 'body.attributes.block'],
    [{ name: 'x', type: 'event_loop_block', attributes: { block: '5m' } }, 'body.attributes.block'],
    [{ name: 'x', type: 'memory_leak', attributes: { rateMiBPerSecond: 1 } }, 'body.attributes.capMiB'],
    [{ name: 'x', type: 'concurrency_limit', attributes: { maxInFlight: 1.5 } }, 'body.attributes.maxInFlight'],
    [{ name: 'x', type: 'error_rate', attributes: { rate: 0 } }, 'body.attributes.rate'],
    [{ name: 'x', type: 'error_rate', attributes: { rate: 0.5, status: 404 } }, 'body.attributes.status'],
    [{ name: 'x', type: 'concurrency_limit', attributes: { maxInFlight: 1, extra: 1 } }, 'body.attributes'],
    [{ name: 'x', type: 'poison', attributes: {} }, 'body.attributes.path'],
    [{ name: 'x', type: 'poison', attributes: { path: 'products/sku-13' } }, 'body.attributes.path'],
    [{ name: 'x', type: 'concurrency_limit', attributes: { maxInFlight: 1 }, duration: '-1s' }, 'body.duration'],
    [{ name: 'x', type: 'concurrency_limit', attributes: { maxInFlight: 1 }, duration: 0 }, 'body.duration'],
  ])('rejects %j naming %s', (body, field) => {
    const problem = problemOf(() => faults.add(body));
    expect(problem.problem.status).toBe(400);
    expect(problem.problem.detail).toContain(`${field}`);
    expect(faults.list()).toEqual([]);
  });

  it('refuses a duplicate name and an unknown removal with stable codes', () => {
    faults.add({ name: 'dup', type: 'concurrency_limit', attributes: { maxInFlight: 3 } });
    expect(() => faults.add({ name: 'dup', type: 'concurrency_limit', attributes: { maxInFlight: 3 } })).toThrow(expect.objectContaining({ code: 'FAULT_DUPLICATE' }));
    faults.remove('dup');
    expect(() => faults.remove('dup')).toThrow(ProcessFaultError);
    expect(() => faults.remove('dup')).toThrow(expect.objectContaining({ code: 'FAULT_UNKNOWN' }));
  });
});

describe('admin API and concurrency limit (in-process server)', () => {
  let server: Server;
  let base: string;
  let release: () => void = () => undefined;
  const faults = createProcessFaults({ target: 't', spin: () => undefined });

  beforeEach(async () => {
    const app = express();
    app.use(faults.middleware);
    app.get('/healthz', (_req, res) => res.json({ ok: true }));
    app.use(express.json());
    app.use('/admin/faults', faults.router());
    let gate = Promise.resolve();
    app.get('/slow', async (_req, res) => {
      await gate;
      res.json({ ok: true });
    });
    release = () => undefined;
    gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
      if (error instanceof ProblemError) sendProblem(res, error.problem, error.headers);
      else res.status(500).end();
    });
    server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    release();
    faults.removeAll();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('applies, lists, refuses duplicates, deletes, and answers 404 for unknown names', async () => {
    const post = (body: unknown) => fetch(`${base}/admin/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const created = await post({ name: 'lim', type: 'concurrency_limit', attributes: { maxInFlight: 2 } });
    expect(created.status).toBe(201);
    expect((await post({ name: 'lim', type: 'concurrency_limit', attributes: { maxInFlight: 2 } })).status).toBe(409);
    const bad = await post({ name: 'x', type: 'cpu_burn', attributes: {} });
    expect(bad.status).toBe(400);
    expect(bad.headers.get('content-type')).toContain('application/problem+json');
    expect(((await bad.json()) as { detail: string }).detail).toContain('body.attributes.percent');
    const listed = (await (await fetch(`${base}/admin/faults`)).json()) as { faults: Array<{ name: string }> };
    expect(listed.faults.map((fault) => fault.name)).toEqual(['lim']);
    expect((await fetch(`${base}/admin/faults/lim`, { method: 'DELETE' })).status).toBe(204);
    expect((await fetch(`${base}/admin/faults/lim`, { method: 'DELETE' })).status).toBe(404);
  });

  it('answers 503 with Retry-After beyond the limit, exempts health, and frees slots as requests end', async () => {
    const slow = [fetch(`${base}/slow`), fetch(`${base}/slow`)];
    await new Promise((resolve) => setTimeout(resolve, 100));
    // Applied while the two are in flight: they count against it.
    faults.add({ name: 'lim', type: 'concurrency_limit', attributes: { maxInFlight: 2 } });
    const refused = await fetch(`${base}/slow`);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(refused.headers.get('content-type')).toContain('application/problem+json');
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    release();
    expect((await Promise.all(slow)).map((response) => response.status)).toEqual([200, 200]);
    expect((await fetch(`${base}/slow`)).status).toBe(200);
  });

  it('error_rate fails that share of requests with a fault-injected problem, exempts health, and stops when removed', async () => {
    release();
    faults.add({ name: 'bad', type: 'error_rate', attributes: { rate: 1, status: 502 } });
    const failed = await fetch(`${base}/slow`);
    expect(failed.status).toBe(502);
    expect(((await failed.json()) as { type: string }).type).toMatch(/fault-injected$/);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    faults.remove('bad');
    expect((await fetch(`${base}/slow`)).status).toBe(200);
  });
});

describe('not_ready', () => {
  const serve = (faults: ReturnType<typeof createProcessFaults>): unknown => {
    let failed: unknown;
    faults.middleware({ path: '/x' } as Request, { on: () => undefined } as unknown as Response, (error?: unknown) => (failed = error));
    return failed instanceof ProblemError ? failed.problem.type : 'served';
  };

  it('fails readiness at once and requests only after failAfter, and is ready again when removed', () => {
    vi.useFakeTimers();
    try {
      const faults = createProcessFaults({ target: 't', spin: () => undefined });
      expect(faults.ready()).toBe(true);
      faults.add({ name: 'drain', type: 'not_ready', attributes: { failAfter: '3s' } });
      expect(faults.ready()).toBe(false);
      expect(serve(faults)).toBe('served');
      vi.advanceTimersByTime(3_000);
      expect(serve(faults)).toMatch(/not-ready$/);
      faults.remove('drain');
      expect(faults.ready()).toBe(true);
      expect(serve(faults)).toBe('served');
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('poison', () => {
  it('crashes on a read of its path only, never answering it, and is data that outlives the process', async () => {
    const crashes: Error[] = [];
    const faults = createProcessFaults({ target: 't', spin: () => undefined, crash: (error) => void crashes.push(error) });
    faults.add({ name: 'bad-record', type: 'poison', attributes: { path: '/products/sku-13' } });
    const app = express();
    app.use(faults.middleware);
    app.get('/healthz', (_req, res) => res.json({ ok: true }));
    app.get('/products/:sku', (req, res) => res.json({ sku: req.params.sku }));
    // The crash the test stands in for: every connection of the process cut at once.
    const server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      expect((await fetch(`${base}/products/sku-12`)).status).toBe(200);
      const poisoned = fetch(`${base}/products/sku-13`);
      await vi.waitFor(() => expect(crashes).toHaveLength(1));
      server.closeAllConnections();
      await expect(poisoned).rejects.toThrow();
      expect(crashes[0]).toBeInstanceOf(PoisonRequestError);
      expect(crashes[0]?.message).toContain('/products/sku-13');
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      faults.remove('bad-record');
      expect((await fetch(`${base}/products/sku-13`)).status).toBe(200);
      expect(crashes).toHaveLength(1);
      expect(DATA_FAULT_TYPES.has('poison')).toBe(true);
      expect(DATA_FAULT_TYPES.has('memory_leak')).toBe(false);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('request_block', () => {
  it('blocks the loop for its length on every request it touches, before the handler, never for health, and stops when removed', () => {
    const blocks: number[] = [];
    const faults = createProcessFaults({ target: 't', spin: () => undefined, block: (ms) => blocks.push(ms) });
    faults.add({ name: 'sync-call', type: 'request_block', attributes: { block: '80ms' } });
    const serve = (path: string): string => {
      let passed = 'not called';
      faults.middleware({ path } as Request, { on: () => undefined } as unknown as Response, (error?: unknown) => (passed = error === undefined ? `served after ${blocks.length}` : 'failed'));
      return passed;
    };
    expect(serve('/checkout')).toBe('served after 1');
    expect(serve('/checkout')).toBe('served after 2');
    expect(serve('/healthz')).toBe('served after 2');
    expect(blocks).toEqual([80, 80]);
    faults.remove('sync-call');
    expect(serve('/checkout')).toBe('served after 2');
  });

  it('refuses a block of nothing or over a second, naming the field', () => {
    const faults = createProcessFaults({ target: 't', spin: () => undefined });
    expect(() => faults.add({ name: 'x', type: 'request_block', attributes: { block: 0 } })).toThrow(ProblemError);
    expect(problemOf(() => faults.add({ name: 'x', type: 'request_block', attributes: { block: '2s' } })).problem.detail).toMatch(/attributes\.block/);
  });
});

describe('error_rate draws', () => {
  it('fails the requests whose draw falls under the rate, and no others', async () => {
    const draws = [0.1, 0.9, 0.49, 0.5];
    const faults = createProcessFaults({ target: 't', spin: () => undefined, random: () => draws.shift() ?? 1 });
    faults.add({ name: 'half', type: 'error_rate', attributes: { rate: 0.5 } });
    const outcomes = [1, 2, 3, 4].map(() => {
      let failed: unknown;
      faults.middleware({ path: '/x' } as Request, { on: () => undefined } as unknown as Response, (error?: unknown) => (failed = error));
      return failed instanceof ProblemError ? failed.problem.status : 'ok';
    });
    expect(outcomes).toEqual([500, 'ok', 500, 'ok']);
    faults.removeAll();
  });
});

describe('span marking', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  const tracer = provider.getTracer('process-faults-test');
  beforeAll(() => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  });
  afterAll(async () => {
    context.disable();
    await provider.shutdown();
  });

  it('adds a fault.injected event per active fault to requests it touches, none to health checks', async () => {
    const faults = createProcessFaults({ target: 't', spin: () => undefined });
    faults.add({ name: 'lim', type: 'concurrency_limit', attributes: { maxInFlight: 10 } });
    const run = (path: string): void => {
      const span = tracer.startSpan(path);
      context.with(trace.setSpan(context.active(), span), () => {
        const res = { on: () => res } as unknown as Response;
        faults.middleware({ path } as Request, res, () => undefined);
      });
      span.end();
    };
    run('/charges');
    run('/healthz');
    faults.removeAll();
    run('/refunds');
    await provider.forceFlush();
    const events = Object.fromEntries(exporter.getFinishedSpans().map((span) => [span.name, span.events]));
    expect(events['/charges']).toEqual([
      expect.objectContaining({ name: SPAN_EVENT.faultInjected, attributes: { [SPAN_ATTR.faultName]: 'lim', [SPAN_ATTR.faultType]: 'concurrency_limit' } }),
    ]);
    expect(events['/healthz']).toEqual([]);
    expect(events['/refunds']).toEqual([]);
  });
});

describe('worker_pool (in-process server)', () => {
  let server: Server;
  let base: string;
  const faults = createProcessFaults({ target: 't', spin: () => undefined });

  beforeAll(async () => {
    const app = express();
    app.use(faults.middleware);
    app.get('/healthz', (_req, res) => res.json({ ok: true }));
    app.get('/read', (_req, res) => res.json({ at: performance.now() }));
    server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(() => faults.removeAll());
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const timed = async (path: string, signal?: AbortSignal): Promise<number> => {
    const started = performance.now();
    const response = await fetch(`${base}${path}`, signal ? { signal } : {});
    await response.arrayBuffer();
    expect(response.status).toBe(200);
    return performance.now() - started;
  };

  it('serves `workers` requests at once, each after its service time, queues the rest, and exempts health', async () => {
    faults.add({ name: 'pool', type: 'worker_pool', attributes: { workers: 1, serviceTime: '100ms' } });
    const [health, ...reads] = await Promise.all([timed('/healthz'), timed('/read'), timed('/read'), timed('/read')]);
    // One at a time: about 100, 200 and 300 ms (tolerance bands, not exact times); health waits for none.
    const sorted = reads.sort((a, b) => a - b);
    expect(health).toBeLessThan(sorted[0] as number);
    expect(sorted[0]).toBeGreaterThanOrEqual(95);
    expect(sorted[1]).toBeGreaterThanOrEqual(190);
    expect(sorted[2]).toBeGreaterThanOrEqual(285);
  });

  it('drops a request whose client left while it waited, so the next one does not wait for it', async () => {
    faults.add({ name: 'pool', type: 'worker_pool', attributes: { workers: 1, serviceTime: '150ms' } });
    const first = timed('/read');
    const gone = fetch(`${base}/read`, { signal: AbortSignal.timeout(50) }).catch((error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 80));
    const third = timed('/read');
    expect(await first).toBeGreaterThanOrEqual(140);
    expect(await gone).toBeInstanceOf(Error);
    // Queued behind the first only: about 300 ms from the start, not 450.
    expect(await third).toBeLessThan(420);
  });

  it('lets the queue through at once when removed', async () => {
    faults.add({ name: 'pool', type: 'worker_pool', attributes: { workers: 1, serviceTime: '5s' } });
    const reads = Promise.all([timed('/read'), timed('/read')]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    faults.remove('pool');
    expect(Math.max(...(await reads))).toBeLessThan(1_000);
  });

  it('refuses a pool of no workers or no service time, naming the field', () => {
    expect(problemOf(() => faults.add({ name: 'x', type: 'worker_pool', attributes: { workers: 0, serviceTime: '1s' } })).problem.detail).toContain('body.attributes.workers');
    expect(problemOf(() => faults.add({ name: 'x', type: 'worker_pool', attributes: { workers: 2, serviceTime: 0 } })).problem.detail).toContain('body.attributes.serviceTime');
  });
});
