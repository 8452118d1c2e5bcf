// The load journeys against the real lab through the generic executor entry
// point: a weighted mix of every journey (each step on its real route, tagged,
// weights kept, the gateway's routes seen in the collected traces), and the
// checkout journey under a named traffic shape (open model) and a closed
// model, with the generator's own metrics scraped from its /metrics endpoint.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueToken } from '../../demo-services/kit/jwt.ts';
import { executorMaxVUs, parseExecutorConfig, runExecutor } from '../../load/executors/index.ts';
import { readSpans } from '../../collector/trace-query.ts';
import { createCheckoutJourney } from '../../load/journeys/checkout.ts';
import { JOURNEY_NAMES, JOURNEYS } from '../../load/journeys/definitions.ts';
import { createJourneyMix, journeyServices } from '../../load/journeys/mix.ts';
import type { CheckoutJourney } from '../../load/journeys/checkout.ts';
import { createLoadMetrics, startLoadMetricsServer } from '../../load/metrics.ts';
import type { LoadMetricsServer } from '../../load/metrics.ts';
import { createLoadRecorder } from '../../load/recorder.ts';
import { startLab, type Lab } from '../../runner/lab.ts';
import { loadScenario, parseScenario } from '../../runner/scenario.ts';

let lab: Lab;
let runDir: string;
let metricsServer: LoadMetricsServer | undefined;
const journeys: CheckoutJourney[] = [];

beforeAll(async () => {
  runDir = await mkdtemp(join(tmpdir(), 'faultline-load-journeys-'));
  lab = await startLab({ runDir, services: journeyServices({ journeys: { browse: 1, recommendations: 1, cart: 1, checkout: 1 } }) });
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

describe('journey mix in a scenario', () => {
  it('accepts journey: checkout and a weighted mix, and names every bad path of a mix', async () => {
    const base = structuredClone(await loadScenario('payment-outage')) as unknown as { load: Record<string, unknown> };
    const withLoad = (load: Record<string, unknown>) => ({ ...base, load: { executor: 'constant-arrival-rate', rate: 5, preAllocatedVUs: 5, ...load } });
    expect(parseScenario(withLoad({ journey: 'checkout' }), 'x').load.journey).toBe('checkout');
    const mixed = parseScenario(withLoad({ journeys: { browse: 60, recommendations: 20, cart: 15, checkout: 5 }, thinkTime: { min: '50ms', max: '1s' } }), 'x');
    expect(mixed.load.thinkTime).toEqual({ min: 50, max: 1_000 });
    const problem = (load: Record<string, unknown>): string => {
      try {
        parseScenario(withLoad(load), 'x');
      } catch (error) {
        return (error as Error).message;
      }
      return 'accepted';
    };
    expect(problem({ journeys: { browse: 60, brwse: 5 } })).toMatch(/load\.journeys: .*brwse/);
    expect(problem({ journeys: { cart: -1, checkout: 1 } })).toMatch(/load\.journeys\.cart/);
    expect(problem({ journey: 'checkout', journeys: { browse: 1 } })).toMatch(/load\.journeys: give either journey or journeys, not both/);
    expect(problem({})).toMatch(/load\.journeys: name the journeys to run/);
    expect(problem({ journey: 'checkout', thinkTime: { min: '2s', max: '1s' } })).toMatch(/load\.thinkTime\.min: min must not be more than max/);
  });
});

describe('load journeys through runExecutor', () => {
  it('a weighted mix of every journey: each step on its real route with 2xx, tagged, weights kept', async () => {
    const weights = { browse: 40, recommendations: 20, cart: 25, checkout: 15 };
    const parsed = parseExecutorConfig({ executor: 'constant-arrival-rate', rate: 40, duration: '3s', preAllocatedVUs: 20, maxVUs: 200 }, 'load');
    const tokens = await Promise.all(Array.from({ length: executorMaxVUs(parsed) + 1 }, (_, vu) => issueToken(lab.authSecret, `mix-${vu}`)));
    const recorder = createLoadRecorder();
    const mix = createJourneyMix({ gatewayUrl: lab.gatewayUrl, recorder, journeys: weights, thinkTime: { min: '5ms', max: '20ms' }, tokenFor: (vu) => tokens[vu] ?? tokens[0]!, seed: 5 });
    journeys.push(mix);
    const result = await runExecutor(parsed, mix);
    expect(result).toMatchObject({ scheduled: 120, interrupted: 0, failed: 0 });
    // Room for a stall of the shared machine; none are expected.
    expect(result.dropped).toBeLessThanOrEqual(2);
    const failures: string[] = [];
    for (const journey of JOURNEY_NAMES) {
      const steps = JOURNEYS[journey].steps;
      const iterations = recorder.summary({ tags: { journey, step: steps[0]!.name } }).count;
      // Seeded picks over 120 iterations: within 12 points of the weight (the unit test checks 20 000 picks to 1.5 points).
      expect(Math.abs((iterations / result.started) * 100 - weights[journey])).toBeLessThan(12);
      // Every step of every iteration ran and answered 2xx, except that a stall of
      // the shared machine may fail a request (a route timeout) and so cut its journey short.
      let cut = 0;
      for (const step of steps) {
        const summary = recorder.summary({ tags: { journey, step: step.name } });
        expect(summary.count, `${journey}/${step.name}`).toBe(iterations - cut);
        cut += summary.failed;
        failures.push(...(summary.failed ? [`${journey}/${step.name}: ${summary.failed} failed (${JSON.stringify(summary.errors)})`] : []));
      }
    }
    expect(failures.length, failures.join('; ')).toBeLessThanOrEqual(1);
    // The gateway's server spans name the routes the journeys used.
    const wanted = ['/api/products', '/api/products/:sku', '/api/recommendations', '/api/cart/items', '/api/cart', '/api/checkout'];
    let routes = new Set<unknown>();
    for (let waited = 0; waited < 5_000 && !wanted.every((r) => routes.has(r)); waited += 250) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      const spans = await readSpans(join(runDir, 'traces.jsonl')).catch(() => []);
      routes = new Set(spans.filter((span) => span.service === 'gateway' && span.kind === 2).map((span) => span.attributes['http.route']));
    }
    expect([...routes]).toEqual(expect.arrayContaining(wanted));
  }, 30_000);

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
