import { describe, expect, it } from 'vitest';
import { CRASH_RESTART, reapplyingDataFaults, restartCrashedInstances, type CrashEvent } from './crash-restart.ts';
import type { FaultSpec } from './scenario.ts';

/** A supervisor whose exits the test sends, and a restart that records what it was asked. */
function fakeLab(failFirst = 0) {
  let exit: (name: string, code: number | null, signal: string | null) => void = () => undefined;
  const restarted: string[] = [];
  let failures = failFirst;
  return {
    supervisor: { onUnexpectedExit: (listener: typeof exit) => void (exit = listener) },
    processEvents: {
      restartFor: async (instance: string, reason: string) => {
        if (failures-- > 0) throw new Error('did not become ready');
        restarted.push(`${instance}:${reason}`);
      },
    },
    exit: (name: string, code: number | null, signal: string | null) => exit(name, code, signal),
    restarted,
  };
}

describe('crash restarts', () => {
  it('restarts an instance that exited by itself, at once and then backing off; a kill by signal is left alone', async () => {
    const lab = fakeLab();
    const slept: number[] = [];
    const events: CrashEvent[] = [];
    const again: string[] = [];
    const restarts = restartCrashedInstances({ ...lab, sleep: async (ms) => void slept.push(ms), afterRestart: async (instance) => void again.push(instance), onEvent: (event) => events.push(event) });
    lab.exit('catalog-1', 70, null);
    lab.exit('payment-1', null, 'SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 10));
    await restarts.stop();
    expect(lab.restarted).toEqual(['catalog-1:crash']);
    expect(again).toEqual(['catalog-1']);
    expect(events.map((e) => e.kind)).toEqual(['crashed', 'restarted']);
    expect(slept).toEqual([0]);
  });

  it('backs off further on each crash and on a failed start', async () => {
    const lab = fakeLab(1);
    const slept: number[] = [];
    const restarts = restartCrashedInstances({ ...lab, sleep: async (ms) => void slept.push(ms) });
    lab.exit('catalog-1', 70, null);
    await new Promise((resolve) => setTimeout(resolve, 10));
    lab.exit('catalog-1', 70, null);
    await new Promise((resolve) => setTimeout(resolve, 10));
    await restarts.stop();
    // First start failed (at once), then 1 s; the second crash 2 s.
    expect(slept).toEqual([0, CRASH_RESTART.backoff, 2 * CRASH_RESTART.backoff]);
    expect(lab.restarted).toEqual(['catalog-1:crash', 'catalog-1:crash']);
    expect(restarts.events().filter((e) => e.kind === 'restart-failed')).toHaveLength(1);
  });
});

describe('data faults', () => {
  const poison = { type: 'poison', name: 'catalog-1-poison', target: 'catalog-1', attributes: { path: '/products/sku-13' } } as unknown as FaultSpec;
  const leak = { type: 'memory_leak', name: 'leak', target: 'catalog-1', attributes: { rateMiBPerSecond: 1, capMiB: 10 } } as unknown as FaultSpec;

  it('applies a poison again to its restarted instance, not a leak, and not once removed; removing it from a dead instance is no error', async () => {
    const applied: string[] = [];
    let up = true;
    const target = reapplyingDataFaults(
      {
        apply: async (fault) => void applied.push(fault.name),
        remove: async () => {
          if (!up) throw new Error('connection refused');
        },
      },
      () => up,
    );
    await target.apply(poison);
    await target.apply(leak);
    await target.reapply('catalog-1');
    await target.reapply('catalog-2');
    expect(applied).toEqual(['catalog-1-poison', 'leak', 'catalog-1-poison']);
    up = false;
    await target.remove(poison);
    await expect(target.remove(leak)).rejects.toThrow('connection refused');
    await target.reapply('catalog-1');
    expect(applied).toHaveLength(3);
  });
});
