/**
 * Durability under `kill -9`: a server is SIGKILLed while 40 uploads are in flight, then restarted on the same
 * data directory. Whatever a client was told succeeded must be there, whole; whatever is listed must be whole;
 * the crash's leftovers (temp files, unreferenced blobs and trees, Pending states) must be gone.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Agent } from 'node:http';
import { chmod, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test, type TestContext } from 'node:test';
import {
  CreateFunctionCommand,
  GetFunctionCommand,
  GetLayerVersionCommand,
  LambdaClient,
  paginateListFunctions,
  paginateListLayers,
  paginateListLayerVersions,
  PublishLayerVersionCommand,
} from '@aws-sdk/client-lambda';
import { startTestServer } from '../support/test-server.js';
import { buildZip } from '../support/zip-builder.js';
import { KINDLING_SERVER, spawnServer } from './server-process.js';

const CALLS_PER_KIND = 20;
const LAYER_NAMES = ['crash-layer-a', 'crash-layer-b'];
const ROLE = 'arn:aws:iam::000000000000:role/lambda-role';
/** A backstop: every wait inside is bounded already, but a hang must not hold the whole run. */
const TEST_TIMEOUT_MS = 180_000;

interface Upload {
  kind: 'function' | 'layer';
  /** Function name, or layer name (several uploads share one layer). */
  name: string;
  zip: Buffer;
  sha256: string;
}

interface Acknowledged {
  upload: Upload;
  /** The layer version the client was told it got. */
  version?: number;
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('base64');
const hexOf = (base64: string) => Buffer.from(base64, 'base64').toString('hex');

/** Incompressible, stored (not deflated) zips of 200 KB to 1 MB, so every blob write takes real time. */
async function makeUploads(): Promise<Upload[]> {
  const uploads: Upload[] = [];
  for (let i = 0; i < CALLS_PER_KIND * 2; i++) {
    const kind = i % 2 === 0 ? 'function' : 'layer';
    const size = 200 * 1024 + ((i * 7) % 21) * 40 * 1024;
    const zip = await buildZip([
      { name: 'index.js', data: `exports.handler = async () => ${i};\n` },
      { name: 'payload.bin', data: randomBytes(size), compress: false },
    ]);
    const name = kind === 'function' ? `crash-fn-${i}` : LAYER_NAMES[i % 4 === 1 ? 0 : 1]!;
    uploads.push({ kind, name, zip, sha256: sha256(zip) });
  }
  return uploads;
}

async function listDir(path: string): Promise<string[]> {
  try {
    return await readdir(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

/** Unpacked trees are read-only; open them up so cleanup works for any user. */
async function openUp(dir: string): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    if (!entry.isDirectory()) continue;
    await chmod(join(dir, entry.name), 0o755);
    await openUp(join(dir, entry.name));
  }
}

async function fetchBytes(url: string): Promise<Buffer> {
  const response = await fetch(url);
  assert.equal(response.status, 200, `GET ${url}`);
  return Buffer.from(await response.arrayBuffer());
}

/** Sends every upload at once and SIGKILLs the server when the killAfter-th success arrives. */
async function crashDuringUploads(t: TestContext, dataDir: string, uploads: readonly Upload[], killAfter: number): Promise<Acknowledged[]> {
  const server = spawnServer(t, KINDLING_SERVER[0], KINDLING_SERVER[1], { KINDLING_PORT: '0', KINDLING_DATA_DIR: dataDir, KINDLING_LOG_LEVEL: 'warn' });
  const printed = await server.ready;
  const client = new LambdaClient({
    endpoint: printed.url,
    region: printed.region,
    credentials: { accessKeyId: printed.accessKeyId, secretAccessKey: printed.secretAccessKey },
    maxAttempts: 1,
    requestHandler: { httpAgent: new Agent({ keepAlive: true, maxSockets: 64 }), requestTimeout: 60_000 },
  });
  t.after(() => client.destroy());

  const acknowledged: (Acknowledged & { codeSha256: string | undefined })[] = [];
  const send = async (upload: Upload): Promise<void> => {
    if (upload.kind === 'function') {
      const out = await client.send(
        new CreateFunctionCommand({ FunctionName: upload.name, Role: ROLE, Runtime: 'nodejs20.x', Handler: 'index.handler', Code: { ZipFile: upload.zip } }),
      );
      acknowledged.push({ upload, codeSha256: out.CodeSha256 });
    } else {
      const out = await client.send(new PublishLayerVersionCommand({ LayerName: upload.name, Content: { ZipFile: upload.zip } }));
      acknowledged.push({ upload, codeSha256: out.Content?.CodeSha256, version: out.Version! });
    }
    if (acknowledged.length === killAfter) server.child.kill('SIGKILL');
  };
  const outcomes = await Promise.allSettled(uploads.map(send));
  assert.ok(acknowledged.length >= killAfter, `only ${acknowledged.length} uploads succeeded; stderr:\n${server.stderr()}`);
  assert.deepEqual(await server.exited, { code: null, signal: 'SIGKILL' });
  // An answer that was not a success must be the crash (a refused or cut connection), never an API error.
  for (const outcome of outcomes) {
    if (outcome.status === 'rejected') {
      const reason = outcome.reason as { $metadata?: { httpStatusCode?: number } };
      assert.equal(reason.$metadata?.httpStatusCode, undefined, `an upload failed with an API error: ${String(outcome.reason)}`);
    }
  }
  for (const { upload, codeSha256 } of acknowledged) assert.equal(codeSha256, upload.sha256, `${upload.name} was told other code`);
  assert.ok(acknowledged.length < uploads.length, 'every upload finished before the kill: nothing was interrupted');
  return acknowledged;
}

async function checkRecovered(t: TestContext, dataDir: string, uploads: readonly Upload[], acknowledged: readonly Acknowledged[]): Promise<void> {
  const server = await startTestServer({ dataDir });
  t.after(() => server.close());
  const client = server.client();

  const functions = new Set<string>();
  for await (const page of paginateListFunctions({ client }, {})) {
    for (const fn of page.Functions ?? []) functions.add(fn.FunctionName!);
  }
  const layerVersions = new Set<string>();
  for await (const page of paginateListLayers({ client }, {})) {
    for (const layer of page.Layers ?? []) {
      for await (const versions of paginateListLayerVersions({ client }, { LayerName: layer.LayerName! })) {
        for (const v of versions.LayerVersions ?? []) layerVersions.add(`${layer.LayerName!}:${v.Version!}`);
      }
    }
  }

  for (const { upload, version } of acknowledged) {
    if (upload.kind === 'function') assert.ok(functions.has(upload.name), `function ${upload.name} was acknowledged but is not listed`);
    else assert.ok(layerVersions.has(`${upload.name}:${version!}`), `layer ${upload.name}:${version!} was acknowledged but is not listed`);
  }

  const blobPath = (hex: string) => join(dataDir, 'blobs', hex.slice(0, 2), `${hex}.zip`);
  const assertWhole = async (what: string, codeSha256: string, location: string) => {
    const onDisk = await readFile(blobPath(hexOf(codeSha256))).catch(() => undefined);
    assert.ok(onDisk, `${what}: no blob for ${codeSha256}`);
    assert.equal(sha256(onDisk), codeSha256, `${what}: the blob does not hash to its CodeSha256`);
    assert.deepEqual(await fetchBytes(location), onDisk, `${what}: Code.Location serves other bytes`);
  };
  const referenced = new Set<string>();
  for (const name of functions) {
    const got = await client.send(new GetFunctionCommand({ FunctionName: name }));
    const configuration = got.Configuration!;
    const sent = uploads.find((u) => u.kind === 'function' && u.name === name);
    assert.ok(sent, `an unknown function ${name} is listed`);
    assert.equal(configuration.CodeSha256, sent.sha256, `${name} lists other code than was sent`);
    assert.equal(configuration.State, 'Active', `${name} is ${configuration.State}`);
    assert.equal(configuration.LastUpdateStatus, 'Successful', `${name} is ${configuration.LastUpdateStatus}`);
    await assertWhole(`function ${name}`, configuration.CodeSha256, got.Code!.Location!);
    referenced.add(hexOf(configuration.CodeSha256));
  }
  for (const key of layerVersions) {
    const [layerName, version] = key.split(':') as [string, string];
    const got = await client.send(new GetLayerVersionCommand({ LayerName: layerName, VersionNumber: Number(version) }));
    const content = got.Content!;
    assert.ok(
      uploads.some((u) => u.kind === 'layer' && u.name === layerName && u.sha256 === content.CodeSha256),
      `layer ${key} holds code that was never sent to it`,
    );
    const told = acknowledged.find((a) => a.upload.name === layerName && a.version === Number(version));
    if (told) assert.equal(content.CodeSha256, told.upload.sha256, `layer ${key} holds other code than the client was told`);
    await assertWhole(`layer ${key}`, content.CodeSha256!, content.Location!);
    referenced.add(hexOf(content.CodeSha256!));
  }

  assert.deepEqual(await listDir(join(dataDir, 'blobs', 'tmp')), [], 'blob temp files survived the restart');
  assert.deepEqual(await listDir(join(dataDir, 'code', 'tmp')), [], 'code-cache work dirs survived the restart');
  const onDisk: string[] = [];
  for (const shard of await listDir(join(dataDir, 'blobs'))) {
    if (shard === 'tmp') continue;
    for (const file of await listDir(join(dataDir, 'blobs', shard))) onDisk.push(file.replace(/\.zip$/, ''));
  }
  assert.deepEqual(onDisk.sort(), [...referenced].sort(), 'the blobs on disk are not exactly the referenced ones');
  for (const entry of await listDir(join(dataDir, 'code', 'trees'))) {
    const digest = entry.replace(/\.meta\.json$/, '');
    assert.ok(referenced.has(digest), `code/trees/${entry} belongs to no function or layer version`);
  }
}

/** Removed once the file's tests are done: t.after hooks run first to last, and the servers must stop first. */
const dataDirs: string[] = [];
after(async () => {
  for (const dir of dataDirs) {
    await openUp(dir);
    await rm(dir, { recursive: true, force: true });
  }
});

async function crashScenario(t: TestContext, killAfter: number): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'kindling-e2e-crash-'));
  dataDirs.push(dataDir);
  const uploads = await makeUploads();
  const acknowledged = await crashDuringUploads(t, dataDir, uploads, killAfter);
  await checkRecovered(t, dataDir, uploads, acknowledged);
}

test('after a kill -9 right after the first acknowledged upload, a restart keeps every acknowledged upload whole and no leftovers', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  await crashScenario(t, 1);
});

test('after a kill -9 right after the tenth acknowledged upload, a restart keeps every acknowledged upload whole and no leftovers', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  await crashScenario(t, 10);
});
