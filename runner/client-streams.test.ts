// Named clients and client streams in a scenario (load.clients, load.streams):
// how they parse, what is refused with its path, and how their thresholds are
// judged (filter.client, and the Retry-After counts) from made-up measurements.

import { describe, expect, it } from 'vitest';
import { LOAD_LABEL } from '../demo-services/kit/conventions.ts';
import { PROBLEM_TAG } from '../load/http-client.ts';
import { createLoadRecorder } from '../load/recorder.ts';
import { createClientBackoff } from '../load/retry-after.ts';
import { evaluateExpectations } from './expectations.ts';
import { adjustScenario, clientGroups, loadScenario, parseScenario, streamSegments, type Scenario } from './scenario.ts';

const START = 1_800_000_000_000;

function scenario(load: Record<string, unknown> = {}, expectations: unknown[] = [{ name: 'ok', type: 'threshold', metric: 'http_req_failed', threshold: 'rate<0.01' }]): Scenario {
  return parseScenario(
    {
      name: 'unit',
      description: 'unit',
      phases: [
        { name: 'baseline', duration: '10s' },
        { name: 'spike', duration: '10s' },
      ],
      load: {
        executor: 'constant-arrival-rate',
        rate: 1,
        timeUnit: '1s',
        preAllocatedVUs: 1,
        journey: 'browse',
        clients: { name: 'quiet', count: 3 },
        streams: [{ name: 'noisy', clients: 2, rate: 1, rates: { spike: 10 } }],
        ...load,
      },
      expectations,
    },
    'unit.yaml',
  );
}

const problems = (make: () => unknown): string => {
  try {
    make();
    return '';
  } catch (error) {
    return (error as Error).message;
  }
};

describe('load.clients and load.streams', () => {
  it('name the client groups, and a stream runs at its rate in each phase (scaled phases too)', () => {
    const s = scenario();
    expect(clientGroups(s.load)).toEqual(['quiet', 'noisy']);
    const [noisy] = s.load.streams;
    expect(noisy).toMatchObject({ clients: 2, maxVUs: 100 });
    expect(streamSegments(noisy!, s.phases)).toEqual([
      { durationMs: 10_000, rate: 1 },
      { durationMs: 10_000, rate: 10 },
    ]);
    expect(streamSegments(noisy!, adjustScenario(s, { timeScale: 0.5 }).phases)).toEqual([
      { durationMs: 5_000, rate: 1 },
      { durationMs: 5_000, rate: 10 },
    ]);
  });

  it('refuse what names nothing, each with its path', () => {
    const message = problems(() =>
      scenario({ streams: [{ name: 'quiet', clients: 0, rate: 1, rates: { burst: 5 }, journey: 'browse', journeys: { cart: 1 } }] }, [
        { name: 'a', type: 'threshold', metric: 'http_req_failed', threshold: 'rate<0.01', filter: { client: 'loud' } },
      ]),
    );
    expect(message).toContain('load.streams.0.clients');
    expect(message).toContain('load.streams.0.journeys: give either journey or journeys, not both');
    const crossed = problems(() =>
      scenario({ streams: [{ name: 'quiet', clients: 1, rate: 1, rates: { burst: 5 } }] }, [
        { name: 'a', type: 'threshold', metric: 'http_req_failed', threshold: 'rate<0.01', filter: { client: 'loud' } },
        { name: 'b', type: 'threshold', metric: 'requests_before_retry_after', threshold: 'count==0', filter: { client: 'quiet', journey: 'browse' } },
      ]),
    );
    expect(crossed).toContain("load.streams: the client group 'quiet' is named twice");
    expect(crossed).toContain("load.streams.0.rates.burst: no phase named 'burst'");
    expect(crossed).toContain("expectations.0.filter.client: no client group 'loud' (groups: quiet, quiet)");
    expect(crossed).toContain('expectations.1.filter: requests_before_retry_after counts by client group and window only (no journey)');
  });

  it('traffic-spike parses, with its streams', async () => {
    const s = await loadScenario('traffic-spike');
    expect(clientGroups(s.load)).toEqual(['quiet', 'noisy']);
    expect(adjustScenario(s, { disable: ['rateLimit'] }).switchedOff).toEqual(['gateway rateLimit']);
  });
});

describe('thresholds of client groups', () => {
  const quiet = { [LOAD_LABEL.journey]: 'browse', [LOAD_LABEL.client]: 'quiet' };
  const noisy = { [LOAD_LABEL.journey]: 'browse', [LOAD_LABEL.client]: 'noisy' };
  const record = (recorder: ReturnType<typeof createLoadRecorder>, offsetMs: number, count: number, ok: boolean, tags: Record<string, string>, status = ok ? 200 : 429) => {
    for (let i = 0; i < count; i += 1) {
      const at = START + offsetMs + i * 10;
      recorder.record({ intendedStartMs: at, sentAtMs: at, endMs: at + 5, status, ok, ...(ok ? {} : { errorClass: 'status' as const }), tags });
    }
  };

  it('filter.client keeps the requests of one group', () => {
    const recorder = createLoadRecorder();
    record(recorder, 10_000, 20, true, quiet);
    record(recorder, 10_000, 30, false, { ...noisy, [PROBLEM_TAG]: 'rate-limited' });
    record(recorder, 10_500, 10, true, noisy);
    const s = scenario({}, [
      { name: 'quiet fine', type: 'threshold', metric: 'http_req_failed', threshold: 'rate<0.01', during: 'spike', filter: { client: 'quiet' } },
      { name: 'noisy limited', type: 'threshold', metric: 'http_req_failed', threshold: 'rate>0.5', during: 'spike', filter: { client: 'noisy', problem: 'rate-limited' } },
    ]);
    const [quietResult, noisyResult] = evaluateExpectations({ scenario: s, startedAt: START, endedAt: START + 20_000, recorder, spans: [] });
    expect(quietResult).toMatchObject({ status: 'pass', expected: 'http_req_failed rate<0.01 (spike, quiet clients)', measured: '0.00% (0/20)' });
    expect(noisyResult).toMatchObject({ status: 'pass', measured: '75.00% (30/40) rate-limited' });
  });

  it('the Retry-After counts are judged per group and window, and a failure is always a FAIL', () => {
    const backoff = createClientBackoff();
    const noisy1 = { group: 'noisy', id: 'noisy-1' };
    backoff.answered(noisy1, 429, '1', START + 11_000);
    backoff.admit(noisy1, START + 11_500);
    backoff.sending(noisy1, START + 11_600);
    const s = scenario({}, [
      { name: 'deferred', type: 'threshold', metric: 'deferred_requests', threshold: 'count>0', during: 'spike', filter: { client: 'noisy' } },
      { name: 'none early', type: 'threshold', metric: 'requests_before_retry_after', threshold: 'count==0' },
      { name: 'none deferred in the baseline', type: 'threshold', metric: 'deferred_requests', threshold: 'count>0', during: 'baseline' },
    ]);
    const results = evaluateExpectations({ scenario: s, startedAt: START, endedAt: START + 20_000, recorder: createLoadRecorder(), spans: [], backoff });
    expect(results.map((r) => [r.status, r.measured])).toEqual([
      ['pass', '1 (1 answered 429 in the window)'],
      ['fail', '1 (1 answered 429 in the window)'],
      ['fail', '0 (0 answered 429 in the window)'],
    ]);
    const [unmeasured] = evaluateExpectations({ scenario: s, startedAt: START, endedAt: START + 20_000, recorder: createLoadRecorder(), spans: [] });
    expect(unmeasured).toMatchObject({ status: 'fail', measured: expect.stringContaining('no client honours Retry-After') });
  });
});
