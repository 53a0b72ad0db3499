/** UpdateFunctionCode and UpdateFunctionConfiguration: InProgress → Successful, RevisionId, AWS's refusals. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  GetFunctionConfigurationCommand,
  ListVersionsByFunctionCommand,
  UpdateFunctionCodeCommand,
  UpdateFunctionConfigurationCommand,
  waitUntilFunctionUpdatedV2,
  type UpdateFunctionConfigurationCommandInput,
} from '@aws-sdk/client-lambda';
import { assertLastOutput } from '../support/recording-client.js';
import { UUID, assertLastUpdateOutput, createHello, expectAwsError, functionArn, helloZip, sha256Base64, startWorld, type World } from './fixtures.js';

const STALE_REVISION = 'The Revision Id provided does not match the latest Revision Id. Call the GetFunction API to retrieve the latest Revision Id';

test('UpdateFunctionCode answers InProgress with the new CodeSha256 and RevisionId, then the waiter sees Successful', async (t) => {
  const { rec, client } = await startWorld(t);
  const created = await createHello(client, 'code');
  const zip = await helloZip('second version of the code');
  const updated = await client.send(new UpdateFunctionCodeCommand({ FunctionName: 'code', ZipFile: zip }));
  assert.equal(rec.last()?.statusCode, 200);
  assertLastUpdateOutput(rec, 'UpdateFunctionCode');
  assert.equal(updated.LastUpdateStatus, 'InProgress');
  assert.equal(updated.LastUpdateStatusReason, 'The function is being created.');
  assert.equal(updated.LastUpdateStatusReasonCode, 'Creating');
  assert.equal(updated.State, 'Active');
  assert.equal(updated.CodeSha256, sha256Base64(zip));
  assert.notEqual(updated.CodeSha256, created.CodeSha256);
  assert.equal(updated.CodeSize, zip.length);
  assert.equal(updated.FunctionArn, functionArn('code'));
  assert.equal(updated.Version, '$LATEST');
  assert.match(updated.RevisionId ?? '', UUID);
  assert.notEqual(updated.RevisionId, created.RevisionId);

  const waited = await waitUntilFunctionUpdatedV2({ client, maxWaitTime: 10 }, { FunctionName: 'code' });
  assert.equal(waited.state, 'SUCCESS');
  const settled = await client.send(new GetFunctionConfigurationCommand({ FunctionName: 'code' }));
  assertLastOutput(rec, 'GetFunctionConfiguration');
  assert.equal(settled.LastUpdateStatus, 'Successful');
  assert.equal(settled.LastUpdateStatusReason, undefined);
  assert.equal(settled.CodeSha256, sha256Base64(zip));
  assert.equal(settled.RevisionId, updated.RevisionId);
});

test('UpdateFunctionCode with a stale RevisionId answers 412 and changes nothing; the current one is accepted', async (t) => {
  const { rec, client } = await startWorld(t);
  const created = await createHello(client, 'stale-code');
  const first = await client.send(new UpdateFunctionCodeCommand({ FunctionName: 'stale-code', ZipFile: await helloZip('b'), RevisionId: created.RevisionId }));
  assertLastUpdateOutput(rec, 'UpdateFunctionCode');
  await waitUntilFunctionUpdatedV2({ client, maxWaitTime: 10 }, { FunctionName: 'stale-code' });
  await expectAwsError(
    rec,
    'UpdateFunctionCode',
    client.send(new UpdateFunctionCodeCommand({ FunctionName: 'stale-code', ZipFile: await helloZip('c'), RevisionId: created.RevisionId })),
    { type: 'PreconditionFailedException', status: 412, message: STALE_REVISION },
  );
  const now = await client.send(new GetFunctionConfigurationCommand({ FunctionName: 'stale-code' }));
  assert.equal(now.CodeSha256, first.CodeSha256);
  assert.equal(now.RevisionId, first.RevisionId);
});

test('UpdateFunctionCode with Publish: true answers the new version under its qualified ARN', async (t) => {
  const { rec, client } = await startWorld(t);
  await createHello(client, 'code-pub', { Publish: true });
  const zip = await helloZip('published by update');
  const out = await client.send(new UpdateFunctionCodeCommand({ FunctionName: 'code-pub', ZipFile: zip, Publish: true }));
  assertLastUpdateOutput(rec, 'UpdateFunctionCode');
  assert.equal(out.Version, '2');
  assert.equal(out.FunctionArn, functionArn('code-pub', '2'));
  assert.equal(out.CodeSha256, sha256Base64(zip));
  const versions = await client.send(new ListVersionsByFunctionCommand({ FunctionName: 'code-pub' }));
  assert.deepEqual(versions.Versions?.map((v) => v.Version), ['$LATEST', '1', '2']);
  const two = await client.send(new GetFunctionConfigurationCommand({ FunctionName: 'code-pub', Qualifier: '2' }));
  assert.equal(two.CodeSha256, sha256Base64(zip));
  assert.equal(two.State, 'Active');
});

test('UpdateFunctionCode with DryRun checks the package and changes nothing', async (t) => {
  const { rec, client } = await startWorld(t);
  const created = await createHello(client, 'dry');
  await client.send(new UpdateFunctionCodeCommand({ FunctionName: 'dry', ZipFile: await helloZip('dry run'), DryRun: true }));
  assertLastUpdateOutput(rec, 'UpdateFunctionCode');
  const now = await client.send(new GetFunctionConfigurationCommand({ FunctionName: 'dry' }));
  assert.equal(now.CodeSha256, created.CodeSha256);
  assert.equal(now.RevisionId, created.RevisionId);
});

test('UpdateFunctionConfiguration answers InProgress with the merged settings, then the waiter sees Successful', async (t) => {
  const { rec, client } = await startWorld(t);
  const created = await createHello(client, 'conf', { Environment: { Variables: { FIRST: '1' } }, Description: 'before' });
  const updated = await client.send(
    new UpdateFunctionConfigurationCommand({ FunctionName: 'conf', Timeout: 60, MemorySize: 1024, Environment: { Variables: { SECOND: '2' } } }),
  );
  assertLastUpdateOutput(rec, 'UpdateFunctionConfiguration');
  assert.equal(updated.LastUpdateStatus, 'InProgress');
  assert.equal(updated.LastUpdateStatusReasonCode, 'Creating');
  assert.equal(updated.Timeout, 60);
  assert.equal(updated.MemorySize, 1024);
  assert.deepEqual(updated.Environment, { Variables: { SECOND: '2' } });
  assert.equal(updated.Description, 'before');
  assert.equal(updated.CodeSha256, created.CodeSha256);
  assert.notEqual(updated.RevisionId, created.RevisionId);
  assert.equal(updated.FunctionArn, functionArn('conf'));

  assert.equal((await waitUntilFunctionUpdatedV2({ client, maxWaitTime: 10 }, { FunctionName: 'conf' })).state, 'SUCCESS');
  const settled = await client.send(new GetFunctionConfigurationCommand({ FunctionName: 'conf' }));
  assert.equal(settled.LastUpdateStatus, 'Successful');
  assert.equal(settled.Timeout, 60);
  assert.equal(settled.RevisionId, updated.RevisionId);
});

test('UpdateFunctionConfiguration with a stale RevisionId answers 412', async (t) => {
  const { rec, client } = await startWorld(t);
  const created = await createHello(client, 'stale-conf');
  await client.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'stale-conf', Description: 'one', RevisionId: created.RevisionId }));
  await waitUntilFunctionUpdatedV2({ client, maxWaitTime: 10 }, { FunctionName: 'stale-conf' });
  await expectAwsError(
    rec,
    'UpdateFunctionConfiguration',
    client.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'stale-conf', Description: 'two', RevisionId: created.RevisionId })),
    { type: 'PreconditionFailedException', status: 412, message: STALE_REVISION },
  );
  assert.equal((await client.send(new GetFunctionConfigurationCommand({ FunctionName: 'stale-conf' }))).Description, 'one');
});

async function refused(world: World, input: Omit<UpdateFunctionConfigurationCommandInput, 'FunctionName'>, type: string, message: string | RegExp): Promise<void> {
  await expectAwsError(world.rec, 'UpdateFunctionConfiguration', world.client.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'checks', ...input })), {
    type,
    status: 400,
    message,
  });
}

test('UpdateFunctionConfiguration refuses what AWS refuses, with AWS error types and messages', async (t) => {
  const world = await startWorld(t);
  const created = await createHello(world.client, 'checks');
  const big = { BIG: 'x'.repeat(4100) };
  await refused(
    world,
    { Environment: { Variables: big } },
    'InvalidParameterValueException',
    `Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. String measured: ${JSON.stringify(big)}`,
  );
  await refused(
    world,
    { Environment: { Variables: { AWS_REGION: 'eu-west-1', OK: '1' } } },
    'InvalidParameterValueException',
    'Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: AWS_REGION',
  );
  await refused(
    world,
    { MemorySize: 64 },
    'ValidationException',
    "1 validation error detected: Value '64' at 'memorySize' failed to satisfy constraint: Member must have value greater than or equal to 128",
  );
  await refused(
    world,
    { Timeout: 901 },
    'ValidationException',
    "1 validation error detected: Value '901' at 'timeout' failed to satisfy constraint: Member must have value less than or equal to 900",
  );
  await refused(world, { Runtime: 'cobol1' as 'nodejs20.x' }, 'ValidationException', /^1 validation error detected: Value 'cobol1' at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: \[/);
  await refused(
    world,
    { Runtime: 'nodejs14.x' },
    'InvalidParameterValueException',
    'The runtime parameter of nodejs14.x is no longer supported for creating or updating AWS Lambda functions. We recommend you use a supported runtime while creating or updating functions.',
  );
  await refused(world, { Runtime: 'java21' }, 'InvalidParameterValueException', /^The runtime parameter of java21 is not supported/);
  await refused(world, { Handler: 'has space' }, 'ValidationException', /^1 validation error detected: Value 'has space' at 'handler'/);
  await refused(
    world,
    { LoggingConfig: { LogFormat: 'XML' as 'JSON' } },
    'ValidationException',
    "1 validation error detected: Value 'XML' at 'loggingConfig.logFormat' failed to satisfy constraint: Member must satisfy enum value set: [Text, JSON]",
  );
  await refused(
    world,
    { Environment: { Variables: { A: 'one character is too short for the model pattern' } } },
    'ValidationException',
    /^1 validation error detected: Value at 'environment.variables' failed to satisfy constraint: Map keys must satisfy constraint: \[Member must satisfy regular expression pattern: \[a-zA-Z\]\(\[a-zA-Z0-9_\]\)\+\]$/,
  );
  await refused(world, { Layers: ['not-an-arn'] }, 'ValidationException', /^1 validation error detected: Value '\[not-an-arn\]' at 'layers'/);
  // None of these changed the function.
  const now = await world.client.send(new GetFunctionConfigurationCommand({ FunctionName: 'checks' }));
  assert.equal(now.RevisionId, created.RevisionId);
  assert.equal(now.MemorySize, 128);
  assert.equal(now.Environment, undefined);
});

test('UpdateFunctionConfiguration accepts an Environment of exactly 4 KB and a 4 KB + 1 one is refused', async (t) => {
  const world = await startWorld(t);
  await createHello(world.client, 'checks');
  // {"KEY":"…"} is 10 bytes of JSON around the value.
  const exact = { KEY: 'v'.repeat(4096 - 10) };
  assert.equal(Buffer.byteLength(JSON.stringify(exact)), 4096);
  const ok = await world.client.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'checks', Environment: { Variables: exact } }));
  assert.deepEqual(ok.Environment, { Variables: exact });
  await waitUntilFunctionUpdatedV2({ client: world.client, maxWaitTime: 10 }, { FunctionName: 'checks' });
  await refused(world, { Environment: { Variables: { KEY: `${exact.KEY}v` } } }, 'InvalidParameterValueException', /exceeded the 4KB limit/);
});

test('CreateFunction refuses an unknown, a retired and an unserved runtime as AWS words it', async (t) => {
  const { rec, client } = await startWorld(t);
  await expectAwsError(rec, 'CreateFunction', createHello(client, 'r1', { Runtime: 'cobol1' as 'nodejs20.x' }), {
    type: 'ValidationException',
    status: 400,
    message: /at 'runtime' failed to satisfy constraint: Member must satisfy enum value set/,
  });
  await expectAwsError(rec, 'CreateFunction', createHello(client, 'r2', { Runtime: 'nodejs14.x' }), {
    type: 'InvalidParameterValueException',
    status: 400,
    message: /^The runtime parameter of nodejs14.x is no longer supported for creating or updating AWS Lambda functions\./,
  });
  await expectAwsError(rec, 'CreateFunction', createHello(client, 'r3', { Runtime: 'java21' }), {
    type: 'InvalidParameterValueException',
    status: 400,
    message: /^The runtime parameter of java21 is not supported/,
  });
  await expectAwsError(rec, 'CreateFunction', createHello(client, 'r4', { Role: 'not-a-role' }), {
    type: 'ValidationException',
    status: 400,
    message: /^1 validation error detected: Value 'not-a-role' at 'role' failed to satisfy constraint: Member must satisfy regular expression pattern/,
  });
});

test('JSON logging gets default levels, and switching back to Text drops them', async (t) => {
  const { rec, client } = await startWorld(t);
  await createHello(client, 'logs');
  const json = await client.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'logs', LoggingConfig: { LogFormat: 'JSON', ApplicationLogLevel: 'DEBUG' } }));
  assertLastUpdateOutput(rec, 'UpdateFunctionConfiguration');
  assert.deepEqual(json.LoggingConfig, { LogFormat: 'JSON', ApplicationLogLevel: 'DEBUG', SystemLogLevel: 'INFO', LogGroup: '/aws/lambda/logs' });
  await waitUntilFunctionUpdatedV2({ client, maxWaitTime: 10 }, { FunctionName: 'logs' });
  const text = await client.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'logs', LoggingConfig: { LogFormat: 'Text' } }));
  assert.deepEqual(text.LoggingConfig, { LogFormat: 'Text', LogGroup: '/aws/lambda/logs' });
  await waitUntilFunctionUpdatedV2({ client, maxWaitTime: 10 }, { FunctionName: 'logs' });
  await expectAwsError(
    rec,
    'UpdateFunctionConfiguration',
    client.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'logs', LoggingConfig: { ApplicationLogLevel: 'WARN' } })),
    { type: 'InvalidParameterValueException', status: 400 },
  );
});
