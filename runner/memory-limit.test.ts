import { describe, expect, it } from 'vitest';
import { adjustScenario, parseScenario, switchedOnAt } from './scenario.ts';
import { memoryLimits } from './lab-memory.ts';
import { createMemoryWatch, memoryLimitSchema, memoryReport, parseByteSize, peakRss, readRss, restartDelayMs, type MemoryEvent, type MemoryLimitPolicy } from './memory-limit.ts';

const MIB = 1024 * 1024;

describe('parseByteSize', () => {
  it('reads binary units, in the scenario spelling and in Kubernetes\'', () => {
    expect(parseByteSize('160MiB')).toBe(160 * MIB);
    expect(parseByteSize('160Mi')).toBe(160 * MIB);
    expect(parseByteSize('1.5GiB')).toBe(1.5 * 1024 * MIB);
    expect(parseByteSize('512KiB')).toBe(512 * 1024);
    expect(parseByteSize('4096B')).toBe(4096);
  });

  it('refuses a bare number, an unknown unit and nothing', () => {
    expect(() => parseByteSize(160)).toThrow("160 has no unit: write '160MiB'");
    expect(() => parseByteSize('160MB')).toThrow("'160MB' is not a size");
    expect(() => parseByteSize('lots')).toThrow("'lots' is not a size");
    expect(() => parseByteSize('0MiB')).toThrow('more than 0 bytes');
    expect(() => parseByteSize(undefined)).toThrow("expected a size such as '160MiB'");
  });

  it('a bad limit in a policy is an issue at its path', () => {
    const result = memoryLimitSchema.safeParse({ enabled: true, limit: 160 });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]).toMatchObject({ path: ['limit'], message: expect.stringContaining("write '160MiB'") });
  });
});

describe('restartDelayMs', () => {
  const restart = { maxRestarts: 5, backoff: 1_000, maxBackoff: 5_000 };
  it('restarts at once the first time, then backs off doubling up to the ceiling (CrashLoopBackOff)', () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => restartDelayMs(n, restart))).toEqual([0, 1_000, 2_000, 4_000, 5_000, 5_000]);
  });
});

function fakeLab(rss: Map<string, number>, options: { maxRestarts?: number } = {}) {
  let clock = 1_000;
  let nextPid = 100;
  const pids = new Map<string, number>([...rss.keys()].map((name) => [name, nextPid++]));
  const byPid = () => new Map([...pids].map(([name, pid]) => [pid, name]));
  const calls: string[] = [];
  const sleeps: number[] = [];
  const events: MemoryEvent[] = [];
  const policy: MemoryLimitPolicy = memoryLimitSchema.parse({ limit: '100MiB', restart: { maxRestarts: options.maxRestarts ?? 5, backoff: '1s', maxBackoff: '4s' } });
  const watch = createMemoryWatch({
    processes: () => [...pids].map(([name, pid]) => ({ name, pid })),
    limitOf: (instance) => (instance.startsWith('payment-') ? policy : undefined),
    sample: (pid) => rss.get(byPid().get(pid) as string),
    now: () => clock,
    async kill(instance) {
      calls.push(`kill ${instance}`);
      pids.delete(instance);
    },
    async restart(instance) {
      calls.push(`restart ${instance}`);
      pids.set(instance, nextPid++);
      rss.set(instance, 50 * MIB);
    },
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    onEvent: (event) => events.push(event),
  });
  return { watch, calls, sleeps, events, policy, advance: (ms: number) => (clock += ms), settle: () => new Promise((resolve) => setTimeout(resolve, 0)) };
}

describe('createMemoryWatch', () => {
  it('samples every process, kills one over its limit with SIGKILL and starts it again', async () => {
    const rss = new Map([
      ['payment-1', 90 * MIB],
      ['payment-2', 80 * MIB],
      ['checkout', 300 * MIB],
    ]);
    const lab = fakeLab(rss);
    lab.watch.tick();
    await lab.settle();
    expect(lab.calls).toEqual([]);
    rss.set('payment-1', 101 * MIB);
    lab.advance(250);
    lab.watch.tick();
    await lab.settle();
    // checkout has no limit: sampled, never killed, however large.
    expect(lab.calls).toEqual(['kill payment-1', 'restart payment-1']);
    expect(lab.sleeps).toEqual([0]);
    expect(lab.events.map((e) => e.kind)).toEqual(['oom-killed', 'restarted']);
    expect(lab.events[0]).toMatchObject({ instance: 'payment-1', rssBytes: 101 * MIB, limitBytes: 100 * MIB, timeMs: 1_250 });
    expect(peakRss(lab.watch.samples(), 'payment-1')).toEqual({ bytes: 101 * MIB, count: 2 });
    expect(peakRss(lab.watch.samples(), 'checkout', { fromMs: 1_100, toMs: 2_000 })).toEqual({ bytes: 300 * MIB, count: 1 });
    expect(peakRss(lab.watch.samples(), 'payment-1', { fromMs: 5_000, toMs: 6_000 })).toBeUndefined();
    const report = memoryReport(lab.watch, (instance) => (instance.startsWith('payment-') ? lab.policy : undefined));
    expect(report.instances['payment-1']).toEqual({ peakBytes: 101 * MIB, limitBytes: 100 * MIB, oomKills: 1, restarts: 1 });
    expect(report.instances.checkout).toEqual({ peakBytes: 300 * MIB, oomKills: 0, restarts: 0 });
  });

  it('backs off before each further restart, and leaves the instance down after maxRestarts', async () => {
    const rss = new Map([['payment-1', 200 * MIB]]);
    const lab = fakeLab(rss, { maxRestarts: 3 });
    for (let round = 0; round < 5; round += 1) {
      rss.set('payment-1', 200 * MIB);
      lab.watch.tick();
      await lab.settle();
    }
    expect(lab.sleeps).toEqual([0, 1_000, 2_000]);
    expect(lab.calls.filter((c) => c.startsWith('restart'))).toHaveLength(3);
    expect(lab.events.map((e) => e.kind)).toEqual(['oom-killed', 'restarted', 'oom-killed', 'restarted', 'oom-killed', 'restarted', 'oom-killed', 'gave-up']);
    // Down for good: nothing left to sample or kill.
    lab.watch.tick();
    await lab.settle();
    expect(lab.calls.at(-1)).toBe('kill payment-1');
  });

  it('does not kill an instance twice while its kill and restart are under way, and stop waits for them', async () => {
    const rss = new Map([['payment-1', 200 * MIB]]);
    let release: () => void = () => undefined;
    const kills: string[] = [];
    const watch = createMemoryWatch({
      processes: () => [{ name: 'payment-1', pid: 1 }],
      limitOf: () => memoryLimitSchema.parse({ limit: '100MiB' }),
      sample: () => rss.get('payment-1'),
      kill: async (instance) => {
        kills.push(instance);
        await new Promise<void>((resolve) => (release = resolve));
      },
      restart: async () => undefined,
    });
    watch.tick();
    watch.tick();
    expect(kills).toEqual(['payment-1']);
    const stopped = watch.stop();
    let done = false;
    void stopped.then(() => (done = true));
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(done).toBe(false);
    release();
    await stopped;
    // Stopped during the kill: no restart after it, and no more sampling.
    expect(watch.events().map((e) => e.kind)).toEqual(['oom-killed']);
    watch.tick();
    expect(watch.samples()).toHaveLength(1);
  });

  it('a disabled limit samples but never kills', async () => {
    const killed: string[] = [];
    const watch = createMemoryWatch({
      processes: () => [{ name: 'payment-1', pid: 1 }],
      limitOf: () => memoryLimitSchema.parse({ enabled: false, limit: '100MiB' }),
      sample: () => 500 * MIB,
      kill: async (instance) => void killed.push(instance),
      restart: async () => undefined,
    });
    watch.tick();
    await watch.stop();
    expect(killed).toEqual([]);
    expect(watch.samples()).toHaveLength(1);
  });

  it('reads this process\'s own resident memory from /proc', () => {
    const rss = readRss(process.pid);
    if (rss === undefined) return; // no /proc here
    expect(rss).toBeGreaterThan(10 * MIB);
    expect(readRss(2 ** 22 + 1)).toBeUndefined();
  });
});

describe('memoryLimit in a scenario', () => {
  const doc = (memoryLimit: unknown, expectations: unknown[] = [{ name: 'ok', type: 'books' }]) => ({
    name: 'unit',
    description: 'unit',
    category: 'resource',
    demonstrates: ['memoryLimit'],
    without: ['memoryLimit'],
    services: { payment: { memoryLimit } },
    phases: [{ name: 'leak', duration: '10s' }],
    load: { executor: 'constant-arrival-rate', journey: 'checkout', rate: 5, timeUnit: '1s', preAllocatedVUs: 5 },
    expectations,
  });
  const problems = (document: unknown): string => {
    try {
      parseScenario(document, 'unit.yaml', { fromFile: true });
      return '';
    } catch (error) {
      return (error as Error).message;
    }
  };

  it('parses, applies to every instance of the service, and is a --disable switch', () => {
    const scenario = parseScenario(doc({ enabled: true, limit: '160MiB' }), 'unit.yaml', { fromFile: true });
    expect(scenario.services.payment?.memoryLimit).toMatchObject({ enabled: true, limit: 160 * MIB, interval: 250, restart: { maxRestarts: 5, backoff: 1_000, maxBackoff: 30_000 } });
    expect([...memoryLimits(scenario).keys()]).toEqual(['payment-1', 'payment-2']);
    expect(switchedOnAt(scenario, 'memoryLimit')).toEqual(['payment']);
    const off = adjustScenario(scenario, { disable: ['memoryLimit'] });
    expect(off.services.payment?.memoryLimit?.enabled).toBe(false);
    expect(off.switchedOff).toEqual(['payment memoryLimit']);
  });

  it('a bad size is an error naming its path', () => {
    expect(problems(doc({ enabled: true, limit: 160 }))).toContain("services.payment.memoryLimit.limit: 160 has no unit: write '160MiB'");
    expect(problems(doc({ enabled: true, limit: '160 megs' }))).toContain("services.payment.memoryLimit.limit: '160 megs' is not a size");
    expect(problems(doc({ enabled: true }))).toContain('services.payment.memoryLimit.limit');
  });

  it('a memory expectation names an instance the shop has and a size with its unit', () => {
    const memory = (fields: Record<string, unknown>) => doc({ enabled: true, limit: '160MiB' }, [{ name: 'm', type: 'memory', instance: 'payment-1', max: '256MiB', ...fields }]);
    expect(problems(memory({}))).toBe('');
    expect(problems(memory({ instance: 'payment-9' }))).toContain("expectations.0.instance: no instance 'payment-9'");
    expect(problems(memory({ max: 256 }))).toContain("expectations.0.max: 256 has no unit");
    expect(problems(memory({ during: 'later' }))).toContain("expectations.0.during: no phase named 'later'");
  });
});
