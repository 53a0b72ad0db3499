import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { FileBlobStore } from '../../../src/store/fs/file-blob-store.js';
import { StoreError } from '../../../src/store/store.js';

async function makeDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kindling-blobs-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function openBlobs(t: TestContext): Promise<{ blobs: FileBlobStore; rootDir: string }> {
  const rootDir = join(await makeDir(t), 'blobs');
  return { blobs: new FileBlobStore({ rootDir }), rootDir };
}

function someBytes(seed: string, size = 1024): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (seed.charCodeAt(i % seed.length) + i) % 256;
  return bytes;
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

test('a stored blob is named by its sha256 hex and reads back byte for byte', async (t) => {
  const { blobs, rootDir } = await openBlobs(t);
  const bytes = someBytes('zip');
  const stored = await blobs.put(bytes);
  assert.deepEqual(stored, { sha256Hex: sha256Hex(bytes), sizeBytes: bytes.byteLength });
  assert.equal(blobs.pathOf(stored.sha256Hex), join(rootDir, stored.sha256Hex.slice(0, 2), `${stored.sha256Hex}.zip`));
  assert.equal(blobs.has(stored.sha256Hex), true);
  assert.deepEqual(new Uint8Array(await readFile(blobs.pathOf(stored.sha256Hex))), bytes);
  assert.deepEqual(await readdir(join(rootDir, 'tmp')), []);
});

test('putting the same bytes twice keeps one blob and answers the same digest', async (t) => {
  const { blobs } = await openBlobs(t);
  const first = await blobs.put(someBytes('same'));
  const second = await blobs.put(someBytes('same'));
  assert.deepEqual(second, first);
  assert.deepEqual(await blobs.list(), [first.sha256Hex]);
});

test('a blob of the wrong size on disk is replaced by the next put of its bytes', async (t) => {
  const { blobs } = await openBlobs(t);
  const bytes = someBytes('damaged');
  const { sha256Hex: digest } = await blobs.put(bytes);
  await writeFile(blobs.pathOf(digest), 'truncated');
  await blobs.put(bytes);
  assert.deepEqual(new Uint8Array(await readFile(blobs.pathOf(digest))), bytes);
});

test('an empty blob is stored like any other', async (t) => {
  const { blobs } = await openBlobs(t);
  const stored = await blobs.put(new Uint8Array(0));
  assert.equal(stored.sizeBytes, 0);
  assert.equal(blobs.has(stored.sha256Hex), true);
});

test('list returns every stored digest and ignores files that are not blobs', async (t) => {
  const { blobs, rootDir } = await openBlobs(t);
  assert.deepEqual(await blobs.list(), []);
  const digests = await Promise.all(['a', 'b', 'c'].map(async (seed) => (await blobs.put(someBytes(seed))).sha256Hex));
  await writeFile(join(rootDir, 'tmp', 'leftover'), 'x');
  await writeFile(join(rootDir, digests[0]!.slice(0, 2), 'notes.txt'), 'x');
  assert.deepEqual(await blobs.list(), [...digests].sort());
});

test('delete removes a blob and deleting a missing blob is not an error', async (t) => {
  const { blobs } = await openBlobs(t);
  const kept = await blobs.put(someBytes('kept'));
  const gone = await blobs.put(someBytes('gone'));
  await blobs.delete(gone.sha256Hex);
  await blobs.delete(gone.sha256Hex);
  assert.equal(blobs.has(gone.sha256Hex), false);
  assert.deepEqual(await blobs.list(), [kept.sha256Hex]);
});

test('sweeping removes the temporary files a crash left and counts them', async (t) => {
  const { blobs, rootDir } = await openBlobs(t);
  assert.equal(await blobs.sweepTemporaryFiles(), 0);
  const stored = await blobs.put(someBytes('blob'));
  await writeFile(join(rootDir, 'tmp', 'half-written-1'), 'x');
  await writeFile(join(rootDir, 'tmp', 'half-written-2'), 'y');
  await mkdir(join(rootDir, 'tmp', 'odd-dir'));
  assert.equal(await blobs.sweepTemporaryFiles(), 3);
  assert.deepEqual(await readdir(join(rootDir, 'tmp')), []);
  assert.equal(blobs.has(stored.sha256Hex), true);
});

test('a digest that is not 64 lowercase hex names no path', async (t) => {
  const { blobs } = await openBlobs(t);
  assert.equal(blobs.has('../../etc/passwd'), false);
  assert.throws(() => blobs.pathOf('../../etc/passwd'), StoreError);
  assert.throws(() => blobs.pathOf('A'.repeat(64)), StoreError);
});

test('a put under a root that cannot be created fails with ERR_STORE_IO and its cause', async (t) => {
  const dir = await makeDir(t);
  const file = join(dir, 'a-regular-file');
  await writeFile(file, 'not a directory');
  const blobs = new FileBlobStore({ rootDir: join(file, 'blobs') });
  await assert.rejects(blobs.put(someBytes('x')), (error) => {
    assert.ok(error instanceof StoreError);
    assert.equal(error.code, 'ERR_STORE_IO');
    assert.equal((error.cause as { code?: string }).code, 'ENOTDIR');
    return true;
  });
  await assert.rejects(blobs.sweepTemporaryFiles(), { name: 'StoreError [ERR_STORE_IO]' });
  await assert.rejects(blobs.list(), { name: 'StoreError [ERR_STORE_IO]' });
});
