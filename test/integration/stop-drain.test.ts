// Every stop drains, and keeps the books. Against real processes, with the
// bank slowed so that sagas are caught mid-charge:
// - a terminal's Ctrl-C reaches the whole process group at once (a
//   runner-like parent with its lab, in a process group of its own): the
//   services leave the stop to the runner, which stops them in order, so
//   checkout finishes its sagas while payment, inventory and the bank are
//   still up;
// - a saga whose client has hung up is still in flight: a SIGTERM-ed
//   checkout waits for it (not only for open requests) before it closes.

import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, describe, expect, it } from 'vitest';
import { HEADER } from '../../demo-services/kit/conventions.ts';
import { checkBooks } from '../../runner/books.ts';
import { startLab, type Lab } from '../../runner/lab.ts';
import { PROJECT_ROOT } from '../../runner/supervisor.ts';
import { processStat } from '../../runner/watchdog.ts';
import { until } from '../until.ts';

let lab: Lab | undefined;
let runDir: string | undefined;

afterEach(async () => {
  await lab?.stop();
  lab = undefined;
  if (runDir) await rm(runDir, { recursive: true, force: true });
  runDir = undefined;
}, 60_000);

function orderRows(dir: string): Array<{ order_id: string; state: string; reservation_id: string | null }> {
  const db = new DatabaseSync(join(dir, 'data', 'checkout.sqlite'), { readOnly: true });
  try {
    return db.prepare('SELECT order_id, state, reservation_id FROM orders').all() as never;
  } finally {
    db.close();
  }
}

const running = (pid: number) => {
  const stat = processStat(pid);
  return stat !== undefined && stat.state !== 'Z' && stat.state !== 'X';
};

const LAB_POLICIES = {
  bank: { behaviour: { latency: '1200ms' } },
  payment: { bank: { timeout: { timeout: '5s' }, retry: { enabled: false }, circuitBreaker: { enabled: false } } },
  checkout: { payment: { timeout: { timeout: '4s' }, retry: { maxAttempts: 2, baseDelay: '10ms' } } },
};

const place = (checkoutUrl: string, key: string, signal?: AbortSignal) =>
  fetch(`${checkoutUrl}/checkout`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', [HEADER.idempotencyKey]: key },
    body: JSON.stringify({ userId: 'user-1', items: [{ sku: 'sku-4', quantity: 1 }], amount: 2_500 }),
    ...(signal ? { signal } : {}),
  }).then(
    (response) => response.status,
    () => 'cut' as const,
  );

describe('a stop drains the sagas under way', () => {
  it("a terminal's Ctrl-C to the whole process group during load leaves balanced books", async () => {
    runDir = await mkdtemp(join(tmpdir(), 'faultline-ctrl-c-'));
    const dir = runDir;
    // A runner as `faultline run` is one: its lab, and Ctrl-C stops the lab in order.
    const script = `import { startLab } from ${JSON.stringify(join(PROJECT_ROOT, 'runner/lab.ts'))};
const lab = await startLab({ runDir: ${JSON.stringify(dir)}, seed: 3, services: ['checkout'], policies: ${JSON.stringify(LAB_POLICIES)} });
process.on('SIGINT', async () => { await lab.stop(); process.exit(0); });
process.stdout.write(JSON.stringify({ checkout: lab.serviceUrl('checkout') }) + '\\n');`;
    // Its own process group, as a shell gives a foreground job: the group gets the terminal's SIGINT.
    const runner = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: PROJECT_ROOT, detached: true, stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise<number | null>((resolve) => runner.once('exit', resolve));
    let out = '';
    const checkoutUrl = await new Promise<string>((resolve, reject) => {
      runner.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const line = out.split('\n').find((candidate) => candidate.startsWith('{'));
        if (line) resolve((JSON.parse(line) as { checkout: string }).checkout);
      });
      void exited.then((code) => reject(new Error(`the runner exited early (${code}): ${out}`)));
    });
    const pids = (JSON.parse(await readFile(join(dir, 'processes.json'), 'utf8')) as Array<{ pid: number }>).map((p) => p.pid);
    try {
      const placed = Array.from({ length: 6 }, (_, i) => place(checkoutUrl, `ctrl-c-order-${i}-${Date.now()}`));
      await until('orders mid-charge', () => (orderRows(dir).filter((o) => o.state === 'pending' && o.reservation_id !== null).length >= 3 ? true : undefined), 15_000, 20);
      process.kill(-(runner.pid as number), 'SIGINT');
      expect(await exited).toBe(0);
      await Promise.all(placed);
      const books = checkBooks(dir);
      expect(books.violations).toEqual([]);
      expect(books.orders).toMatchObject({ pending: 0, compensating: 0 });
      // Begun sagas were finished, not undone: their dependencies were still up.
      expect(books.orders.confirmed).toBe(6);
      expect(pids.filter(running)).toEqual([]);
    } finally {
      if (runner.exitCode === null) runner.kill('SIGKILL');
      for (const pid of pids.filter(running)) process.kill(pid, 'SIGKILL');
    }
  }, 120_000);

  it('a SIGTERM-ed checkout finishes a saga whose client hung up before it closes', async () => {
    runDir = await mkdtemp(join(tmpdir(), 'faultline-hung-up-'));
    const dir = runDir;
    lab = await startLab({ runDir: dir, seed: 4, services: ['checkout'], policies: LAB_POLICIES });
    // The client gives up while the bank still holds the charge: no request is open any more, the saga goes on.
    const answer = await place(lab.serviceUrl('checkout'), `hung-up-${Date.now()}`, AbortSignal.timeout(400));
    expect(answer).toBe('cut');
    await until('the order mid-charge', () => (orderRows(dir).some((o) => o.state === 'pending' && o.reservation_id !== null) ? true : undefined), 15_000, 20);
    await lab.supervisor.stop('checkout');
    const rows = orderRows(dir);
    expect(rows).toHaveLength(1);
    expect(rows[0]?.state).toBe('confirmed');
    await lab.stop();
    lab = undefined;
    expect(checkBooks(dir)).toMatchObject({ ok: true, orders: { confirmed: 1 }, charges: { total: 1, refunded: 0 } });
  }, 90_000);
});
