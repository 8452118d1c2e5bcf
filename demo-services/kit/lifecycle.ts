// How every lab process (service, fault proxy, collector) talks to the
// supervisor that started it: it announces readiness with the ports it
// actually bound (so tests can use port 0) and the longest it may need to
// drain, and it shuts down by draining on every stop signal.
//
// Stopping in order is what keeps a saga's books: a caller must finish (or
// undo) the work it has begun while what it calls is still up. So:
// - SIGTERM drains, whoever sends it. The supervisor sends it in reverse
//   start order (callers first, their dependencies after, the fault proxy
//   and the collector last).
// - SIGINT to a supervised process is ignored: a terminal's Ctrl-C reaches the
//   whole process group at once, the supervisor too, and the supervisor
//   answers it with the ordered SIGTERMs. Were every process to drain at its
//   own SIGINT, checkout's dependencies would be gone before its sagas end.
//   A process run by hand (no supervisor) drains on SIGINT as usual.
// - When the supervisor disappears (SIGKILLed: the IPC channel disconnects),
//   its watchdog (runner/watchdog.ts) wakes and SIGTERMs the lab in the same
//   order. The process then has no reader on stdout or stderr, and a write
//   there fails (EPIPE) forever: pino's exit flush would retry it in a loop
//   and never exit. So stdout and stderr are pointed at the process's log
//   file (FAULTLINE_LOG_FILE, set by the supervisor; /dev/null without it)
//   before anything else is written. If no SIGTERM comes (no watchdog), it
//   drains on its own after a grace period.

import { closeSync, openSync } from 'node:fs';

/** The file the supervisor writes this process's output to: where it goes once the supervisor is gone. */
export const LOG_FILE_ENV = 'FAULTLINE_LOG_FILE';

export interface ReadyMessage {
  type: 'ready';
  name: string;
  pid: number;
  ports: Record<string, number>;
  /** The longest a SIGTERM-ed stop may take (its drain bound plus flushing); the supervisor waits at least this long before SIGKILL. */
  stopGraceMs?: number;
}

export function isReadyMessage(value: unknown): value is ReadyMessage {
  return typeof value === 'object' && value !== null && (value as { type?: unknown }).type === 'ready';
}

/** Tell the supervisor (if any) which ports this process listens on, and how long its stop may take. */
export function announceReady(name: string, ports: Record<string, number>, stopGraceMs?: number): void {
  const message: ReadyMessage = { type: 'ready', name, pid: process.pid, ports, ...(stopGraceMs !== undefined ? { stopGraceMs } : {}) };
  if (process.send) process.send(message);
  else process.stdout.write(`${JSON.stringify({ level: 30, msg: 'ready', service: name, ports })}\n`);
}

/** Parse a JSON config handed over in an environment variable; exit with one clear line when it is bad. */
export function readJsonEnv<T>(variable: string, fallback?: T): T {
  const raw = process.env[variable];
  if (raw === undefined || raw === '') {
    if (fallback !== undefined) return fallback;
    process.stderr.write(`${variable} is not set: this process is started by the faultline supervisor\n`);
    process.exit(2);
  }
  try {
    return JSON.parse(raw) as T;
  } catch (error) {
    process.stderr.write(`${variable} is not valid JSON: ${(error as Error).message}\n`);
    process.exit(2);
  }
}

/**
 * A supervised process that got SIGINT but no SIGTERM after this long drains
 * anyway: its supervisor is not one that stops the lab in order.
 */
export const SIGINT_FALLBACK_MS = 60_000;
/** After the supervisor disappeared, drain on our own if its watchdog has not sent SIGTERM within this long. */
export const ORPHAN_FALLBACK_MS = 30_000;

/**
 * Run `shutdown` once on a stop (see the opening comment for which signal
 * does what), then exit. A shutdown that takes longer than `graceMs` exits at
 * once, as does a second SIGTERM.
 */
export function onShutdown(shutdown: (reason: string) => Promise<void>, graceMs = 5_000): void {
  let stopping = false;
  let fallback: NodeJS.Timeout | undefined;
  const stop = (reason: string): void => {
    if (stopping) {
      if (reason === 'SIGTERM') process.exit(1);
      return;
    }
    stopping = true;
    if (fallback) clearTimeout(fallback);
    const force = setTimeout(() => process.exit(1), graceMs);
    force.unref();
    shutdown(reason).then(
      () => process.exit(0),
      (error: unknown) => {
        writeQuietly(process.stderr, `shutdown failed: ${error instanceof Error ? error.message : String(error)}\n`);
        process.exit(1);
      },
    );
  };
  /** Drain on our own after `ms` unless a stop came first. */
  const stopLater = (reason: string, ms: number): void => {
    if (stopping || fallback) return;
    fallback = setTimeout(() => stop(reason), ms);
    fallback.unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => {
    if (process.connected) stopLater('SIGINT (no ordered stop came)', SIGINT_FALLBACK_MS);
    else stop('SIGINT');
  });
  if (process.send) {
    process.on('disconnect', () => {
      redirectOutput();
      // A fallback timer must not be what keeps the process alive: its servers do.
      stopLater('supervisor gone', ORPHAN_FALLBACK_MS);
    });
  }
}

/**
 * Point fds 1 and 2 (a pipe nobody reads any more) at the log file. Node has
 * no dup2, but open() returns the lowest free descriptor: closing 1, then
 * opening, gives 1. A write that still fails is dropped, not raised.
 */
function redirectOutput(): void {
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);
  const target = process.env[LOG_FILE_ENV] || '/dev/null';
  for (const fd of [1, 2]) {
    try {
      closeSync(fd);
      const opened = openSync(target, 'a');
      // Only if a descriptor opened by another thread in the two calls' window took the number: nothing to redirect then.
      if (opened !== fd) closeSync(opened);
    } catch {
      // Nothing better to do: output is lost, the drain goes on.
    }
  }
}

function writeQuietly(stream: NodeJS.WriteStream, text: string): void {
  try {
    stream.write(text);
  } catch {
    // Nobody is reading (the supervisor is gone).
  }
}

/** Exit code of a process that could not bind its port. */
export const EXIT_PORT_IN_USE = 3;

/** Stop a process that cannot start, with one line its supervisor can show as is. */
export function failStartup(name: string, error: unknown, port?: number): never {
  const code = (error as { code?: string }).code;
  if (code === 'EADDRINUSE') {
    process.stderr.write(`${name}: port ${port ?? '?'} is already in use\n`);
    process.exit(EXIT_PORT_IN_USE);
  }
  process.stderr.write(`${name}: could not start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
