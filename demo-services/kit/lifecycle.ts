// How every lab process (service, fault proxy, collector) talks to the
// supervisor that started it: it announces readiness with the ports it
// actually bound (so tests can use port 0), and it shuts down cleanly on
// SIGTERM/SIGINT or when the supervisor disappears (IPC disconnect), so no
// process outlives its lab even when the supervisor is SIGKILLed.

export interface ReadyMessage {
  type: 'ready';
  name: string;
  pid: number;
  ports: Record<string, number>;
}

export function isReadyMessage(value: unknown): value is ReadyMessage {
  return typeof value === 'object' && value !== null && (value as { type?: unknown }).type === 'ready';
}

/** Tell the supervisor (if any) which ports this process listens on. */
export function announceReady(name: string, ports: Record<string, number>): void {
  const message: ReadyMessage = { type: 'ready', name, pid: process.pid, ports };
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
 * Run `shutdown` once on SIGTERM or SIGINT, then exit; exit at once when the supervisor disappears.
 * A second signal, or a shutdown that takes longer than `graceMs`, exits at once.
 */
export function onShutdown(shutdown: (reason: string) => Promise<void>, graceMs = 5_000): void {
  let stopping = false;
  const stop = (reason: string): void => {
    if (stopping) process.exit(1);
    stopping = true;
    const force = setTimeout(() => process.exit(1), graceMs);
    force.unref();
    shutdown(reason).then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`shutdown failed: ${error instanceof Error ? error.message : String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // The supervisor is gone (it may have been SIGKILLed): our stdout is a pipe
  // nobody reads and the collector went with it, so there is nothing to drain
  // into or flush to. Exit at once rather than block on writes to a dead pipe.
  if (process.send) process.on('disconnect', () => process.exit(0));
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
