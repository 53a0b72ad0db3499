/**
 * A full disk answers an AWS error and loses nothing: the server runs on a 4 MB tmpfs (mounting needs root; the
 * test skips with a reason otherwise, and fails in CI where it must run).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  CreateFunctionCommand,
  GetFunctionCommand,
  ListFunctionsCommand,
  PublishLayerVersionCommand,
} from '@aws-sdk/client-lambda';
import { startTestServer } from '../support/test-server.js';
import { buildZip } from '../support/zip-builder.js';

const isRoot = process.getuid?.() === 0;
const skip = isRoot ? false : 'mounting a small tmpfs needs root';
if (!isRoot && process.env.CI === 'true') {
  test('the full-disk test runs in CI', () => assert.fail('CI runs as root; the full-disk test must not be skipped there'));
}

const ROLE = 'arn:aws:iam::000000000000:role/lambda';

async function smallDisk(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kindling-full-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m,mode=0700', 'tmpfs', dir]);
  t.after(async () => {
    execFileSync('umount', ['-l', dir]);
    await rm(dir, { recursive: true, force: true });
  });
  return dir;
}

function createInput(name: string, zip: Buffer) {
  return { FunctionName: name, Runtime: 'nodejs20.x' as const, Handler: 'index.handler', Role: ROLE, Code: { ZipFile: zip } };
}

test('a full disk answers ServiceException, keeps serving, and recovers when space returns', { skip }, async (t) => {
  const dataDir = await smallDisk(t);
  const server = await startTestServer({ dataDir });
  t.after(() => server.close());
  const client = server.client();
  const small = await buildZip([{ name: 'index.js', data: 'exports.handler = async () => 1;\n' }]);
  await client.send(new CreateFunctionCommand(createInput('before', small)));

  // A package bigger than the free space fails while its blob is written.
  const big = await buildZip([{ name: 'blob.bin', data: randomBytes(5 * 1024 * 1024), compress: false }]);
  const error = await client.send(new CreateFunctionCommand(createInput('too-big', big))).then(
    () => assert.fail('expected the create to fail'),
    (e: unknown) => e as { name: string; message: string; $metadata: { httpStatusCode?: number } },
  );
  assert.equal(error.name, 'ServiceException');
  assert.equal(error.$metadata.httpStatusCode, 500);
  assert.match(error.message, /out of disk space/);

  // Fill what is left; a layer and a small function fail too, with the same clear answer.
  const filler = join(dataDir, 'filler');
  await writeFile(filler, Buffer.alloc(0));
  try {
    execFileSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=64k'], { stdio: 'ignore' });
  } catch {
    // dd stops with ENOSPC, which is the point.
  }
  const layerError = await client.send(new PublishLayerVersionCommand({ LayerName: 'l', Content: { ZipFile: small } })).then(
    () => assert.fail('expected the layer publish to fail'),
    (e: unknown) => e as { name: string; message: string },
  );
  assert.equal(layerError.name, 'ServiceException');
  assert.match(layerError.message, /out of disk space/);
  const tiny = await buildZip([{ name: 'index.js', data: `exports.handler = async () => '${randomBytes(2048).toString('hex')}';\n` }]);
  await assert.rejects(client.send(new CreateFunctionCommand(createInput('no-room', tiny))), { name: 'ServiceException', message: /out of disk space/ });

  // What succeeded before is still served while the disk is full.
  const before = await client.send(new GetFunctionCommand({ FunctionName: 'before' }));
  assert.equal(before.Configuration?.FunctionName, 'before');
  const listed = await client.send(new ListFunctionsCommand({}));
  assert.deepEqual(listed.Functions?.map((f) => f.FunctionName), ['before']);

  // Space returns: the same request now succeeds, and the failures left no temporary files behind.
  await rm(filler);
  await client.send(new CreateFunctionCommand(createInput('no-room', tiny)));
  const names = (await client.send(new ListFunctionsCommand({}))).Functions?.map((f) => f.FunctionName);
  assert.deepEqual(names, ['before', 'no-room']);
  assert.deepEqual(await readdir(join(dataDir, 'blobs', 'tmp')).catch(() => []), []);
});
