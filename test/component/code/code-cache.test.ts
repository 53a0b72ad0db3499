import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { CodeCache } from '../../../src/code/code-cache.js';
import type { ExtractLimits } from '../../../src/code/zip-extractor.js';
import { buildZip, type ZipEntrySpec } from '../../support/zip-builder.js';
import { assertCodeError, exists, permissions } from '../../support/code-assertions.js';

const LIMITS: ExtractLimits = { maxEntries: 100, maxUnzippedBytes: 10 * 1024 * 1024 };

interface World {
  root: string;
  cache: CodeCache;
  /** Writes the zip and returns its path and digest, as the blob store would name it. */
  addZip(entries: readonly ZipEntrySpec[]): Promise<{ zipPath: string; digest: string }>;
}

async function makeWorld(t: TestContext): Promise<World> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'kindling-cache-'));
  // The cache's trees are read-only; open them up so cleanup also works for a non-root user.
  t.after(async () => {
    await openUp(dir);
    await fs.rm(dir, { recursive: true, force: true });
  });
  const root = path.join(dir, 'code');
  return {
    root,
    cache: new CodeCache({ rootDir: root }),
    async addZip(entries) {
      const zip = await buildZip(entries);
      const digest = createHash('sha256').update(zip).digest('hex');
      const zipPath = path.join(dir, `${digest}.zip`);
      await fs.writeFile(zipPath, zip);
      return { zipPath, digest };
    },
  };
}

async function openUp(dir: string): Promise<void> {
  await fs.chmod(dir, 0o755);
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) await openUp(path.join(dir, entry.name));
  }
}

const MISSING_ZIP = '/nonexistent/kindling/package.zip';

const FUNCTION_CODE: ZipEntrySpec[] = [
  { name: 'bootstrap', data: '#!/bin/sh\n', mode: 0o755 },
  { name: 'src/index.js', data: 'exports.handler = 1;', mode: 0o644 },
  { name: 'lib/libfoo.so.1', data: 'ELF' },
  { name: 'lib/libfoo.so', symlinkTo: 'libfoo.so.1' },
];
const FUNCTION_CODE_BYTES = '#!/bin/sh\n'.length + 'exports.handler = 1;'.length + 'ELF'.length + 'libfoo.so.1'.length;

test('a package is unpacked under trees/<digest> and sealed read-only', async (t) => {
  const { root, cache, addZip } = await makeWorld(t);
  const { zipPath, digest } = await addZip(FUNCTION_CODE);

  const { dir, unzippedBytes } = await cache.ensureUnpacked(digest, zipPath, '/var/task', LIMITS);

  assert.equal(dir, path.join(root, 'trees', digest));
  assert.equal(dir, cache.treeDir(digest));
  assert.equal(unzippedBytes, FUNCTION_CODE_BYTES);
  // Tests run as root, which ignores permission bits: the bits themselves are the assertion.
  assert.equal(await permissions(dir), 0o555);
  assert.equal(await permissions(path.join(dir, 'src')), 0o555);
  assert.equal(await permissions(path.join(dir, 'bootstrap')), 0o555);
  assert.equal(await permissions(path.join(dir, 'src/index.js')), 0o444);
  assert.equal(await fs.readlink(path.join(dir, 'lib/libfoo.so')), 'libfoo.so.1');
  assert.deepEqual(await cache.listTrees(), [digest]);
});

test('a second call, even after a restart, reuses the tree without reading the zip', async (t) => {
  const { root, cache, addZip } = await makeWorld(t);
  const { zipPath, digest } = await addZip(FUNCTION_CODE);
  const first = await cache.ensureUnpacked(digest, zipPath, '/var/task', LIMITS);
  const { ino } = await fs.stat(first.dir);

  assert.deepEqual(await cache.ensureUnpacked(digest, MISSING_ZIP, '/var/task', LIMITS), first);
  const restarted = new CodeCache({ rootDir: root });
  assert.deepEqual(await restarted.ensureUnpacked(digest, MISSING_ZIP, '/var/task', LIMITS), first);
  assert.equal((await fs.stat(first.dir)).ino, ino);
});

test('concurrent calls for one digest unpack once and the others wait for it', async (t) => {
  const { root, cache, addZip } = await makeWorld(t);
  const { zipPath, digest } = await addZip(FUNCTION_CODE);

  // Only the first caller has a readable zip: any other caller that unpacked on its own would fail.
  const results = await Promise.all([
    cache.ensureUnpacked(digest, zipPath, '/var/task', LIMITS),
    ...Array.from({ length: 4 }, () => cache.ensureUnpacked(digest, MISSING_ZIP, '/var/task', LIMITS)),
  ]);

  for (const result of results) assert.deepEqual(result, { dir: cache.treeDir(digest), unzippedBytes: FUNCTION_CODE_BYTES });
  assert.deepEqual(await fs.readdir(path.join(root, 'tmp')), []);
});

test('a failed unpack leaves neither a tree nor temporary files', async (t) => {
  const { root, cache, addZip } = await makeWorld(t);
  const { zipPath, digest } = await addZip([
    { name: 'ok.js', data: 'fine' },
    { name: 'evil', symlinkTo: '/etc/passwd' },
  ]);

  await assertCodeError(cache.ensureUnpacked(digest, zipPath, '/var/task', LIMITS), 'ERR_CODE_UNSAFE_LINK');

  assert.equal(await exists(cache.treeDir(digest)), false);
  assert.deepEqual(await cache.listTrees(), []);
  assert.deepEqual(await fs.readdir(path.join(root, 'tmp')), []);
  assert.deepEqual(await fs.readdir(path.join(root, 'trees')), []);
});

test('a cached tree is held to the limits and mount point of each call', async (t) => {
  const { cache, addZip } = await makeWorld(t);
  // Legal as /var/task (→ /var/task/y), not as /opt (→ /task/y).
  const { zipPath, digest } = await addZip([
    { name: 'y', data: '1234567890' },
    { name: 'x', symlinkTo: '../task/y' },
  ]);
  await cache.ensureUnpacked(digest, zipPath, '/var/task', LIMITS);

  await assertCodeError(
    cache.ensureUnpacked(digest, zipPath, '/var/task', { maxEntries: 100, maxUnzippedBytes: 5 }),
    'ERR_CODE_TOO_LARGE_UNZIPPED',
  );
  await assertCodeError(
    cache.ensureUnpacked(digest, zipPath, '/var/task', { maxEntries: 1, maxUnzippedBytes: 1000 }),
    'ERR_CODE_TOO_MANY_ENTRIES',
  );
  await assertCodeError(cache.ensureUnpacked(digest, zipPath, '/opt', LIMITS), 'ERR_CODE_UNSAFE_LINK');
  assert.equal(await exists(cache.treeDir(digest)), true);
});

test('a tree whose metadata is lost is measured instead of re-extracted', async (t) => {
  const { root, cache, addZip } = await makeWorld(t);
  const { zipPath, digest } = await addZip(FUNCTION_CODE);
  await cache.ensureUnpacked(digest, zipPath, '/var/task', LIMITS);
  await fs.rm(path.join(root, 'trees', `${digest}.meta.json`));

  const again = await new CodeCache({ rootDir: root }).ensureUnpacked(digest, MISSING_ZIP, '/var/task', LIMITS);

  assert.equal(again.unzippedBytes, FUNCTION_CODE_BYTES);
});

test('layers merge in order with later layers winning, as hard links, and the merge is reused', async (t) => {
  const { cache, addZip } = await makeWorld(t);
  const hostDir = await fs.mkdtemp('/tmp/kindling-layer-');
  t.after(() => fs.rm(hostDir, { recursive: true, force: true }));
  const first = await addZip([
    { name: 'bin/tool', data: 'tool from first', mode: 0o755 },
    { name: 'shared.txt', data: 'first' },
    { name: 'lib/a.so', data: 'a' },
    { name: 'replaced/inner.txt', data: 'gone' },
    { name: 'conf', symlinkTo: hostDir },
  ]);
  const second = await addZip([
    { name: 'shared.txt', data: 'second' },
    { name: 'lib/b.so', data: 'b' },
    { name: 'replaced', data: 'now a file' },
    { name: 'conf/settings', data: 'stays in the tree' },
    { name: 'nodejs', symlinkTo: '/var/task/node_modules' },
  ]);
  for (const layer of [first, second]) await cache.ensureUnpacked(layer.digest, layer.zipPath, '/opt', LIMITS);
  const digests = [first.digest, second.digest];

  const merged = await cache.ensureLayerTree(digests);

  assert.equal(path.basename(merged), cache.layerTreeKey(digests));
  assert.equal(cache.layerTreeKey(digests), createHash('sha256').update(digests.join(',')).digest('hex'));
  assert.equal(await fs.readFile(path.join(merged, 'shared.txt'), 'utf8'), 'second');
  assert.equal(await fs.readFile(path.join(merged, 'bin/tool'), 'utf8'), 'tool from first');
  assert.deepEqual((await fs.readdir(path.join(merged, 'lib'))).sort(), ['a.so', 'b.so']);
  assert.equal(await fs.readFile(path.join(merged, 'replaced'), 'utf8'), 'now a file');
  assert.ok((await fs.lstat(path.join(merged, 'conf'))).isDirectory());
  assert.equal(await fs.readFile(path.join(merged, 'conf/settings'), 'utf8'), 'stays in the tree');
  assert.deepEqual(await fs.readdir(hostDir), []);
  assert.equal(await fs.readlink(path.join(merged, 'nodejs')), '/var/task/node_modules');
  const source = await fs.stat(path.join(cache.treeDir(first.digest), 'bin/tool'));
  assert.equal((await fs.stat(path.join(merged, 'bin/tool'))).ino, source.ino);
  assert.equal(await permissions(merged), 0o555);
  assert.equal(await permissions(path.join(merged, 'lib')), 0o555);
  assert.equal(await permissions(path.join(merged, 'bin/tool')), 0o555);

  const { ino } = await fs.stat(merged);
  assert.equal(await cache.ensureLayerTree(digests), merged);
  assert.equal((await fs.stat(merged)).ino, ino);
  const reversed = await cache.ensureLayerTree([second.digest, first.digest]);
  assert.notEqual(reversed, merged);
  assert.equal(await fs.readFile(path.join(reversed, 'shared.txt'), 'utf8'), 'first');
  assert.deepEqual((await cache.listLayerTrees()).sort(), [path.basename(merged), path.basename(reversed)].sort());
});

test('removeTree and removeLayerTree delete read-only trees, after which a tree can be unpacked again', async (t) => {
  const { root, cache, addZip } = await makeWorld(t);
  const { zipPath, digest } = await addZip(FUNCTION_CODE);
  await cache.ensureUnpacked(digest, zipPath, '/opt', LIMITS);
  const merged = await cache.ensureLayerTree([digest]);

  await cache.removeLayerTree(path.basename(merged));
  await cache.removeTree(digest);

  assert.deepEqual(await cache.listTrees(), []);
  assert.deepEqual(await cache.listLayerTrees(), []);
  assert.deepEqual(await fs.readdir(path.join(root, 'trees')), []);
  assert.deepEqual(await fs.readdir(path.join(root, 'tmp')), []);
  await assert.rejects(cache.ensureUnpacked(digest, MISSING_ZIP, '/opt', LIMITS), { code: 'ENOENT' });
  assert.equal((await cache.ensureUnpacked(digest, zipPath, '/opt', LIMITS)).unzippedBytes, FUNCTION_CODE_BYTES);
  await cache.removeTree(digest);
  await cache.removeTree(digest);
});

test('sweepTemporary removes what a crash left in tmp, read-only trees included', async (t) => {
  const { root, cache } = await makeWorld(t);
  const tmp = path.join(root, 'tmp');
  await fs.mkdir(path.join(tmp, 'unpack-crashed/tree/deep'), { recursive: true });
  await fs.writeFile(path.join(tmp, 'unpack-crashed/tree/deep/file'), 'x');
  await fs.chmod(path.join(tmp, 'unpack-crashed/tree/deep'), 0o555);
  await fs.chmod(path.join(tmp, 'unpack-crashed/tree'), 0o555);
  await fs.mkdir(path.join(tmp, 'layers-crashed'));

  assert.equal(await cache.sweepTemporary(), 2);
  assert.deepEqual(await fs.readdir(tmp), []);
  assert.equal(await cache.sweepTemporary(), 0);
});

test('digests that are not lowercase hex sha256 are refused before they become paths', async (t) => {
  const { cache } = await makeWorld(t);
  assert.throws(() => cache.treeDir('../../etc'));
  assert.throws(() => cache.layerTreeKey(['A'.repeat(64)]));
  await assert.rejects(cache.ensureUnpacked('..', MISSING_ZIP, '/var/task', LIMITS));
  await assert.rejects(cache.removeTree('../trees'));
});

test('merging a layer that was never unpacked is refused', async (t) => {
  const { cache } = await makeWorld(t);
  await assert.rejects(cache.ensureLayerTree(['0'.repeat(64)]), /must be unpacked/);
  assert.deepEqual(await cache.listLayerTrees(), []);
});
