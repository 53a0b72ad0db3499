import { PlatformError } from '../shared/errors.js';

export type CodeErrorCode =
  | 'ERR_CODE_CORRUPT_ZIP' // not a zip, truncated, sizes that lie, or entries that contradict each other
  | 'ERR_CODE_UNSAFE_PATH' // entry name absolute, with '..' segments, backslashes, NUL, or passing through a symlink
  | 'ERR_CODE_UNSAFE_LINK' // symlink whose target resolves outside the tree and outside /opt, /var/task, /tmp
  | 'ERR_CODE_TOO_MANY_ENTRIES' // more entries than limits.maxEntries
  | 'ERR_CODE_TOO_LARGE_UNZIPPED' // inflated bytes would exceed limits.maxUnzippedBytes
  | 'ERR_CODE_DISK_FULL'; // ENOSPC/EDQUOT while writing
export class CodeError extends PlatformError<CodeErrorCode> {}

/** A full disk or exhausted quota, whatever the operation that hit it. */
export function isDiskFull(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}
