import { describe, expect, it } from 'vitest';
import { createBalancer } from './balancer.ts';

const options = { consecutiveFailures: 3, ejectionMs: 1_000 };

describe('balancer (fake clock)', () => {
  it('round robin spreads requests evenly', () => {
    const balancer = createBalancer(['a', 'b', 'c'], { ...options, strategy: 'round-robin' }, () => 0);
    const picks = Array.from({ length: 6 }, () => {
      const lease = balancer.pick();
      lease.done(true);
      return lease.instance;
    });
    expect(picks).toEqual(['a', 'b', 'c', 'a', 'b', 'c']);
  });

  it('least outstanding avoids the busy instance', () => {
    const balancer = createBalancer(['a', 'b'], { ...options, strategy: 'least-outstanding' }, () => 0);
    const slow = balancer.pick();
    const picks = Array.from({ length: 4 }, () => {
      const lease = balancer.pick();
      lease.done(true);
      return lease.instance;
    });
    expect(picks.every((instance) => instance !== slow.instance)).toBe(true);
  });

  it('a retry passes over the instances its call already tried while another is in rotation', () => {
    for (const strategy of ['round-robin', 'least-outstanding'] as const) {
      const balancer = createBalancer(['a', 'b', 'c'], { ...options, strategy }, () => 0);
      // A dead instance has nothing outstanding, so least-outstanding would pick it again.
      const picks = Array.from({ length: 6 }, () => {
        const lease = balancer.pick(new Set(['a', 'b']));
        lease.done(true);
        return lease.instance;
      });
      expect(picks).toEqual(['c', 'c', 'c', 'c', 'c', 'c']);
      // Every instance tried already: the call still gets one.
      const lease = balancer.pick(new Set(['a', 'b', 'c']));
      expect(['a', 'b', 'c']).toContain(lease.instance);
    }
  });

  it('ejects an instance that fails half its requests, which a streak rarely shows, and judges it afresh after re-admission', () => {
    let clock = 0;
    const events: string[] = [];
    const balancer = createBalancer(['good', 'bad'], { consecutiveFailures: 5, ejectionMs: 1_000, failurePercentage: 40, requestVolume: 10, strategy: 'round-robin' }, () => clock);
    balancer.onEvent((event) => events.push(`${event.event} ${event.instance}`));
    // bad alternates success and failure: never two failures in a row.
    let badCalls = 0;
    const serve = () => {
      const lease = balancer.pick();
      lease.done(lease.instance === 'good' || badCalls++ % 2 === 0);
      return lease.instance;
    };
    for (let i = 0; i < 19; i += 1) serve();
    expect(events).toEqual([]);
    serve(); // bad's tenth request: 5 of 10 failed
    expect(events).toEqual(['ejected bad']);
    expect(Array.from({ length: 4 }, serve)).toEqual(['good', 'good', 'good', 'good']);
    clock = 1_000;
    expect(balancer.healthy()).toEqual(['good', 'bad']);
    expect(events).toEqual(['ejected bad', 'readmitted bad']);
  });

  it('with ejection off, no instance is ever ejected', () => {
    const balancer = createBalancer(['a', 'b'], { consecutiveFailures: 1, ejectionMs: 1_000, failurePercentage: 10, requestVolume: 2, ejection: false, strategy: 'round-robin' }, () => 0);
    for (let i = 0; i < 20; i += 1) balancer.pick().done(false);
    expect(balancer.healthy()).toEqual(['a', 'b']);
  });

  it('ejects an instance after consecutive failures and re-admits it after the ejection time', () => {
    let clock = 0;
    const events: string[] = [];
    const balancer = createBalancer(['a', 'b'], { ...options, strategy: 'round-robin' }, () => clock);
    balancer.onEvent((e) => events.push(`${e.event} ${e.instance}`));
    for (let i = 0; i < 6; i += 1) {
      const lease = balancer.pick();
      lease.done(lease.instance !== 'a');
    }
    expect(events).toEqual(['ejected a']);
    expect(balancer.healthy()).toEqual(['b']);
    expect(Array.from({ length: 3 }, () => balancer.pick().instance)).toEqual(['b', 'b', 'b']);
    clock = 1_000;
    expect(balancer.healthy()).toEqual(['a', 'b']);
    expect(events).toEqual(['ejected a', 'readmitted a']);
  });

  it('a success resets the failure streak', () => {
    const balancer = createBalancer(['a', 'b'], { ...options, strategy: 'round-robin' }, () => 0);
    // Each step sends one request to a (with this outcome) and one to b (fine).
    for (const ok of [false, false, true, false, false]) {
      for (let i = 0; i < 2; i += 1) {
        const lease = balancer.pick();
        lease.done(lease.instance === 'a' ? ok : true);
      }
    }
    expect(balancer.healthy()).toEqual(['a', 'b']);
    const lease = balancer.pick();
    lease.done(false);
    expect(balancer.healthy()).toEqual(['b']);
  });

  it('never ejects the last healthy instance', () => {
    const balancer = createBalancer(['a', 'b'], { ...options, strategy: 'round-robin' }, () => 0);
    for (let i = 0; i < 20; i += 1) balancer.pick().done(false);
    expect(balancer.healthy()).toHaveLength(1);
  });
});
