/**
 * Kindling as a user runs it: `npm start`, the credentials line it prints, the README tour with the aws CLI,
 * SIGTERM, a restart on the same data directory; and a configuration that is refused before anything starts.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test, type TestContext } from 'node:test';
import { LambdaClient, ListFunctionsCommand } from '@aws-sdk/client-lambda';
import { awsCliSkipReason, createAwsCli, type AwsCli } from '../support/aws-cli.js';
import { buildZip } from '../support/zip-builder.js';
import { KINDLING_SERVER, spawnServer, type Printed } from './server-process.js';

/** A minute is generous for a graceful stop; beyond that the server is not stopping. */
const STOP_TIMEOUT_MS = 60_000;
/** A backstop: every wait inside is bounded already, but a hang must not hold the whole run. */
const TEST_TIMEOUT_MS = 300_000;

/** Removed once the file's tests are done: t.after hooks run first to last, and the servers must stop first. */
const tempDirs: string[] = [];
after(() => Promise.all(tempDirs.map((dir) => rm(dir, { recursive: true, force: true }))));

async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

async function cliFor(t: TestContext, printed: Printed): Promise<AwsCli> {
  const aws = await createAwsCli({ accessKeyId: printed.accessKeyId, secretAccessKey: printed.secretAccessKey, region: printed.region });
  t.after(() => aws.dispose());
  return aws;
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

/** The README's tour, command for command (the `zip` of index.js is made here so the test needs no zip tool). */
async function readmeTour(t: TestContext, printed: Printed): Promise<void> {
  const endpoint = printed.url;
  const aws = await cliFor(t, printed);
  const zip = await buildZip([{ name: 'index.js', data: 'exports.handler = async (event) => ({ hello: event.name ?? "world" });\n' }]);
  await writeFile(join(aws.workDir, 'function.zip'), zip);
  const created = await aws.json([
    'lambda', 'create-function', '--endpoint-url', endpoint,
    '--function-name', 'hello', '--runtime', 'nodejs20.x', '--handler', 'index.handler',
    '--role', 'arn:aws:iam::000000000000:role/lambda', '--zip-file', 'fileb://function.zip',
  ]);
  assert.equal(created.FunctionName, 'hello');
  assert.equal(created.State, 'Pending');
  assert.equal(created.CodeSize, zip.length);
  await aws.quiet(['lambda', 'wait', 'function-active-v2', '--endpoint-url', endpoint, '--function-name', 'hello']);
  const listed = await aws.json<{ Functions: { FunctionName: string; CodeSha256: string }[] }>(['lambda', 'list-functions', '--endpoint-url', endpoint]);
  assert.deepEqual(listed.Functions.map((f) => [f.FunctionName, f.CodeSha256]), [['hello', created.CodeSha256]]);
  // CLI v2 reads --payload as base64 unless told otherwise; v1 has no such flag (the README says so).
  const versionRun = await aws.run(['--version']);
  const version = versionRun.stdout + versionRun.stderr;
  const rawPayload = /aws-cli\/2\./.test(version) ? ['--cli-binary-format', 'raw-in-base64-out'] : [];
  const invoked = await aws.json<{ StatusCode: number; LogResult: string; ExecutedVersion: string }>([
    'lambda', 'invoke', '--endpoint-url', endpoint, '--function-name', 'hello',
    '--payload', '{"name":"Kindling"}', ...rawPayload, '--log-type', 'Tail', 'out.json',
  ]);
  assert.equal(invoked.StatusCode, 200);
  assert.equal(invoked.ExecutedVersion, '$LATEST');
  assert.match(Buffer.from(invoked.LogResult, 'base64').toString(), /^REPORT RequestId: /m);
  assert.deepEqual(JSON.parse(await readFile(join(aws.workDir, 'out.json'), 'utf8')), { hello: 'Kindling' });
  const got = await aws.json<{ Configuration: { State: string } }>(['lambda', 'get-function', '--endpoint-url', endpoint, '--function-name', 'hello']);
  assert.equal(got.Configuration.State, 'Active');
  const published = await aws.json(['lambda', 'publish-version', '--endpoint-url', endpoint, '--function-name', 'hello']);
  assert.equal(published.Version, '1');
  assert.equal(published.CodeSha256, created.CodeSha256);
  assert.deepEqual(await aws.json(['lambda', 'delete-function', '--endpoint-url', endpoint, '--function-name', 'hello']), { StatusCode: 204 });
}

test('npm start prints credentials that work for the README tour, stops with exit code 0 on SIGTERM, and a restart through the kindling bin keeps the credentials and stops on SIGINT', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const dataDir = await tempDir('kindling-e2e-process-');
  const npm = spawnServer(t, 'npm', ['start'], { KINDLING_PORT: '0', KINDLING_DATA_DIR: dataDir });
  const printed = await npm.ready;
  assert.match(printed.accessKeyId, /^AKIA[A-Z0-9]{16}$/);
  assert.equal(printed.region, 'us-east-1');
  assert.match(printed.url, /^http:\/\/127\.0\.0\.1:\d+$/);

  const health = await fetch(`${printed.url}/kindling/health`);
  assert.equal(health.status, 200);
  assert.deepEqual(await health.json(), { status: 'ok' });

  await t.test('the README tour runs with the aws CLI and exactly the printed credentials', { skip: await awsCliSkipReason() }, (t) => readmeTour(t, printed));

  // As `kill <pid>` or a container stop would: the signal goes to npm alone, which must pass it on to the server.
  npm.child.kill('SIGTERM');
  const exit = await within(npm.exited, STOP_TIMEOUT_MS, 'npm start exiting');
  assert.deepEqual(exit, { code: 0, signal: null }, `npm start did not exit cleanly; stderr:\n${npm.stderr()}`);
  // Its output closes only once no process holds it: the server has stopped too, not been orphaned.
  await within(npm.closed, STOP_TIMEOUT_MS, 'the server started by npm exiting');

  // The restart goes through the package's `kindling` bin, and is stopped with Ctrl-C (SIGINT).
  const again = spawnServer(t, 'node', ['bin/kindling.js', 'server'], { KINDLING_PORT: '0', KINDLING_DATA_DIR: dataDir });
  const reprinted = await again.ready;
  assert.deepEqual({ ...reprinted, url: '' }, { ...printed, url: '' });
  assert.match(again.stdout(), /kept in the data directory/);
  const client = new LambdaClient({
    endpoint: reprinted.url,
    region: reprinted.region,
    credentials: { accessKeyId: reprinted.accessKeyId, secretAccessKey: reprinted.secretAccessKey },
    maxAttempts: 1,
  });
  t.after(() => client.destroy());
  // The tour deleted its function; nothing else was ever created.
  assert.deepEqual((await client.send(new ListFunctionsCommand({}))).Functions, []);
  again.child.kill('SIGINT');
  assert.deepEqual(await within(again.closed, STOP_TIMEOUT_MS, 'the restarted server exiting'), { code: 0, signal: null });
});

test('a server with several configuration problems reports them all on stderr and exits 2 without touching the data directory', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const dataDir = join(await tempDir('kindling-e2e-config-'), 'never-created');
  const server = spawnServer(t, KINDLING_SERVER[0], KINDLING_SERVER[1], {
    KINDLING_PORT: 'notaport',
    KINDLING_AUTH: 'none',
    KINDLING_HOST: '0.0.0.0',
    KINDLING_DATA_DIR: dataDir,
  });
  const exit = await within(server.closed, STOP_TIMEOUT_MS, 'the misconfigured server exiting');
  assert.deepEqual(exit, { code: 2, signal: null }, `stderr:\n${server.stderr()}`);
  assert.match(server.stderr(), /KINDLING_PORT="notaport": expected an integer from 0 to 65535/);
  assert.match(server.stderr(), /KINDLING_AUTH=none is refused on a non-loopback host \(0\.0\.0\.0\)/);
  assert.equal(server.stdout(), '');
  assert.equal(existsSync(dataDir), false);
});
