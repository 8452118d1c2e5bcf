// The gate a black-hole partition closes on a proxy: while it is shut no byte
// and no request gets through, and everything waiting moves on, in order,
// the moment it opens again, as TCP delivers what it retransmitted once a real
// partition heals. Checking `open` is one property read, so the proxies' hot
// path pays nothing while no partition is active.

export interface Gate {
  readonly open: boolean;
  /** Resolves true once the gate is open (at once when it is), false if `signal` aborts first. */
  wait(signal?: AbortSignal): Promise<boolean>;
  shut(): void;
  release(): void;
}

export function createGate(): Gate {
  let open = true;
  let waiters: Array<() => void> = [];
  return {
    get open() {
      return open;
    },
    wait(signal) {
      if (open) return Promise.resolve(true);
      if (signal?.aborted) return Promise.resolve(false);
      return new Promise((resolve) => {
        const onAbort = (): void => {
          waiters = waiters.filter((waiter) => waiter !== onOpen);
          resolve(false);
        };
        const onOpen = (): void => {
          signal?.removeEventListener('abort', onAbort);
          resolve(true);
        };
        waiters.push(onOpen);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    },
    shut() {
      open = false;
    },
    release() {
      if (open) return;
      open = true;
      const woken = waiters;
      waiters = [];
      for (const wake of woken) wake();
    },
  };
}
