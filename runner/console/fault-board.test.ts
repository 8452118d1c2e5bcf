// The board against a recording FaultTarget and a fake lab admin; the manual
// recorder's `skip` against a fake fault proxy on port 0 (it polls over HTTP).

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FaultTarget } from '../fault-timeline.ts';
import type { FaultSpec } from '../scenario.ts';
import { recordManualFaults } from '../up.ts';
import { ConsoleInputError } from './fault-presets.ts';
import { createFaultBoard, type LabFaultAdmin, type ListedFault } from './fault-board.ts';

/** Records every call; `fail` names faults whose apply or remove throws. */
function recordingTarget(fail: { apply?: string[]; remove?: string[] } = {}) {
  const calls: Array<{ action: 'apply' | 'remove'; fault: FaultSpec }> = [];
  const active = new Set<string>();
  const target: FaultTarget = {
    async apply(fault) {
      calls.push({ action: 'apply', fault });
      if (fail.apply?.some((part) => fault.name.includes(part))) throw new Error(`proxy refused ${fault.name}`);
      active.add(fault.name);
    },
    async remove(fault) {
      calls.push({ action: 'remove', fault });
      if (fail.remove?.some((part) => fault.name.includes(part))) throw new Error(`proxy lost ${fault.name}`);
      active.delete(fault.name);
    },
  };
  return { target, calls, active };
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'faultline-fault-board-'));
});
const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
  await rm(dir, { recursive: true, force: true });
});

async function lines(file: string): Promise<Array<Record<string, unknown>>> {
  return (await readFile(file, 'utf8'))
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection');
}

describe('fault board', () => {
  it('applies and removes through the target, writing FaultRecord lines with source console', async () => {
    const { target, calls } = recordingTarget();
    let clock = 5_000;
    const logFile = join(dir, 'faults.jsonl');
    const board = createFaultBoard({ target, logFile, startedAt: 1_000, now: () => clock });
    const applied = await board.apply('errors-50');
    expect(applied).toMatchObject({ name: 'console-errors-50-1', preset: 'errors-50', target: 'payment->bank', type: 'http_error', offsetMs: 4_000 });
    expect(calls).toEqual([{ action: 'apply', fault: { type: 'http_error', name: 'console-errors-50-1', edge: 'payment->bank', status: 503, rate: 0.5 } }]);
    clock += 250;
    await board.apply('cpu-burn-50', 'payment-2', { origin: 'game-day 7' });
    expect(board.active().map((fault) => fault.name)).toEqual(['console-errors-50-1', 'console-cpu-burn-50-2']);
    clock += 250;
    await board.remove('console-errors-50-1');
    expect(calls.at(-1)).toMatchObject({ action: 'remove', fault: { name: 'console-errors-50-1' } });
    expect(board.active().map((fault) => fault.name)).toEqual(['console-cpu-burn-50-2']);

    const records = await lines(logFile);
    expect(records).toEqual([
      { time: new Date(5_000).toISOString(), offsetMs: 4_000, action: 'apply', fault: 'console-errors-50-1', type: 'http_error', target: 'payment->bank', ok: true, source: 'console', preset: 'errors-50' },
      {
        time: new Date(5_250).toISOString(),
        offsetMs: 4_250,
        action: 'apply',
        fault: 'console-cpu-burn-50-2',
        type: 'cpu_burn',
        target: 'payment-2',
        ok: true,
        source: 'console',
        preset: 'cpu-burn-50',
        origin: 'game-day 7',
      },
      { time: new Date(5_500).toISOString(), offsetMs: 4_500, action: 'remove', fault: 'console-errors-50-1', type: 'http_error', target: 'payment->bank', ok: true, source: 'console', preset: 'errors-50' },
    ]);
    expect(board.records()).toEqual(records);
  });

  it('gives each application its own name', async () => {
    const { target } = recordingTarget();
    const board = createFaultBoard({ target, startedAt: 0 });
    const names = [await board.apply('latency-1s'), await board.apply('latency-1s'), await board.apply('latency-1s', 'gateway->cart')].map((fault) => fault.name);
    expect(new Set(names).size).toBe(3);
  });

  it('answers bad input with ConsoleInputError before touching the lab', async () => {
    const { target, calls } = recordingTarget();
    const board = createFaultBoard({ target, startedAt: 0 });
    const unknownPreset = await rejection(board.apply('nope'));
    expect(unknownPreset).toMatchObject({ code: 'CONSOLE_UNKNOWN_PRESET', status: 400 });
    const badTarget = await rejection(board.apply('down', 'bank->payment'));
    expect(badTarget).toMatchObject({ code: 'CONSOLE_TARGET_NOT_ALLOWED', status: 400 });
    expect(badTarget.message).toMatch(/preset 'down' cannot act on 'bank->payment'/);
    const unknownFault = await rejection(board.remove('console-down-9'));
    expect(unknownFault).toBeInstanceOf(ConsoleInputError);
    expect(unknownFault).toMatchObject({ code: 'CONSOLE_UNKNOWN_FAULT', status: 404, message: "no active console fault 'console-down-9' (active: none)" });
    expect(calls).toEqual([]);
  });

  it('refuses a second pause of one instance, or a second down of one edge, while the first holds it', async () => {
    const { target } = recordingTarget();
    const board = createFaultBoard({ target, startedAt: 0 });
    await board.apply('pause', 'bank');
    expect(await rejection(board.apply('kill', 'bank'))).toMatchObject({ code: 'CONSOLE_FAULT_CONFLICT', status: 409, message: "'bank' already has console-pause-1 (pause): remove it first" });
    await board.apply('down', 'payment->bank');
    expect(await rejection(board.apply('down', 'payment->bank'))).toMatchObject({ code: 'CONSOLE_FAULT_CONFLICT' });
    await board.remove('console-pause-1');
    await expect(board.apply('kill', 'bank')).resolves.toMatchObject({ preset: 'kill' });
  });

  it('records a refused application as failed, undoes what part of it took, and keeps it off the list', async () => {
    const { target, calls } = recordingTarget({ apply: ['partition'] });
    const logFile = join(dir, 'faults.jsonl');
    const board = createFaultBoard({ target, logFile, startedAt: 0, now: () => 10 });
    expect((await rejection(board.apply('partition-blackhole'))).message).toBe('proxy refused console-partition-blackhole-1');
    expect(calls.map((call) => call.action)).toEqual(['apply', 'remove']);
    expect(board.active()).toEqual([]);
    expect(await lines(logFile)).toEqual([
      expect.objectContaining({ action: 'apply', fault: 'console-partition-blackhole-1', type: 'partition', target: 'checkout<->inventory', ok: false, error: 'proxy refused console-partition-blackhole-1', source: 'console' }),
    ]);
  });

  it('owns its faults by name, and the proxies of its down faults while active and shortly after', async () => {
    const { target } = recordingTarget();
    let clock = 0;
    const board = createFaultBoard({ target, startedAt: 0, now: () => clock, ownershipGraceMs: 1_000 });
    const latency = await board.apply('latency-1s', 'checkout->payment');
    const down = await board.apply('down', 'checkout->payment');
    const proxyDown = (proxy: string): ListedFault => ({ fault: `${proxy}-down`, type: 'down', target: proxy });
    expect(board.owns({ fault: latency.name, type: 'latency', target: 'checkout-payment.1' })).toBe(true);
    expect(board.owns(proxyDown('checkout-payment.2'))).toBe(true);
    expect(board.owns(proxyDown('payment-bank'))).toBe(false);
    expect(board.owns({ fault: 'slow-by-hand', type: 'latency', target: 'checkout-payment.1' })).toBe(false);
    await board.remove(down.name);
    await board.remove(latency.name);
    clock += 500;
    expect(board.owns(proxyDown('checkout-payment.1'))).toBe(true);
    // A name stays the console's: a poll that listed it before the removal still skips it.
    expect(board.owns({ fault: latency.name, type: 'latency', target: 'checkout-payment.1' })).toBe(true);
    clock += 600;
    expect(board.owns(proxyDown('checkout-payment.1'))).toBe(false);
  });

  it('resetAll removes its own faults (processes first), then everything else the admin APIs show', async () => {
    const { target, calls, active } = recordingTarget();
    const done: string[] = [];
    const admin: LabFaultAdmin = {
      async activeFaults() {
        done.push('list');
        return new Map<string, ListedFault>([
          ['toxic payment-bank slow-by-hand', { fault: 'slow-by-hand', type: 'latency', target: 'payment-bank' }],
          ['down cart-catalog.1', { fault: 'cart-catalog.1-down', type: 'down', target: 'cart-catalog.1' }],
          ['process inventory burn', { fault: 'burn', type: 'cpu_burn', target: 'inventory' }],
        ]);
      },
      resetProxy: async () => void done.push('POST /reset'),
      removeInstanceFault: async (instance, name) => void done.push(`DELETE ${instance} ${name}`),
      strayProcesses: async () => ({ paused: ['collector'], killed: ['catalog-2'] }),
      resume: (instance) => void done.push(`SIGCONT ${instance}`),
      restart: async (instance) => void done.push(`restart ${instance}`),
    };
    const logFile = join(dir, 'faults.jsonl');
    const board = createFaultBoard({ target, logFile, startedAt: 0, admin });
    await board.apply('memory-leak-slow', 'bank');
    await board.apply('pause', 'bank');
    const summary = await board.resetAll();
    // The frozen bank is thawed before its leak is removed (a DELETE to a frozen process would hang).
    expect(calls.slice(2).map((call) => `${call.action} ${call.fault.name}`)).toEqual(['remove console-pause-2', 'remove console-memory-leak-slow-1']);
    expect(active.size).toBe(0);
    expect(board.active()).toEqual([]);
    expect(done).toEqual(['SIGCONT collector', 'restart catalog-2', 'list', 'POST /reset', 'DELETE inventory burn']);
    expect(summary).toEqual({
      removed: ['console-pause-2', 'console-memory-leak-slow-1'],
      cleared: [
        { fault: 'slow-by-hand', type: 'latency', target: 'payment-bank' },
        { fault: 'cart-catalog.1-down', type: 'down', target: 'cart-catalog.1' },
        { fault: 'burn', type: 'cpu_burn', target: 'inventory' },
      ],
      resumed: ['collector'],
      restarted: ['catalog-2'],
      errors: [],
    });
    // Only the console's own faults are the console's to record; the manual recorder sees the rest go.
    expect((await lines(logFile)).map((record) => `${record.action} ${record.fault} ${record.source}`)).toEqual([
      'apply console-memory-leak-slow-1 console',
      'apply console-pause-2 console',
      'remove console-pause-2 console',
      'remove console-memory-leak-slow-1 console',
    ]);
  });

  it('resetAll goes on past what fails, and says what did', async () => {
    const { target } = recordingTarget({ remove: ['latency'] });
    const admin: LabFaultAdmin = {
      activeFaults: async () => new Map(),
      resetProxy: async () => {
        throw new Error('fault proxy unreachable');
      },
      removeInstanceFault: async () => undefined,
      strayProcesses: async () => ({ paused: [], killed: [] }),
      resume: () => undefined,
      restart: async () => undefined,
    };
    const board = createFaultBoard({ target, startedAt: 0, admin });
    await board.apply('latency-5s');
    await board.apply('cpu-burn-25');
    const summary = await board.resetAll();
    expect(summary.removed).toEqual(['console-cpu-burn-25-2']);
    expect(summary.errors).toEqual(['console-latency-5s-1: proxy lost console-latency-5s-1', 'POST /reset on the fault proxy: fault proxy unreachable']);
    expect(board.active()).toEqual([]);
  });

  it('keeps its faults out of the manual recorder: each fault is recorded once', async () => {
    const { target } = recordingTarget();
    const logFile = join(dir, 'faults.jsonl');
    const board = createFaultBoard({ target, logFile, startedAt: 0, now: () => 100 });
    const applied = await board.apply('latency-100ms');
    const toxics = [
      { name: applied.name, type: 'latency' },
      { name: 'slow-by-hand', type: 'latency' },
    ];
    const server = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(req.url === '/proxies' ? { 'payment-bank': { enabled: true, toxics, http_faults: [] } } : []));
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const chaosAdminUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    const recorder = recordManualFaults({ runDir: dir, chaosAdminUrl, processes: () => [], adminUrl: () => chaosAdminUrl }, 0, () => 200, board.owns);
    await recorder.poll();
    await recorder.stop();
    expect((await lines(logFile)).map((record) => `${record.action} ${record.fault} ${record.source}`)).toEqual([
      `apply ${applied.name} console`,
      'apply slow-by-hand admin API',
      'remove slow-by-hand admin API',
    ]);
  });
});
