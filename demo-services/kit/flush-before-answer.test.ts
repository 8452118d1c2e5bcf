// Telemetry in the request path: an answer leaves only once the flush of its
// trace has settled, also when the flush fails. A real express server on port 0.

import { createRequire } from 'node:module';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type expressModule from 'express';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { flushBeforeAnswer } from './flush-before-answer.ts';

const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const contextManager = new AsyncLocalStorageContextManager();
beforeAll(() => void context.setGlobalContextManager(contextManager.enable()));
afterAll(() => {
  contextManager.disable();
  context.disable();
});

const require = createRequire(import.meta.url);
const express = require('express') as typeof expressModule;

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
});

async function serve(flush: (traceId: string) => Promise<void>): Promise<string> {
  const app = express();
  // As http-tracing.ts does: each request runs in its server span's context (here one trace for all).
  app.use((_req, _res, next) => context.with(trace.setSpanContext(context.active(), { traceId: TRACE_ID, spanId: 'b7ad6b7169203331', traceFlags: 1 }), next));
  app.get('/healthz', (_req, res) => void res.json({ status: 'alive' }));
  app.use(flushBeforeAnswer(flush));
  app.get('/api/products', (_req, res) => void res.json({ products: [] }));
  app.get('/api/missing', (_req, res) => void res.status(404).type('application/problem+json').send('{"status":404}'));
  const server = app.listen(0, '127.0.0.1');
  servers.push(server);
  await new Promise((resolve) => server.once('listening', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A flush that settles when the test says so. */
function gatedFlush(): { flush: (traceId: string) => Promise<void>; calls: () => number; traces: string[]; release(error?: Error): void } {
  let calls = 0;
  const traces: string[] = [];
  const waiting: Array<(error?: Error) => void> = [];
  return {
    traces,
    flush: (traceId) => {
      calls += 1;
      traces.push(traceId);
      return new Promise<void>((resolve, reject) => waiting.push((error) => (error ? reject(error) : resolve())));
    },
    calls: () => calls,
    release: (error) => waiting.splice(0).forEach((settle) => settle(error)),
  };
}

describe('flushBeforeAnswer', () => {
  it('holds the answer until the flush has settled', async () => {
    const gate = gatedFlush();
    const url = await serve(gate.flush);
    let answered = false;
    const response = fetch(`${url}/api/products`).then((r) => {
      answered = true;
      return r;
    });
    while (gate.calls() === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(answered).toBe(false);
    gate.release();
    const answer = await response;
    expect(answer.status).toBe(200);
    expect(await answer.json()).toEqual({ products: [] });
    // The request's own trace is what it waited for.
    expect(gate.traces).toEqual([TRACE_ID]);
  });

  it('answers when the flush fails, with the answer the route gave', async () => {
    const gate = gatedFlush();
    const url = await serve(gate.flush);
    const response = fetch(`${url}/api/missing`);
    while (gate.calls() === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    gate.release(new Error('collector frozen'));
    const answer = await response;
    expect(answer.status).toBe(404);
    expect(await answer.text()).toBe('{"status":404}');
  });

  it('leaves routes before it alone (probes, /metrics)', async () => {
    const gate = gatedFlush();
    const url = await serve(gate.flush);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    expect(gate.calls()).toBe(0);
  });
});
