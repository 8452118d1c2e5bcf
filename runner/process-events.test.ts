import { describe, expect, it } from 'vitest';
import { recordProcessEvents } from './process-events.ts';

describe('process events of a run', () => {
  it('notes the signals sent, the exits the supervisor saw and restarts once the new process is ready', async () => {
    let clock = 1_000;
    let exitListener: ((name: string, code: number | null, signal: string | null) => void) | undefined;
    const sent: string[] = [];
    let pid = 10;
    const log = recordProcessEvents(
      {
        signalInstance: (instance, signal) => {
          sent.push(`${instance} ${signal}`);
          if (signal === 'SIGKILL') exitListener?.(instance, null, 'SIGKILL');
        },
        restartInstance: async () => {
          clock += 700;
          pid = 11;
        },
        processes: () => [{ name: 'payment-1', pid } as ReturnType<Parameters<typeof recordProcessEvents>[0]['processes']>[number]],
        supervisor: { onUnexpectedExit: (listener) => (exitListener = listener) },
      },
      () => clock,
    );
    log.lab.signalInstance('payment-1', 'SIGKILL');
    clock += 100;
    await log.lab.restartInstance('payment-1');
    log.lab.signalInstance('payment-1', 'SIGSTOP');
    expect(sent).toEqual(['payment-1 SIGKILL', 'payment-1 SIGSTOP']);
    expect(log.events().map((e) => [e.timeMs, e.instance, e.event])).toEqual([
      [1_000, 'payment-1', 'exited'],
      [1_000, 'payment-1', 'killed'],
      [1_800, 'payment-1', 'restarted'],
      [1_800, 'payment-1', 'paused'],
    ]);
    expect(log.events()[0]).toMatchObject({ code: null, signal: 'SIGKILL' });
    expect(log.events()[2]).toMatchObject({ pid: 11, tookMs: 700 });
  });
});
