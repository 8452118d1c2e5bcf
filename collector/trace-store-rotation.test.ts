// The trace store capped by size: rotation at batch boundaries, the number of
// files kept, what a rotation reports as discarded, and readers that still see
// every kept span in the order written.
import { readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { OtlpTracesDataJson } from './otlp-json.ts';
import { listRotated, rotatedPath } from './rotated-files.ts';
import { makeTempDir } from './test-fixtures.ts';
import { readSpans, streamSpans } from './trace-query.ts';
import { openTraceStore } from './trace-store.ts';

function tracesData(...names: string[]): OtlpTracesDataJson {
  return { resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'svc' } }] }, scopeSpans: [{ spans: names.map((name) => ({ name, traceId: '0'.repeat(31) + '1', spanId: '0'.repeat(15) + '1' })) }] }] };
}

describe('trace store with rotation', () => {
  let dir: string;
  let file: string;

  beforeEach(async () => {
    dir = await makeTempDir('store-rotation');
    file = join(dir, 'traces.jsonl');
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('rotates when the live file is full, keeps keepFiles rotated files, and counts what it deleted', async () => {
    const lineBytes = Buffer.byteLength(`${JSON.stringify(tracesData('span-000', 'span-000'))}\n`);
    // Three batches fit in one file; the fourth rotates it.
    const maxFileBytes = lineBytes * 3;
    const rotations: Array<{ files: number; items: number; bytes: number }> = [];
    const store = await openTraceStore({ file, flushIntervalMs: 60_000, rotation: { maxFileBytes, keepFiles: 2 }, onRotated: (each) => rotations.push(each) });
    const batches = 20;
    for (let i = 0; i < batches; i++) {
      const tag = String(i).padStart(3, '0');
      store.append(tracesData(`span-${tag}`, `span-${tag}`));
      await store.flush();
    }
    await store.close();

    // 20 batches of 3 per file: 7 files' worth, of which the live one and 2 rotated ones are kept.
    expect((await listRotated(file)).map((each) => each.index)).toEqual([1, 2]);
    for (const path of [file, rotatedPath(file, 1), rotatedPath(file, 2)]) expect((await stat(path)).size).toBeLessThanOrEqual(maxFileBytes);
    expect(rotations).toHaveLength(6);
    const discarded = rotations.reduce((sum, each) => ({ files: sum.files + each.files, items: sum.items + each.items, bytes: sum.bytes + each.bytes }), { files: 0, items: 0, bytes: 0 });
    // Files 1-4 (batches 0-11) were deleted: 12 batches of 2 spans.
    expect(discarded).toEqual({ files: 4, items: 24, bytes: 12 * lineBytes });

    // Readers see the kept spans (batches 12-19) oldest first, across the files.
    const expected = Array.from({ length: 8 }, (_, i) => `span-${String(i + 12).padStart(3, '0')}`).flatMap((name) => [name, name]);
    expect((await readSpans(file)).map((span) => span.name)).toEqual(expected);
    const streamed: string[] = [];
    for await (const batch of streamSpans(file)) streamed.push(...batch.map((span) => span.name));
    expect(streamed).toEqual(expected);
  });

  it('never splits a batch: one larger than the cap gets a file of its own', async () => {
    const store = await openTraceStore({ file, flushIntervalMs: 60_000, rotation: { maxFileBytes: 1024, keepFiles: 5 } });
    store.append(tracesData('small'));
    await store.flush();
    store.append(tracesData(...Array.from({ length: 40 }, (_, i) => `big-${i}`)));
    await store.flush();
    store.append(tracesData('after'));
    await store.close();
    expect(await readFile(rotatedPath(file, 2), 'utf8')).toContain('"small"');
    const big = await readFile(rotatedPath(file, 1), 'utf8');
    expect(big.split('\n').filter(Boolean)).toHaveLength(1);
    expect(big).toContain('"big-39"');
    expect(await readFile(file, 'utf8')).toContain('"after"');
    expect(await readSpans(file)).toHaveLength(42);
  });

  it('picks up the rotated files already there when it reopens the file', async () => {
    const first = await openTraceStore({ file, flushIntervalMs: 60_000, rotation: { maxFileBytes: 1024, keepFiles: 1 } });
    for (let i = 0; i < 30; i++) first.append(tracesData(`a-${i}`));
    await first.close();
    const second = await openTraceStore({ file, flushIntervalMs: 60_000, rotation: { maxFileBytes: 1024, keepFiles: 1 } });
    for (let i = 0; i < 30; i++) {
      second.append(tracesData(`b-${i}`));
      await second.flush();
    }
    await second.close();
    expect((await listRotated(file)).map((each) => each.index)).toEqual([1]);
    const names = (await readSpans(file)).map((span) => span.name);
    expect(names.at(-1)).toBe('b-29');
    expect(names.some((name) => name.startsWith('a-'))).toBe(false);
  });
});
