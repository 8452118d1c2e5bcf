// How much disk a session may take, as `faultline up` sets it: each telemetry
// signal's files (traces, logs, metrics) and each lab process's log file are
// capped by size and rotated (collector/rotated-files.ts). `run` keeps
// everything: a run is bounded in time, and its trace assertions and report
// read every span. The defaults are documented in the README.
import type { RotationPolicy } from '../collector/rotated-files.ts';

export const DEFAULT_UP_CAPS = {
  /** Megabytes kept per telemetry signal (traces.jsonl and its rotated files; the same for logs and metrics). */
  telemetryMbPerSignal: 256,
  /** Megabytes kept per lab process log (runs/<id>/logs/<name>.jsonl and its rotated file). */
  processLogMb: 16,
} as const;

/** Rotated files kept beside a live telemetry file, and beside a process log. */
const TELEMETRY_FILES_KEPT = 4;
const PROCESS_LOG_FILES_KEPT = 1;

export interface DiskCaps {
  /** Each signal's files; undefined keeps everything. */
  telemetry?: RotationPolicy;
  /** Each process's log; undefined keeps everything. */
  processLogs?: RotationPolicy;
}

/** The caps for megabyte limits (0 means no cap): the limit is split evenly over the live file and the rotated ones. */
export function diskCaps(limits: { telemetryMbPerSignal: number; processLogMb: number }): DiskCaps {
  const telemetry = rotationFor(limits.telemetryMbPerSignal, TELEMETRY_FILES_KEPT);
  const processLogs = rotationFor(limits.processLogMb, PROCESS_LOG_FILES_KEPT);
  return { ...(telemetry ? { telemetry } : {}), ...(processLogs ? { processLogs } : {}) };
}

function rotationFor(megabytes: number, keepFiles: number): RotationPolicy | undefined {
  if (megabytes === 0) return undefined;
  // The collector's config refuses files under 1 KiB; a limit that small is a typo, not a cap.
  return { maxFileBytes: Math.max(1024, Math.floor((megabytes * 1024 * 1024) / (keepFiles + 1))), keepFiles };
}
