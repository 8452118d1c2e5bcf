// How a service's SQLite database keeps its write-ahead log small. On close,
// PRAGMA wal_checkpoint(TRUNCATE) copies the log into the database file and
// empties it: SQLite does this by itself only when the last connection
// closes, and any other (a `faultline check` reading the run's books, a second
// store on the same file) would keep the -wal file at its full size. While
// open, boundWal checkpoints every ~1 MiB of log instead of SQLite's 4 MiB and
// truncates the file back to 1 MiB after each, so a lab killed before it could
// close leaves at most about that much per database (11 MB for the shop's
// databases before, measured in docs/benchmarks.md).
import type { DatabaseSync } from 'node:sqlite';

/** Pages (4 KiB each) of log that start an automatic checkpoint; SQLite's default is 1000. */
const AUTOCHECKPOINT_PAGES = 256;
const WAL_SIZE_LIMIT_BYTES = 1024 * 1024;

/** Call once the database is in WAL mode. */
export function boundWal(db: DatabaseSync): void {
  db.exec(`PRAGMA wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}; PRAGMA journal_size_limit = ${WAL_SIZE_LIMIT_BYTES};`);
}

export function closeCheckpointed(db: DatabaseSync): void {
  if (!db.isOpen) return;
  try {
    db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
  } catch {
    // Busy (a reader mid-transaction) or not a WAL database: closing still loses nothing.
  }
  db.close();
}
