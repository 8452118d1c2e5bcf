import { readFile, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeTempDir } from '../collector/test-fixtures.ts';
import { rotatedPath } from '../collector/rotated-files.ts';
import { createLogFile } from './rotating-log.ts';

function end(stream: NodeJS.WritableStream): Promise<void> {
  return new Promise((resolve) => stream.end(() => resolve()));
}

describe('process log file', () => {
  let dir: string;
  let file: string;

  beforeEach(async () => {
    dir = await makeTempDir('process-log');
    file = join(dir, 'checkout.jsonl');
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('rotates at a line end once full, whatever the chunks, and keeps keepFiles rotated files', async () => {
    const log = createLogFile(file, { maxFileBytes: 1024, keepFiles: 1 });
    const lines = Array.from({ length: 200 }, (_, i) => `${JSON.stringify({ level: 30, msg: `line ${i}`, pad: 'x'.repeat(i % 17) })}\n`);
    // Written in chunks that cut lines anywhere, as a pipe delivers them.
    const text = lines.join('');
    for (let at = 0; at < text.length; at += 97) log.write(Buffer.from(text.slice(at, at + 97)));
    await end(log);

    expect((await readdir(dir)).sort()).toEqual(['checkout.1.jsonl', 'checkout.jsonl']);
    const kept = `${await readFile(rotatedPath(file, 1), 'utf8')}${await readFile(file, 'utf8')}`;
    // Whole lines only, ending with the last one written, contiguous.
    const keptLines = kept.split('\n').filter(Boolean).map((line) => JSON.parse(line) as { msg: string });
    expect(keptLines.at(-1)?.msg).toBe('line 199');
    const first = Number(keptLines[0]?.msg.split(' ')[1]);
    expect(keptLines.map((line) => line.msg)).toEqual(Array.from({ length: 200 - first }, (_, i) => `line ${first + i}`));
    // Each file passes the cap by at most the line that crossed it.
    const longest = Math.max(...lines.map((line) => line.length));
    for (const path of [file, rotatedPath(file, 1)]) expect((await stat(path)).size).toBeLessThanOrEqual(1024 + longest);
  });

  it('keeps everything without a policy', async () => {
    const log = createLogFile(file);
    for (let i = 0; i < 200; i++) log.write(`${'y'.repeat(50)}\n`);
    await end(log);
    expect(await readdir(dir)).toEqual(['checkout.jsonl']);
    expect((await stat(file)).size).toBe(200 * 51);
  });
});
