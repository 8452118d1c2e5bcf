// A bulkhead: at most `maxConcurrent` calls to a dependency at once, up to
// `maxQueued` more waiting (each at most `queueTimeoutMs`), the rest rejected
// at once. It keeps one slow dependency from tying up every request the
// service is handling. Written here because the semaphore needs to report
// in-flight and queued counts for metrics and honour the caller's abort
// signal, which cockatiel's bulkhead does not do together.

export interface BulkheadOptions {
  maxConcurrent: number;
  maxQueued: number;
  queueTimeoutMs: number;
}

export class BulkheadRejectedError extends Error {
  readonly code = 'FL_BULKHEAD_REJECTED';
  readonly reason: 'full' | 'queue-timeout';
  constructor(dependency: string, reason: 'full' | 'queue-timeout') {
    super(`${dependency}: bulkhead ${reason === 'full' ? 'full' : 'queue wait timed out'}`);
    this.name = 'BulkheadRejectedError';
    this.reason = reason;
  }
}

export interface Bulkhead {
  /** Wait for a slot (or be rejected); call the returned release exactly once when the call ends. */
  acquire(signal?: AbortSignal): Promise<() => void>;
  inFlight(): number;
  queued(): number;
}

export function createBulkhead(dependency: string, options: BulkheadOptions, onChange?: (inFlight: number, queued: number) => void): Bulkhead {
  let active = 0;
  const waiting: Array<{ grant: () => void }> = [];
  const changed = () => onChange?.(active, waiting.length);

  const release = (): void => {
    const next = waiting.shift();
    if (next) next.grant();
    else active -= 1;
    changed();
  };
  const releaseOnce = () => {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      release();
    };
  };

  return {
    acquire(signal) {
      if (active < options.maxConcurrent) {
        active += 1;
        changed();
        return Promise.resolve(releaseOnce());
      }
      if (waiting.length >= options.maxQueued) return Promise.reject(new BulkheadRejectedError(dependency, 'full'));
      return new Promise((resolve, reject) => {
        const entry = {
          grant: () => {
            clearTimeout(timer);
            signal?.removeEventListener('abort', onAbort);
            // The slot passes straight from the releasing call to this one: `active` is unchanged.
            resolve(releaseOnce());
          },
        };
        const leave = (error: unknown) => {
          const index = waiting.indexOf(entry);
          if (index !== -1) waiting.splice(index, 1);
          changed();
          reject(error);
        };
        const timer = setTimeout(() => leave(new BulkheadRejectedError(dependency, 'queue-timeout')), options.queueTimeoutMs);
        const onAbort = () => {
          clearTimeout(timer);
          leave(signal?.reason);
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        waiting.push(entry);
        changed();
      });
    },
    inFlight: () => active,
    queued: () => waiting.length,
  };
}
