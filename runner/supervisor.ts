// Starts the lab's processes, waits for each to announce the ports it bound,
// writes their output to the run's log files, and stops all of them: in
// reverse start order with SIGTERM (so callers drain while what they call is
// still up, and flush), then SIGKILL for any that do not exit within the
// longer of the stop's grace and the drain bound the process announced. A
// restarted process keeps its place in that order. If the supervisor dies
// (even SIGKILLed, even with a process paused), its watchdog
// (runner/watchdog.ts) stops the lab in the same order: no orphan is left
// (see demo-services/kit/lifecycle.ts for the children's side).

import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import type { Writable } from 'node:stream';
import type { RotationPolicy } from '../collector/rotated-files.ts';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { isReadyMessage, LOG_FILE_ENV } from '../demo-services/kit/lifecycle.ts';
import { EXIT_PORT_IN_USE } from '../demo-services/kit/lifecycle.ts';
import { ERROR_CODE, FaultlineError } from './errors.ts';
import { createEntryResolver } from './lab-build.ts';
import { createLogFile } from './rotating-log.ts';
import { processStat, type WatchMessage, type WatchedProcess } from './watchdog.ts';

export interface ProcessSpec {
  /** Unique name, e.g. `payment-1`. */
  name: string;
  /** Entry module, relative to the project root. */
  entry: string;
  env: Record<string, string>;
  /** Node flags, e.g. `--import` of the telemetry preload. */
  nodeArgs?: string[];
  readyTimeoutMs?: number;
}

export interface ManagedProcess {
  name: string;
  pid: number;
  ports: Record<string, number>;
  child: ChildProcess;
  /** The longest its stop may take, as it announced (0 when it did not say). */
  stopGraceMs: number;
}

export interface Supervisor {
  start(spec: ProcessSpec): Promise<ManagedProcess>;
  processes(): ManagedProcess[];
  /** Called when a process exits on its own (a crash, not a stop). */
  onUnexpectedExit(listener: (name: string, code: number | null, signal: string | null) => void): void;
  /** Process faults: SIGKILL (crash), SIGSTOP (pause: the process holds its sockets but answers nothing), SIGCONT (resume). */
  signal(name: string, signal: 'SIGKILL' | 'SIGSTOP' | 'SIGCONT'): void;
  /** Stop one process cleanly (it drains), as in a rolling restart. */
  stop(name: string, graceMs?: number): Promise<void>;
  /**
   * Stop everything, processes still starting included. `together`: all at once instead of in
   * reverse start order (a start-up cut short by Ctrl-C: nothing is in flight, so the order
   * buys nothing and one at a time would cost a process's exit time per process).
   */
  stopAll(graceMs?: number, options?: { together?: boolean }): Promise<void>;
}

export const PROJECT_ROOT = new URL('..', import.meta.url).pathname;

/**
 * V8 flags for every lab process. A lab process handles tens to hundreds of
 * requests a second, so a small young generation costs little CPU and saves
 * ~20 MB of resident memory per process (measured in docs/benchmarks.md).
 */
const LAB_NODE_FLAGS = ['--max-semi-space-size=2'];

/** Where lab processes keep V8's compiled code between starts (gitignored, like the build). */
const COMPILE_CACHE_DIR = join(PROJECT_ROOT, '.lab', 'compile-cache');

/** logRotation caps each process's log file by size (as in `up`); without it the files keep everything. */
export function createSupervisor(options: { logDir: string; logRotation?: RotationPolicy }): Supervisor {
  const running = new Map<string, ManagedProcess>();
  const logs: Writable[] = [];
  const exitListeners: Array<(name: string, code: number | null, signal: string | null) => void> = [];
  let stopping = false;
  const stoppedOnPurpose = new WeakSet<ManagedProcess>();
  const byName = (name: string): ManagedProcess => {
    const managed = running.get(name);
    if (!managed) throw new FaultlineError(ERROR_CODE.badOption, `no running process named '${name}' (running: ${[...running.keys()].join(', ')})`);
    return managed;
  };
  const resolveEntry = createEntryResolver(PROJECT_ROOT);
  /** Place of each name in the start order, kept across restarts: stops go in reverse of it. */
  const rank = new Map<string, number>();
  const inStopOrder = () => [...running.values()].sort((a, b) => (rank.get(b.name) ?? 0) - (rank.get(a.name) ?? 0));
  const startTimes = new WeakMap<ManagedProcess, string | undefined>();
  /** Spawned, not ready yet: watched too (stopped first, with the default grace). */
  const starting = new Map<ChildProcess, WatchedProcess>();
  const DEFAULT_GRACE_MS = 8_000;

  // The watchdog lives while there is something to watch.
  let watchdog: ChildProcess | undefined;
  const updateWatchdog = (): void => {
    const processes: WatchedProcess[] = [
      ...starting.values(),
      ...inStopOrder().map((managed) => {
        const startTime = startTimes.get(managed);
        return { name: managed.name, pid: managed.pid, graceMs: Math.max(DEFAULT_GRACE_MS, managed.stopGraceMs), ...(startTime ? { startTime } : {}) };
      }),
    ];
    if (processes.length === 0) {
      if (watchdog?.connected) {
        watchdog.send({ type: 'watch', processes } satisfies WatchMessage);
        watchdog.disconnect();
      }
      watchdog = undefined;
      return;
    }
    if (!watchdog) {
      const logFd = openSync(join(options.logDir, 'watchdog.log'), 'a');
      try {
        // Its own session: a terminal's Ctrl-C to our process group must not reach it.
        watchdog = spawn(process.execPath, [join(PROJECT_ROOT, 'runner/watchdog.ts')], { cwd: PROJECT_ROOT, detached: true, stdio: ['ignore', logFd, logFd, 'ipc'] });
      } finally {
        closeSync(logFd);
      }
      // Neither the process nor its channel keeps the supervisor alive.
      const started = watchdog;
      started.on('error', () => undefined);
      started.once('exit', () => {
        if (watchdog === started) watchdog = undefined;
      });
      started.unref();
      started.channel?.unref();
    }
    if (watchdog.connected) watchdog.send({ type: 'watch', processes } satisfies WatchMessage);
  };

  const start = async (spec: ProcessSpec): Promise<ManagedProcess> => {
    await mkdir(options.logDir, { recursive: true });
    // A start that lost the race with stopAll (a Ctrl-C during start-up) must not leave a process behind.
    if (stopping) throw new FaultlineError(ERROR_CODE.interrupted, `${spec.name}: not started, the lab is stopping`);
    const log = createLogFile(join(options.logDir, `${spec.name}.jsonl`), options.logRotation);
    logs.push(log);
    const nodeArgs = (spec.nodeArgs ?? []).map((arg) => (arg.endsWith('.ts') ? resolveEntry(arg) : arg));
    const child = spawn(process.execPath, [...LAB_NODE_FLAGS, ...nodeArgs, resolveEntry(spec.entry)], {
      cwd: PROJECT_ROOT,
      // V8's compile cache on disk: every lab process loads the same modules, so
      // after the first start they skip compiling them (measured in docs/benchmarks.md).
      // Two malloc arenas instead of one per thread: V8's and libuv's threads
      // allocate little, and every extra arena keeps its own free memory resident.
      // A fixed mmap threshold of 128 KiB: blocks that large (V8's compiler
      // zones, big buffers) are mapped and unmapped, instead of glibc raising
      // the threshold after the first free and keeping them on the heap, which
      // left each traffic-carrying service ~5-9 MiB larger after some load.
      env: {
        NODE_COMPILE_CACHE: COMPILE_CACHE_DIR,
        MALLOC_ARENA_MAX: '2',
        MALLOC_MMAP_THRESHOLD_: '131072',
        ...process.env,
        // Where the process writes its own output once we are gone (demo-services/kit/lifecycle.ts).
        [LOG_FILE_ENV]: join(options.logDir, `${spec.name}.jsonl`),
        ...spec.env,
      },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    child.stdout?.pipe(log, { end: false });
    if (child.pid !== undefined) {
      const startTime = processStat(child.pid)?.startTime;
      starting.set(child, { name: spec.name, pid: child.pid, graceMs: DEFAULT_GRACE_MS, ...(startTime ? { startTime } : {}) });
      updateWatchdog();
      const settled = () => {
        starting.delete(child);
        updateWatchdog();
      };
      child.once('message', settled);
      child.once('exit', settled);
    }
    let stderrTail = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      log.write(chunk);
      stderrTail = (stderrTail + chunk.toString()).slice(-2_000);
    });

    let stopGraceMs = 0;
    const ready = await new Promise<Record<string, number>>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new FaultlineError(ERROR_CODE.startFailed, `${spec.name} did not become ready within ${spec.readyTimeoutMs ?? 15_000} ms`));
      }, spec.readyTimeoutMs ?? 15_000);
      child.on('message', (message) => {
        if (isReadyMessage(message)) {
          clearTimeout(timer);
          stopGraceMs = message.stopGraceMs ?? 0;
          resolve(message.ports);
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        const lastLine = stderrTail.trim().split('\n').filter(Boolean).pop();
        // SIGINT before the process set its own handler: a terminal's Ctrl-C reached
        // the whole group, often before it reaches us. That is the interruption, not a failure.
        if (signal === 'SIGINT') {
          reject(new FaultlineError(ERROR_CODE.interrupted, `${spec.name} got SIGINT during start-up`));
          return;
        }
        const codeName = code === EXIT_PORT_IN_USE ? ERROR_CODE.portInUse : ERROR_CODE.startFailed;
        reject(new FaultlineError(codeName, lastLine ?? `${spec.name} exited during start-up (code ${code}, signal ${signal})`));
      });
    });

    const managed: ManagedProcess = { name: spec.name, pid: child.pid as number, ports: ready, child, stopGraceMs };
    if (!rank.has(spec.name)) rank.set(spec.name, rank.size);
    startTimes.set(managed, processStat(managed.pid)?.startTime);
    running.set(spec.name, managed);
    updateWatchdog();
    child.once('exit', (code, signal) => {
      // A restarted process reuses the name: only forget the entry if it is still this one.
      if (running.get(spec.name) === managed) running.delete(spec.name);
      updateWatchdog();
      if (!stopping && !stoppedOnPurpose.has(managed)) for (const listener of exitListeners) listener(spec.name, code, signal);
    });
    return managed;
  };

  const stopOne = (managed: ManagedProcess, graceMs: number): Promise<void> =>
    new Promise((resolve) => {
      const { child } = managed;
      if (child.exitCode !== null || child.signalCode !== null) {
        resolve();
        return;
      }
      const killer = setTimeout(() => child.kill('SIGKILL'), Math.max(graceMs, managed.stopGraceMs));
      child.once('exit', () => {
        clearTimeout(killer);
        resolve();
      });
      // A paused process cannot handle SIGTERM; wake it first.
      child.kill('SIGCONT');
      child.kill('SIGTERM');
    });

  return {
    start,
    processes: () => [...running.values()],
    onUnexpectedExit: (listener) => exitListeners.push(listener),
    signal(name, signal) {
      byName(name).child.kill(signal);
    },
    async stop(name, graceMs = DEFAULT_GRACE_MS) {
      const managed = byName(name);
      stoppedOnPurpose.add(managed);
      await stopOne(managed, graceMs);
    },
    async stopAll(graceMs = DEFAULT_GRACE_MS, stopOptions = {}) {
      stopping = true;
      // Spawned but not ready yet (a start cut short): they have nothing to drain.
      const unready = [...starting.keys()].map((child) => stopOne({ name: '', pid: child.pid as number, ports: {}, child, stopGraceMs: 0 }, graceMs));
      if (stopOptions.together) {
        // graceMs is the bound here, even for a process that announced a longer drain: it has nothing to drain yet.
        await Promise.all([...unready, ...inStopOrder().map((managed) => stopOne({ ...managed, stopGraceMs: 0 }, graceMs))]);
      } else {
        await Promise.all(unready);
        // Reverse start order: entry services drain first while what they call is still up,
        // and the collector (started first) stops last, after receiving everyone's final flush.
        for (const managed of inStopOrder()) await stopOne(managed, graceMs);
      }
      updateWatchdog();
      await Promise.all(logs.map((log) => new Promise<void>((resolve) => log.end(() => resolve()))));
    },
  };
}
