// A fixed number of workers and a queue without bound in front of them, as in
// a thread-per-request server or a database with a small connection pool: each
// request holds a worker for at least `serviceTimeMs` (a timer, not CPU) and
// until it has been answered; the rest wait their turn, first come first
// served. Its capacity, workers / serviceTime requests a second, is the same on
// a fast machine and a slow one, which is what an overload scenario needs
// ("beyond capacity" must hold everywhere). A request whose client left while
// it waited leaves the queue (its socket closed), so the queue is bounded only
// by how long callers are willing to wait: nothing here refuses work.

export interface WorkerPoolOptions {
  workers: number;
  serviceTimeMs: number;
}

export interface PoolTicket {
  /** The request ended (answered, or its client left): frees its worker, or takes it out of the queue. Idempotent. */
  done(): void;
}

export interface WorkerPool {
  /** Queue a request; `proceed` runs once a worker has spent serviceTimeMs on it. */
  enter(proceed: () => void): PoolTicket;
  /** Requests waiting for a worker. */
  readonly queued: number;
  /** Workers held. */
  readonly busy: number;
  /** The pool is gone (its fault ended): every request waiting or in service proceeds at once, later ones at once too. */
  close(): void;
}

interface Entry {
  proceed: () => void;
  state: 'queued' | 'serving' | 'proceeded' | 'done';
  timer?: ReturnType<typeof setTimeout>;
}

/** Throws a RangeError naming the bad option: a pool of no workers would hold every request for ever. */
export function createWorkerPool(options: WorkerPoolOptions): WorkerPool {
  if (!Number.isInteger(options.workers) || options.workers < 1) throw new RangeError(`workers: must be a whole number >= 1 (got ${options.workers})`);
  if (!Number.isFinite(options.serviceTimeMs) || options.serviceTimeMs < 0) throw new RangeError(`serviceTimeMs: must be >= 0 (got ${options.serviceTimeMs})`);
  const { workers, serviceTimeMs } = options;
  // A queue as an array with a moving head: shift() on a long queue is O(n).
  let queue: Entry[] = [];
  let head = 0;
  /** Entries holding a worker: in their service time, or proceeded and not yet answered. */
  const holding = new Set<Entry>();
  let queued = 0;
  let closed = false;

  const proceed = (entry: Entry): void => {
    if (entry.timer !== undefined) clearTimeout(entry.timer);
    entry.timer = undefined;
    entry.state = 'proceeded';
    entry.proceed();
  };

  const serve = (entry: Entry): void => {
    holding.add(entry);
    entry.state = 'serving';
    entry.timer = setTimeout(() => proceed(entry), serviceTimeMs);
  };

  const next = (): void => {
    while (holding.size < workers && head < queue.length) {
      const entry = queue[head] as Entry;
      head += 1;
      if (entry.state !== 'queued') continue;
      queued -= 1;
      serve(entry);
    }
    if (head > 1024 && head * 2 > queue.length) {
      queue = queue.slice(head);
      head = 0;
    }
  };

  return {
    enter(callback) {
      const entry: Entry = { proceed: callback, state: 'queued' };
      if (closed) proceed(entry);
      else if (holding.size < workers) serve(entry);
      else {
        queue.push(entry);
        queued += 1;
      }
      return {
        done() {
          const was = entry.state;
          if (was === 'done') return;
          entry.state = 'done';
          if (entry.timer !== undefined) clearTimeout(entry.timer);
          entry.timer = undefined;
          if (was === 'queued') queued -= 1;
          else if (holding.delete(entry)) next();
        },
      };
    },
    get queued() {
      return queued;
    },
    get busy() {
      return holding.size;
    },
    close() {
      if (closed) return;
      closed = true;
      const waiting = [...holding, ...queue.slice(head)].filter((entry) => entry.state === 'queued' || entry.state === 'serving');
      holding.clear();
      queue = [];
      head = 0;
      queued = 0;
      for (const entry of waiting) proceed(entry);
    },
  };
}
