// Keeps a run's telemetry on disk: one OTLP/JSON TracesData (or MetricsData,
// LogsData) per accepted export request, one per line, appended to
// <runDir>/traces.jsonl (metrics.jsonl, logs.jsonl): the layout of the
// OpenTelemetry Collector's file exporter, which Jaeger UI imports. Appends
// are buffered in memory and written in batches, on a timer or when the buffer
// grows large; flush() and close() write everything accepted so far, so a
// clean shutdown loses nothing. The store reports what it holds unwritten
// (queuedSpans: items, whatever the signal) so the collector can bound its memory.
// With a rotation policy the file is capped by size (rotated-files.ts): the
// oldest rotated file is deleted when a new one would pass the number kept,
// and what it held is reported through onDiscarded.
import { mkdir, open, stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { CollectorError } from './collector-error.ts';
import type { OtlpTracesDataJson } from './otlp-json.ts';
import { listRotated, rotate } from './rotated-files.ts';
import type { RotationPolicy } from './rotated-files.ts';

export const TRACES_FILE_NAME = 'traces.jsonl';

export interface TraceStoreOptions<T extends object = OtlpTracesDataJson> {
  /** The JSONL file; created (with its directory) when missing, appended to when present. */
  file: string;
  /** Longest time an accepted batch waits in memory before it is written. Default 200 ms. */
  flushIntervalMs?: number;
  /** Buffered bytes that trigger a write at once. Default 1 MiB. */
  maxBufferedBytes?: number;
  /** Called after spans reached the file. */
  onWritten?: (spans: number) => void;
  /** Called when a write failed; those spans are lost. */
  onWriteFailed?: (spans: number, error: Error) => void;
  /** Items in one document; default counts the spans of a TracesData. */
  countItems?: (data: T) => number;
  /** Cap the file by size, rotating it (file.1, file.2 ...); default: one file that grows without bound. */
  rotation?: RotationPolicy;
  /** Called after a rotation; `discarded` lists what the rotation deleted (items 0 when written before this store opened). */
  onRotated?: (discarded: { files: number; items: number; bytes: number }) => void;
}

export interface TraceStore<T extends object = OtlpTracesDataJson> {
  readonly file: string;
  /** Spans accepted by append() and not yet written. */
  readonly queuedSpans: number;
  /** Bytes of a partial last line (from an earlier crash) cut off when the file was opened. */
  readonly repairedBytes: number;
  /** Queue one TracesData as one line. Throws COLLECTOR_CLOSED after close(). */
  append(data: T): void;
  /** Queue one line already written as UTF-8 JSON (without its newline), holding `items` items. */
  appendEncoded(line: Buffer, items: number): void;
  /** Resolve once everything appended before the call is written; reject if some of it could not be. */
  flush(): Promise<void>;
  /** Flush, sync to disk and close the file. Idempotent. */
  close(): Promise<void>;
}

export async function openTraceStore<T extends object = OtlpTracesDataJson>(options: TraceStoreOptions<T>): Promise<TraceStore<T>> {
  await mkdir(dirname(options.file), { recursive: true });
  const repairedBytes = await cutPartialLastLine(options.file);
  const handle = await open(options.file, 'a');
  try {
    const { size } = await handle.stat();
    const rotatedFiles = options.rotation ? (await listRotated(options.file)).length : 0;
    return new FileTraceStore<T>(handle, options, repairedBytes, size, rotatedFiles);
  } catch (error) {
    await handle.close();
    throw error;
  }
}

class FileTraceStore<T extends object> implements TraceStore<T> {
  readonly file: string;
  readonly repairedBytes: number;
  /** Undefined only between closing a full file and opening the next one. */
  #handle: FileHandle | undefined;
  readonly #flushIntervalMs: number;
  readonly #maxBufferedBytes: number;
  readonly #onWritten: (spans: number) => void;
  readonly #onWriteFailed: (spans: number, error: Error) => void;
  readonly #countItems: (data: T) => number;
  readonly #rotation: RotationPolicy | undefined;
  readonly #onRotated: (discarded: { files: number; items: number; bytes: number }) => void;
  /** Bytes in the live file. */
  #fileBytes: number;
  /** Items written to the live file (index 0) and to each rotated file (index i is file.i); 0 when unknown. */
  #generationItems: number[];

  #lines: Array<string | Buffer> = [];
  #bufferedBytes = 0;
  #bufferedSpans = 0;
  #bufferedLines = 0;
  #writingSpans = 0;
  /** Lines appended so far, and lines whose write has finished (written or failed). */
  #appendedLines = 0;
  #settledLines = 0;
  #write: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #failedWrites = 0;
  #lastError: Error | undefined;
  #closing: Promise<void> | undefined;

  constructor(handle: FileHandle, options: TraceStoreOptions<T>, repairedBytes: number, fileBytes: number, rotatedFiles: number) {
    this.file = options.file;
    this.repairedBytes = repairedBytes;
    this.#handle = handle;
    this.#flushIntervalMs = options.flushIntervalMs ?? 200;
    this.#maxBufferedBytes = options.maxBufferedBytes ?? 1024 * 1024;
    this.#onWritten = options.onWritten ?? (() => {});
    this.#onWriteFailed = options.onWriteFailed ?? (() => {});
    this.#countItems = options.countItems ?? ((data) => countSpans(data as OtlpTracesDataJson));
    this.#rotation = options.rotation;
    this.#onRotated = options.onRotated ?? (() => {});
    this.#fileBytes = fileBytes;
    this.#generationItems = Array.from({ length: rotatedFiles + 1 }, () => 0);
  }

  get queuedSpans(): number {
    return this.#bufferedSpans + this.#writingSpans;
  }

  append(data: T): void {
    this.#queue(`${JSON.stringify(data)}\n`, this.#countItems(data));
  }

  appendEncoded(line: Buffer, items: number): void {
    this.#queue(line, items);
  }

  /** A string line carries its newline; an encoded one gets it here. */
  #queue(line: string | Buffer, items: number): void {
    if (this.#closing) throw new CollectorError('COLLECTOR_CLOSED', `trace store ${this.file} is closed`);
    if (typeof line === 'string') this.#lines.push(line);
    else this.#lines.push(line, NEWLINE);
    this.#appendedLines++;
    this.#bufferedLines++;
    this.#bufferedBytes += line.length + (typeof line === 'string' ? 0 : 1);
    this.#bufferedSpans += items;
    if (this.#bufferedBytes >= this.#maxBufferedBytes) this.#startWrite();
    else this.#timer ??= setTimeout(() => this.#startWrite(), this.#flushIntervalMs).unref();
  }

  async flush(): Promise<void> {
    // Waits for the lines appended up to now only, so a steady stream of
    // appends cannot keep a flush waiting forever.
    const target = this.#appendedLines;
    const failuresBefore = this.#failedWrites;
    while (this.#settledLines < target) {
      this.#startWrite();
      await this.#write;
    }
    if (this.#failedWrites > failuresBefore) {
      throw new CollectorError('TRACE_STORE_WRITE_FAILED', `writing ${this.file} failed: ${this.#lastError?.message}`, {
        cause: this.#lastError,
      });
    }
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    try {
      await this.flush();
      await this.#handle?.sync();
    } finally {
      await this.#handle?.close();
    }
  }

  /** Start writing everything buffered as one chunk, unless a write is under way (it restarts when done). */
  #startWrite(): void {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#write || this.#lines.length === 0) return;
    this.#write = this.#writeChunk().finally(() => {
      this.#write = undefined;
      if (this.#lines.length > 0) this.#startWrite();
    });
  }

  /** Write the buffered lines; never rejects (failures are counted and reported). */
  async #writeChunk(): Promise<void> {
    const parts = this.#lines;
    const chunk = parts.every((part) => typeof part === 'string') ? parts.join('') : Buffer.concat(parts.map((part) => (typeof part === 'string' ? Buffer.from(part, 'utf8') : part)));
    const lines = this.#bufferedLines;
    const spans = this.#bufferedSpans;
    this.#lines = [];
    this.#bufferedLines = 0;
    this.#bufferedBytes = 0;
    this.#bufferedSpans = 0;
    this.#writingSpans = spans;
    let failure: Error | undefined;
    try {
      // Sizes only matter to rotation; a string chunk costs a scan to measure.
      const bytes = !this.#rotation ? 0 : typeof chunk === 'string' ? Buffer.byteLength(chunk, 'utf8') : chunk.length;
      if (this.#rotation && this.#fileBytes > 0 && this.#fileBytes + bytes > this.#rotation.maxFileBytes) await this.#rotate(this.#rotation);
      this.#handle ??= await open(this.file, 'a');
      await this.#handle.appendFile(chunk, 'utf8');
      this.#fileBytes += bytes;
      this.#generationItems[0] = (this.#generationItems[0] ?? 0) + spans;
    } catch (error) {
      failure = error as Error;
    }
    this.#writingSpans = 0;
    this.#settledLines += lines;
    if (failure) {
      this.#failedWrites++;
      this.#lastError = failure;
      guard(() => this.#onWriteFailed(spans, failure));
    } else {
      guard(() => this.#onWritten(spans));
    }
  }

  /** Close the full live file, rotate the set, and open a new live file. Runs inside the write loop, so never beside a write. */
  async #rotate(policy: RotationPolicy): Promise<void> {
    const full = this.#handle;
    this.#handle = undefined;
    await full?.close();
    const deleted = await rotate(this.file, policy.keepFiles);
    let items = 0;
    let bytes = 0;
    for (const file of deleted) {
      items += this.#generationItems[file.index - 1] ?? 0;
      bytes += file.bytes;
    }
    this.#generationItems = [0, ...this.#generationItems].slice(0, policy.keepFiles + 1);
    this.#fileBytes = 0;
    this.#handle = await open(this.file, 'a');
    guard(() => this.#onRotated({ files: deleted.length, items, bytes }));
  }
}

/** Listener errors must not break the write loop. */
function guard(listener: () => void): void {
  try {
    listener();
  } catch {
    // A failing listener only loses its own notification.
  }
}

const NEWLINE = Buffer.from('\n');

function countSpans(data: OtlpTracesDataJson): number {
  let count = 0;
  for (const resource of data.resourceSpans ?? []) {
    for (const scope of resource.scopeSpans ?? []) count += scope.spans?.length ?? 0;
  }
  return count;
}

/**
 * A crash in the middle of a write leaves a last line without its newline.
 * Appending after it would glue the next batch onto the fragment and corrupt
 * both, so the fragment (already lost) is cut off. Returns the bytes cut.
 */
async function cutPartialLastLine(file: string): Promise<number> {
  const size = await stat(file).then(
    (stats) => stats.size,
    (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return 0;
      throw error;
    },
  );
  if (size === 0) return 0;
  const handle = await open(file, 'r+');
  try {
    const chunk = Buffer.alloc(64 * 1024);
    let end = size;
    while (end > 0) {
      const start = Math.max(0, end - chunk.length);
      const { bytesRead } = await handle.read(chunk, 0, end - start, start);
      const newline = chunk.subarray(0, bytesRead).lastIndexOf(0x0a);
      if (newline !== -1) {
        const keep = start + newline + 1;
        if (keep < size) await handle.truncate(keep);
        return size - keep;
      }
      end = start;
    }
    await handle.truncate(0);
    return size;
  } finally {
    await handle.close();
  }
}
