// Size rotation as logrotate does it, for the lab's append-only files (the
// collector's traces.jsonl, metrics.jsonl, logs.jsonl and each process's log):
// when the live file is full it is renamed traces.1.jsonl, the older ones move
// up one number (traces.1 -> traces.2 ...), anything past the number kept is
// deleted, and writing goes on in a new, empty traces.jsonl. So the newest
// data is always in the live file, the oldest in the highest number, and a
// reader that wants everything reads the highest number first.
import { open, readdir, rename, stat, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';

/** How a file is capped: rotated once it holds maxFileBytes, with keepFiles rotated files kept beside it. */
export interface RotationPolicy {
  /** Size at which the live file is rotated (it may pass this by the last write, which is never split mid-line). */
  maxFileBytes: number;
  /** Rotated files kept (name.1 ... name.N); the live file comes on top, so at most (N + 1) x maxFileBytes on disk. */
  keepFiles: number;
}

/** `traces.jsonl` -> `traces.3.jsonl`; `checkout.log` -> `checkout.3.log`; `out` -> `out.3`. */
export function rotatedPath(file: string, index: number): string {
  const extension = extname(file);
  const stem = file.slice(0, file.length - extension.length);
  return `${stem}.${index}${extension}`;
}

/** The rotated files of `file` that exist, newest (number 1) first. */
export async function listRotated(file: string): Promise<Array<{ path: string; index: number }>> {
  const extension = extname(file);
  const stem = basename(file, extension);
  const pattern = new RegExp(`^${escapeRegExp(stem)}\\.([1-9]\\d*)${escapeRegExp(extension)}$`);
  const names = await readdir(dirname(file)).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [] as string[];
    throw error;
  });
  const found: Array<{ path: string; index: number }> = [];
  for (const name of names) {
    const match = pattern.exec(name);
    if (match) found.push({ path: join(dirname(file), name), index: Number(match[1]) });
  }
  return found.sort((a, b) => a.index - b.index);
}

/** Every file of the set, oldest first: name.N ... name.1, then the live file (whether it exists or not). */
export async function filesOldestFirst(file: string): Promise<string[]> {
  const rotated = await listRotated(file);
  return [...rotated.reverse().map((each) => each.path), file];
}

/**
 * Open every file of the set for reading, oldest first, before reading any:
 * an open descriptor follows its file through a rename or a delete, so a
 * rotation while a reader is part way through neither skips nor repeats a
 * file. A rotated file deleted before it could be opened is left out; a
 * missing live file rejects with ENOENT (as reading the file alone would).
 */
export async function openOldestFirst(file: string): Promise<Array<{ path: string; handle: FileHandle }>> {
  const handles: Array<{ path: string; handle: FileHandle }> = [];
  try {
    for (const path of await filesOldestFirst(file)) {
      try {
        handles.push({ path, handle: await open(path, 'r') });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT' && path !== file) continue;
        throw error;
      }
    }
  } catch (error) {
    await Promise.allSettled(handles.map(({ handle }) => handle.close()));
    throw error;
  }
  return handles;
}

export interface DeletedFile {
  path: string;
  /** The rotation number it had (keepFiles + 1 for the one pushed out by this rotation). */
  index: number;
  bytes: number;
}

/**
 * Rotate `file` (which the caller has closed): delete what would pass
 * keepFiles, shift name.i to name.(i+1), and rename the live file to name.1.
 * Returns what was deleted, so the caller can count it as discarded.
 */
export async function rotate(file: string, keepFiles: number): Promise<DeletedFile[]> {
  const deleted: DeletedFile[] = [];
  const rotated = await listRotated(file);
  for (const each of rotated) {
    // After the shift below, number i becomes i + 1: it must go if that passes keepFiles.
    if (each.index + 1 <= keepFiles) continue;
    const bytes = await stat(each.path).then(
      (stats) => stats.size,
      () => 0,
    );
    await unlink(each.path).catch(ignoreMissing);
    deleted.push({ path: each.path, index: each.index + 1, bytes });
  }
  for (const each of rotated.filter((one) => one.index + 1 <= keepFiles).reverse()) {
    await rename(each.path, rotatedPath(file, each.index + 1));
  }
  if (keepFiles >= 1) await rename(file, rotatedPath(file, 1)).catch(ignoreMissing);
  else {
    const bytes = await stat(file).then(
      (stats) => stats.size,
      () => 0,
    );
    await unlink(file).catch(ignoreMissing);
    deleted.push({ path: file, index: 1, bytes });
  }
  return deleted;
}

function ignoreMissing(error: NodeJS.ErrnoException): void {
  if (error.code !== 'ENOENT') throw error;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
