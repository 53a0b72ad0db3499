/**
 * Unpacks a deployment package (function code or a layer). The zip is hostile input: names that climb out of
 * the tree, entries that write through links created by earlier entries, links that leave what a Lambda
 * sandbox can see, zip bombs and archives with absurd entry counts are refused, and a refused archive leaves
 * nothing behind. Entries are streamed, so memory stays bounded whatever the archive holds.
 */
import { constants } from 'node:fs';
// Called through the module object (fs.open, not a named import) so tests can inject disk errors.
import fs from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import yauzl from 'yauzl';
import type { Entry, ZipFile } from 'yauzl';
import { CodeError, isDiskFull } from './errors.js';

export interface ExtractLimits {
  maxEntries: number;
  maxUnzippedBytes: number;
}

/** Where the tree will be mounted in a sandbox: '/var/task' for function code, '/opt' for layers (used to judge link targets). */
export type MountPoint = '/var/task' | '/opt';

/** What a Lambda sandbox can reach through a link: the code, the layers and the scratch space. */
const LAMBDA_LINK_ROOTS = ['/var/task', '/opt', '/tmp'] as const;
/** PATH_MAX: no legitimate link target is longer. */
export const MAX_LINK_TARGET_BYTES = 4096;
const CORRUPT_ZIP_MESSAGE = 'Could not unzip uploaded file. Please check your file, then try to upload again.';

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const DEFAULT_FILE_MODE = 0o644;
const DEFAULT_DIR_MODE = 0o755;
/** Directories stay private and writable while entries land in them; their recorded modes are applied last. */
const WORKING_DIR_MODE = 0o700;
/** O_EXCL never reuses an existing name (nor follows a link there); O_NOFOLLOW is the kernel's second opinion. */
const CREATE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

interface Extraction {
  readonly zip: ZipFile;
  readonly destDir: string;
  readonly mountPoint: MountPoint;
  readonly limits: ExtractLimits;
  /** Directories known to be real directories we created (relative paths); each maps to its final mode. */
  readonly dirs: Map<string, number>;
  unzippedBytes: number;
  entries: number;
}

/**
 * Extracts zipPath into destDir, which must not exist yet (its parent must): only a tree we created ourselves
 * is free of links planted before we started. On any failure destDir is removed again. What the package
 * causes is a CodeError; host failures (a missing zipPath, an existing destDir) stay system errors.
 */
export async function extractZip(
  zipPath: string,
  destDir: string,
  mountPoint: MountPoint,
  limits: ExtractLimits,
): Promise<{ unzippedBytes: number; entries: number }> {
  let zip: ZipFile;
  try {
    zip = await yauzl.openPromise(zipPath, {
      lazyEntries: true,
      autoClose: false,
      strictFileNames: true,
      validateEntrySizes: true,
    });
  } catch (error) {
    throw toCodeError(error);
  }
  // yauzl emits 'error' on the zip object; an unheard one would crash the process.
  zip.on('error', () => {});
  try {
    if (zip.entryCount > limits.maxEntries) {
      throw new CodeError(
        'ERR_CODE_TOO_MANY_ENTRIES',
        `The package has ${zip.entryCount} entries; at most ${limits.maxEntries} are allowed.`,
      );
    }
    // The central directory declares every entry's size: a package that says it is too big is refused before a
    // byte is written. The declared sizes may lie, so inflated bytes are still counted (and yauzl checks them).
    if ((await sumDeclaredSizes(zipPath)) > limits.maxUnzippedBytes) throw tooLargeUnzipped(limits);
    await fs.mkdir(destDir, { mode: WORKING_DIR_MODE });
    const extraction: Extraction = { zip, destDir, mountPoint, limits, dirs: new Map(), unzippedBytes: 0, entries: 0 };
    try {
      await extractEntries(extraction);
      await applyDirectoryModes(extraction);
      await fs.chmod(destDir, DEFAULT_DIR_MODE);
    } catch (error) {
      await fs.rm(destDir, { recursive: true, force: true });
      throw error;
    }
    return { unzippedBytes: extraction.unzippedBytes, entries: extraction.entries };
  } catch (error) {
    throw toCodeError(error);
  } finally {
    zip.close();
  }
}

/**
 * Whether a link at linkPath (relative to the tree mounted at mountPoint) points somewhere a Lambda sandbox
 * allows: relative targets resolve against the link's directory, absolute ones are normalised.
 */
export function isLambdaLegalLinkTarget(mountPoint: MountPoint, linkPath: string, target: string): boolean {
  if (target === '' || target.includes('\0')) return false;
  const resolved = path.posix.isAbsolute(target)
    ? path.posix.normalize(target)
    : path.posix.join(mountPoint, path.posix.dirname(linkPath), target);
  return LAMBDA_LINK_ROOTS.some((root) => resolved === root || resolved.startsWith(`${root}/`));
}

async function extractEntries(x: Extraction): Promise<void> {
  for (let entry = await readNextEntry(x.zip); entry; entry = await readNextEntry(x.zip)) {
    x.entries += 1;
    const segments = toSafeSegments(entry.fileName);
    const unixMode = entry.externalFileAttributes >>> 16;
    const type = unixMode & S_IFMT;
    const isDirectory = entry.fileName.endsWith('/') || type === S_IFDIR;
    if (segments.length === 0) {
      // "./" and the like name the root itself.
      if (isDirectory) continue;
      throw unsafePath(entry.fileName, 'it names no file');
    }
    const relPath = segments.join('/');
    await ensureDirectories(x, segments.slice(0, -1), entry.fileName);
    if (isDirectory) {
      await ensureDirectory(x, relPath, entry.fileName);
      x.dirs.set(relPath, sanitizeMode(unixMode, DEFAULT_DIR_MODE));
    } else if (type === S_IFLNK) {
      await extractLink(x, entry, relPath);
    } else {
      // Fifos, devices and sockets are never created: anything else becomes a regular file.
      await extractFile(x, entry, relPath, sanitizeMode(unixMode, DEFAULT_FILE_MODE));
    }
  }
}

/** Name → path segments, refusing anything that could land outside the tree. yauzl refuses most of it first. */
function toSafeSegments(name: string): string[] {
  if (name.includes('\0')) throw unsafePath(name, 'it contains NUL');
  if (name.includes('\\')) throw unsafePath(name, 'it contains a backslash');
  if (name.startsWith('/') || /^[a-zA-Z]:/.test(name)) throw unsafePath(name, 'it is absolute');
  const segments = name.split('/').filter((segment) => segment !== '' && segment !== '.');
  if (segments.includes('..')) throw unsafePath(name, "it has '..' segments");
  return segments;
}

/** Keeps permission bits; drops setuid/setgid/sticky and group/other write. No recorded bits: the default. */
function sanitizeMode(unixMode: number, fallback: number): number {
  const permissions = unixMode & 0o777;
  return permissions === 0 ? fallback : permissions & 0o755;
}

async function ensureDirectories(x: Extraction, segments: readonly string[], entryName: string): Promise<void> {
  for (let i = 1; i <= segments.length; i += 1) {
    const relPath = segments.slice(0, i).join('/');
    if (x.dirs.has(relPath)) continue;
    await ensureDirectory(x, relPath, entryName);
    x.dirs.set(relPath, DEFAULT_DIR_MODE);
  }
}

/** mkdir, and when the name exists, look at what is there (lstat: never through a link). */
async function ensureDirectory(x: Extraction, relPath: string, entryName: string): Promise<void> {
  if (x.dirs.has(relPath)) return;
  const absPath = path.join(x.destDir, relPath);
  try {
    await fs.mkdir(absPath, { mode: WORKING_DIR_MODE });
    return;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const stats = await fs.lstat(absPath);
  if (stats.isSymbolicLink()) throw unsafePath(entryName, `it passes through the symlink ${relPath}`);
  if (!stats.isDirectory()) throw conflict(entryName, `${relPath} is a file`);
}

async function extractFile(x: Extraction, entry: Entry, relPath: string, mode: number): Promise<void> {
  const absPath = path.join(x.destDir, relPath);
  const handle = await createExclusively(absPath, entry.fileName, () => fs.open(absPath, CREATE_FLAGS, 0o600));
  try {
    const stream = await x.zip.openReadStreamPromise(entry);
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        countInflated(x, chunk.length);
        await writeAll(handle, chunk);
      }
    } finally {
      stream.destroy();
    }
    // fchmod: the mode lands on the file we wrote, whatever happens to the name meanwhile.
    await handle.chmod(mode);
    const modified = entry.getLastModDate();
    // Keeps timestamps that compiled caches (.pyc) compare against their sources.
    if (!Number.isNaN(modified.getTime())) await handle.utimes(modified, modified);
  } finally {
    await handle.close();
  }
}

async function extractLink(x: Extraction, entry: Entry, relPath: string): Promise<void> {
  if (entry.uncompressedSize > MAX_LINK_TARGET_BYTES) {
    throw new CodeError('ERR_CODE_UNSAFE_LINK', `The symlink ${JSON.stringify(entry.fileName)} has an over-long target.`);
  }
  const chunks: Buffer[] = [];
  let length = 0;
  const stream = await x.zip.openReadStreamPromise(entry);
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      countInflated(x, chunk.length);
      length += chunk.length;
      // The header size is checked above, but only the inflated bytes are facts.
      if (length > MAX_LINK_TARGET_BYTES) {
        throw new CodeError('ERR_CODE_UNSAFE_LINK', `The symlink ${JSON.stringify(entry.fileName)} has an over-long target.`);
      }
      chunks.push(chunk);
    }
  } finally {
    stream.destroy();
  }
  const target = Buffer.concat(chunks).toString('utf8');
  if (!isLambdaLegalLinkTarget(x.mountPoint, relPath, target)) {
    throw new CodeError(
      'ERR_CODE_UNSAFE_LINK',
      `The symlink ${JSON.stringify(entry.fileName)} points to ${JSON.stringify(target)}, outside ${LAMBDA_LINK_ROOTS.join(', ')}.`,
    );
  }
  const absPath = path.join(x.destDir, relPath);
  await createExclusively(absPath, entry.fileName, () => fs.symlink(target, absPath));
}

/**
 * Runs an exclusive create. A duplicate name lets the last entry win: the old file or link is unlinked (which
 * never touches a link's target) and the create retried; a directory in the way is a contradiction.
 */
async function createExclusively<T>(absPath: string, entryName: string, create: () => Promise<T>): Promise<T> {
  try {
    return await create();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const stats = await fs.lstat(absPath);
  if (stats.isDirectory()) throw conflict(entryName, 'a directory of that name exists');
  await fs.unlink(absPath);
  return create();
}

function countInflated(x: Extraction, bytes: number): void {
  x.unzippedBytes += bytes;
  if (x.unzippedBytes > x.limits.maxUnzippedBytes) throw tooLargeUnzipped(x.limits);
}

function tooLargeUnzipped(limits: ExtractLimits): CodeError {
  return new CodeError('ERR_CODE_TOO_LARGE_UNZIPPED', `Unzipped size must be smaller than ${limits.maxUnzippedBytes} bytes.`);
}

/** The sum of the uncompressed sizes the central directory declares (reads no entry data). */
async function sumDeclaredSizes(zipPath: string): Promise<number> {
  const zip = await yauzl.openPromise(zipPath, { lazyEntries: true, autoClose: false, strictFileNames: true, validateEntrySizes: true });
  zip.on('error', () => {});
  try {
    let total = 0;
    for (let entry = await readNextEntry(zip); entry; entry = await readNextEntry(zip)) total += entry.uncompressedSize;
    return total;
  } finally {
    zip.close();
  }
}

async function writeAll(handle: FileHandle, chunk: Buffer): Promise<void> {
  for (let offset = 0; offset < chunk.length; ) {
    const { bytesWritten } = await handle.write(chunk, offset, chunk.length - offset);
    if (bytesWritten === 0) throw new CodeError('ERR_CODE_DISK_FULL', 'No space left to unpack the package.');
    offset += bytesWritten;
  }
}

/** Deepest first: a parent that loses its search bit must not hide its children from chmod. */
async function applyDirectoryModes(x: Extraction): Promise<void> {
  const byDepth = [...x.dirs].sort(([a], [b]) => b.split('/').length - a.split('/').length);
  for (const [relPath, mode] of byDepth) await fs.chmod(path.join(x.destDir, relPath), mode);
}

/** One entry at a time; listeners are removed each round so none pile up over thousands of entries. */
function readNextEntry(zip: ZipFile): Promise<Entry | undefined> {
  return new Promise((resolve, reject) => {
    const onEntry = (entry: Entry) => {
      stop();
      resolve(entry);
    };
    const onEnd = () => {
      stop();
      resolve(undefined);
    };
    const onError = (error: unknown) => {
      stop();
      reject(error);
    };
    const stop = () => {
      zip.off('entry', onEntry);
      zip.off('end', onEnd);
      zip.off('error', onError);
    };
    zip.on('entry', onEntry);
    zip.on('end', onEnd);
    zip.on('error', onError);
    zip.readEntry();
  });
}

function unsafePath(entryName: string, why: string): CodeError {
  return new CodeError('ERR_CODE_UNSAFE_PATH', `The entry ${JSON.stringify(entryName)} is unsafe: ${why}.`);
}

function conflict(entryName: string, why: string): CodeError {
  return new CodeError('ERR_CODE_CORRUPT_ZIP', `${CORRUPT_ZIP_MESSAGE} (entry ${JSON.stringify(entryName)}: ${why})`);
}

/** yauzl and zlib throw plain errors; these become codes. Host I/O failures other than a full disk stay as they are. */
function toCodeError(error: unknown): unknown {
  if (error instanceof CodeError) return error;
  if (isDiskFull(error)) return new CodeError('ERR_CODE_DISK_FULL', 'No space left to unpack the package.', { cause: error });
  const errno = error as NodeJS.ErrnoException;
  if (errno.code === 'ENAMETOOLONG' || errno.code === 'ELOOP') {
    return new CodeError('ERR_CODE_UNSAFE_PATH', 'An entry name cannot be created safely.', { cause: error });
  }
  if (typeof errno.syscall === 'string') return error;
  const message = error instanceof Error ? error.message : String(error);
  // yauzl's own name checks (strictFileNames): "invalid relative path", "absolute path", "invalid characters".
  if (/^(invalid relative path|absolute path|invalid characters in fileName)/.test(message)) {
    return new CodeError('ERR_CODE_UNSAFE_PATH', `An entry name is unsafe: ${message}`, { cause: error });
  }
  return new CodeError('ERR_CODE_CORRUPT_ZIP', CORRUPT_ZIP_MESSAGE, { cause: error });
}
