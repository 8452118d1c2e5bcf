import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isCollectorError } from './collector-error.ts';
import type { OtlpTracesDataJson } from './otlp-json.ts';
import { makeTempDir } from './test-fixtures.ts';
import { openTraceStore } from './trace-store.ts';

function tracesData(...names: string[]): OtlpTracesDataJson {
  return { resourceSpans: [{ scopeSpans: [{ spans: names.map((name) => ({ name })) }] }] };
}

async function lines(file: string): Promise<unknown[]> {
  const text = await readFile(file, 'utf8');
  expect(text === '' || text.endsWith('\n')).toBe(true);
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line));
}

async function eventually(check: () => Promise<boolean> | boolean, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('trace store', () => {
  let dir: string;
  let file: string;

  beforeEach(async () => {
    dir = await makeTempDir('store');
    file = join(dir, 'nested', 'traces.jsonl');
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('buffers appends and writes one line per batch on flush, counting spans', async () => {
    const written: number[] = [];
    const store = await openTraceStore({ file, flushIntervalMs: 60_000, onWritten: (spans) => written.push(spans) });
    store.append(tracesData('a', 'b'));
    store.append(tracesData('c'));
    expect(store.queuedSpans).toBe(3);
    expect(await lines(file)).toEqual([]);

    await store.flush();

    expect(store.queuedSpans).toBe(0);
    expect(await lines(file)).toEqual([tracesData('a', 'b'), tracesData('c')]);
    expect(written.reduce((sum, n) => sum + n, 0)).toBe(3);
    await store.close();
  });

  it('writes on its own after flushIntervalMs, and at once when the buffer is large', async () => {
    const store = await openTraceStore({ file, flushIntervalMs: 20 });
    store.append(tracesData('timer'));
    await eventually(async () => (await lines(file)).length === 1);
    await store.close();

    const bySize = await openTraceStore({ file, flushIntervalMs: 60_000, maxBufferedBytes: 10 });
    bySize.append(tracesData('size'));
    await eventually(async () => (await lines(file)).length === 2);
    await bySize.close();
  });

  it('keeps appends made during a write and lets a flush finish under a steady stream of appends', async () => {
    const store = await openTraceStore({ file, flushIntervalMs: 60_000 });
    let appending = true;
    let appended = 0;
    const stream = (async () => {
      while (appending) {
        store.append(tracesData(`s${appended++}`));
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 20));
    await store.flush();
    appending = false;
    await stream;
    await store.close();
    const names = (await lines(file)).map((line) => (line as OtlpTracesDataJson).resourceSpans?.[0]?.scopeSpans?.[0]?.spans?.[0]?.name);
    expect(names).toEqual(Array.from({ length: appended }, (_, i) => `s${i}`));
  });

  it('writes everything on close and refuses appends after it', async () => {
    const store = await openTraceStore({ file, flushIntervalMs: 60_000 });
    store.append(tracesData('last'));
    await store.close();
    await store.close();
    expect(await lines(file)).toEqual([tracesData('last')]);
    let error: unknown;
    try {
      store.append(tracesData('late'));
    } catch (caught) {
      error = caught;
    }
    expect(isCollectorError(error, 'COLLECTOR_CLOSED')).toBe(true);
  });

  it('appends to an existing file, first cutting a partial line left by a crash', async () => {
    const first = await openTraceStore({ file });
    first.append(tracesData('before'));
    await first.close();
    const complete = await readFile(file, 'utf8');
    await writeFile(file, `${complete}{"resourceSpans":[{"scopeSp`);

    const second = await openTraceStore({ file });
    expect(second.repairedBytes).toBe('{"resourceSpans":[{"scopeSp'.length);
    second.append(tracesData('after'));
    await second.close();

    expect(await lines(file)).toEqual([tracesData('before'), tracesData('after')]);
  });

  // /dev/full accepts the open and fails every write with ENOSPC.
  it.skipIf(!existsSync('/dev/full'))('reports a failed write as lost spans and makes flush and close reject', async () => {
    const failed: number[] = [];
    const store = await openTraceStore({ file: '/dev/full', flushIntervalMs: 60_000, onWriteFailed: (spans) => failed.push(spans) });
    store.append(tracesData('a', 'b'));
    const flushError = await store.flush().catch((error: unknown) => error);
    expect(isCollectorError(flushError, 'TRACE_STORE_WRITE_FAILED')).toBe(true);
    expect((flushError as Error).message).toMatch(/ENOSPC/);
    expect(failed).toEqual([2]);
    expect(store.queuedSpans).toBe(0);
    store.append(tracesData('c'));
    await expect(store.close()).rejects.toMatchObject({ code: 'TRACE_STORE_WRITE_FAILED' });
    expect(failed).toEqual([2, 1]);
  });
});
