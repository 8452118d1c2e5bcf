// Quarantine of queries of death (Google's SRE book, "Addressing Cascading
// Failures"): a request that crashes the instance serving it will crash the
// next one too, and a retry on another replica only spreads the crash. The
// gateway watches which reads were in flight on an instance when its
// connections were cut off at once (the instance died), and quarantines the
// request key that killed it: not retried, and answered at once for a while
// without reaching the dependency, so one bad record costs one crash, not the
// whole service.
//
// Who killed it: the reads that were on the instance when it died are cut
// off together, and only one of them need be guilty. When the first cut-off
// shows the death, every read then in flight on the instance is a witness;
// those answered after all were not on it, those cut off are suspects. A read
// that kills its instance on arrival kills it before the reads sent after it
// arrive, so the earliest sent of the suspects is the killer: convicted once
// every witness has settled. The others each get a strike, and a key in
// `strikes` deaths is convicted too (an innocent seldom is in two); a key
// answered by any instance is cleared of its strikes. A read sent to an
// instance whose death was already seen met a dead instance; it did not kill
// it. Reads of one key in flight at once share one upstream read
// (createSharedReads), so a burst of a query of death reaches one replica,
// not all of them before the first death is seen. Pure, on an injected clock.

export interface QuarantineOptions {
  /** How long a convicted key is answered at once without reaching the dependency. */
  durationMs: number;
  /** Crashes a key may be in, among others, before it is convicted (cut off alone convicts at once). */
  strikes: number;
  now?: () => number;
  /** Told of each key convicted, whichever read's settling judged the death. */
  onConvicted?: (key: string) => void;
}

/** One read on its way to an instance; settled exactly once. */
export interface QuarantineTicket {
  /** The instance answered (any status): it lives, and the key did not kill it. */
  answered(): void;
  /**
   * The connection was cut without an answer. `suspect`: the read was on the instance when it
   * died, so it may be what killed it (never retry it); `convicted`: keys quarantined just now
   * (when it was the last of the death's witnesses to settle).
   */
  cutOff(): { suspect: boolean; convicted: string[] };
  /** Given up for another reason (a timeout, the caller left): judged neither way. */
  abandoned(): void;
}

export interface Quarantine {
  /** Milliseconds left of the key's quarantine, or undefined when it may be sent. */
  remainingMs(key: string): number | undefined;
  /** A read of `key` is sent to `instance`. */
  sent(instance: string, key: string): QuarantineTicket;
  /** Keys quarantined now, with ms left (for logs and tests). */
  quarantined(): Array<{ key: string; remainingMs: number }>;
}

interface Flight {
  key: string;
  instance: string;
  /** Order of sending: the earliest suspect of a death is its killer. */
  seq: number;
}

/** One death of an instance, judged once every read that was in flight on it has settled. */
interface Death {
  witnesses: Set<Flight>;
  suspects: Flight[];
  judged: boolean;
}

export function createQuarantine(options: QuarantineOptions): Quarantine {
  if (!(options.durationMs > 0)) throw new Error(`quarantine durationMs must be > 0, got ${options.durationMs}`);
  if (!Number.isInteger(options.strikes) || options.strikes < 1) throw new Error(`quarantine strikes must be a whole number >= 1, got ${options.strikes}`);
  const now = options.now ?? (() => performance.now());
  const inFlight = new Map<string, Set<Flight>>();
  /** Per instance: its death, from the first cut-off until it answers again. */
  const deaths = new Map<string, Death>();
  const strikes = new Map<string, number>();
  const until = new Map<string, number>();
  let sequence = 0;

  const remainingMs = (key: string): number | undefined => {
    const end = until.get(key);
    if (end === undefined) return undefined;
    const left = end - now();
    if (left > 0) return left;
    until.delete(key);
    return undefined;
  };
  const convict = (key: string, convicted: string[]): void => {
    if (convicted.includes(key)) return;
    strikes.delete(key);
    until.set(key, now() + options.durationMs);
    convicted.push(key);
    options.onConvicted?.(key);
  };
  /** Once every witness has settled: the earliest suspect is convicted, the others struck. */
  const judge = (death: Death): string[] => {
    const convicted: string[] = [];
    if (death.witnesses.size > 0 || death.judged || death.suspects.length === 0) return convicted;
    death.judged = true;
    const [killer, ...bystanders] = [...death.suspects].sort((a, b) => a.seq - b.seq) as [Flight, ...Flight[]];
    convict(killer.key, convicted);
    for (const key of new Set(bystanders.map((flight) => flight.key))) {
      if (key === killer.key) continue;
      const count = (strikes.get(key) ?? 0) + 1;
      if (count >= options.strikes) convict(key, convicted);
      else strikes.set(key, count);
    }
    return convicted;
  };

  return {
    remainingMs,
    sent(instance, key) {
      const flight: Flight = { key, instance, seq: (sequence += 1) };
      const flights = inFlight.get(instance) ?? new Set<Flight>();
      inFlight.set(instance, flights);
      flights.add(flight);
      let settled = false;
      const settle = (): boolean => {
        if (settled) return false;
        settled = true;
        flights.delete(flight);
        return true;
      };
      return {
        answered() {
          if (!settle()) return;
          const death = deaths.get(instance);
          // An answer sent before the death says nothing of the instance; one sent after says it is back.
          if (death?.witnesses.delete(flight)) judge(death);
          else deaths.delete(instance);
          strikes.delete(key);
        },
        cutOff() {
          if (!settle()) return { suspect: false, convicted: [] };
          let death = deaths.get(instance);
          if (!death) {
            // The first sign of this death: every read on the instance now is a witness.
            death = { witnesses: new Set<Flight>([flight, ...flights]), suspects: [], judged: false };
            deaths.set(instance, death);
          }
          if (!death.witnesses.delete(flight)) return { suspect: false, convicted: [] };
          death.suspects.push(flight);
          return { suspect: true, convicted: judge(death) };
        },
        abandoned() {
          if (!settle()) return;
          const death = deaths.get(instance);
          if (death?.witnesses.delete(flight)) judge(death);
        },
      };
    },
    quarantined: () =>
      [...until.keys()].flatMap((key) => {
        const left = remainingMs(key);
        return left === undefined ? [] : [{ key, remainingMs: left }];
      }),
  };
}

/**
 * What a suspect read fails with instead of its connection error: it may be what killed the
 * instance, so it is not retried on another (a retry policy sees no connection failure), and the
 * caller is answered as for any unreachable dependency.
 */
export class SuspectReadError extends Error {
  readonly code = 'FL_QUARANTINE_SUSPECT';
  constructor(dependency: string, instance: string, key: string) {
    super(`${dependency}: ${instance} died with ${key} in flight; not retried, it may be what killed it`);
    this.name = 'SuspectReadError';
  }
}

/**
 * One attempt of a read under watch: `attempt` sends it and reports the instance picked. A cut-off
 * (`isCutOff`: no answer, the connection closed) of a read that was on the instance when it died
 * calls `onDeath` (take the instance out of rotation; log what was convicted) and fails with a
 * SuspectReadError; a read that met an instance already known dead fails as it came, so it may be
 * retried elsewhere.
 */
export async function watchedAttempt<T>(
  quarantine: Quarantine,
  target: { dependency: string; key: string },
  attempt: (onInstance: (instance: string) => void) => Promise<T>,
  hooks: { isCutOff: (error: unknown) => boolean; onDeath: (instance: string, convicted: readonly string[]) => void },
): Promise<T> {
  let ticket: QuarantineTicket | undefined;
  let instance = '';
  try {
    const result = await attempt((picked) => {
      instance = picked;
      ticket = quarantine.sent(picked, target.key);
    });
    ticket?.answered();
    return result;
  } catch (error) {
    if (!ticket || !hooks.isCutOff(error)) {
      ticket?.abandoned();
      throw error;
    }
    const { suspect, convicted } = ticket.cutOff();
    if (!suspect) throw error;
    hooks.onDeath(instance, convicted);
    throw new SuspectReadError(target.dependency, instance, target.key);
  }
}

/** Reads of one key in flight at once, sharing one call (single flight): the followers get the leader's answer or error. */
export interface SharedReads {
  share<T>(key: string, call: () => Promise<T>): Promise<T>;
  /** Keys with a read in flight now (for tests). */
  inFlight(): number;
}

export function createSharedReads(): SharedReads {
  const flights = new Map<string, Promise<unknown>>();
  return {
    share<T>(key: string, call: () => Promise<T>): Promise<T> {
      const running = flights.get(key);
      if (running) return running as Promise<T>;
      const started = call().finally(() => flights.delete(key));
      flights.set(key, started);
      return started;
    },
    inFlight: () => flights.size,
  };
}
