// A busy neighbour: N processes that each keep one core busy, the condition
// every verdict and timing-sensitive test must hold under (a CI runner or a
// workshop laptop that is doing something else too). `npm run test:noisy`
// runs the integration and end-to-end tests beside one; the verdict-agreement
// benchmark runs scenarios beside none, one and two.
//
//   node scripts/busy-neighbour.ts [--cores N] -- <command> [args...]
//
// runs the command with N busy cores beside it, stops them when it ends (or
// on Ctrl-C), and exits with the command's code.

import { spawn, type ChildProcess } from 'node:child_process';

export interface BusyNeighbour {
  pids: number[];
  stop(): Promise<void>;
}

/** Start `cores` processes that spin until stopped (and exit by themselves if this process dies). */
export function startBusyNeighbour(cores: number): BusyNeighbour {
  const children: ChildProcess[] = Array.from({ length: cores }, () =>
    // The spinner checks its IPC channel now and then: when the parent is gone it exits, so none is orphaned.
    spawn(process.execPath, ['-e', "process.on('disconnect', () => process.exit(0)); const spin = () => { const end = Date.now() + 50; while (Date.now() < end); setImmediate(spin); }; spin();"], {
      stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
    }),
  );
  return {
    pids: children.map((child) => child.pid as number),
    stop: () =>
      Promise.all(
        children.map(
          (child) =>
            new Promise<void>((resolve) => {
              if (child.exitCode !== null || child.signalCode !== null) return resolve();
              child.once('exit', () => resolve());
              child.kill('SIGKILL');
            }),
        ),
      ).then(() => undefined),
  };
}

async function main(argv: string[]): Promise<number> {
  const dash = argv.indexOf('--');
  const own = dash < 0 ? argv : argv.slice(0, dash);
  const command = dash < 0 ? [] : argv.slice(dash + 1);
  let cores = 1;
  for (let i = 0; i < own.length; i += 1) {
    if (own[i] === '--cores') {
      cores = Number(own[i + 1]);
      i += 1;
    } else {
      process.stderr.write(`busy-neighbour: unknown option ${own[i]}\n`);
      return 2;
    }
  }
  if (!Number.isInteger(cores) || cores < 0) {
    process.stderr.write('busy-neighbour: --cores must be a whole number >= 0\n');
    return 2;
  }
  if (command.length === 0) {
    process.stderr.write('usage: node scripts/busy-neighbour.ts [--cores N] -- <command> [args...]\n');
    return 2;
  }
  const neighbour = startBusyNeighbour(cores);
  process.stdout.write(`busy neighbour: ${cores} core(s) kept busy (pids ${neighbour.pids.join(', ') || 'none'}) while: ${command.join(' ')}\n`);
  const child = spawn(command[0] as string, command.slice(1), { stdio: 'inherit' });
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  const code = await new Promise<number>((resolve) => {
    child.once('error', (error) => {
      process.stderr.write(`busy-neighbour: could not run ${command[0]}: ${error.message}\n`);
      resolve(2);
    });
    child.once('exit', (exitCode, signal) => resolve(exitCode ?? (signal ? 1 : 0)));
  });
  await neighbour.stop();
  return code;
}

if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = await main(process.argv.slice(2));
