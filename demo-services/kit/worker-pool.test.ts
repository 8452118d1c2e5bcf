import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createWorkerPool } from './worker-pool.ts';

describe('worker pool (fake timers)', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /** Enters `count` requests; `started` lists them in the order they proceeded. */
  const enterMany = (pool: ReturnType<typeof createWorkerPool>, count: number, started: number[]) =>
    Array.from({ length: count }, (_, i) => pool.enter(() => started.push(i)));

  it('serves `workers` at once, each after its service time, and queues the rest first come first served', () => {
    const pool = createWorkerPool({ workers: 2, serviceTimeMs: 100 });
    const started: number[] = [];
    const tickets = enterMany(pool, 5, started);
    expect([pool.busy, pool.queued]).toEqual([2, 3]);
    vi.advanceTimersByTime(99);
    expect(started).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(started).toEqual([0, 1]);
    // A worker stays held until its request is answered, not just for the service time.
    vi.advanceTimersByTime(500);
    expect(started).toEqual([0, 1]);
    tickets[1]?.done();
    expect([pool.busy, pool.queued]).toEqual([2, 2]);
    vi.advanceTimersByTime(100);
    expect(started).toEqual([0, 1, 2]);
    tickets[0]?.done();
    tickets[2]?.done();
    vi.advanceTimersByTime(100);
    expect(started).toEqual([0, 1, 2, 3, 4]);
  });

  it('takes a request whose client left out of the queue, and frees the worker of one that left in service', () => {
    const pool = createWorkerPool({ workers: 1, serviceTimeMs: 100 });
    const started: number[] = [];
    const tickets = enterMany(pool, 3, started);
    tickets[1]?.done();
    expect(pool.queued).toBe(1);
    // Left during its service time: never proceeds, and the next one is served at once.
    vi.advanceTimersByTime(50);
    tickets[0]?.done();
    expect([pool.busy, pool.queued]).toEqual([1, 0]);
    vi.advanceTimersByTime(100);
    expect(started).toEqual([2]);
    tickets[2]?.done();
    tickets[2]?.done();
    expect(pool.busy).toBe(0);
  });

  it('lets everything waiting or in service through at once when closed, and later requests too', () => {
    const pool = createWorkerPool({ workers: 1, serviceTimeMs: 1_000 });
    const started: number[] = [];
    enterMany(pool, 3, started);
    pool.close();
    expect(started).toEqual([0, 1, 2]);
    expect([pool.busy, pool.queued]).toEqual([0, 0]);
    pool.enter(() => started.push(9));
    expect(started).toEqual([0, 1, 2, 9]);
    vi.advanceTimersByTime(5_000);
    expect(started).toEqual([0, 1, 2, 9]);
  });

  it('keeps first come first served over a long queue', () => {
    const pool = createWorkerPool({ workers: 3, serviceTimeMs: 10 });
    const started: number[] = [];
    const tickets = enterMany(pool, 3_000, started);
    for (let served = 0; served < 3_000; served += 3) {
      vi.advanceTimersByTime(10);
      for (let i = served; i < served + 3; i += 1) tickets[i]?.done();
    }
    expect(started).toEqual(Array.from({ length: 3_000 }, (_, i) => i));
  });

  it.each([
    [{ workers: 0, serviceTimeMs: 100 }, 'workers'],
    [{ workers: 1.5, serviceTimeMs: 100 }, 'workers'],
    [{ workers: 1, serviceTimeMs: -1 }, 'serviceTimeMs'],
    [{ workers: 1, serviceTimeMs: Number.NaN }, 'serviceTimeMs'],
  ])('refuses %o naming %s', (options, field) => {
    expect(() => createWorkerPool(options)).toThrow(new RegExp(`^${field}: `));
  });
});
