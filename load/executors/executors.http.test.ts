// One real-HTTP run per executor kind added beside constant-arrival-rate:
// the HTTP client and recorder against a local server, checking what the
// server saw (counts, concurrency, ramps), with bands wide enough for a
// loaded 2-core machine.
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../clock.ts';
import { createHttpClient } from '../http-client.ts';
import type { HttpClient } from '../http-client.ts';
import { createLoadRecorder } from '../recorder.ts';
import { startTestServer } from '../test-server.ts';
import type { TestServer } from '../test-server.ts';
import type { IterationContext } from './constant-arrival-rate.ts';
import { runConstantVUs } from './constant-vus.ts';
import { runPerVUIterations } from './per-vu-iterations.ts';
import { runRampingArrivalRate } from './ramping-arrival-rate.ts';
import { runRampingVUs } from './ramping-vus.ts';

const TAGS = { journey: 'test', step: 'get' };
let server: TestServer | undefined;
let client: HttpClient | undefined;

afterEach(async () => {
  await client?.close();
  await server?.close();
  server = undefined;
  client = undefined;
});

/** A server that answers after `delayMs` and tracks arrivals and peak concurrency. */
async function slowServer(delayMs: number) {
  const seen = { arrivals: [] as number[], inFlight: 0, peak: 0 };
  server = await startTestServer((_req, res) => {
    seen.arrivals.push(systemClock.wallNow());
    seen.inFlight += 1;
    seen.peak = Math.max(seen.peak, seen.inFlight);
    setTimeout(() => {
      seen.inFlight -= 1;
      res.writeHead(200).end('ok');
    }, delayMs);
  });
  const recorder = createLoadRecorder();
  client = createHttpClient({ recorder, connections: 50 });
  const http = client;
  const url = server.url;
  const iteration = async (ctx: IterationContext): Promise<void> => {
    await http.request({ url, intendedStartMs: ctx.intendedStartMs, tags: TAGS, signal: ctx.signal });
  };
  return { seen, recorder, iteration };
}

describe('executors over real HTTP', () => {
  it('ramping-arrival-rate: 0 -> 60/s over 2 s sends ~60 requests, three times as many in the second second', async () => {
    const { seen, recorder, iteration } = await slowServer(5);
    const started = systemClock.wallNow();
    const result = await runRampingArrivalRate({ stages: [{ target: 60, duration: '2s' }], preAllocatedVUs: 5, maxVUs: 20 }, iteration);
    expect(result).toMatchObject({ planned: 60, started: 60, completed: 60, dropped: 0 });
    const first = seen.arrivals.filter((at) => at < started + 1_000).length;
    // Expected 15 and 45; the edge can move a few arrivals between halves.
    expect(first).toBeGreaterThanOrEqual(11);
    expect(first).toBeLessThanOrEqual(19);
    expect(seen.arrivals.length - first).toBeGreaterThanOrEqual(41);
    expect(recorder.summary().count).toBe(60);
  });

  it('ramping-arrival-rate (poisson): about the planned count, all recorded', async () => {
    const { recorder, iteration } = await slowServer(5);
    const result = await runRampingArrivalRate({ startRate: 50, stages: [{ target: 50, duration: '2s' }], preAllocatedVUs: 10, arrivals: 'poisson', seed: 42 }, iteration);
    // 100 expected; Poisson sd is 10.
    expect(result.planned).toBeGreaterThan(65);
    expect(result.planned).toBeLessThan(135);
    expect(result.started + result.dropped).toBe(result.planned);
    expect(recorder.summary().count).toBe(result.started);
  });

  it('constant-vus: 4 VUs against a 50 ms server hold 4 requests in flight and offer ~80/s', async () => {
    const { seen, iteration } = await slowServer(50);
    const result = await runConstantVUs({ vus: 4, duration: '2s' }, iteration);
    expect(seen.peak).toBe(4);
    // At most 4 * 2000 / 50 = 160 (each request takes >= 50 ms); well over half of that on a busy machine.
    expect(result.started).toBeLessThanOrEqual(164);
    expect(result.started).toBeGreaterThan(80);
    expect(result).toMatchObject({ failed: 0, dropped: 0, interrupted: 0, maxAllocatedVUs: 4 });
  });

  it('ramping-vus: 1 -> 6 -> 1 VUs; concurrency peaks at 6', async () => {
    const { seen, iteration } = await slowServer(40);
    const result = await runRampingVUs({ startVUs: 1, stages: [{ target: 6, duration: '1s' }, { target: 1, duration: '1s' }], gracefulRampDown: '1s' }, iteration);
    expect(seen.peak).toBe(6);
    expect(result.maxAllocatedVUs).toBe(6);
    expect(result).toMatchObject({ failed: 0, interrupted: 0, aborted: false });
    expect(result.durationMs).toBeGreaterThanOrEqual(1_990);
    expect(result.durationMs).toBeLessThan(2_500);
  });

  it('per-vu-iterations: exactly vus x iterations requests, then it stops', async () => {
    const { seen, iteration } = await slowServer(20);
    const result = await runPerVUIterations({ vus: 3, iterations: 10, maxDuration: '10s' }, iteration);
    expect(seen.arrivals).toHaveLength(30);
    expect(result).toMatchObject({ started: 30, completed: 30, failed: 0 });
    // 10 sequential 20 ms requests per VU: ~200 ms, far below maxDuration.
    expect(result.durationMs).toBeLessThan(2_000);
  });

  it('constant-vus with an iteration that never waits still ends on time', async () => {
    let count = 0;
    const result = await runConstantVUs({ vus: 2, duration: '200ms' }, async () => {
      count += 1;
    });
    expect(result.durationMs).toBeLessThan(1_000);
    expect(count).toBeGreaterThan(10);
  });
});
