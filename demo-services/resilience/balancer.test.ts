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
