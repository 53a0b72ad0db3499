/** How a store method runs (one transaction) and how SQLite's failures read as StoreError. */
import { StoreError } from '../store.js';

/** Runs a body in a transaction and translates what SQLite throws into StoreError. */
export interface Transactions {
  read<T>(body: () => T): T;
  write<T>(body: () => T): T;
}

export function toStoreError(error: unknown): unknown {
  if (error instanceof StoreError || !(error instanceof Error)) return error;
  const code: unknown = (error as { code?: unknown }).code;
  if (typeof code !== 'string') return error;
  const cause = { cause: error };
  if (code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE') {
    return new StoreError('ERR_STORE_CONFLICT', 'the row already exists', cause);
  }
  if (code === 'SQLITE_CONSTRAINT_FOREIGNKEY') {
    return new StoreError('ERR_STORE_NOT_FOUND', 'the row it belongs to does not exist', cause);
  }
  // SQLite reports most ENOSPC as SQLITE_FULL, but some (fsync, truncate) as an IOERR naming the errno.
  const full =
    code === 'SQLITE_FULL' ||
    code === 'ENOSPC' ||
    code === 'EDQUOT' ||
    (code.startsWith('SQLITE_IOERR') && /ENOSPC|no space/i.test(error.message));
  if (full) return new StoreError('ERR_STORE_FULL', `storage is full: ${error.message}`, cause);
  if (code.startsWith('SQLITE_') || 'syscall' in error) {
    return new StoreError('ERR_STORE_IO', `storage failed: ${error.message}`, cause);
  }
  return error;
}

export function notFound(what: string): StoreError {
  return new StoreError('ERR_STORE_NOT_FOUND', `${what} does not exist`);
}

export function checkRevision(stored: string | undefined, expected: string | undefined): void {
  if (expected !== undefined && stored !== expected) {
    throw new StoreError('ERR_STORE_REVISION_MISMATCH', `revision ${stored ?? '(none)'} is not ${expected}`);
  }
}
