// Forwarding to an upstream OTLP endpoint: a second embedded collector stands
// in for the upstream, reached over OTLP/HTTP protobuf and over OTLP/gRPC, and
// must end up with what the first one accepted; an upstream that fails makes
// forward failures that are counted, never errors for the sender.
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { rm } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { LAB_METRIC } from '../demo-services/kit/conventions.ts';
import { startEmbeddedCollector } from './embedded-collector.ts';
import type { EmbeddedCollector } from './embedded-collector.ts';
import { makeTempDir } from './test-fixtures.ts';
import { readSpans } from './trace-query.ts';

const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';

function tracesBody(names: string[]): string {
  const spans = names.map((name, i) => ({
    traceId: TRACE_ID,
    spanId: `b7ad6b716920333${i}`,
    name,
    startTimeUnixNano: '1700000000000000000',
    endTimeUnixNano: '1700000000500000000',
  }));
  return JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans }] }] });
}

const logsBody = JSON.stringify({ resourceLogs: [{ scopeLogs: [{ logRecords: [{ body: { stringValue: 'forwarded' }, traceId: TRACE_ID }] }] }] });

async function post(collector: EmbeddedCollector, path: string, body: string): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${collector.otlpHttpPort}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  await response.arrayBuffer();
  return response.status;
}

describe('forwarding to an upstream OTLP endpoint', () => {
  const dirs: string[] = [];
  const collectors: EmbeddedCollector[] = [];
  let failing: Server | undefined;
  const start = async (options: Partial<Parameters<typeof startEmbeddedCollector>[0]> = {}): Promise<EmbeddedCollector> => {
    const runDir = await makeTempDir('forward');
    dirs.push(runDir);
    const collector = await startEmbeddedCollector({ grpcPort: 0, runDir, flushIntervalMs: 20, ...options });
    collectors.push(collector);
    return collector;
  };

  afterEach(async () => {
    await Promise.all(collectors.splice(0).map((collector) => collector.close()));
    await new Promise<void>((resolve) => (failing ? failing.close(() => resolve()) : resolve()));
    failing = undefined;
    await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
  });

  for (const protocol of ['http/protobuf', 'grpc'] as const) {
    it(`sends every accepted span and log record upstream over ${protocol}`, async () => {
      const upstream = await start();
      const port = protocol === 'grpc' ? upstream.grpcPort : upstream.otlpHttpPort;
      const local = await start({ forward: { endpoint: `http://127.0.0.1:${port}`, protocol } });
      expect(await post(local, '/v1/traces', tracesBody(['a', 'b']))).toBe(200);
      expect(await post(local, '/v1/logs', logsBody)).toBe(200);
      await local.close();
      expect(local.stats()).toMatchObject({ traces: { forwarded: 2, forwardFailed: 0 }, logs: { forwarded: 1, forwardFailed: 0 } });
      await upstream.flush();
      const spans = await readSpans(upstream.tracesFile);
      expect(spans.map((span) => [span.traceId, span.name]).sort()).toEqual([
        [TRACE_ID, 'a'],
        [TRACE_ID, 'b'],
      ]);
      expect(upstream.stats().logs).toMatchObject({ received: 1, stored: 1 });
    });
  }

  it('counts what a failing upstream did not take, and still stores it locally', async () => {
    failing = createServer((_request, response) => response.writeHead(500).end());
    await new Promise<void>((resolve) => failing?.listen(0, '127.0.0.1', () => resolve()));
    const port = (failing.address() as AddressInfo).port;
    const local = await start({ forward: { endpoint: `http://127.0.0.1:${port}`, protocol: 'http/protobuf' } });
    expect(await post(local, '/v1/traces', tracesBody(['a', 'b', 'c']))).toBe(200);
    await local.flush();
    await expect.poll(() => local.stats().traces.forwardFailed).toBe(3);
    const metrics = await (await fetch(`http://127.0.0.1:${local.httpPort}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`^${LAB_METRIC.collectorForwardFailed}\\{signal="traces"\\} 3$`, 'm'));
    expect(local.stats().traces).toMatchObject({ received: 3, stored: 3, forwarded: 0 });
  });
});
