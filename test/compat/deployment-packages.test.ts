/**
 * Deployment packages as hostile input, through CreateFunction, UpdateFunctionCode and PublishLayerVersion: AWS's
 * errors and messages, nothing left on disk after a refusal, and what a legitimate package keeps.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  CreateFunctionCommand,
  PublishLayerVersionCommand,
  UpdateFunctionCodeCommand,
  type LambdaClient,
} from '@aws-sdk/client-lambda';
import { MAX_ZIP_ENTRIES } from '../../src/model/limits.js';
import { buildRawZip, buildZip } from '../support/zip-builder.js';
import { ROLE, createHello, expectAwsError, startWorld, type ExpectedError, type World } from './fixtures.js';

const UNZIP_FAILED = 'Could not unzip uploaded file. Please check your file, then try to upload again.';
const STARTS_UNZIP_FAILED = /^Could not unzip uploaded file\. Please check your file, then try to upload again\./;

/** Every file under dir (relative paths), or [] when it does not exist. */
async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true, recursive: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  for (const entry of entries) if (!entry.isDirectory()) out.push(join(entry.parentPath, entry.name).slice(dir.length + 1));
  return out.sort();
}

/** What packages leave on disk: blobs, unpacked trees (top level) and work dirs. */
async function codeOnDisk(dataDir: string): Promise<{ blobs: string[]; trees: string[]; work: string[] }> {
  const top = async (dir: string) => (await readdir(dir).catch(() => [] as string[])).sort();
  return { blobs: await filesUnder(join(dataDir, 'blobs')), trees: await top(join(dataDir, 'code', 'trees')), work: await top(join(dataDir, 'code', 'tmp')) };
}

/** Bytes of every file under dir (links counted as links). */
async function diskBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    total += (await lstat(join(entry.parentPath, entry.name))).size;
  }
  return total;
}

/** The three ways a package arrives, for one zip. */
function uploads(client: LambdaClient, zip: Buffer, n: number): Array<[string, () => Promise<unknown>]> {
  return [
    ['CreateFunction', () => client.send(new CreateFunctionCommand({ FunctionName: `hostile-${n}`, Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Code: { ZipFile: zip } }))],
    ['UpdateFunctionCode', () => client.send(new UpdateFunctionCodeCommand({ FunctionName: 'base', ZipFile: zip }))],
    ['PublishLayerVersion', () => client.send(new PublishLayerVersionCommand({ LayerName: `hostile-${n}`, Content: { ZipFile: zip } }))],
  ];
}

async function refusedEverywhere(world: World, zip: Buffer, n: number, expected: ExpectedError): Promise<void> {
  const before = await codeOnDisk(world.server.dataDir);
  for (const [operation, call] of uploads(world.client, zip, n)) {
    await expectAwsError(world.rec, operation, call(), expected);
    assert.deepEqual(await codeOnDisk(world.server.dataDir), before, `${operation} left something behind`);
  }
}

test('hostile packages are refused with AWS error messages by all three operations and leave nothing on disk', async (t) => {
  const world = await startWorld(t);
  await createHello(world.client, 'base');
  const invalid = (message: string | RegExp): ExpectedError => ({ type: 'InvalidParameterValueException', status: 400, message });
  const cases: Array<[string, Buffer, ExpectedError]> = [
    ['not a zip at all', Buffer.from('this is not a zip file, only text'), invalid(UNZIP_FAILED)],
    ['a truncated zip', (await buildZip([{ name: 'index.mjs', data: 'x'.repeat(1000) }])).subarray(0, 60), invalid(UNZIP_FAILED)],
    ['a ../ name', buildRawZip([{ name: '../escape.txt', data: Buffer.from('x') }]), invalid(STARTS_UNZIP_FAILED)],
    ['an absolute name', buildRawZip([{ name: '/etc/cron.d/evil', data: Buffer.from('x') }]), invalid(STARTS_UNZIP_FAILED)],
    [
      'an entry written through a symlink',
      await buildZip([{ name: 'dir', symlinkTo: '/tmp' }, { name: 'dir/planted.txt', data: 'x' }]),
      invalid(/^Could not unzip uploaded file\. Please check your file, then try to upload again\. .*symlink/),
    ],
    ['a link to /etc/passwd', await buildZip([{ name: 'passwd', symlinkTo: '/etc/passwd' }]), invalid(/^Could not unzip uploaded file\. .*\/etc\/passwd/)],
    ['a relative link out of the tree', await buildZip([{ name: 'a/up', symlinkTo: '../../../../etc/shadow' }]), invalid(STARTS_UNZIP_FAILED)],
    [
      `${MAX_ZIP_ENTRIES + 1} entries`,
      buildRawZip(Array.from({ length: MAX_ZIP_ENTRIES + 1 }, (_, i) => ({ name: `f/${i}` }))),
      invalid(new RegExp(`^Could not unzip uploaded file\\. .*${MAX_ZIP_ENTRIES + 1} entries`)),
    ],
  ];
  let n = 0;
  for (const [what, zip, expected] of cases) {
    await t.test(what, async () => refusedEverywhere(world, zip, (n += 1), expected));
  }
});

test('a zip bomb over 250 MB unzipped is refused, and the disk does not keep its bytes', async (t) => {
  const world = await startWorld(t);
  await createHello(world.client, 'base');
  // 300 entries of 1 MiB of zeros: 314572800 bytes unzipped, about 340 KB zipped.
  const mib = Buffer.alloc(1 << 20);
  const bomb = buildRawZip(Array.from({ length: 300 }, (_, i) => ({ name: `zeros/${i}.bin`, data: mib, deflate: true })));
  assert.ok(bomb.length < 1 << 20, `bomb is ${bomb.length} bytes`);
  const before = await diskBytes(world.server.dataDir);
  const files = await codeOnDisk(world.server.dataDir);
  // One operation only: the server inflates up to the limit (~2 s of disk writes) before it can tell.
  const [operation, call] = uploads(world.client, bomb, 1)[0]!;
  await expectAwsError(world.rec, operation, call(), {
    type: 'InvalidParameterValueException',
    status: 400,
    message: 'Unzipped size must be smaller than 262144000 bytes',
  });
  assert.deepEqual(await codeOnDisk(world.server.dataDir), files);
  const grown = (await diskBytes(world.server.dataDir)) - before;
  // The database may grow by a page or two; the bomb's hundreds of megabytes must not stay.
  assert.ok(grown < 1 << 20, `data dir grew by ${grown} bytes`);
});

test('a package over 50 MB zipped answers 413 RequestEntityTooLargeException and stores nothing', async (t) => {
  const world = await startWorld(t);
  const tooBig = Buffer.alloc(52_428_801, 0x5a);
  const before = await codeOnDisk(world.server.dataDir);
  await expectAwsError(
    world.rec,
    'CreateFunction',
    world.client.send(new CreateFunctionCommand({ FunctionName: 'huge', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Code: { ZipFile: tooBig } })),
    { type: 'RequestEntityTooLargeException', status: 413, message: 'Zipped size must be smaller than 52428800 bytes' },
  );
  assert.deepEqual(await codeOnDisk(world.server.dataDir), before);
});

test('a request body over 70167211 bytes answers 413 naming the operation', async (t) => {
  const world = await startWorld(t);
  // 52.7 MB encodes to about 70.27 MB of base64.
  const zip = Buffer.alloc(52_700_000, 0x5a);
  await expectAwsError(
    world.rec,
    'PublishLayerVersion',
    world.client.send(new PublishLayerVersionCommand({ LayerName: 'huge', Content: { ZipFile: zip } })),
    { type: 'RequestEntityTooLargeException', status: 413, message: 'Request must be smaller than 70167211 bytes for the PublishLayerVersion operation' },
  );
});

test('links Lambda allows (inside the tree, to /opt, to /tmp) are kept, and a 0755 bootstrap stays executable', async (t) => {
  const world = await startWorld(t);
  const zip = await buildZip([
    { name: 'bootstrap', data: '#!/bin/sh\nexec node index.mjs\n', mode: 0o755 },
    { name: 'index.mjs', data: 'export const handler = async () => 1;\n', mode: 0o644 },
    { name: 'lib/real.js', data: 'module.exports = 1;\n' },
    { name: 'lib/alias.js', symlinkTo: 'real.js' },
    { name: 'lib/up.js', symlinkTo: '../index.mjs' },
    { name: 'absolute-inside', symlinkTo: '/var/task/lib/real.js' },
    { name: 'node_modules', symlinkTo: '/opt/nodejs/node_modules' },
    { name: 'cache', symlinkTo: '/tmp/cache' },
  ]);
  const created = await createHello(world.client, 'links', { Code: { ZipFile: zip }, Runtime: 'provided.al2023', Handler: 'bootstrap' });
  const hex = createHash('sha256').update(zip).digest('hex');
  assert.equal(Buffer.from(created.CodeSha256!, 'base64').toString('hex'), hex);
  const tree = join(world.server.dataDir, 'code', 'trees', hex);
  for (const [name, target] of [
    ['lib/alias.js', 'real.js'],
    ['lib/up.js', '../index.mjs'],
    ['absolute-inside', '/var/task/lib/real.js'],
    ['node_modules', '/opt/nodejs/node_modules'],
    ['cache', '/tmp/cache'],
  ] as const) {
    assert.ok((await lstat(join(tree, name))).isSymbolicLink(), `${name} is not a link`);
    assert.equal(await readlink(join(tree, name)), target);
  }
  const bootstrap = await lstat(join(tree, 'bootstrap'));
  assert.ok(bootstrap.isFile());
  assert.equal(bootstrap.mode & 0o111, 0o111, `bootstrap mode ${(bootstrap.mode & 0o777).toString(8)}`);
  assert.equal((await lstat(join(tree, 'index.mjs'))).mode & 0o111, 0);

  // The same links are legal in a layer (mounted at /opt).
  const layer = await world.client.send(new PublishLayerVersionCommand({ LayerName: 'links', Content: { ZipFile: zip } }));
  assert.equal(layer.Content?.CodeSha256, created.CodeSha256);
});
