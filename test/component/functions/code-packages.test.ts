/**
 * Reference counting of packages: blobs, unpacked trees and merged layer trees live exactly as long as a row
 * refers to them, and a package being created is never collected before its row commits.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CodeCache } from '../../../src/code/code-cache.js';
import { CodePackages } from '../../../src/functions/code-packages.js';
import { createSilentLogger } from '../../../src/shared/logger.js';
import type { CodeReferences } from '../../../src/store/store.js';
import { FileBlobStore } from '../../../src/store/fs/file-blob-store.js';
import { buildZip } from '../../support/zip-builder.js';

/** References the test controls directly, standing in for rows. */
class Rows implements CodeReferences {
  digests = new Set<string>();
  lists: string[][] = [];
  async referencedCodeDigests(): Promise<Set<string>> {
    return new Set(this.digests);
  }
  async referencedLayerLists(): Promise<string[][]> {
    return this.lists.map((l) => [...l]);
  }
}

async function world(t: { after(fn: () => Promise<void>): void }) {
  const dir = await mkdtemp(join(tmpdir(), 'kindling-packages-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const blobs = new FileBlobStore({ rootDir: join(dir, 'blobs') });
  const cache = new CodeCache({ rootDir: join(dir, 'code') });
  const rows = new Rows();
  const packages = new CodePackages({ blobs, cache, references: rows, log: createSilentLogger() });
  return { blobs, cache, rows, packages };
}

const zipOf = (text: string) => buildZip([{ name: 'index.js', data: text }]);
const LIMIT = 262_144_000;

test('an unreferenced package is collected with its unpacked tree', async (t) => {
  const { blobs, cache, rows, packages } = await world(t);
  const held = await packages.ingest(await zipOf('a'), '/var/task', LIMIT);
  rows.digests.add(held.ref.sha256Hex);
  held.release();
  assert.deepEqual(await packages.collectGarbage(), { blobs: 0, trees: 0, layerTrees: 0 });
  assert.ok(blobs.has(held.ref.sha256Hex));

  rows.digests.clear(); // the function was deleted
  assert.deepEqual(await packages.collectGarbage(), { blobs: 1, trees: 1, layerTrees: 0 });
  assert.equal(blobs.has(held.ref.sha256Hex), false);
  assert.equal(existsSync(cache.treeDir(held.ref.sha256Hex)), false);
});

test('a package ingested but not yet referenced survives a collection until it is released', async (t) => {
  const { blobs, packages } = await world(t);
  const held = await packages.ingest(await zipOf('b'), '/var/task', LIMIT);
  await packages.collectGarbage();
  assert.ok(blobs.has(held.ref.sha256Hex), 'a pinned package must not be collected');
  held.release();
  await packages.collectGarbage();
  assert.equal(blobs.has(held.ref.sha256Hex), false);
});

test('a package released while a collection runs is kept by that collection', async (t) => {
  const { blobs, rows, packages } = await world(t);
  const held = await packages.ingest(await zipOf('c'), '/var/task', LIMIT);
  // The collection reads the references before the row commits; the row then commits and the pin is released.
  const slowRows = rows.referencedCodeDigests.bind(rows);
  rows.referencedCodeDigests = async () => {
    const snapshot = await slowRows();
    rows.digests.add(held.ref.sha256Hex);
    held.release();
    return snapshot;
  };
  assert.equal((await packages.collectGarbage()).blobs, 0);
  assert.ok(blobs.has(held.ref.sha256Hex));
});

test('two functions with the same package share one blob until both are gone', async (t) => {
  const { blobs, rows, packages } = await world(t);
  const zip = await zipOf('same');
  const first = await packages.ingest(zip, '/var/task', LIMIT);
  const second = await packages.ingest(zip, '/var/task', LIMIT);
  assert.equal(first.ref.sha256Hex, second.ref.sha256Hex);
  assert.equal(first.ref.sha256Hex, createHash('sha256').update(zip).digest('hex'));
  rows.digests.add(first.ref.sha256Hex);
  first.release();
  second.release();
  assert.equal((await blobs.list()).length, 1);
  await packages.collectGarbage();
  assert.ok(blobs.has(first.ref.sha256Hex));
});

test('a merged layer tree lives while a version uses that layer list, and keeps its layers alive', async (t) => {
  const { cache, rows, packages, blobs } = await world(t);
  const one = await packages.ingest(await buildZip([{ name: 'nodejs/one.js', data: '1' }]), '/opt', LIMIT);
  const two = await packages.ingest(await buildZip([{ name: 'nodejs/two.js', data: '2' }]), '/opt', LIMIT);
  const list = [one.ref.sha256Hex, two.ref.sha256Hex];
  const releaseTree = await packages.prepareLayerTree(list);
  one.release();
  two.release();
  rows.lists = [list]; // a function version uses both layers; the layer versions themselves were deleted
  releaseTree();
  assert.deepEqual(await packages.collectGarbage(), { blobs: 0, trees: 0, layerTrees: 0 });
  assert.deepEqual(await cache.listLayerTrees(), [cache.layerTreeKey(list)]);

  rows.lists = [];
  assert.deepEqual(await packages.collectGarbage(), { blobs: 2, trees: 2, layerTrees: 1 });
  assert.deepEqual(await blobs.list(), []);
});

test('a refused package leaves no blob and no tree behind', async (t) => {
  const { blobs, cache, packages } = await world(t);
  const hostile = await buildZip([{ name: 'evil', symlinkTo: '/etc/shadow' }]);
  await assert.rejects(packages.ingest(hostile, '/var/task', LIMIT), { code: 'ERR_CODE_UNSAFE_LINK' });
  await packages.collectGarbage();
  assert.deepEqual(await blobs.list(), []);
  assert.deepEqual(await cache.listTrees(), []);
});

test('a package of 50 MB or more is refused before anything is written', async (t) => {
  const { blobs, packages } = await world(t);
  // AWS: "Zipped size must be smaller than 52428800 bytes", so exactly that size is refused too.
  await assert.rejects(packages.ingest(Buffer.alloc(52_428_800), '/var/task', LIMIT), { code: 'ERR_CODE_TOO_LARGE' });
  assert.deepEqual(await blobs.list(), []);
});
