// The embedded collector with capped files, over real sockets: enough OTLP to
// rotate traces.jsonl several times; the readers (readSpans, the `faultline
// traces` listing) still see every span that was kept, in order, and /metrics
// counts what rotation deleted.
import { rm } from 'node:fs/promises';
import { context, trace } from '@opentelemetry/api';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LAB_METRIC } from '../demo-services/kit/conventions.ts';
import { startEmbeddedCollector } from './embedded-collector.ts';
import type { EmbeddedCollector } from './embedded-collector.ts';
import { listRotated } from './rotated-files.ts';
import { createSampleProvider, makeTempDir } from './test-fixtures.ts';
import { readSpans } from './trace-query.ts';
import { listTraces } from './traces-cli.ts';

/** One trace per request: a root span named after the request, with `children` child spans. */
function traceRequest(name: string, children: number): Buffer {
  const { provider, memory } = createSampleProvider();
  const tracer = provider.getTracer('rotation-test');
  const root = tracer.startSpan(name);
  const inRoot = trace.setSpan(context.active(), root);
  for (let i = 0; i < children; i++) tracer.startSpan(`${name}/child-${i}`, {}, inRoot).end();
  root.end();
  return Buffer.from(ProtobufTraceSerializer.serializeRequest(memory.getFinishedSpans()) ?? new Uint8Array());
}

async function metric(httpPort: number, name: string): Promise<number | undefined> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  const match = new RegExp(`^${name}\\{signal="traces"\\} (\\S+)$`, 'm').exec(text);
  return match ? Number(match[1]) : undefined;
}

describe('embedded collector with rotation', () => {
  let runDir: string;
  let collector: EmbeddedCollector | undefined;

  beforeEach(async () => {
    runDir = await makeTempDir('collector-rotation');
  });

  afterEach(async () => {
    await collector?.close();
    collector = undefined;
    await rm(runDir, { recursive: true, force: true });
  });

  it('rotates traces.jsonl, keeps keepFiles rotated files, and readers see exactly the kept spans', async () => {
    collector = await startEmbeddedCollector({ grpcPort: 0, runDir, flushIntervalMs: 10, rotation: { maxFileBytes: 16 * 1024, keepFiles: 2 } });
    const requests = 60;
    for (let i = 0; i < requests; i++) {
      const response = await fetch(`http://127.0.0.1:${collector.otlpHttpPort}/v1/traces`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-protobuf' },
        body: traceRequest(`request-${String(i).padStart(3, '0')}`, 4),
      });
      expect(response.status).toBe(200);
      // One request per write, so the files hold whole requests in order.
      await collector.flush();
    }
    await collector.flush();

    const stats = collector.stats();
    expect(stats.traces).toMatchObject({ received: requests * 5, stored: requests * 5, dropped: 0 });
    expect(stats.rotation.traces.rotations).toBeGreaterThan(3);
    expect(stats.rotation.traces.discardedFiles).toBeGreaterThan(0);
    expect((await listRotated(collector.tracesFile)).map((each) => each.index)).toEqual([1, 2]);

    // Every span is either still on disk or counted as discarded.
    const spans = await readSpans(collector.tracesFile);
    expect(spans.length + stats.rotation.traces.discardedItems).toBe(requests * 5);
    // The kept spans are the newest requests, whole, oldest first.
    const roots = spans.filter((span) => !span.name.includes('/')).map((span) => span.name);
    const first = Number(roots[0]?.split('-')[1]);
    expect(first).toBeGreaterThan(0);
    expect(roots).toEqual(Array.from({ length: requests - first }, (_, i) => `request-${String(first + i).padStart(3, '0')}`));
    expect(spans).toHaveLength(roots.length * 5);

    // `faultline traces` lists from the rotated files too.
    const listing = await listTraces(collector.tracesFile, { attributes: [] }, 1_000);
    expect(listing.matched).toBe(roots.length);
    expect(listing.traces.every((each) => each.spanCount === 5)).toBe(true);

    expect(await metric(collector.httpPort, LAB_METRIC.collectorDiscarded)).toBe(stats.rotation.traces.discardedItems);
    expect(await metric(collector.httpPort, LAB_METRIC.collectorDiscardedFiles)).toBe(stats.rotation.traces.discardedFiles);
    expect(await metric(collector.httpPort, LAB_METRIC.collectorDiscardedBytes)).toBe(stats.rotation.traces.discardedBytes);
    expect(await metric(collector.httpPort, LAB_METRIC.collectorRotations)).toBe(stats.rotation.traces.rotations);
  });

  it('without rotation keeps one file and discards nothing', async () => {
    collector = await startEmbeddedCollector({ grpcPort: 0, runDir, flushIntervalMs: 10 });
    for (let i = 0; i < 20; i++) {
      await fetch(`http://127.0.0.1:${collector.otlpHttpPort}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: traceRequest(`r-${i}`, 4) });
    }
    await collector.flush();
    expect(await listRotated(collector.tracesFile)).toEqual([]);
    expect(await readSpans(collector.tracesFile)).toHaveLength(100);
    expect(await metric(collector.httpPort, LAB_METRIC.collectorDiscarded)).toBe(0);
  });

  it('refuses a rotation config it cannot honour, naming the field', async () => {
    await expect(startEmbeddedCollector({ grpcPort: 0, runDir, rotation: { maxFileBytes: 10, keepFiles: 0 } })).rejects.toThrow(
      /rotation\.maxFileBytes: .*; rotation\.keepFiles: /,
    );
  });
});
