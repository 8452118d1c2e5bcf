// The generator's metrics: what each feed updates, and the /metrics endpoint
// scraped over a real socket after a short real run.
import { afterEach, describe, expect, it } from 'vitest';
import { LOAD_METRIC } from '../demo-services/kit/conventions.ts';
import { runExecutor } from './executors/index.ts';
import { createHttpClient } from './http-client.ts';
import type { HttpClient } from './http-client.ts';
import { createLoadMetrics, LoadMetricsServerError, startLoadMetricsServer } from './metrics.ts';
import type { LoadMetricsServer } from './metrics.ts';
import { createLoadRecorder } from './recorder.ts';
import { startTestServer } from './test-server.ts';
import type { TestServer } from './test-server.ts';

let metricsServer: LoadMetricsServer | undefined;
let target: TestServer | undefined;
let client: HttpClient | undefined;

afterEach(async () => {
  await client?.close();
  await target?.close();
  await metricsServer?.close();
  metricsServer = target = client = undefined;
});

/** The value of one sample line, e.g. `name{a="b"} 3`. */
function value(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('createLoadMetrics', () => {
  it('counts requests by journey, step and status, and times them from the intended start', async () => {
    const metrics = createLoadMetrics();
    const tags = { journey: 'checkout', step: 'cart' };
    metrics.sink.record({ intendedStartMs: 1_000, sentAtMs: 1_400, endMs: 1_450, status: 200, ok: true, tags });
    metrics.sink.record({ intendedStartMs: 2_000, sentAtMs: 2_000, endMs: 2_010, status: 0, ok: false, errorClass: 'refused', tags });
    metrics.sink.recordDropped(3_000);
    const text = await metrics.render();
    expect(value(text, 'loadgen_http_reqs_total{journey="checkout",step="cart",status="200"}')).toBe(1);
    expect(value(text, 'loadgen_http_reqs_total{journey="checkout",step="cart",status="0"}')).toBe(1);
    // 450 ms from the intended start (not 50 ms from the send) lands above the 0.25 s bucket.
    expect(value(text, 'loadgen_http_req_duration_seconds_bucket{le="0.25",journey="checkout",step="cart"}')).toBe(1);
    expect(value(text, 'loadgen_http_req_duration_seconds_bucket{le="0.5",journey="checkout",step="cart"}')).toBe(2);
    expect(value(text, 'loadgen_http_req_duration_seconds_sum{journey="checkout",step="cart"}')).toBeCloseTo(0.46, 9);
    expect(value(text, 'loadgen_dropped_iterations_total')).toBe(1);
  });

  it('tee forwards to the recorder; instrumentIteration counts failures too; instrumentRuntime keeps the caller onTick', async () => {
    const metrics = createLoadMetrics();
    const recorder = createLoadRecorder();
    const teed = metrics.tee(recorder);
    teed.record({ intendedStartMs: 0, sentAtMs: 0, endMs: 5, status: 204, ok: true, tags: { journey: 'j', step: 's' } });
    teed.recordDropped(10);
    expect(recorder.summary().count).toBe(1);
    expect(recorder.stats().dropped).toBe(1);
    const iteration = metrics.instrumentIteration(async (ctx) => {
      if (ctx.iteration === 1) throw new Error('boom');
    });
    const signal = new AbortController().signal;
    await iteration({ vu: 1, iteration: 0, intendedStartMs: 0, signal });
    await expect(iteration({ vu: 1, iteration: 1, intendedStartMs: 0, signal })).rejects.toThrow('boom');
    const ticks: number[] = [];
    const runtime = metrics.instrumentRuntime({ onTick: (s) => ticks.push(s.inFlight) });
    runtime.onTick?.({ elapsedMs: 0, planned: 0, scheduled: 0, started: 0, completed: 0, failed: 0, dropped: 0, inFlight: 3, allocatedVUs: 7 });
    expect(ticks).toEqual([3]);
    const text = await metrics.render();
    expect(value(text, 'loadgen_iterations_total')).toBe(2);
    expect(value(text, 'loadgen_vus')).toBe(3);
    expect(value(text, 'loadgen_vus_max')).toBe(7);
  });
});

describe('loadgen_target_rate', () => {
  it('is absent until a rate is set, then shows the rate the executor is set to', async () => {
    const metrics = createLoadMetrics();
    expect(await metrics.render()).not.toContain(LOAD_METRIC.targetRate);
    metrics.setTargetRate(25);
    expect(value(await metrics.render(), 'loadgen_target_rate')).toBe(25);
    metrics.setTargetRate(0);
    expect(value(await metrics.render(), 'loadgen_target_rate')).toBe(0);
  });
});

describe('startLoadMetricsServer', () => {
  it('serves the counts of a real run on GET /metrics, 404 elsewhere, 405 for POST', async () => {
    target = await startTestServer((_req, res) => res.writeHead(200).end('ok'));
    const metrics = createLoadMetrics();
    metricsServer = await startLoadMetricsServer({ metrics });
    expect(metricsServer.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const recorder = metrics.tee(createLoadRecorder());
    client = createHttpClient({ recorder });
    const http = client;
    const url = target.url;
    const result = await runExecutor(
      { executor: 'per-vu-iterations', vus: 2, iterations: 5 },
      metrics.instrumentIteration(async (ctx) => {
        await http.request({ url, intendedStartMs: ctx.intendedStartMs, tags: { journey: 'probe', step: 'get' }, signal: ctx.signal });
      }),
      metrics.instrumentRuntime({ tickIntervalMs: 20 }),
    );
    expect(result.completed).toBe(10);
    const response = await fetch(`${metricsServer.url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/plain');
    const text = await response.text();
    expect(value(text, 'loadgen_http_reqs_total{journey="probe",step="get",status="200"}')).toBe(10);
    expect(value(text, 'loadgen_http_req_duration_seconds_count{journey="probe",step="get"}')).toBe(10);
    expect(value(text, 'loadgen_iterations_total')).toBe(10);
    expect((await fetch(`${metricsServer.url}/other`)).status).toBe(404);
    expect((await fetch(`${metricsServer.url}/metrics`, { method: 'POST' })).status).toBe(405);
  });

  it('refuses a non-loopback host and a bad port, naming the field', async () => {
    const metrics = createLoadMetrics();
    await expect(startLoadMetricsServer({ metrics, host: '0.0.0.0' })).rejects.toThrow(LoadMetricsServerError);
    await expect(startLoadMetricsServer({ metrics, host: '0.0.0.0' })).rejects.toThrow(/^host: must be a loopback address/);
    await expect(startLoadMetricsServer({ metrics, port: 70_000 })).rejects.toThrow(/^port: /);
  });
});
