import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BulkheadRejectedError, createBulkhead } from './bulkhead.ts';

describe('bulkhead (fake timers)', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('admits up to the limit, queues the next ones, rejects the rest at once', async () => {
    const changes: string[] = [];
    const bulkhead = createBulkhead('bank', { maxConcurrent: 2, maxQueued: 1, queueTimeoutMs: 1_000 }, (a, q) => changes.push(`${a}/${q}`));
    const first = await bulkhead.acquire();
    await bulkhead.acquire();
    const queued = bulkhead.acquire();
    await expect(bulkhead.acquire()).rejects.toMatchObject({ reason: 'full' });
    expect([bulkhead.inFlight(), bulkhead.queued()]).toEqual([2, 1]);
    first();
    first();
    await expect(queued).resolves.toBeTypeOf('function');
    expect([bulkhead.inFlight(), bulkhead.queued()]).toEqual([2, 0]);
    expect(changes).toEqual(['1/0', '2/0', '2/1', '2/0']);
  });

  it('rejects a queued call that waited too long', async () => {
    const bulkhead = createBulkhead('bank', { maxConcurrent: 1, maxQueued: 5, queueTimeoutMs: 300 });
    await bulkhead.acquire();
    const waiting = bulkhead.acquire();
    const assertion = expect(waiting).rejects.toBeInstanceOf(BulkheadRejectedError);
    await vi.advanceTimersByTimeAsync(300);
    await assertion;
    expect(bulkhead.queued()).toBe(0);
  });

  it('leaves the queue when the caller aborts', async () => {
    const bulkhead = createBulkhead('bank', { maxConcurrent: 1, maxQueued: 5, queueTimeoutMs: 10_000 });
    const release = await bulkhead.acquire();
    const controller = new AbortController();
    const waiting = bulkhead.acquire(controller.signal);
    controller.abort(new Error('client went away'));
    await expect(waiting).rejects.toThrow('client went away');
    release();
    expect(bulkhead.inFlight()).toBe(0);
  });
});
