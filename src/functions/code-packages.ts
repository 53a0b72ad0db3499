/**
 * Deployment packages: a zip is stored as a content-addressed blob (durable before any row references it),
 * unpacked once per digest into the read-only code cache, and collected when no row references it any more.
 */
import { createHash } from 'node:crypto';
import type { CodeCache } from '../code/code-cache.js';
import type { MountPoint } from '../code/zip-extractor.js';
import type { CodeRef, FunctionVersion } from '../model/function.js';
import { MAX_UNZIPPED_CODE_BYTES, MAX_ZIP_ENTRIES, MAX_ZIPPED_CODE_BYTES } from '../model/limits.js';
import type { Logger } from '../shared/logger.js';
import type { BlobStore, CodeReferences } from '../store/store.js';
import { FunctionsError } from './errors.js';

export interface CodePackagesDeps {
  blobs: BlobStore;
  cache: CodeCache;
  references: CodeReferences;
  log: Logger;
}

/** A stored package, held back from garbage collection until the row that references it has committed. */
export interface IngestedCode {
  ref: CodeRef;
  release(): void;
}

export interface GarbageReport {
  blobs: number;
  trees: number;
  layerTrees: number;
}

export class CodePackages {
  readonly #deps: CodePackagesDeps;
  /** Digests and layer-tree keys an in-flight request is about to reference. */
  readonly #pins = new Map<string, number>();
  /** Everything pinned or released while a collection runs: the collection must not take it. */
  #touched: Set<string> | undefined;
  #collecting: Promise<GarbageReport> | undefined;
  /** locate() results; cleared by every collection, which may remove trees. */
  readonly #located = new Map<string, { codeDir: string; optDir?: string }>();

  constructor(deps: CodePackagesDeps) {
    this.#deps = deps;
  }

  /** Stores and unpacks a zip. The caller must call release() once its row is committed (or abandoned). */
  async ingest(zip: Buffer, mountPoint: MountPoint, maxUnzippedBytes: number): Promise<IngestedCode> {
    if (zip.length >= MAX_ZIPPED_CODE_BYTES) {
      throw new FunctionsError('ERR_CODE_TOO_LARGE', `Zipped size must be smaller than ${MAX_ZIPPED_CODE_BYTES} bytes`);
    }
    const sha256Hex = createHash('sha256').update(zip).digest('hex');
    const release = this.pin(sha256Hex);
    try {
      await this.#deps.blobs.put(zip);
      const { unzippedBytes } = await this.#deps.cache.ensureUnpacked(sha256Hex, this.#deps.blobs.pathOf(sha256Hex), mountPoint, {
        maxEntries: MAX_ZIP_ENTRIES,
        maxUnzippedBytes,
      });
      return { ref: { sha256Hex, sizeBytes: zip.length, unzippedBytes }, release };
    } catch (error) {
      release();
      // A refused package leaves nothing behind by the time the caller hears of the refusal.
      await this.#collectFresh().catch((e: unknown) => this.#deps.log.warn({ err: e }, 'code garbage collection failed'));
      throw error;
    }
  }

  /** Materialises the merged /opt of an ordered layer list, pinned like a blob until release(). */
  async prepareLayerTree(layerDigests: readonly string[]): Promise<() => void> {
    if (layerDigests.length === 0) return () => {};
    const release = this.pin(this.#deps.cache.layerTreeKey(layerDigests));
    try {
      await this.#deps.cache.ensureLayerTree(layerDigests);
      return release;
    } catch (error) {
      release();
      throw error;
    }
  }

  /**
   * Host directories of a version's unpacked code and merged layers, unpacking again whatever a restart or an
   * operator removed. Remembered per code and layer list until the next collection (this is on the invoke path).
   */
  async locate(version: FunctionVersion): Promise<{ codeDir: string; optDir?: string }> {
    const layers = version.settings.layers.map((l) => l.codeSha256Hex);
    const key = `${version.code.sha256Hex}|${layers.join(',')}`;
    const known = this.#located.get(key);
    if (known) return known;
    const { blobs, cache } = this.#deps;
    const limits = { maxEntries: MAX_ZIP_ENTRIES, maxUnzippedBytes: MAX_UNZIPPED_CODE_BYTES - 1 };
    const release = [this.pin(version.code.sha256Hex), ...layers.map((d) => this.pin(d))];
    try {
      const { dir } = await cache.ensureUnpacked(version.code.sha256Hex, blobs.pathOf(version.code.sha256Hex), '/var/task', limits);
      let located: { codeDir: string; optDir?: string } = { codeDir: dir };
      if (layers.length > 0) {
        for (const digest of layers) await cache.ensureUnpacked(digest, blobs.pathOf(digest), '/opt', limits);
        located = { codeDir: dir, optDir: await cache.ensureLayerTree(layers) };
      }
      this.#located.set(key, located);
      return located;
    } finally {
      for (const r of release) r();
    }
  }

  pin(key: string): () => void {
    this.#pins.set(key, (this.#pins.get(key) ?? 0) + 1);
    this.#touched?.add(key);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const n = (this.#pins.get(key) ?? 1) - 1;
      if (n <= 0) this.#pins.delete(key);
      else this.#pins.set(key, n);
      this.#touched?.add(key);
    };
  }

  /** Removes blobs, unpacked trees and merged layer trees no row references. One collection at a time. */
  collectGarbage(): Promise<GarbageReport> {
    this.#collecting ??= this.#collect().finally(() => {
      this.#collecting = undefined;
      this.#touched = undefined;
    });
    return this.#collecting;
  }

  /** A collection that starts after this call: one already running may have seen a pin released since. */
  async #collectFresh(): Promise<GarbageReport> {
    await this.#collecting?.catch(() => undefined);
    return this.collectGarbage();
  }

  async #collect(): Promise<GarbageReport> {
    const touched = new Set<string>();
    this.#touched = touched;
    this.#located.clear();
    const { blobs, cache, references } = this.#deps;
    const digests = await references.referencedCodeDigests();
    const lists = await references.referencedLayerLists();
    for (const list of lists) for (const d of list) digests.add(d);
    const keys = new Set(lists.map((list) => cache.layerTreeKey(list)));
    const free = (key: string, referenced: Set<string>) => !referenced.has(key) && !this.#pins.has(key) && !touched.has(key);
    const report: GarbageReport = { blobs: 0, trees: 0, layerTrees: 0 };
    for (const key of await cache.listLayerTrees()) {
      if (free(key, keys)) {
        await cache.removeLayerTree(key);
        report.layerTrees++;
      }
    }
    for (const digest of await cache.listTrees()) {
      if (free(digest, digests)) {
        await cache.removeTree(digest);
        report.trees++;
      }
    }
    for (const digest of await blobs.list()) {
      if (free(digest, digests)) {
        await blobs.delete(digest);
        report.blobs++;
      }
    }
    return report;
  }

  /** At start: leftovers of a crash (temp files, unreferenced blobs) go. */
  async recover(): Promise<GarbageReport & { temporary: number }> {
    const temporary = (await this.#deps.blobs.sweepTemporaryFiles()) + (await this.#deps.cache.sweepTemporary());
    return { ...(await this.collectGarbage()), temporary };
  }
}
