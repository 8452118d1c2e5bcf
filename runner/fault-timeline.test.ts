import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { buildTimeline, faultWindows, startTimeline, type FaultTarget } from './fault-timeline.ts';
import { adjustScenario, parseScenario } from './scenario.ts';

const scenario = parseScenario(
  {
    name: 'timeline',
    description: 'two faults',
    phases: [
      { name: 'baseline', duration: '2s' },
      { name: 'outage', duration: '3s' },
      { name: 'recovery', duration: '2s' },
    ],
    load: { executor: 'constant-arrival-rate', journey: 'checkout', rate: 1, preAllocatedVUs: 1 },
    faults: [
      { name: 'down', type: 'http_error', edge: 'payment->bank', phase: 'outage' },
      { name: 'slow', type: 'latency', edge: 'payment->bank', at: '1s', duration: '500ms', latency: '100ms' },
    ],
    expectations: [{ name: 'x', type: 'threshold', metric: 'http_req_failed', threshold: 'rate<1' }],
  },
  'test',
);

describe('fault timeline', () => {
  beforeEach(() => vi.useFakeTimers({ now: 0 }));
  afterEach(() => vi.useRealTimers());

  it('places faults by phase or by offset', () => {
    expect(faultWindows(scenario).map((w) => [w.name, w.startMs, w.endMs])).toEqual([
      ['down', 2_000, 5_000],
      ['slow', 1_000, 1_500],
    ]);
    expect(buildTimeline(scenario).map((s) => `${s.atMs}:${s.action}:${s.fault.name}`)).toEqual([
      '1000:apply:slow',
      '1500:remove:slow',
      '2000:apply:down',
      '5000:remove:down',
    ]);
  });

  it('applies and removes each fault at its offset (fake clock)', async () => {
    const log: string[] = [];
    const target: FaultTarget = {
      apply: async (fault) => void log.push(`${Date.now()} +${fault.name}`),
      remove: async (fault) => void log.push(`${Date.now()} -${fault.name}`),
    };
    const timeline = startTimeline(buildTimeline(scenario), target, { startedAt: 0 });
    await vi.advanceTimersByTimeAsync(1_999);
    expect(log).toEqual(['1000 +slow', '1500 -slow']);
    await vi.advanceTimersByTimeAsync(3_001);
    await timeline.done;
    expect(log).toEqual(['1000 +slow', '1500 -slow', '2000 +down', '5000 -down']);
    expect(timeline.records.every((r) => r.ok)).toBe(true);
  });

  it('removes a fault before applying the next one due at the same instant, even when the clock jumps past both', async () => {
    const back2back = parseScenario(
      {
        ...{ name: 'serial', description: 'back to back', phases: [{ name: 'only', duration: '2s' }] },
        load: { executor: 'constant-arrival-rate', journey: 'checkout', rate: 1, preAllocatedVUs: 1 },
        faults: [
          { name: 'first', type: 'latency', edge: 'payment->bank', at: '0s', duration: '1s', latency: '10ms' },
          { name: 'second', type: 'reset_peer', edge: 'payment->bank', at: '1s', duration: '1s' },
        ],
        expectations: [{ name: 'x', type: 'threshold', metric: 'http_req_failed', threshold: 'rate<1' }],
      },
      'test',
    );
    const log: string[] = [];
    const target: FaultTarget = { apply: async (fault) => void log.push(`+${fault.name}`), remove: async (fault) => void log.push(`-${fault.name}`) };
    const timeline = startTimeline(buildTimeline(back2back), target, { startedAt: 0 });
    // A busy machine wakes the timeline late: both steps of t = 1 s are due at once.
    vi.setSystemTime(1_500);
    await vi.advanceTimersByTimeAsync(1_000);
    await timeline.done;
    expect(log).toEqual(['+first', '-first', '+second', '-second']);
  });

  it('stop removes the faults still active and cancels the rest', async () => {
    const applied = new Set<string>();
    const target: FaultTarget = {
      apply: async (fault) => void applied.add(fault.name),
      remove: async (fault) => void applied.delete(fault.name),
    };
    const timeline = startTimeline(buildTimeline(scenario), target, { startedAt: 0 });
    await vi.advanceTimersByTimeAsync(2_500);
    expect([...applied]).toEqual(['down']);
    await timeline.stop();
    expect(applied.size).toBe(0);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(applied.size).toBe(0);
    expect(timeline.records.at(-1)).toMatchObject({ action: 'remove', fault: 'down' });
  });

  it('records a failed admin call instead of throwing', async () => {
    const target: FaultTarget = {
      apply: async () => {
        throw new Error('proxy unreachable');
      },
      remove: async () => undefined,
    };
    const timeline = startTimeline(buildTimeline(scenario), target, { startedAt: 0 });
    await vi.advanceTimersByTimeAsync(6_000);
    await timeline.done;
    expect(timeline.records[0]).toMatchObject({ ok: false, error: 'proxy unreachable' });
  });

  it('accepts in-service and process faults on instances, and names a bad attribute or target by its path', () => {
    const base = {
      name: 'inside',
      description: 'in-service faults',
      phases: [{ name: 'only', duration: '2s' }],
      load: { executor: 'constant-arrival-rate', journey: 'checkout', rate: 1, preAllocatedVUs: 1 },
      expectations: [{ name: 'x', type: 'threshold', metric: 'http_req_failed', threshold: 'rate<1' }],
    };
    const parsed = parseScenario({ ...base, faults: [
      { name: 'burn', type: 'cpu_burn', target: 'checkout', attributes: { percent: 80 }, phase: 'only' },
      { name: 'crash', type: 'process', target: 'payment-2', action: 'kill', phase: 'only' },
    ] }, 'test');
    expect(faultWindows(parsed).map((w) => [w.name, w.target])).toEqual([['burn', 'checkout'], ['crash', 'payment-2']]);
    expect(() => parseScenario({ ...base, faults: [{ name: 'burn', type: 'cpu_burn', target: 'checkout', attributes: { percent: 150 }, phase: 'only' }] }, 'test')).toThrow(/faults\.0\.attributes\.percent/);
    expect(() => parseScenario({ ...base, faults: [{ name: 'crash', type: 'process', target: 'payment-9', action: 'kill', phase: 'only' }] }, 'test')).toThrow(/faults\.0\.target: no instance 'payment-9'/);
  });
});


describe('serial and parallel fault steps', () => {
  beforeEach(() => vi.useFakeTimers({ now: 0 }));
  afterEach(() => vi.useRealTimers());
  const base = {
    name: 'steps',
    description: 'grouped faults',
    phases: [
      { name: 'baseline', duration: '2s' },
      { name: 'trouble', duration: '10s' },
      { name: 'recovery', duration: '2s' },
    ],
    load: { executor: 'constant-arrival-rate', journey: 'checkout', rate: 1, preAllocatedVUs: 1 },
    expectations: [{ name: 'x', type: 'threshold', metric: 'http_req_failed', threshold: 'rate<1' }],
  };
  const grouped = parseScenario(
    {
      ...base,
      faults: [
        {
          name: 'trouble',
          type: 'serial',
          phase: 'trouble',
          steps: [
            { name: 'jitter', type: 'latency', edge: 'payment->bank', latency: '100ms', jitter: '50ms', duration: '3s' },
            { type: 'suspend', duration: '1s' },
            {
              name: 'both',
              type: 'parallel',
              duration: '4s',
              steps: [
                { name: 'resets', type: 'reset_peer', edge: 'payment->bank', toxicity: 0.5 },
                { name: 'cut', type: 'partition', a: ['checkout'], b: ['inventory'], mode: 'refuse', at: '1s', duration: '2s' },
              ],
            },
          ],
        },
        { name: 'kill', type: 'process', target: 'payment-1', action: 'kill', at: '13s', duration: '1s' },
      ],
    },
    'test',
  );

  it('lays serial steps end to end, parallel ones from the group start, with pauses and open-ended steps', () => {
    expect(faultWindows(grouped).map((w) => [w.name, w.type, w.target, w.startMs, w.endMs])).toEqual([
      ['jitter', 'latency', 'payment->bank', 2_000, 5_000],
      ['resets', 'reset_peer', 'payment->bank', 6_000, 10_000],
      ['cut', 'partition', 'checkout<->inventory', 7_000, 9_000],
      ['kill', 'process', 'payment-1', 13_000, 14_000],
    ]);
    expect(grouped.faults[1]).toMatchObject({ stream: 'downstream', toxicity: 0.5, attributes: { timeout: 0 } });
  });

  it('applies and removes every step at its offset (fake clock)', async () => {
    const log: string[] = [];
    const target: FaultTarget = {
      apply: async (fault) => void log.push(`${Date.now()} +${fault.name}`),
      remove: async (fault) => void log.push(`${Date.now()} -${fault.name}`),
    };
    const timeline = startTimeline(buildTimeline(grouped), target, { startedAt: 0 });
    await vi.advanceTimersByTimeAsync(6_500);
    expect(log).toEqual(['2000 +jitter', '5000 -jitter', '6000 +resets']);
    await vi.advanceTimersByTimeAsync(8_000);
    await timeline.done;
    expect(log).toEqual(['2000 +jitter', '5000 -jitter', '6000 +resets', '7000 +cut', '9000 -cut', '10000 -resets', '13000 +kill', '14000 -kill']);
    expect(timeline.records.map((r) => `${r.offsetMs}:${r.action}:${r.fault}:${r.target}`)).toContain('7000:apply:cut:checkout<->inventory');
  });

  it("--disable recovery switches off a service's own pattern, and names it", () => {
    const withRecovery = parseScenario(
      {
        name: 'crash',
        description: 'checkout killed',
        services: { checkout: { recovery: {} } },
        phases: [{ name: 'only', duration: '2s' }],
        load: { executor: 'constant-arrival-rate', journey: 'checkout', rate: 1, preAllocatedVUs: 1 },
        expectations: [{ name: 'books', type: 'books' }],
      },
      'test',
    );
    expect(withRecovery.services.checkout?.recovery?.enabled).toBe(true);
    const without = adjustScenario(withRecovery, { disable: ['recovery'] });
    expect(without.services.checkout?.recovery?.enabled).toBe(false);
    expect(without.switchedOff).toEqual(['checkout recovery']);
  });

  it('scales grouped steps with --time-scale', () => {
    const half = adjustScenario(grouped, { timeScale: 0.5 });
    expect(faultWindows(half).map((w) => [w.name, w.startMs, w.endMs])).toEqual([
      ['jitter', 1_000, 2_500],
      ['resets', 3_000, 5_000],
      ['cut', 3_500, 4_500],
      ['kill', 6_500, 7_000],
    ]);
  });

  it('names the path of every bad field, inside groups too', () => {
    const bad = (faults: unknown[]) => () => parseScenario({ ...base, faults }, 'test');
    expect(bad([{ name: 'g', type: 'serial', at: '1s', steps: [{ name: 's', type: 'slicer', edge: 'payment->bank', duration: '1s', attributes: { average_size: 4, size_variation: 4 } }] }])).toThrow(
      /faults\.0\.steps\.0\.attributes\.size_variation/,
    );
    expect(bad([{ name: 't', type: 'timeout', edge: 'payment->bank', phase: 'trouble', stream: 'sideways', attributes: { timeout: 100 } }])).toThrow(/faults\.0\.stream/);
    // No attributes take Toxiproxy's defaults; a fractional millisecond does not.
    expect(bad([{ name: 't', type: 'timeout', edge: 'payment->bank', phase: 'trouble', attributes: { timeout: 1.5 } }])).toThrow(/faults\.0\.attributes\.timeout/);
    expect(bad([{ name: 'g', type: 'serial', at: '1s', steps: [{ name: 's', type: 'down', edge: 'payment->bank' }] }])).toThrow(/faults\.0\.steps\.0\.duration: a step of a serial group needs a duration/);
    expect(bad([{ name: 'g', type: 'parallel', phase: 'baseline', steps: [{ name: 's', type: 'down', edge: 'payment->bank', duration: '3s' }] }])).toThrow(/faults\.0: its steps take 3000 ms, longer than the 2000 ms/);
    expect(bad([{ name: 'g', type: 'serial', phase: 'nope', steps: [{ type: 'suspend', duration: '1s' }] }])).toThrow(/faults\.0\.phase: no phase named 'nope'/);
    expect(bad([{ name: 'g', type: 'parallel', at: '1s', steps: [{ type: 'suspend', duration: '1s' }] }])).toThrow(/faults\.0\.steps\.0\.type: a suspend step belongs in a serial group/);
    expect(bad([{ name: 'g', type: 'serial', at: '1s', steps: [{ name: 'd', type: 'down', edge: 'payment->inventory', duration: '1s' }] }])).toThrow(/faults\.0\.steps\.0\.edge: payment does not call inventory/);
    expect(bad([{ name: 'sc', type: 'slow_close', edge: 'payment->bank', phase: 'trouble', attributes: { delay: 10 } }])).toThrow(/faults\.0\.type: slow_close needs a tcp edge; payment->bank is carried as http/);
    expect(bad([{ name: 'p', type: 'partition', a: ['checkout'], b: ['checkout', 'warehouse'], phase: 'trouble' }])).toThrow(/faults\.0: names services the shop does not have \(warehouse\).*faults\.0\.b: checkout cannot be on both sides/);
    expect(bad([{ name: 'p', type: 'partition', a: ['bank'], b: ['inventory'], phase: 'trouble' }])).toThrow(/faults\.0\.b: no service of a calls one of b/);
    expect(bad([{ name: 'p', type: 'partition', a: ['bank'], b: ['payment'], mode: 'sever', phase: 'trouble' }])).toThrow(/faults\.0\.mode/);
    expect(bad([{ name: 'g', type: 'serial', at: '12s', steps: [{ name: 'a', type: 'down', edge: 'payment->bank', duration: '3s' }] }])).toThrow(/faults\.0\.steps\.0: ends after the last phase/);
    expect(bad([{ name: 'g', type: 'serial', at: '1s', steps: [{ name: 'a', type: 'down', edge: 'payment->bank', duration: '1s' }, { name: 'a', type: 'down', edge: 'payment->bank', duration: '1s' }] }])).toThrow(
      /faults\.0\.steps\.1\.name: 'a' is used twice/,
    );
  });
});
