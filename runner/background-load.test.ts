// `up`'s background traffic as a console drives it, against a fake gateway on
// port 0: start paused, turn the rate up and down, change the journey mix,
// read the state and loadgen_target_rate, stop; bad input refused with a
// message naming what is wrong. Real time, so counts are checked in bands.

import { afterEach, describe, expect, it } from 'vitest';
import { readBody, startTestServer } from '../load/test-server.ts';
import type { TestServer } from '../load/test-server.ts';
import { FaultlineError } from './errors.ts';
import { MAX_BACKGROUND_RATE, startBackgroundLoad } from './up.ts';
import type { BackgroundLoad } from './up.ts';

const AUTH_SECRET = 'background-load-test-secret-0123456789';

let gateway: TestServer | undefined;
let load: BackgroundLoad | undefined;
afterEach(async () => {
  await load?.stop();
  await gateway?.close();
  load = gateway = undefined;
});

/** A gateway answering every journey route; `paths` lists what it was asked. */
async function fakeGateway(): Promise<{ server: TestServer; paths: string[] }> {
  const paths: string[] = [];
  const server = await startTestServer((req, res) => {
    void readBody(req).then(() => {
      paths.push(req.url ?? '');
      if (req.url === '/api/checkout') res.writeHead(201, { 'content-type': 'application/json' }).end('{"orderId":"o-1","status":"confirmed"}');
      else res.writeHead(200, { 'content-type': 'application/json' }).end('{"items":[]}');
    });
  });
  return { server, paths };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function gauge(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

describe('startBackgroundLoad controller', () => {
  it('starts paused, follows setRate and setMix live, reports its state, and stops', async () => {
    const { server, paths } = await fakeGateway();
    gateway = server;
    load = await startBackgroundLoad({ gatewayUrl: server.url, authSecret: AUTH_SECRET }, 0, { runId: 'bg-test', seed: 3 });
    await sleep(300);
    expect(load.state()).toMatchObject({ rate: 0, started: 0, dropped: 0, running: true, weights: { browse: 60, recommendations: 20, cart: 15, checkout: 5 } });
    expect(gauge(await (await fetch(load.metricsUrl)).text(), 'loadgen_target_rate')).toBe(0);

    load.setMix({ checkout: 1 });
    const from = performance.now();
    load.setRate(40);
    await sleep(1_000);
    const running = load.state();
    const elapsedMs = performance.now() - from;
    // 40/s is one arrival at once and one every 25 ms after: at most that many by now, however late the
    // sleep woke; at least three quarters of them (arrivals late on a busy machine start as soon as it can).
    const due = 1 + Math.floor(elapsedMs / 25);
    expect(running.started).toBeGreaterThanOrEqual(Math.floor(due * 0.75));
    expect(running.started).toBeLessThanOrEqual(due + 1);
    expect(running).toMatchObject({ rate: 40, weights: { checkout: 1 }, failed: 0, dropped: 0, failedRequests: 0 });
    expect(load.started()).toBe(running.started);
    expect(running.requests).toBeGreaterThanOrEqual(running.started - running.inFlight);
    expect(new Set(paths)).toEqual(new Set(['/api/checkout']));
    expect(gauge(await (await fetch(load.metricsUrl)).text(), 'loadgen_target_rate')).toBe(40);

    // Paused: nothing more starts, what was in flight finishes.
    load.setRate(0);
    await sleep(100);
    const paused = load.state().started;
    // What was in flight finishes (waited for by count, not by time: a busy machine is slower).
    for (let waited = 0; load.state().inFlight > 0 && waited < 10_000; waited += 50) await sleep(50);
    await sleep(300);
    expect(load.state()).toMatchObject({ rate: 0, started: paused, completed: paused, inFlight: 0 });

    load.setMix({ recommendations: 1 });
    load.setRate(20);
    await sleep(500);
    expect(load.state().started - paused).toBeGreaterThanOrEqual(6);
    expect(paths.slice(paused)).toContain('/api/recommendations?limit=4');
    expect(paths.slice(paused).every((path) => path === '/api/recommendations?limit=4')).toBe(true);

    await load.stop();
    expect(load.state().running).toBe(false);
    expect(() => load?.setRate(5)).toThrow(/background load is stopped/);
    await load.stop();
  });

  it('refuses a bad rate or mix with a message naming what is wrong, and keeps what it had', async () => {
    const { server } = await fakeGateway();
    gateway = server;
    const lab = { gatewayUrl: server.url, authSecret: AUTH_SECRET };
    await expect(startBackgroundLoad(lab, -1, { runId: 'bg-bad' })).rejects.toThrow(/^background load rate: must be a finite number of journeys a second >= 0 \(got -1\)/);
    await expect(startBackgroundLoad(lab, MAX_BACKGROUND_RATE + 1, { runId: 'bg-bad' })).rejects.toThrow(/at most 500 journeys a second/);
    await expect(startBackgroundLoad(lab, 1, { runId: 'bg-bad', journeys: { browse: 0 } })).rejects.toThrow(/journeys: give at least one journey a weight > 0/);

    load = await startBackgroundLoad(lab, 0, { runId: 'bg-bad' });
    const refused = (change: () => void): FaultlineError => {
      try {
        change();
      } catch (error) {
        expect(error).toBeInstanceOf(FaultlineError);
        return error as FaultlineError;
      }
      throw new Error('accepted');
    };
    const control = load;
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY, '5' as unknown as number]) {
      expect(refused(() => control.setRate(bad)).message).toMatch(/^background load rate: must be a finite number of journeys a second >= 0/);
    }
    const tooFast = refused(() => control.setRate(501));
    expect(tooFast.code).toBe('FL_BAD_OPTION');
    expect(tooFast.message).toBe("background load rate: at most 500 journeys a second, the generator shares the lab's cores with the shop (got 501)");
    expect(refused(() => control.setMix({ browse: 1, brwse: 2 } as never)).message).toMatch(/^background load journeys: .*"brwse"/);
    expect(refused(() => control.setMix({ cart: -3 })).message).toMatch(/^background load journeys\.cart: /);
    expect(refused(() => control.setMix({ cart: 0, checkout: 0 })).message).toBe('background load journeys: give at least one journey a weight > 0');
    expect(load.state()).toMatchObject({ rate: 0, weights: { browse: 60, recommendations: 20, cart: 15, checkout: 5 }, running: true });
    load.setRate(MAX_BACKGROUND_RATE);
    load.setRate(0);
    expect(load.state().rate).toBe(0);
  });
});
