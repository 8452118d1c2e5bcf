import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { buildTimeline, faultWindows, startTimeline, type FaultTarget } from './fault-timeline.ts';
import { parseScenario } from './scenario.ts';

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

