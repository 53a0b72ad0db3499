/**
 * The unpacked-code cache: one read-only tree per code digest (what sandboxes bind-mount as /var/task or as a
 * layer), and one merged /opt per ordered list of layers. Everything under rootDir is ours:
 *   trees/<sha256>/            an unpacked package (dirs 0555, files without write bits)
 *   trees/<sha256>.meta.json   what the unpack measured, so a restart does not re-extract
 *   opt/<key>/                 merged layers; key = sha256 of the ordered digests joined by ','
 *   tmp/                       work in progress; whatever is here after a crash is garbage
 * Trees appear by rename only once complete and leave by rename before they are deleted, so a tree that
 * exists is whole.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { constants, type Dirent, type Stats } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { CodeError, isDiskFull } from './errors.js';
import { extractZip, isLambdaLegalLinkTarget, type ExtractLimits, type MountPoint } from './zip-extractor.js';

export interface CodeCacheOptions {
  rootDir: string;
}

/** Stored next to each tree. mountPoints: where its links were judged legal. */
interface TreeMetadata {
  unzippedBytes: number;
  entries: number;
  mountPoints: MountPoint[];
}

const DIGEST_PATTERN = /^[0-9a-f]{64}$/;
const METADATA_FILE = /^([0-9a-f]{64})\.meta\.json$/;
const READ_ONLY_DIR_MODE = 0o555;
const WRITABLE_DIR_MODE = 0o755;
/** link(2) refusals after which a copy does the job: another filesystem, protected_hardlinks, too many links. */
const LINK_FALLBACK_CODES = new Set(['EXDEV', 'EPERM', 'EMLINK', 'EACCES']);

export class CodeCache {
  readonly #trees: string;
  readonly #layers: string;
  readonly #tmp: string;
  /** Per tree / per layer list: the next caller runs once the previous settles, and then finds its result. */
  readonly #locks = new Map<string, Promise<void>>();
  /** Work dirs of this process, which sweepTemporary must leave alone. */
  readonly #active = new Set<string>();

  constructor(options: CodeCacheOptions) {
    this.#trees = path.join(options.rootDir, 'trees');
    this.#layers = path.join(options.rootDir, 'opt');
    this.#tmp = path.join(options.rootDir, 'tmp');
  }

  treeDir(sha256Hex: string): string {
    assertDigest(sha256Hex);
    return path.join(this.#trees, sha256Hex);
  }

  layerTreeKey(layerDigests: readonly string[]): string {
    for (const digest of layerDigests) assertDigest(digest);
    return createHash('sha256').update(layerDigests.join(',')).digest('hex');
  }

  // Methods that return promises are async so that even a refused digest arrives as a rejection.

  /**
   * Unpacks the zip once per digest into treeDir(sha256Hex). A tree already there is reused (the zip is not
   * read) after checking it against these limits and, if it was unpacked for another mount point, its links.
   */
  async ensureUnpacked(
    sha256Hex: string,
    zipPath: string,
    mountPoint: MountPoint,
    limits: ExtractLimits,
  ): Promise<{ dir: string; unzippedBytes: number }> {
    const dir = this.treeDir(sha256Hex);
    return this.#serialise(`tree:${sha256Hex}`, async () => {
      try {
        if (!(await isDirectory(dir))) await this.#unpack(sha256Hex, zipPath, mountPoint, limits);
        const metadata = await this.#admit(sha256Hex, mountPoint, limits);
        return { dir, unzippedBytes: metadata.unzippedBytes };
      } catch (error) {
        throw toDiskFull(error);
      }
    });
  }

  /** The merged /opt of already-unpacked layers, in order: later layers win, whole subtrees included. */
  async ensureLayerTree(layerDigests: readonly string[]): Promise<string> {
    const key = this.layerTreeKey(layerDigests);
    const dir = path.join(this.#layers, key);
    return this.#serialise(`opt:${key}`, async () => {
      if (await isDirectory(dir)) return dir;
      for (const digest of layerDigests) {
        assert.ok(await isDirectory(this.treeDir(digest)), `layer ${digest} must be unpacked before it is merged`);
      }
      const work = await this.#makeWorkDir('layers-');
      try {
        const staged = path.join(work, 'tree');
        await fs.mkdir(staged, { mode: WRITABLE_DIR_MODE });
        for (const digest of layerDigests) await overlay(this.treeDir(digest), staged);
        await makeReadOnly(staged);
        await publish(staged, dir);
        return dir;
      } catch (error) {
        throw toDiskFull(error);
      } finally {
        await this.#discardWorkDir(work);
      }
    });
  }

  /** Digests with a tree, and digests whose metadata outlived its tree (a crash between the two), so both get collected. */
  async listTrees(): Promise<string[]> {
    let entries: Dirent[];
    try {
      entries = await fs.readdir(this.#trees, { withFileTypes: true });
    } catch (error) {
      if (isMissing(error)) return [];
      throw error;
    }
    const digests = new Set<string>();
    for (const entry of entries) {
      const digest = entry.isDirectory() ? entry.name : METADATA_FILE.exec(entry.name)?.[1];
      if (digest !== undefined && DIGEST_PATTERN.test(digest)) digests.add(digest);
    }
    return [...digests];
  }

  listLayerTrees(): Promise<string[]> {
    return listDigestDirs(this.#layers);
  }

  async removeTree(sha256Hex: string): Promise<void> {
    const dir = this.treeDir(sha256Hex);
    return this.#serialise(`tree:${sha256Hex}`, async () => {
      await this.#remove(dir);
      await fs.rm(this.#metadataPath(sha256Hex), { force: true });
    });
  }

  async removeLayerTree(key: string): Promise<void> {
    assertDigest(key);
    return this.#serialise(`opt:${key}`, () => this.#remove(path.join(this.#layers, key)));
  }

  /** Removes work dirs left by a crash (not those this process is using); returns how many. */
  async sweepTemporary(): Promise<number> {
    let names: string[];
    try {
      names = await fs.readdir(this.#tmp);
    } catch (error) {
      if (isMissing(error)) return 0;
      throw error;
    }
    let removed = 0;
    for (const name of names) {
      const leftover = path.join(this.#tmp, name);
      if (this.#active.has(leftover)) continue;
      await removeForcibly(leftover);
      removed += 1;
    }
    return removed;
  }

  async #unpack(sha256Hex: string, zipPath: string, mountPoint: MountPoint, limits: ExtractLimits): Promise<void> {
    const work = await this.#makeWorkDir('unpack-');
    try {
      const staged = path.join(work, 'tree');
      const { unzippedBytes, entries } = await extractZip(zipPath, staged, mountPoint, limits);
      await makeReadOnly(staged);
      // Metadata first: a tree is never visible without it.
      await this.#saveMetadata(sha256Hex, { unzippedBytes, entries, mountPoints: [mountPoint] });
      // Losing a race with another process leaves its identical tree in place.
      await publish(staged, this.treeDir(sha256Hex));
    } finally {
      await this.#discardWorkDir(work);
    }
  }

  /** Holds an existing tree to this call's limits and mount point, as a fresh unpack would. */
  async #admit(sha256Hex: string, mountPoint: MountPoint, limits: ExtractLimits): Promise<TreeMetadata> {
    const dir = this.treeDir(sha256Hex);
    let metadata = await this.#loadMetadata(sha256Hex);
    if (!metadata) {
      metadata = { ...(await measureTree(dir)), mountPoints: [] };
    }
    if (metadata.entries > limits.maxEntries) {
      throw new CodeError(
        'ERR_CODE_TOO_MANY_ENTRIES',
        `The package has ${metadata.entries} entries; at most ${limits.maxEntries} are allowed.`,
      );
    }
    if (metadata.unzippedBytes > limits.maxUnzippedBytes) {
      throw new CodeError(
        'ERR_CODE_TOO_LARGE_UNZIPPED',
        `Unzipped size must be smaller than ${limits.maxUnzippedBytes} bytes.`,
      );
    }
    if (!metadata.mountPoints.includes(mountPoint)) {
      // The same package may be code here and a layer there; its relative links mean different things.
      await assertLinksLegal(dir, mountPoint);
      metadata = { ...metadata, mountPoints: [...metadata.mountPoints, mountPoint] };
      await this.#saveMetadata(sha256Hex, metadata);
    }
    return metadata;
  }

  #metadataPath(sha256Hex: string): string {
    return path.join(this.#trees, `${sha256Hex}.meta.json`);
  }

  async #loadMetadata(sha256Hex: string): Promise<TreeMetadata | undefined> {
    let parsed: Partial<TreeMetadata>;
    try {
      parsed = JSON.parse(await fs.readFile(this.#metadataPath(sha256Hex), 'utf8')) as Partial<TreeMetadata>;
    } catch {
      return undefined; // missing or torn: measure the tree instead
    }
    const { unzippedBytes, entries, mountPoints } = parsed;
    if (typeof unzippedBytes !== 'number' || typeof entries !== 'number' || !Array.isArray(mountPoints)) return undefined;
    return { unzippedBytes, entries, mountPoints };
  }

  async #saveMetadata(sha256Hex: string, metadata: TreeMetadata): Promise<void> {
    const work = await this.#makeWorkDir('meta-');
    try {
      const staged = path.join(work, 'meta.json');
      await fs.writeFile(staged, JSON.stringify(metadata));
      await fs.rename(staged, this.#metadataPath(sha256Hex));
    } finally {
      await this.#discardWorkDir(work);
    }
  }

  /** Moved out of sight first, so a crash halfway through deleting leaves garbage in tmp/, not a torn tree. */
  async #remove(dir: string): Promise<void> {
    try {
      // Moving a directory to another parent rewrites its '..', which needs write permission on it.
      await fs.chmod(dir, WRITABLE_DIR_MODE);
    } catch (error) {
      if (isMissing(error)) return;
      throw error;
    }
    const work = await this.#makeWorkDir('remove-');
    try {
      await fs.rename(dir, path.join(work, 'tree'));
    } finally {
      await this.#discardWorkDir(work);
    }
  }

  async #makeWorkDir(prefix: string): Promise<string> {
    await Promise.all([this.#trees, this.#layers, this.#tmp].map((dir) => fs.mkdir(dir, { recursive: true })));
    const work = await fs.mkdtemp(path.join(this.#tmp, prefix));
    this.#active.add(work);
    return work;
  }

  async #discardWorkDir(work: string): Promise<void> {
    try {
      await removeForcibly(work);
    } finally {
      this.#active.delete(work);
    }
  }

  #serialise<T>(key: string, run: () => Promise<T>): Promise<T> {
    const previous = this.#locks.get(key) ?? Promise.resolve();
    const current = previous.then(run);
    const settled = current.then(
      () => {},
      () => {},
    );
    this.#locks.set(key, settled);
    void settled.then(() => {
      if (this.#locks.get(key) === settled) this.#locks.delete(key);
    });
    return current;
  }
}

function assertDigest(value: string): void {
  // Digests become path names: anything else could climb out of rootDir.
  assert.match(value, DIGEST_PATTERN, 'expected a lowercase hex sha256');
}

/** Renames staged into place and seals its root; EEXIST/ENOTEMPTY means another process published first. */
async function publish(staged: string, dir: string): Promise<void> {
  try {
    await fs.rename(staged, dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOTEMPTY') return;
    throw error;
  }
  await fs.chmod(dir, READ_ONLY_DIR_MODE);
}

/** Copies src's entries over dst the way Lambda stacks layers, never writing through a link in dst. */
async function overlay(src: string, dst: string): Promise<void> {
  for (const entry of await fs.readdir(src, { withFileTypes: true })) {
    const from = path.join(src, entry.name);
    const to = path.join(dst, entry.name);
    const existing = await lstatIfExists(to);
    if (entry.isDirectory() && existing?.isDirectory()) {
      await overlay(from, to);
      continue;
    }
    if (existing) await fs.rm(to, { recursive: true, force: true });
    if (entry.isDirectory()) {
      await fs.mkdir(to, { mode: WRITABLE_DIR_MODE });
      await overlay(from, to);
    } else if (entry.isSymbolicLink()) {
      await fs.symlink(await fs.readlink(from), to);
    } else if (entry.isFile()) {
      await linkOrCopy(from, to);
    }
  }
}

async function linkOrCopy(from: string, to: string): Promise<void> {
  try {
    await fs.link(from, to);
  } catch (error) {
    if (!LINK_FALLBACK_CODES.has((error as NodeJS.ErrnoException).code ?? '')) throw error;
    await fs.copyFile(from, to, constants.COPYFILE_EXCL);
    const { mode } = await fs.stat(from);
    await fs.chmod(to, mode & 0o555);
  }
}

/**
 * Dirs 0555, files lose their write bits; the root stays writable until publish() has moved it. Each dir is
 * opened up first because a package may record dirs we could not otherwise list.
 */
async function makeReadOnly(dir: string, isRoot = true): Promise<void> {
  await fs.chmod(dir, WRITABLE_DIR_MODE);
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const entryPath = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      await makeReadOnly(entryPath, false);
    } else if (entry.isFile()) {
      const { mode } = await fs.lstat(entryPath);
      await fs.chmod(entryPath, mode & 0o555);
    }
    // Links are skipped: chmod would follow them, and their own mode means nothing on Linux.
  }
  if (!isRoot) await fs.chmod(dir, READ_ONLY_DIR_MODE);
}

/** Read-only dirs refuse unlink even to their owner, so every dir is opened up before rm. */
async function removeForcibly(target: string): Promise<void> {
  const stats = await lstatIfExists(target);
  if (!stats) return;
  if (stats.isDirectory()) await makeWritable(target);
  await fs.rm(target, { recursive: true, force: true });
}

async function makeWritable(dir: string): Promise<void> {
  await fs.chmod(dir, WRITABLE_DIR_MODE);
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) await makeWritable(path.join(dir, entry.name));
  }
}

async function* walkTree(dir: string, relDir = ''): AsyncGenerator<{ entry: Dirent; absPath: string; relPath: string }> {
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const absPath = path.join(dir, entry.name);
    const relPath = relDir === '' ? entry.name : `${relDir}/${entry.name}`;
    yield { entry, absPath, relPath };
    if (entry.isDirectory()) yield* walkTree(absPath, relPath);
  }
}

/** For a tree whose metadata is lost: file bytes and link targets, as the extractor counts them. */
async function measureTree(dir: string): Promise<{ unzippedBytes: number; entries: number }> {
  let unzippedBytes = 0;
  let entries = 0;
  for await (const { entry, absPath } of walkTree(dir)) {
    entries += 1;
    if (entry.isFile()) unzippedBytes += (await fs.lstat(absPath)).size;
    else if (entry.isSymbolicLink()) unzippedBytes += Buffer.byteLength(await fs.readlink(absPath));
  }
  return { unzippedBytes, entries };
}

async function assertLinksLegal(dir: string, mountPoint: MountPoint): Promise<void> {
  for await (const { entry, absPath, relPath } of walkTree(dir)) {
    if (!entry.isSymbolicLink()) continue;
    const target = await fs.readlink(absPath);
    if (!isLambdaLegalLinkTarget(mountPoint, relPath, target)) {
      throw new CodeError(
        'ERR_CODE_UNSAFE_LINK',
        `The symlink ${JSON.stringify(relPath)} points to ${JSON.stringify(target)}, outside what ${mountPoint} may reach.`,
      );
    }
  }
}

async function listDigestDirs(parent: string): Promise<string[]> {
  try {
    const entries = await fs.readdir(parent, { withFileTypes: true });
    return entries.filter((entry) => entry.isDirectory() && DIGEST_PATTERN.test(entry.name)).map((entry) => entry.name);
  } catch (error) {
    if (isMissing(error)) return [];
    throw error;
  }
}

async function isDirectory(target: string): Promise<boolean> {
  return (await lstatIfExists(target))?.isDirectory() ?? false;
}

async function lstatIfExists(target: string): Promise<Stats | undefined> {
  try {
    return await fs.lstat(target);
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
}

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | null)?.code === 'ENOENT';
}

function toDiskFull(error: unknown): unknown {
  if (error instanceof CodeError || !isDiskFull(error)) return error;
  return new CodeError('ERR_CODE_DISK_FULL', 'No space left to unpack the package.', { cause: error });
}
