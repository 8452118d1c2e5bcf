import { describe, expect, it } from 'vitest';
import { DependencyError } from '../kit/dependency-client.ts';
import { createQuarantine, createSharedReads, SuspectReadError, watchedAttempt } from './quarantine.ts';

const clock = () => {
  let ms = 0;
  return { now: () => ms, advance: (by: number) => (ms += by) };
};

describe('quarantine of queries of death', () => {
  it('convicts a read cut off alone at once, for durationMs, and lets it go after', () => {
    const time = clock();
    const convictedKeys: string[] = [];
    const q = createQuarantine({ durationMs: 30_000, strikes: 2, now: time.now, onConvicted: (key) => convictedKeys.push(key) });
    const poison = q.sent('catalog-1', '/products/sku-13');
    expect(poison.cutOff()).toEqual({ suspect: true, convicted: ['/products/sku-13'] });
    expect(convictedKeys).toEqual(['/products/sku-13']);
    expect(q.remainingMs('/products/sku-13')).toBe(30_000);
    expect(q.remainingMs('/products/sku-12')).toBeUndefined();
    time.advance(30_000);
    expect(q.remainingMs('/products/sku-13')).toBeUndefined();
  });

  it('in a crowd, convicts the earliest sent of the reads cut off, once all have settled, and strikes the others', () => {
    const q = createQuarantine({ durationMs: 30_000, strikes: 2, now: clock().now });
    const poison = q.sent('catalog-1', '/products/sku-13');
    // Its answer was on the way when the instance died: a witness, not a suspect.
    const answeredBefore = q.sent('catalog-1', '/products/sku-2');
    const after = q.sent('catalog-1', '/products/sku-7');
    expect(after.cutOff()).toEqual({ suspect: true, convicted: [] });
    expect(poison.cutOff()).toEqual({ suspect: true, convicted: [] });
    expect(q.remainingMs('/products/sku-13')).toBeUndefined();
    answeredBefore.answered();
    expect(q.remainingMs('/products/sku-13')).toBe(30_000);
    expect(q.remainingMs('/products/sku-2')).toBeUndefined();
    expect(q.remainingMs('/products/sku-7')).toBeUndefined();
  });

  it('convicts a bystander in `strikes` deaths; an answer clears its strikes; a read sent to an instance already seen dead is no suspect', () => {
    const q = createQuarantine({ durationMs: 10_000, strikes: 2, now: clock().now });
    const first = [q.sent('catalog-1', 'a'), q.sent('catalog-1', 'b')];
    expect(first.map((ticket) => ticket.cutOff().convicted)).toEqual([[], ['a']]);
    const late = q.sent('catalog-1', 'c');
    expect(late.cutOff()).toEqual({ suspect: false, convicted: [] });
    // catalog-1 is back: its answer ends the death; then catalog-2 dies with d before b on it.
    q.sent('catalog-1', 'x').answered();
    const second = [q.sent('catalog-2', 'd'), q.sent('catalog-2', 'b')];
    expect(second[0]?.cutOff().convicted).toEqual([]);
    expect(second[1]?.cutOff().convicted).toEqual(['d', 'b']);
    // e is struck once, then answered: cleared.
    const third = [q.sent('catalog-1', 'f'), q.sent('catalog-1', 'e')];
    third.forEach((ticket) => ticket.cutOff());
    q.sent('catalog-2', 'e').answered();
    q.sent('catalog-1', 'y').answered();
    const fourth = [q.sent('catalog-1', 'g'), q.sent('catalog-1', 'e')];
    expect(fourth.map((ticket) => ticket.cutOff().convicted)).toEqual([[], ['g']]);
    expect(q.quarantined().map((entry) => entry.key).sort()).toEqual(['a', 'b', 'd', 'f', 'g']);
    expect(q.remainingMs('c')).toBeUndefined();
  });

  it('refuses nonsense options', () => {
    expect(() => createQuarantine({ durationMs: 0, strikes: 2 })).toThrow(/durationMs/);
    expect(() => createQuarantine({ durationMs: 1, strikes: 0 })).toThrow(/strikes/);
  });
});

describe('watchedAttempt', () => {
  const hooks = (deaths: string[]) => ({ isCutOff: (error: unknown) => error instanceof DependencyError && error.code === 'FL_DEP_RESET', onDeath: (instance: string) => void deaths.push(instance) });

  it('turns the cut-off of a read that was on the dying instance into a SuspectReadError, and takes the instance out', async () => {
    const q = createQuarantine({ durationMs: 1_000, strikes: 2, now: clock().now });
    const deaths: string[] = [];
    const attempt = watchedAttempt(q, { dependency: 'catalog', key: '/products/sku-13' }, async (onInstance) => {
      onInstance('catalog-2');
      throw new DependencyError('FL_DEP_RESET', 'catalog', 'connection reset');
    }, hooks(deaths));
    await expect(attempt).rejects.toBeInstanceOf(SuspectReadError);
    expect(deaths).toEqual(['catalog-2']);
    expect(q.remainingMs('/products/sku-13')).toBe(1_000);
  });

  it('passes answers and other failures through untouched', async () => {
    const q = createQuarantine({ durationMs: 1_000, strikes: 2, now: clock().now });
    const deaths: string[] = [];
    const ok = await watchedAttempt(q, { dependency: 'catalog', key: 'k' }, async (onInstance) => {
      onInstance('catalog-1');
      return 'answer';
    }, hooks(deaths));
    expect(ok).toBe('answer');
    const timeout = new DependencyError('FL_DEP_TIMEOUT', 'catalog', 'timed out');
    await expect(watchedAttempt(q, { dependency: 'catalog', key: 'k' }, async (onInstance) => {
      onInstance('catalog-1');
      throw timeout;
    }, hooks(deaths))).rejects.toBe(timeout);
    expect(deaths).toEqual([]);
    expect(q.quarantined()).toEqual([]);
  });
});

describe('shared reads', () => {
  it('gives reads of one key in flight at once one call, and starts a new one after', async () => {
    const reads = createSharedReads();
    let calls = 0;
    let release: (value: string) => void = () => undefined;
    const call = () => {
      calls += 1;
      return new Promise<string>((resolve) => (release = resolve));
    };
    const both = Promise.all([reads.share('/products/sku-13', call), reads.share('/products/sku-13', call)]);
    const other = reads.share('/products/sku-12', async () => 'twelve');
    release('thirteen');
    expect(await both).toEqual(['thirteen', 'thirteen']);
    expect(await other).toBe('twelve');
    expect(calls).toBe(1);
    expect(reads.inFlight()).toBe(0);
    const failing = reads.share('/products/sku-13', async () => Promise.reject(new Error('reset')));
    await expect(failing).rejects.toThrow('reset');
    expect(calls).toBe(1);
  });
});
