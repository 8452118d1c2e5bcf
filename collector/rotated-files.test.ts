import { existsSync } from 'node:fs';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { filesOldestFirst, listRotated, openOldestFirst, rotate, rotatedPath } from './rotated-files.ts';
import { makeTempDir } from './test-fixtures.ts';

describe('rotated files', () => {
  let dir: string;
  let file: string;

  beforeEach(async () => {
    dir = await makeTempDir('rotate');
    file = join(dir, 'traces.jsonl');
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('names rotated files before the extension', () => {
    expect(rotatedPath('/r/traces.jsonl', 3)).toBe('/r/traces.3.jsonl');
    expect(rotatedPath('/r/out', 1)).toBe('/r/out.1');
  });

  it('shifts the set like logrotate and deletes what passes keepFiles, reporting its size', async () => {
    const generations: string[] = [];
    for (const content of ['first\n', 'second\n', 'third\n', 'fourth\n']) {
      await writeFile(file, content);
      generations.push(content);
      const deleted = await rotate(file, 2);
      if (generations.length <= 2) expect(deleted).toEqual([]);
      else expect(deleted).toEqual([{ path: rotatedPath(file, 2), index: 3, bytes: Buffer.byteLength(generations[generations.length - 3] as string) }]);
    }
    expect(existsSync(file)).toBe(false);
    expect(await readFile(rotatedPath(file, 1), 'utf8')).toBe('fourth\n');
    expect(await readFile(rotatedPath(file, 2), 'utf8')).toBe('third\n');
    expect(existsSync(rotatedPath(file, 3))).toBe(false);
    // A file of another set with a similar name is left alone.
    await writeFile(join(dir, 'traces.x.jsonl'), 'not ours');
    expect((await listRotated(file)).map((each) => each.index)).toEqual([1, 2]);
  });

  it('lists the set oldest first, the live file last', async () => {
    for (const index of [10, 2, 1]) await writeFile(rotatedPath(file, index), `${index}\n`);
    expect(await filesOldestFirst(file)).toEqual([rotatedPath(file, 10), rotatedPath(file, 2), rotatedPath(file, 1), file]);
  });

  it('opens the whole set before reading, so a rotation during a read neither skips nor repeats a file', async () => {
    await writeFile(rotatedPath(file, 1), 'older\n');
    await writeFile(file, 'newer\n');
    const handles = await openOldestFirst(file);
    try {
      // A rotation happens after the reader opened the set.
      await rotate(file, 1);
      await writeFile(file, 'newest\n');
      const texts = await Promise.all(handles.map(({ handle }) => handle.readFile('utf8')));
      expect(texts).toEqual(['older\n', 'newer\n']);
    } finally {
      await Promise.all(handles.map(({ handle }) => handle.close()));
    }
  });

  it('rejects with ENOENT when the live file is missing, as reading it alone would', async () => {
    await expect(openOldestFirst(file)).rejects.toMatchObject({ code: 'ENOENT' });
    await writeFile(file, '');
    await rename(file, rotatedPath(file, 1));
    await expect(openOldestFirst(file)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
