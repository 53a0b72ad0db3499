/**
 * Content-addressed zip blobs in a directory: <root>/<first 2 hex>/<sha256 hex>.zip. A blob is written to
 * <root>/tmp, fsynced, renamed into place and its directory fsynced before put() resolves, so a row that
 * references it can commit afterwards and survive a crash (ARCHITECTURE.md, "Data").
 */
import { createHash, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { StoreError, type BlobStore } from '../store.js';

const DIGEST = /^[0-9a-f]{64}$/;
const SHARD = /^[0-9a-f]{2}$/;
const BLOB_FILE = /^([0-9a-f]{64})\.zip$/;

export class FileBlobStore implements BlobStore {
  readonly #rootDir: string;
  readonly #tmpDir: string;

  constructor(options: { rootDir: string }) {
    this.#rootDir = options.rootDir;
    this.#tmpDir = join(options.rootDir, 'tmp');
  }

  async put(bytes: Uint8Array): Promise<{ sha256Hex: string; sizeBytes: number }> {
    const sha256Hex = createHash('sha256').update(bytes).digest('hex');
    const blob = { sha256Hex, sizeBytes: bytes.byteLength };
    const target = this.pathOf(sha256Hex);
    try {
      // A blob of the right size is the same blob: it only ever appears by an atomic rename of complete bytes.
      // A wrong size means it was damaged outside our control, and is replaced below.
      if ((await sizeOf(target)) === bytes.byteLength) return blob;
      const shardDir = join(this.#rootDir, sha256Hex.slice(0, 2));
      await mkdir(this.#tmpDir, { recursive: true });
      const createdShard = await mkdir(shardDir, { recursive: true });
      const tmp = join(this.#tmpDir, randomUUID());
      try {
        await writeDurably(tmp, bytes);
        await rename(tmp, target);
      } catch (error) {
        await unlink(tmp).catch(() => undefined);
        throw error;
      }
      await syncDirectory(shardDir);
      // The rename removed an entry from tmp/; a new shard directory is itself an entry in the root.
      await syncDirectory(this.#tmpDir);
      if (createdShard !== undefined) await syncDirectory(this.#rootDir);
      return blob;
    } catch (error) {
      throw toStoreError(error, `cannot store blob ${sha256Hex}`);
    }
  }

  has(sha256Hex: string): boolean {
    return DIGEST.test(sha256Hex) && existsSync(this.pathOf(sha256Hex));
  }

  pathOf(sha256Hex: string): string {
    // The digest becomes a path: anything but 64 lowercase hex could point outside the root.
    if (!DIGEST.test(sha256Hex)) throw new StoreError('ERR_STORE_NOT_FOUND', 'not a sha256 hex digest');
    return join(this.#rootDir, sha256Hex.slice(0, 2), `${sha256Hex}.zip`);
  }

  /** Removes the blob; a blob already gone is not an error (collection may race with itself). */
  async delete(sha256Hex: string): Promise<void> {
    try {
      await rm(this.pathOf(sha256Hex), { force: true });
    } catch (error) {
      throw toStoreError(error, `cannot delete blob ${sha256Hex}`);
    }
  }

  async list(): Promise<string[]> {
    try {
      const digests: string[] = [];
      for (const shard of await readdirIfPresent(this.#rootDir)) {
        if (!SHARD.test(shard)) continue;
        for (const name of await readdirIfPresent(join(this.#rootDir, shard))) {
          const digest = BLOB_FILE.exec(name)?.[1];
          if (digest?.startsWith(shard)) digests.push(digest);
        }
      }
      return digests.sort();
    } catch (error) {
      throw toStoreError(error, 'cannot list blobs');
    }
  }

  /** Meant for start-up, before any put(): it would also remove the temp file of a put in flight. */
  async sweepTemporaryFiles(): Promise<number> {
    try {
      const names = await readdirIfPresent(this.#tmpDir);
      for (const name of names) await rm(join(this.#tmpDir, name), { recursive: true, force: true });
      return names.length;
    } catch (error) {
      throw toStoreError(error, 'cannot sweep temporary blob files');
    }
  }
}

async function writeDurably(path: string, bytes: Uint8Array): Promise<void> {
  const file = await open(path, 'wx');
  try {
    await file.writeFile(bytes);
    await file.sync();
  } finally {
    await file.close();
  }
}

/** fsync on a directory makes its entries (a rename, a new file) durable, not only the files' contents. */
async function syncDirectory(path: string): Promise<void> {
  const dir = await open(path, 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

async function sizeOf(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).size;
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return undefined;
    throw error;
  }
}

async function readdirIfPresent(path: string): Promise<string[]> {
  try {
    return await readdir(path);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return [];
    throw error;
  }
}

function errnoOf(error: unknown): string | undefined {
  const code: unknown = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function toStoreError(error: unknown, message: string): StoreError {
  if (error instanceof StoreError) return error;
  const errno = errnoOf(error);
  const detail = error instanceof Error ? error.message : String(error);
  if (errno === 'ENOSPC' || errno === 'EDQUOT') {
    return new StoreError('ERR_STORE_FULL', `${message}: ${detail}`, { cause: error });
  }
  return new StoreError('ERR_STORE_IO', `${message}: ${detail}`, { cause: error });
}
