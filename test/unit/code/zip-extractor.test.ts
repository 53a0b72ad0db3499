import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { extractZip, isLambdaLegalLinkTarget, type ExtractLimits } from '../../../src/code/zip-extractor.js';
import { buildRawZip, buildZip, S_IFDIR, S_IFLNK, S_IFREG, type ZipEntrySpec } from '../../support/zip-builder.js';
import { assertCodeError, exists, permissions } from '../../support/code-assertions.js';

const LIMITS: ExtractLimits = { maxEntries: 100, maxUnzippedBytes: 10 * 1024 * 1024 };

async function makeWorld(t: TestContext): Promise<{ dir: string; dest: string; writeZip: (zip: Buffer) => Promise<string> }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'kindling-extract-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  let n = 0;
  return {
    dir,
    dest: path.join(dir, 'tree'),
    writeZip: async (zip) => {
      n += 1;
      const zipPath = path.join(dir, `package-${n}.zip`);
      await fs.writeFile(zipPath, zip);
      return zipPath;
    },
  };
}


/** Wraps every FileHandle the extractor opens (it calls fs.open through the module object) to watch its writes. */
function spyOnWrites(t: TestContext, onWrite: (bytes: number) => void): void {
  const realOpen = fs.open;
  t.mock.method(fs, 'open', async (...args: Parameters<typeof fs.open>) => {
    const handle = await realOpen(...args);
    const realWrite = handle.write.bind(handle) as (buffer: Buffer, offset: number, length: number) => Promise<unknown>;
    (handle as unknown as { write: unknown }).write = (buffer: Buffer, offset: number, length: number) => {
      onWrite(length);
      return realWrite(buffer, offset, length);
    };
    return handle as FileHandle;
  });
}

test('a clean package extracts with nested dirs, modes and Lambda-legal links', async (t) => {
  const { dest, writeZip } = await makeWorld(t);
  const zipPath = await writeZip(
    await buildZip([
      { name: 'bootstrap', data: '#!/bin/sh\necho hi\n', mode: 0o755 },
      { name: 'bin/tool', data: 'tool', mode: 0o750 },
      { name: 'src/handlers/deep/index.js', data: 'exports.handler = 1;', mode: 0o644 },
      { name: 'lib/libfoo.so.1', data: 'ELF', mode: 0o644 },
      { name: 'lib/libfoo.so', symlinkTo: 'libfoo.so.1' },
      { name: 'tool', symlinkTo: '/opt/bin/tool' },
      { name: 'empty/', directory: true, mode: 0o755 },
    ]),
  );

  const result = await extractZip(zipPath, dest, '/var/task', LIMITS);

  assert.equal(result.entries, 7);
  const fileBytes = '#!/bin/sh\necho hi\n'.length + 4 + 'exports.handler = 1;'.length + 3;
  assert.equal(result.unzippedBytes, fileBytes + 'libfoo.so.1'.length + '/opt/bin/tool'.length);
  assert.equal(await permissions(path.join(dest, 'bootstrap')), 0o755);
  assert.equal(await permissions(path.join(dest, 'bin/tool')), 0o750);
  assert.equal(await permissions(path.join(dest, 'src/handlers/deep/index.js')), 0o644);
  assert.equal(await fs.readFile(path.join(dest, 'src/handlers/deep/index.js'), 'utf8'), 'exports.handler = 1;');
  assert.equal(await fs.readlink(path.join(dest, 'lib/libfoo.so')), 'libfoo.so.1');
  assert.equal(await fs.readFile(path.join(dest, 'lib/libfoo.so'), 'utf8'), 'ELF');
  assert.equal(await fs.readlink(path.join(dest, 'tool')), '/opt/bin/tool');
  assert.ok((await fs.lstat(path.join(dest, 'empty'))).isDirectory());
  assert.equal(await permissions(path.join(dest, 'src/handlers')), 0o755);
});

test('modes lose setuid, setgid, sticky and group/other write, and default when none is recorded', async (t) => {
  const { dest, writeZip } = await makeWorld(t);
  const zipPath = await writeZip(
    buildRawZip([
      { name: 'suid', data: Buffer.from('x'), unixMode: S_IFREG | 0o6777 },
      { name: 'shared/', unixMode: S_IFDIR | 0o1777 },
      { name: 'plain', data: Buffer.from('y') },
      { name: 'plaindir/' },
    ]),
  );

  await extractZip(zipPath, dest, '/var/task', LIMITS);

  assert.equal(await permissions(path.join(dest, 'suid')), 0o755);
  assert.equal(await permissions(path.join(dest, 'shared')), 0o755);
  assert.equal(await permissions(path.join(dest, 'plain')), 0o644);
  assert.equal(await permissions(path.join(dest, 'plaindir')), 0o755);
});

test('a later entry with the same name wins, without writing through an earlier link', async (t) => {
  const { dir, dest, writeZip } = await makeWorld(t);
  const outside = path.join(dir, 'outside.txt');
  // The link is Lambda-legal (/tmp) and, on this host, points at a real file outside the tree.
  const target = await fs.mkdtemp('/tmp/kindling-dup-');
  t.after(() => fs.rm(target, { recursive: true, force: true }));
  const zipPath = await writeZip(
    buildRawZip([
      { name: 'same', data: Buffer.from('first') },
      { name: 'same', data: Buffer.from('second') },
      { name: 'dup', data: Buffer.from(`${target}/victim`), unixMode: S_IFLNK | 0o777 },
      { name: 'dup', data: Buffer.from('mine'), unixMode: S_IFREG | 0o644 },
    ]),
  );

  await extractZip(zipPath, dest, '/var/task', LIMITS);

  assert.equal(await fs.readFile(path.join(dest, 'same'), 'utf8'), 'second');
  assert.ok((await fs.lstat(path.join(dest, 'dup'))).isFile());
  assert.equal(await fs.readFile(path.join(dest, 'dup'), 'utf8'), 'mine');
  assert.equal(await exists(path.join(target, 'victim')), false);
  assert.equal(await exists(outside), false);
});

for (const name of ['../x', 'a/../../x', '/abs/x', '..\\x', 'a\\b', 'nul\0byte', 'C:/x']) {
  test(`an entry named ${JSON.stringify(name)} is refused as an unsafe path and nothing is left behind`, async (t) => {
    const { dir, dest, writeZip } = await makeWorld(t);
    const zipPath = await writeZip(
      buildRawZip([
        { name: 'ok.txt', data: Buffer.from('fine') },
        { name, data: Buffer.from('evil') },
      ]),
    );

    await assertCodeError(extractZip(zipPath, dest, '/var/task', LIMITS), 'ERR_CODE_UNSAFE_PATH');

    assert.equal(await exists(dest), false);
    assert.equal(await exists(path.join(dir, 'x')), false);
  });
}

test('an entry passing through a link created by an earlier entry is refused, inside or outside the tree', async (t) => {
  const { dest, writeZip } = await makeWorld(t);
  const hostDir = await fs.mkdtemp('/tmp/kindling-through-');
  t.after(() => fs.rm(hostDir, { recursive: true, force: true }));
  const cases: RawZipCase[] = [
    [{ name: 'esc', data: Buffer.from(hostDir), unixMode: S_IFLNK | 0o777 }, { name: 'esc/planted', data: Buffer.from('x') }],
    [
      { name: 'sub/', unixMode: S_IFDIR | 0o755 },
      { name: 'l', data: Buffer.from('sub'), unixMode: S_IFLNK | 0o777 },
      { name: 'l/f', data: Buffer.from('x') },
    ],
    [{ name: 'esc', data: Buffer.from(hostDir), unixMode: S_IFLNK | 0o777 }, { name: 'esc/newdir/' }],
  ];
  for (const entries of cases) {
    const zipPath = await writeZip(buildRawZip(entries));
    await assertCodeError(extractZip(zipPath, dest, '/var/task', LIMITS), 'ERR_CODE_UNSAFE_PATH');
    assert.equal(await exists(dest), false);
  }
  assert.deepEqual(await fs.readdir(hostDir), []);
});
type RawZipCase = Parameters<typeof buildRawZip>[0];

test('entries that contradict each other are refused as corrupt', async (t) => {
  const { dest, writeZip } = await makeWorld(t);
  const cases: RawZipCase[] = [
    [{ name: 'a', data: Buffer.from('file') }, { name: 'a/b', data: Buffer.from('under a file') }],
    [{ name: 'a/', unixMode: S_IFDIR | 0o755 }, { name: 'a', data: Buffer.from('file over a dir') }],
    [{ name: 'a/b', data: Buffer.from('x') }, { name: 'a', data: Buffer.from('/tmp'), unixMode: S_IFLNK | 0o777 }],
  ];
  for (const entries of cases) {
    await assertCodeError(extractZip(await writeZip(buildRawZip(entries)), dest, '/var/task', LIMITS), 'ERR_CODE_CORRUPT_ZIP');
    assert.equal(await exists(dest), false);
  }
});

test('a link to /etc is refused before anything can be written through it', async (t) => {
  const { dest, writeZip } = await makeWorld(t);
  const zipPath = await writeZip(
    buildRawZip([
      { name: 'esc', data: Buffer.from('/etc'), unixMode: S_IFLNK | 0o777 },
      { name: 'esc/kindling-should-not-exist', data: Buffer.from('x') },
    ]),
  );

  await assertCodeError(extractZip(zipPath, dest, '/var/task', LIMITS), 'ERR_CODE_UNSAFE_LINK');

  assert.equal(await exists('/etc/kindling-should-not-exist'), false);
  assert.equal(await exists(dest), false);
});

for (const target of ['../../etc/passwd', '/etc/shadow', '/proc/self/root', '/var/taskforce', '/opt/../etc', 'a/../../../../x']) {
  test(`a link to ${JSON.stringify(target)} is refused as an unsafe link`, async (t) => {
    const { dest, writeZip } = await makeWorld(t);
    const zipPath = await writeZip(await buildZip([{ name: 'lib/link', symlinkTo: target }]));

    await assertCodeError(extractZip(zipPath, dest, '/var/task', LIMITS), 'ERR_CODE_UNSAFE_LINK');
    assert.equal(await exists(dest), false);
  });
}

test('link targets are judged where the tree will be mounted', () => {
  assert.equal(isLambdaLegalLinkTarget('/var/task', 'lib/x', 'libx.so.1'), true);
  assert.equal(isLambdaLegalLinkTarget('/var/task', 'x', '../task/y'), true);
  assert.equal(isLambdaLegalLinkTarget('/opt', 'x', '../task/y'), false);
  assert.equal(isLambdaLegalLinkTarget('/opt', 'x', '../var/task/y'), true);
  assert.equal(isLambdaLegalLinkTarget('/opt', 'nodejs/x', '/var/task/node_modules'), true);
  assert.equal(isLambdaLegalLinkTarget('/var/task', 'a/b/c', '../../../../tmp/cache'), true);
  assert.equal(isLambdaLegalLinkTarget('/var/task', 'x', '/tmp'), true);
  assert.equal(isLambdaLegalLinkTarget('/var/task', 'x', '/tmpfoo'), false);
  assert.equal(isLambdaLegalLinkTarget('/var/task', 'x', '//etc'), false);
  assert.equal(isLambdaLegalLinkTarget('/var/task', 'x', ''), false);
  assert.equal(isLambdaLegalLinkTarget('/var/task', 'x', 'a\0b'), false);
});

test('a link target longer than 4096 bytes is refused', async (t) => {
  const { dest, writeZip } = await makeWorld(t);
  const zipPath = await writeZip(await buildZip([{ name: 'long', symlinkTo: `/tmp/${'a'.repeat(4100)}` }]));

  await assertCodeError(extractZip(zipPath, dest, '/var/task', LIMITS), 'ERR_CODE_UNSAFE_LINK');
});

test('a zip bomb is refused from its central directory before anything is written', async (t) => {
  const { dest, writeZip } = await makeWorld(t);
  const limit = 1024 * 1024;
  const zipPath = await writeZip(await buildZip([{ name: 'bomb', data: Buffer.alloc(50 * 1024 * 1024) }]));
  assert.ok((await fs.stat(zipPath)).size < 200 * 1024, 'the bomb itself is small');
  let written = 0;
  spyOnWrites(t, (bytes) => {
    written += bytes;
  });

  await assertCodeError(extractZip(zipPath, dest, '/var/task', { maxEntries: 10, maxUnzippedBytes: limit }), 'ERR_CODE_TOO_LARGE_UNZIPPED');

  assert.equal(written, 0, `wrote ${written} bytes`);
  assert.equal(await exists(dest), false);
});

test('the limit applies to the sum of all entries', async (t) => {
  const { dest, writeZip } = await makeWorld(t);
  const part = Buffer.alloc(400 * 1024, 7);
  const specs: ZipEntrySpec[] = ['a', 'b', 'c'].map((name) => ({ name, data: part }));
  const zipPath = await writeZip(await buildZip(specs));
  const limit = 1024 * 1024;

  await assertCodeError(extractZip(zipPath, dest, '/var/task', { maxEntries: 10, maxUnzippedBytes: limit }), 'ERR_CODE_TOO_LARGE_UNZIPPED');
  const fits = await extractZip(zipPath, path.join(path.dirname(dest), 'fits'), '/var/task', {
    maxEntries: 10,
    maxUnzippedBytes: 3 * part.length,
  });
  assert.equal(fits.unzippedBytes, 3 * part.length);
});

test('an entry that inflates beyond its declared size is refused as corrupt', async (t) => {
  const { dest, writeZip } = await makeWorld(t);
  const zipPath = await writeZip(
    buildRawZip([{ name: 'liar', data: Buffer.alloc(20 * 1024 * 1024), deflate: true, declaredUncompressedSize: 100 }]),
  );
  let written = 0;
  spyOnWrites(t, (bytes) => {
    written += bytes;
  });

  await assertCodeError(extractZip(zipPath, dest, '/var/task', LIMITS), 'ERR_CODE_CORRUPT_ZIP');

  assert.ok(written <= 100, `wrote ${written} bytes`);
  assert.equal(await exists(dest), false);
});

test('more entries than allowed are refused before anything is written', async (t) => {
  const { dest, writeZip } = await makeWorld(t);
  const specs = (count: number): ZipEntrySpec[] => Array.from({ length: count }, (_, i) => ({ name: `f${i}`, data: 'x' }));
  const limits = { maxEntries: 10, maxUnzippedBytes: 1024 };

  await assertCodeError(extractZip(await writeZip(await buildZip(specs(11))), dest, '/var/task', limits), 'ERR_CODE_TOO_MANY_ENTRIES');
  assert.equal(await exists(dest), false);
  assert.equal((await extractZip(await writeZip(await buildZip(specs(10))), dest, '/var/task', limits)).entries, 10);
});

test('a file that is not a zip, or is truncated, or has damaged data, is refused as corrupt', async (t) => {
  const { dest, writeZip } = await makeWorld(t);
  const good = await buildZip([{ name: 'index.js', data: 'x'.repeat(10_000) + Math.random() }]);
  const damaged = Buffer.from(good);
  // The deflated data starts right after the 30-byte local header and the name.
  for (let i = 30 + 'index.js'.length; i < 30 + 'index.js'.length + 20; i += 1) damaged[i] = 0xff;

  for (const bytes of [Buffer.from('definitely not a zip'), good.subarray(0, good.length - 30), damaged]) {
    await assertCodeError(extractZip(await writeZip(bytes), dest, '/var/task', LIMITS), 'ERR_CODE_CORRUPT_ZIP');
    assert.equal(await exists(dest), false);
  }
});

test('a full disk while writing is reported as ERR_CODE_DISK_FULL and the tree is removed', async (t) => {
  const { dest, writeZip } = await makeWorld(t);
  const zipPath = await writeZip(await buildZip([{ name: 'a/b/big', data: Buffer.alloc(64 * 1024, 1) }]));
  spyOnWrites(t, () => {
    throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', syscall: 'write' });
  });

  await assertCodeError(extractZip(zipPath, dest, '/var/task', LIMITS), 'ERR_CODE_DISK_FULL');
  assert.equal(await exists(dest), false);
});

test('an existing destination is never extracted into', async (t) => {
  const { dest, writeZip } = await makeWorld(t);
  await fs.mkdir(dest);
  await fs.writeFile(path.join(dest, 'keep'), 'mine');
  const zipPath = await writeZip(await buildZip([{ name: 'keep', data: 'theirs' }]));

  await assert.rejects(extractZip(zipPath, dest, '/var/task', LIMITS), { code: 'EEXIST' });
  assert.equal(await fs.readFile(path.join(dest, 'keep'), 'utf8'), 'mine');
});
