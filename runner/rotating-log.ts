// A lab process's log file (runs/<id>/logs/<name>.jsonl, the child's stdout
// and stderr), optionally capped by size: once the file holds maxFileBytes it
// is rotated as the collector's files are (collector/rotated-files.ts), at a
// line end so no JSON line is split across two files. Without a policy it is a
// plain append stream, as a run (which is bounded) wants.
import { createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { rotate } from '../collector/rotated-files.ts';
import type { RotationPolicy } from '../collector/rotated-files.ts';

export function createLogFile(file: string, rotation?: RotationPolicy): Writable {
  return rotation ? new RotatingLogStream(file, rotation) : createWriteStream(file, { flags: 'a' });
}

const NEWLINE = 0x0a;

class RotatingLogStream extends Writable {
  readonly #file: string;
  readonly #policy: RotationPolicy;
  #handle: FileHandle | undefined;
  #size = 0;
  /** Whether the last byte written ended a line: the file can be rotated without splitting one. */
  #atLineStart = true;

  constructor(file: string, policy: RotationPolicy) {
    super();
    this.#file = file;
    this.#policy = policy;
  }

  override _construct(callback: (error?: Error | null) => void): void {
    this.#open().then(() => callback(), callback);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#append(chunk).then(() => callback(), callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#close().then(() => callback(), callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#close().then(
      () => callback(error),
      () => callback(error),
    );
  }

  async #append(chunk: Buffer): Promise<void> {
    let rest = chunk;
    while (rest.length > 0) {
      if (this.#size === 0 || this.#size + rest.length <= this.#policy.maxFileBytes) {
        await this.#writeRaw(rest);
        return;
      }
      if (this.#atLineStart) {
        await this.#rotate();
        continue;
      }
      // Finish the line under way in this file, then rotate before the next one.
      const newline = rest.indexOf(NEWLINE);
      if (newline === -1) {
        await this.#writeRaw(rest);
        return;
      }
      await this.#writeRaw(rest.subarray(0, newline + 1));
      rest = rest.subarray(newline + 1);
    }
  }

  async #writeRaw(bytes: Buffer): Promise<void> {
    if (bytes.length === 0) return;
    const handle = this.#handle ?? (await this.#open());
    await handle.appendFile(bytes);
    this.#size += bytes.length;
    this.#atLineStart = bytes[bytes.length - 1] === NEWLINE;
  }

  async #rotate(): Promise<void> {
    await this.#close();
    await rotate(this.#file, this.#policy.keepFiles);
    await this.#open();
  }

  async #open(): Promise<FileHandle> {
    const handle = await open(this.#file, 'a');
    this.#handle = handle;
    this.#size = (await handle.stat()).size;
    this.#atLineStart = true;
    return handle;
  }

  async #close(): Promise<void> {
    const handle = this.#handle;
    this.#handle = undefined;
    await handle?.close();
  }
}
