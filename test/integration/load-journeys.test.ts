// The checkout journey against the real lab through the generic executor
// entry point: a named traffic shape (open model) and a closed model, with
// the generator's own metrics scraped from its /metrics endpoint.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueToken } from '../../demo-services/kit/jwt.ts';
import { executorMaxVUs, parseExecutorConfig, runExecutor } from '../../load/executors/index.ts';
import { createCheckoutJourney } from '../../load/journeys/checkout.ts';
import type { CheckoutJourney } from '../../load/journeys/checkout.ts';
import { createLoadMetrics, startLoadMetricsServer } from '../../load/metrics.ts';
import type { LoadMetricsServer } from '../../load/metrics.ts';
import { createLoadRecorder } from '../../load/recorder.ts';
import { startLab, type Lab } from '../../runner/lab.ts';

let lab: Lab;
let runDir: string;
let metricsServer: LoadMetricsServer | undefined;
const journeys: CheckoutJourney[] = [];

beforeAll(async () => {
  runDir = await mkdtemp(join(tmpdir(), 'faultline-load-journeys-'));
  lab = await startLab({ runDir, services: ['checkout'] });
}, 60_000);

afterAll(async () => {
  await Promise.all(journeys.map((journey) => journey.close()));
  await metricsServer?.close();
  await lab?.stop();
  await rm(runDir, { recursive: true, force: true });
});

async function setUp(config: unknown) {
  const parsed = parseExecutorConfig(config, 'load');
  const tokens = await Promise.all(Array.from({ length: executorMaxVUs(parsed) + 1 }, (_, vu) => issueToken(lab.authSecret, `user-${vu}`)));
  const metrics = createLoadMetrics();
  const recorder = createLoadRecorder();
  const journey = createCheckoutJourney({ gatewayUrl: lab.gatewayUrl, recorder: metrics.tee(recorder), tokenFor: (vu) => tokens[vu] ?? tokens[0]!, seed: 3 });
  journeys.push(journey);
  return { parsed, metrics, recorder, journey };
}

describe('load journeys through runExecutor', () => {
  it('a spike shape of checkouts: every iteration recorded, metrics agree with the recorder', async () => {
    const { parsed, metrics, recorder, journey } = await setUp({
      executor: 'ramping-arrival-rate',
      shape: { name: 'spike', peakRate: 20, duration: '3s' },
      preAllocatedVUs: 5,
      maxVUs: 20,
    });
    metricsServer = await startLoadMetricsServer({ metrics });
    const result = await runExecutor(parsed, metrics.instrumentIteration(journey), metrics.instrumentRuntime({ tickIntervalMs: 100 }));
    // 10 % baseline for 2.4 s and a 20/s spike for ~0.6 s: about 17 arrivals.
    expect(result.planned).toBeGreaterThanOrEqual(14);
    expect(result.planned).toBeLessThanOrEqual(20);
    expect(result).toMatchObject({ dropped: 0, interrupted: 0, failed: 0 });
    const summary = recorder.summary();
    expect(summary.count).toBe(result.started);
    expect(summary.failed).toBe(0);
    const text = await (await fetch(`${metricsServer.url}/metrics`)).text();
    const reqs = text
      .split('\n')
      .filter((line) => line.startsWith('loadgen_http_reqs_total{journey="checkout"'))
      .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
    expect(reqs).toBe(result.started);
    expect(text).toContain(`loadgen_iterations_total ${result.completed}`);
    expect(text).toMatch(/loadgen_vus_max [1-9]/);
  }, 30_000);

  it('constant-vus: 3 users ordering back to back for 2 s', async () => {
    const { parsed, recorder, journey } = await setUp({ executor: 'constant-vus', vus: 3, duration: '2s' });
    const result = await runExecutor(parsed, journey);
    expect(result.maxAllocatedVUs).toBe(3);
    expect(result.failed).toBe(0);
    expect(result.started).toBeGreaterThan(6);
    expect(recorder.summary().count).toBe(result.started);
    expect(recorder.summary().failed).toBe(0);
  }, 30_000);
});
