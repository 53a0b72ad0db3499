/** CreateFunction, GetFunction, GetFunctionConfiguration and DeleteFunction through the real SDK. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  DeleteFunctionCommand,
  GetFunctionCommand,
  GetFunctionConfigurationCommand,
  ListVersionsByFunctionCommand,
  PutFunctionConcurrencyCommand,
  waitUntilFunctionActiveV2,
} from '@aws-sdk/client-lambda';
import { assertLastOutput } from '../support/recording-client.js';
import { CODE_LOCATION_TTL_MS } from '../../src/model/limits.js';
import {
  DEFAULT_ARCHITECTURE,
  LAMBDA_TIMESTAMP,
  ROLE,
  UUID,
  createHello,
  download,
  expectAwsError,
  functionArn,
  helloZip,
  notFound,
  publishLayer,
  sha256Base64,
  startWorld,
} from './fixtures.js';
import { clockReading } from '../support/manual-clock.js';

test('CreateFunction answers 201 with the defaults AWS fills in, State Pending, then the waiter sees Active', async (t) => {
  const { rec, client } = await startWorld(t);
  const zip = await helloZip('defaults');
  const created = await createHello(client, 'defaults', { Code: { ZipFile: zip } });
  assert.equal(rec.last()?.statusCode, 201);
  assertLastOutput(rec, 'CreateFunction');
  const body = JSON.parse(rec.last()!.body) as Record<string, unknown>;
  assert.equal(body.FunctionName, 'defaults');
  assert.equal(body.FunctionArn, functionArn('defaults'));
  assert.equal(body.Runtime, 'nodejs20.x');
  assert.equal(body.Handler, 'index.handler');
  assert.equal(body.Role, ROLE);
  assert.equal(body.Timeout, 3);
  assert.equal(body.MemorySize, 128);
  assert.equal(body.Description, '');
  assert.equal(body.Version, '$LATEST');
  assert.equal(body.PackageType, 'Zip');
  assert.deepEqual(body.Architectures, [DEFAULT_ARCHITECTURE]);
  assert.deepEqual(body.EphemeralStorage, { Size: 512 });
  assert.deepEqual(body.TracingConfig, { Mode: 'PassThrough' });
  assert.deepEqual(body.SnapStart, { ApplyOn: 'None', OptimizationStatus: 'Off' });
  assert.deepEqual(body.LoggingConfig, { LogFormat: 'Text', LogGroup: '/aws/lambda/defaults' });
  assert.equal(body.CodeSha256, sha256Base64(zip));
  assert.equal(body.CodeSize, zip.length);
  assert.match(String(body.LastModified), LAMBDA_TIMESTAMP);
  assert.match(String(body.RevisionId), UUID);
  assert.equal(body.State, 'Pending');
  assert.equal(body.StateReason, 'The function is being created.');
  assert.equal(body.StateReasonCode, 'Creating');
  assert.equal('LastUpdateStatus' in body, false);
  assert.equal('Environment' in body, false);
  assert.equal('Layers' in body, false);
  assert.match(String((body.RuntimeVersionConfig as { RuntimeVersionArn: string }).RuntimeVersionArn), /^arn:aws:lambda:us-east-1::runtime:[0-9a-f]{64}$/);
  assert.equal(created.State, 'Pending');

  const waited = await waitUntilFunctionActiveV2({ client, maxWaitTime: 10 }, { FunctionName: 'defaults' });
  assert.equal(waited.state, 'SUCCESS');
  const active = await client.send(new GetFunctionConfigurationCommand({ FunctionName: 'defaults' }));
  assertLastOutput(rec, 'GetFunctionConfiguration');
  assert.equal(active.State, 'Active');
  assert.equal(active.LastUpdateStatus, 'Successful');
  assert.equal(active.StateReason, undefined);
  assert.equal(active.RevisionId, created.RevisionId);
});

test('CreateFunction with Publish: true answers Version 1 under the unqualified ARN and lists version 1', async (t) => {
  const { rec, client } = await startWorld(t);
  const created = await createHello(client, 'pub', { Publish: true });
  assertLastOutput(rec, 'CreateFunction');
  assert.equal(created.Version, '1');
  assert.equal(created.FunctionArn, functionArn('pub'));
  const versions = await client.send(new ListVersionsByFunctionCommand({ FunctionName: 'pub' }));
  assert.deepEqual(versions.Versions?.map((v) => [v.Version, v.FunctionArn]), [
    ['$LATEST', functionArn('pub', '$LATEST')],
    ['1', functionArn('pub', '1')],
  ]);
  const one = await client.send(new GetFunctionConfigurationCommand({ FunctionName: 'pub', Qualifier: '1' }));
  assertLastOutput(rec, 'GetFunctionConfiguration');
  assert.equal(one.FunctionArn, functionArn('pub', '1'));
  assert.equal(one.CodeSha256, created.CodeSha256);
  assert.equal(one.State, 'Active');
});

test('CreateFunction keeps Environment, Layers and Tags, and GetFunction answers them with Concurrency', async (t) => {
  const { rec, client } = await startWorld(t);
  const layer = await publishLayer(client, 'shared');
  const created = await createHello(client, 'full', {
    Environment: { Variables: { GREETING: 'hi', EMPTY: '' } },
    Layers: [layer.LayerVersionArn!],
    Tags: { team: 'core', env: 'test' },
    Description: 'with everything',
    Timeout: 30,
    MemorySize: 256,
  });
  assertLastOutput(rec, 'CreateFunction');
  assert.deepEqual(created.Environment, { Variables: { GREETING: 'hi', EMPTY: '' } });
  assert.deepEqual(created.Layers, [{ Arn: layer.LayerVersionArn, CodeSize: layer.Content?.CodeSize }]);
  assert.equal(created.Description, 'with everything');
  assert.equal(created.Timeout, 30);
  assert.equal(created.MemorySize, 256);

  const plain = await client.send(new GetFunctionCommand({ FunctionName: 'full' }));
  assertLastOutput(rec, 'GetFunction');
  assert.deepEqual(plain.Tags, { team: 'core', env: 'test' });
  assert.equal(plain.Concurrency, undefined);
  await client.send(new PutFunctionConcurrencyCommand({ FunctionName: 'full', ReservedConcurrentExecutions: 7 }));
  const withConcurrency = await client.send(new GetFunctionCommand({ FunctionName: 'full' }));
  assertLastOutput(rec, 'GetFunction');
  assert.deepEqual(withConcurrency.Concurrency, { ReservedConcurrentExecutions: 7 });
  assert.deepEqual(withConcurrency.Configuration?.Layers, created.Layers);
});

test('an Environment set empty answers {"Variables":{}} while a function without one omits Environment', async (t) => {
  const { rec, client } = await startWorld(t);
  await createHello(client, 'empty-env', { Environment: {} });
  assertLastOutput(rec, 'CreateFunction');
  assert.deepEqual(JSON.parse(rec.last()!.body).Environment, { Variables: {} });
  await createHello(client, 'no-env');
  assert.equal('Environment' in JSON.parse(rec.last()!.body), false);
});

test('GetFunction answers a Code.Location that serves the exact zip without credentials, and no Tags when there are none', async (t) => {
  const { rec, client } = await startWorld(t);
  const zip = await helloZip('download');
  await createHello(client, 'download', { Code: { ZipFile: zip } });
  const out = await client.send(new GetFunctionCommand({ FunctionName: 'download' }));
  assertLastOutput(rec, 'GetFunction');
  assert.equal(out.Code?.RepositoryType, 'S3');
  assert.equal(out.Tags, undefined);
  assert.equal(out.Configuration?.State, 'Active');
  const response = await download(out.Code!.Location!);
  assert.equal(response.status, 200);
  assert.equal(response.contentType, 'application/zip');
  assert.deepEqual(response.body, zip);
});

test('a tampered Code.Location is refused with 403', async (t) => {
  const { client } = await startWorld(t);
  await createHello(client, 'tamper');
  const location = (await client.send(new GetFunctionCommand({ FunctionName: 'tamper' }))).Code!.Location!;
  const last = location.at(-1) === 'A' ? 'B' : 'A';
  const forged = await download(`${location.slice(0, -1)}${last}`);
  assert.equal(forged.status, 403);
  assert.equal(forged.errorType, 'AccessDeniedException');
  const otherDigest = location.replace(/\.([0-9a-f]{64})\./, (_m, hex: string) => `.${hex.replace(/^./, hex[0] === '0' ? '1' : '0')}.`);
  assert.notEqual(otherDigest, location);
  assert.equal((await download(otherDigest)).status, 403);
  assert.equal((await download(location)).status, 200);
});

test('a Code.Location older than ten minutes is refused with 403', async (t) => {
  let offsetMs = 0;
  const { client } = await startWorld(t, { clock: clockReading(() => Date.now() + offsetMs) });
  await createHello(client, 'expiry');
  const location = (await client.send(new GetFunctionCommand({ FunctionName: 'expiry' }))).Code!.Location!;
  assert.equal((await download(location)).status, 200);
  offsetMs = CODE_LOCATION_TTL_MS + 1000;
  const expired = await download(location);
  assert.equal(expired.status, 403);
  assert.match((JSON.parse(expired.body.toString()) as { Message: string }).Message, /expired/);
});

test('every FunctionName form reaches the same function, qualified forms answer the qualified ARN', async (t) => {
  const { rec, client } = await startWorld(t);
  await createHello(client, 'forms', { Publish: true });
  const cases: Array<[string, string | undefined, string]> = [
    ['forms', undefined, functionArn('forms')],
    ['forms:$LATEST', undefined, functionArn('forms', '$LATEST')],
    ['forms:1', undefined, functionArn('forms', '1')],
    [functionArn('forms'), undefined, functionArn('forms')],
    ['000000000000:function:forms', undefined, functionArn('forms')],
    ['000000000000:function:forms:1', undefined, functionArn('forms', '1')],
    [functionArn('forms', '1'), undefined, functionArn('forms', '1')],
    [functionArn('forms', '1'), '1', functionArn('forms', '1')],
    ['forms', '1', functionArn('forms', '1')],
    ['forms', '$LATEST', functionArn('forms', '$LATEST')],
  ];
  for (const [name, qualifier, arn] of cases) {
    const config = await client.send(new GetFunctionConfigurationCommand({ FunctionName: name, Qualifier: qualifier }));
    assertLastOutput(rec, 'GetFunctionConfiguration');
    assert.equal(config.FunctionArn, arn, `${name} ${qualifier ?? ''}`);
    assert.equal(config.FunctionName, 'forms');
    const full = await client.send(new GetFunctionCommand({ FunctionName: name, Qualifier: qualifier }));
    assertLastOutput(rec, 'GetFunction');
    assert.equal(full.Configuration?.FunctionArn, arn);
  }
});

test('an ARN of another region answers 404 with AWS message, a mismatching Qualifier answers 400', async (t) => {
  const { rec, client } = await startWorld(t);
  await createHello(client, 'region', { Publish: true });
  await expectAwsError(rec, 'GetFunction', client.send(new GetFunctionCommand({ FunctionName: 'arn:aws:lambda:ap-southeast-1:000000000000:function:region' })), {
    type: 'ResourceNotFoundException',
    status: 404,
    message: "Functions from 'ap-southeast-1' are not reachable in this region ('us-east-1')",
  });
  await expectAwsError(
    rec,
    'GetFunctionConfiguration',
    client.send(new GetFunctionConfigurationCommand({ FunctionName: functionArn('region', '1'), Qualifier: '$LATEST' })),
    { type: 'InvalidParameterValueException', status: 400, message: 'The derived qualifier from the function name does not match the specified qualifier.' },
  );
  await expectAwsError(rec, 'GetFunction', client.send(new GetFunctionCommand({ FunctionName: 'region:1', Qualifier: '2' })), {
    type: 'InvalidParameterValueException',
    status: 400,
    message: 'The derived qualifier from the function name does not match the specified qualifier.',
  });
  await expectAwsError(rec, 'GetFunction', client.send(new GetFunctionCommand({ FunctionName: 'bad name!' })), {
    type: 'ValidationException',
    status: 400,
    message: /^1 validation error detected: Value 'bad name!' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern/,
  });
});

test('an unknown version or alias qualifier answers 404 naming the qualified ARN', async (t) => {
  const { rec, client } = await startWorld(t);
  await createHello(client, 'quals');
  await expectAwsError(rec, 'GetFunction', client.send(new GetFunctionCommand({ FunctionName: 'quals', Qualifier: '9' })), notFound('quals', '9'));
  await expectAwsError(
    rec,
    'GetFunctionConfiguration',
    client.send(new GetFunctionConfigurationCommand({ FunctionName: 'quals:live' })),
    notFound('quals', 'live'),
  );
});

test('DeleteFunction answers 204 and the function is gone afterwards', async (t) => {
  const { rec, client } = await startWorld(t);
  await createHello(client, 'doomed', { Publish: true });
  const out = await client.send(new DeleteFunctionCommand({ FunctionName: 'doomed' }));
  assert.equal(out.$metadata.httpStatusCode, 204);
  assert.equal(rec.last()?.body, '');
  await expectAwsError(rec, 'GetFunction', client.send(new GetFunctionCommand({ FunctionName: 'doomed' })), notFound('doomed'));
  await expectAwsError(rec, 'GetFunction', client.send(new GetFunctionCommand({ FunctionName: 'doomed', Qualifier: '1' })), notFound('doomed', '1'));
  await expectAwsError(rec, 'DeleteFunction', client.send(new DeleteFunctionCommand({ FunctionName: 'doomed' })), notFound('doomed'));
  // The name is free again.
  const again = await createHello(client, 'doomed');
  assert.equal(again.Version, '$LATEST');
});
