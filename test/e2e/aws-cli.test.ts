/**
 * The control-plane lifecycle driven by the real `aws` CLI (what users type), against an in-process server.
 * Each test has its own server and its own empty CLI configuration.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { awsCliSkipReason, createAwsCli, type AwsCli } from '../support/aws-cli.js';
import { startTestServer } from '../support/test-server.js';
import { buildZip } from '../support/zip-builder.js';

const REGION = 'us-east-1';
const ACCOUNT = '000000000000';
const ROLE = `arn:aws:iam::${ACCOUNT}:role/lambda-role`;
const functionArn = (name: string) => `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${name}`;

/** A backstop per test: each CLI call is bounded already, but a hang must not hold the whole run. */
const TEST_TIMEOUT_MS = 300_000;

type Json = Record<string, unknown>;

interface World {
  aws: AwsCli;
  /** Writes a one-file zip; returns the fileb:// argument and what the server must report for it. */
  zip(source: string): Promise<{ file: string; bytes: Buffer; sha256: string }>;
  /** create-function with the defaults used throughout, plus extra arguments. */
  create(name: string, file: string, extra?: readonly string[]): Promise<Json>;
}

async function makeWorld(t: TestContext): Promise<World> {
  const server = await startTestServer();
  t.after(() => server.close());
  const aws = await createAwsCli({ endpointUrl: server.url, accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey, region: REGION });
  t.after(() => aws.dispose());
  const dir = await mkdtemp(join(tmpdir(), 'kindling-e2e-zips-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  let n = 0;
  return {
    aws,
    async zip(source) {
      const bytes = await buildZip([{ name: 'index.js', data: source }]);
      const path = join(dir, `code-${++n}.zip`);
      await writeFile(path, bytes);
      return { file: `fileb://${path}`, bytes, sha256: createHash('sha256').update(bytes).digest('base64') };
    },
    create: (name, file, extra = []) =>
      aws.json(['lambda', 'create-function', '--function-name', name, '--runtime', 'nodejs20.x', '--handler', 'index.handler', '--role', ROLE, '--zip-file', file, ...extra]),
  };
}

/** What ListFunctions leaves out of a FunctionConfiguration (LAMBDA_REFERENCE §1.2). */
function listed(configuration: Json): Json {
  const { State, StateReason, StateReasonCode, LastUpdateStatus, LastUpdateStatusReason, LastUpdateStatusReasonCode, RuntimeVersionConfig, ...rest } = configuration;
  return rest;
}

/** CLI v1 prints a service error as one line on stderr and exits 255. */
async function assertNotFound(aws: AwsCli, args: readonly string[], operation: string, message: string): Promise<void> {
  const result = await aws.run(args);
  assert.equal(result.exitCode, 255, `expected exit 255, got ${result.exitCode}: ${result.stdout}${result.stderr}`);
  assert.equal(result.stdout, '');
  assert.equal(result.stderr.trim(), `An error occurred (ResourceNotFoundException) when calling the ${operation} operation: ${message}`);
}

describe('the aws CLI against Kindling', { skip: await awsCliSkipReason() }, () => {
  test('a function created from a fileb:// zip becomes Active and is described alike by get-function, get-function-configuration and list-functions', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const { aws, zip, create } = await makeWorld(t);
    const code = await zip('exports.handler = async () => "hello";\n');

    const created = await create('hello', code.file, ['--description', 'first']);
    assert.equal(created.FunctionName, 'hello');
    assert.equal(created.FunctionArn, functionArn('hello'));
    assert.equal(created.Runtime, 'nodejs20.x');
    assert.equal(created.Handler, 'index.handler');
    assert.equal(created.Role, ROLE);
    assert.equal(created.Description, 'first');
    assert.equal(created.CodeSize, code.bytes.length);
    assert.equal(created.CodeSha256, code.sha256);
    assert.equal(created.Version, '$LATEST');
    assert.equal(created.Timeout, 3);
    assert.equal(created.MemorySize, 128);
    assert.equal(created.PackageType, 'Zip');
    assert.deepEqual(created.Architectures, ['x86_64']);
    assert.equal(created.State, 'Pending');
    assert.equal(created.StateReasonCode, 'Creating');
    assert.equal(created.LastUpdateStatus, undefined);

    await aws.quiet(['lambda', 'wait', 'function-active-v2', '--function-name', 'hello']);

    const got = await aws.json<{ Configuration: Json; Code: { RepositoryType: string; Location: string } }>(['lambda', 'get-function', '--function-name', 'hello']);
    // Settling changes the state fields only.
    const { StateReason, StateReasonCode, ...unchanged } = created;
    assert.deepEqual(got.Configuration, { ...unchanged, State: 'Active', LastUpdateStatus: 'Successful' });
    assert.equal(got.Code.RepositoryType, 'S3');
    const download = await fetch(got.Code.Location);
    assert.equal(download.status, 200);
    assert.deepEqual(Buffer.from(await download.arrayBuffer()), code.bytes);

    const configuration = await aws.json(['lambda', 'get-function-configuration', '--function-name', 'hello']);
    assert.deepEqual(configuration, got.Configuration);

    const list = await aws.json<{ Functions: Json[]; NextMarker?: string }>(['lambda', 'list-functions']);
    assert.deepEqual(list, { Functions: [listed(got.Configuration)] });
  });
  test('code and configuration updates answer InProgress, and function-updated-v2 waits them out to Successful', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const { aws, zip, create } = await makeWorld(t);
    const first = await zip('exports.handler = async () => 1;\n');
    const second = await zip('exports.handler = async () => 2;\n');
    const created = await create('updated', first.file);

    const codeUpdate = await aws.json(['lambda', 'update-function-code', '--function-name', 'updated', '--zip-file', second.file]);
    assert.equal(codeUpdate.CodeSha256, second.sha256);
    assert.equal(codeUpdate.CodeSize, second.bytes.length);
    assert.equal(codeUpdate.LastUpdateStatus, 'InProgress');
    assert.equal(codeUpdate.LastUpdateStatusReasonCode, 'Creating');
    assert.notEqual(codeUpdate.RevisionId, created.RevisionId);
    await aws.quiet(['lambda', 'wait', 'function-updated-v2', '--function-name', 'updated']);

    const configUpdate = await aws.json([
      'lambda', 'update-function-configuration', '--function-name', 'updated',
      '--handler', 'main.handler', '--timeout', '30', '--memory-size', '256', '--description', 'second',
      '--environment', 'Variables={GREETING=hi}',
    ]);
    assert.equal(configUpdate.LastUpdateStatus, 'InProgress');
    assert.equal(configUpdate.Handler, 'main.handler');
    assert.notEqual(configUpdate.RevisionId, codeUpdate.RevisionId);
    await aws.quiet(['lambda', 'wait', 'function-updated-v2', '--function-name', 'updated']);

    const settled = await aws.json(['lambda', 'get-function-configuration', '--function-name', 'updated']);
    assert.equal(settled.CodeSha256, second.sha256);
    assert.equal(settled.Timeout, 30);
    assert.equal(settled.MemorySize, 256);
    assert.equal(settled.Description, 'second');
    assert.deepEqual(settled.Environment, { Variables: { GREETING: 'hi' } });
    assert.equal(settled.State, 'Active');
    // Settling changes the update-status fields only.
    const { LastUpdateStatusReason, LastUpdateStatusReasonCode, ...unchanged } = configUpdate;
    assert.deepEqual(settled, { ...unchanged, LastUpdateStatus: 'Successful' });
  });

  test('a published version and an alias to it read back through the CLI, and a deleted function is not found', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const { aws, zip, create } = await makeWorld(t);
    const code = await zip('exports.handler = async () => "v1";\n');
    await create('versioned', code.file);

    const version = await aws.json(['lambda', 'publish-version', '--function-name', 'versioned', '--description', 'first release']);
    assert.equal(version.Version, '1');
    assert.equal(version.FunctionArn, `${functionArn('versioned')}:1`);
    assert.equal(version.Description, 'first release');
    assert.equal(version.CodeSha256, code.sha256);
    assert.equal(version.State, 'Active');
    assert.equal(version.LastUpdateStatus, 'Successful');

    const alias = await aws.json(['lambda', 'create-alias', '--function-name', 'versioned', '--name', 'live', '--function-version', '1', '--description', 'production traffic']);
    assert.equal(typeof alias.RevisionId, 'string');
    assert.deepEqual(alias, {
      AliasArn: `${functionArn('versioned')}:live`,
      Name: 'live',
      FunctionVersion: '1',
      Description: 'production traffic',
      RevisionId: alias.RevisionId,
    });
    assert.deepEqual(await aws.json(['lambda', 'get-alias', '--function-name', 'versioned', '--name', 'live']), alias);
    assert.deepEqual(await aws.json(['lambda', 'list-aliases', '--function-name', 'versioned']), { Aliases: [alias] });

    // The model's DeleteFunction output carries the HTTP status (204), which the CLI prints.
    assert.deepEqual(await aws.json(['lambda', 'delete-function', '--function-name', 'versioned']), { StatusCode: 204 });
    await assertNotFound(aws, ['lambda', 'get-function', '--function-name', 'versioned'], 'GetFunction', `Function not found: ${functionArn('versioned')}`);
  });

  test('tags and resource-policy statements are added, listed and removed through the CLI', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const { aws, zip, create } = await makeWorld(t);
    const code = await zip('exports.handler = async () => null;\n');
    const arn = functionArn('guarded');
    await create('guarded', code.file, ['--tags', 'team=core']);

    await aws.quiet(['lambda', 'tag-resource', '--resource', arn, '--tags', 'stage=test,owner=me']);
    assert.deepEqual(await aws.json(['lambda', 'list-tags', '--resource', arn]), { Tags: { team: 'core', stage: 'test', owner: 'me' } });
    await aws.quiet(['lambda', 'untag-resource', '--resource', arn, '--tag-keys', 'stage', 'owner']);
    assert.deepEqual(await aws.json(['lambda', 'list-tags', '--resource', arn]), { Tags: { team: 'core' } });

    const added = await aws.json<{ Statement: string }>([
      'lambda', 'add-permission', '--function-name', 'guarded', '--statement-id', 's3-invoke',
      '--action', 'lambda:InvokeFunction', '--principal', 's3.amazonaws.com', '--source-arn', 'arn:aws:s3:::uploads',
    ]);
    const statement = {
      Sid: 's3-invoke',
      Effect: 'Allow',
      Principal: { Service: 's3.amazonaws.com' },
      Action: 'lambda:InvokeFunction',
      Resource: arn,
      Condition: { ArnLike: { 'AWS:SourceArn': 'arn:aws:s3:::uploads' } },
    };
    assert.deepEqual(JSON.parse(added.Statement), statement);
    const policy = await aws.json<{ Policy: string; RevisionId: string }>(['lambda', 'get-policy', '--function-name', 'guarded']);
    assert.deepEqual(JSON.parse(policy.Policy), { Version: '2012-10-17', Id: 'default', Statement: [statement] });
    assert.match(policy.RevisionId, /^[0-9a-f-]{36}$/);

    await aws.quiet(['lambda', 'remove-permission', '--function-name', 'guarded', '--statement-id', 's3-invoke']);
    await assertNotFound(aws, ['lambda', 'get-policy', '--function-name', 'guarded'], 'GetPolicy', 'No policy is associated with the given resource.');
  });
});
