// Clients that honour Retry-After. A client answered 429 (rate limited) sends
// nothing more until the Retry-After it was given has passed: every request it
// would have sent meanwhile is held back and counted as deferred, not sent and
// not recorded as a request (it never reached the shop). Beside the gate sits
// an audit: every request a client does send is checked against the 429s it
// had received by then, and one sent before such a Retry-After had passed is
// counted as early. The gate keeps that count at 0; the audit is what shows it.
//
// Only 429 blocks a client: a 503 with Retry-After (shedding) is the shop
// telling everyone to slow down, not this client, and the lab's clients keep
// their open-model arrivals through it, as they always have.

/** The status that makes a client wait. */
export const RATE_LIMITED_STATUS = 429;
/** How long a client waits after a 429 whose Retry-After is missing or unreadable: the gateway's own minimum. */
export const DEFAULT_RETRY_AFTER_MS = 1_000;

/**
 * Retry-After (RFC 9110 §10.2.3) as milliseconds from `nowMs`: delta-seconds or an HTTP-date; undefined
 * when missing or unreadable. A date in the past is 0.
 */
export function parseRetryAfter(value: string | readonly string[] | undefined, nowMs: number): number | undefined {
  const text = (Array.isArray(value) ? value[0] : value) as string | undefined;
  if (text === undefined) return undefined;
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1_000;
  // An HTTP-date names its day of the week; Date.parse alone would also take '5' or '2024'.
  if (!/^[A-Z][a-z]{2}, /.test(trimmed)) return undefined;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/** One client: its group (the scenario's `client` tag, e.g. noisy) and its own identity in it (noisy-2). */
export interface ClientId {
  group: string;
  id: string;
}

export interface BackoffCounts {
  /** Requests held back while their client waited out a Retry-After. */
  deferred: number;
  /** Requests sent before a Retry-After their client had received had passed (a client that does not honour it). */
  early: number;
  /** 429 answers received. */
  limited: number;
}

export interface BackoffFilter {
  group?: string;
  /** Inclusive, epoch ms. */
  fromMs?: number;
  /** Exclusive, epoch ms. */
  toMs?: number;
}

export interface ClientBackoff {
  /** Whether the client may send at `atMs`; false (counted as deferred) while it waits out a Retry-After. */
  admit(client: ClientId, atMs: number): boolean;
  /** A request of the client goes out at `atMs`: audited against the 429s it had received by then. */
  sending(client: ClientId, atMs: number): void;
  /** An answer arrived at `atMs`: a 429 makes the client wait for its Retry-After. */
  answered(client: ClientId, status: number, retryAfter: string | readonly string[] | undefined, atMs: number): void;
  counts(filter?: BackoffFilter): BackoffCounts;
  /** Per group, over the whole run, groups in the order first seen. */
  byGroup(): Array<{ group: string } & BackoffCounts>;
}

type Kind = keyof BackoffCounts;

export function createClientBackoff(): ClientBackoff {
  /** Per client identity: when it may send again (the gate). */
  const blockedUntil = new Map<string, number>();
  /** Per client identity: the waits it was told, kept apart from the gate so the audit does not trust it. */
  const waits = new Map<string, Array<{ fromMs: number; untilMs: number }>>();
  /** Every counted event, by group: the kind and when. Bounded by the run's requests. */
  const events = new Map<string, { kind: Kind[]; atMs: number[] }>();

  const key = (client: ClientId) => `${client.group}\u0000${client.id}`;
  const count = (client: ClientId, kind: Kind, atMs: number) => {
    let list = events.get(client.group);
    if (list === undefined) events.set(client.group, (list = { kind: [], atMs: [] }));
    list.kind.push(kind);
    list.atMs.push(atMs);
  };

  return {
    admit(client, atMs) {
      if (atMs >= (blockedUntil.get(key(client)) ?? -Infinity)) return true;
      count(client, 'deferred', atMs);
      return false;
    },
    sending(client, atMs) {
      const told = waits.get(key(client));
      if (told === undefined) return;
      // Waits that are over can no longer be broken: drop them, so the list stays short.
      const open = told.filter((wait) => wait.untilMs > atMs);
      waits.set(key(client), open);
      if (open.some((wait) => wait.fromMs <= atMs)) count(client, 'early', atMs);
    },
    answered(client, status, retryAfter, atMs) {
      if (status !== RATE_LIMITED_STATUS) return;
      count(client, 'limited', atMs);
      const untilMs = atMs + (parseRetryAfter(retryAfter, atMs) ?? DEFAULT_RETRY_AFTER_MS);
      const id = key(client);
      blockedUntil.set(id, Math.max(untilMs, blockedUntil.get(id) ?? -Infinity));
      const told = waits.get(id) ?? [];
      told.push({ fromMs: atMs, untilMs });
      waits.set(id, told);
    },
    counts(filter = {}) {
      const totals: BackoffCounts = { deferred: 0, early: 0, limited: 0 };
      for (const [group, list] of events) {
        if (filter.group !== undefined && group !== filter.group) continue;
        list.atMs.forEach((at, i) => {
          if (filter.fromMs !== undefined && at < filter.fromMs) return;
          if (filter.toMs !== undefined && at >= filter.toMs) return;
          totals[list.kind[i] as Kind] += 1;
        });
      }
      return totals;
    },
    byGroup() {
      return [...events.keys()].map((group) => ({ group, ...this.counts({ group }) }));
    },
  };
}
