import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { GetFunctionConfigurationCommand, GetFunctionCommand, ResourceNotFoundException } from '@aws-sdk/client-lambda';
import { assertLastOutput, createRecordingClient } from '../../support/recording-client.js';
import {
  assertOutputBody,
  checkErrorResponse,
  checkOutputBody,
  describeOperation,
  operationNames,
} from '../../support/service-model.js';

const configuration = {
  FunctionName: 'hello',
  FunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:hello',
  Runtime: 'nodejs20.x',
  Role: 'arn:aws:iam::000000000000:role/hello',
  Handler: 'index.handler',
  CodeSize: 312,
  Timeout: 3,
  MemorySize: 128,
  LastModified: '2019-08-14T22:26:11.234+0000',
  Version: '$LATEST',
  State: 'Active',
  PackageType: 'Zip',
  Architectures: ['x86_64'],
  Environment: { Variables: { GREETING: 'hi' } },
  EphemeralStorage: { Size: 512 },
};

function paths(problems: { path: string }[]): string[] {
  return problems.map((p) => p.path);
}

test('a valid GetFunctionConfiguration body has no problems', () => {
  assert.deepEqual(checkOutputBody('GetFunctionConfiguration', configuration), []);
  assert.doesNotThrow(() => assertOutputBody('GetFunctionConfiguration', configuration));
});

test('an unknown member is reported with its path, at the top and nested', () => {
  const body = { Configuration: { ...configuration, Colour: 'red' }, Extra: 1 };
  assert.deepEqual(paths(checkOutputBody('GetFunction', body)).sort(), ['$.Configuration.Colour', '$.Extra']);
  assert.throws(() => assertOutputBody('GetFunction', body), { name: 'AssertionError', message: /\$\.Configuration\.Colour/ });
});

test('a missing or null required member of a structure inside a list is reported', () => {
  const url = {
    FunctionUrl: 'https://abc.lambda-url.us-east-1.on.aws/',
    FunctionArn: configuration.FunctionArn,
    CreationTime: '2021-03-01T00:00:00.000Z',
    LastModifiedTime: '2021-03-01T00:00:00.000Z',
    AuthType: 'NONE',
  };
  const { AuthType: _dropped, ...withoutAuthType } = url;
  assert.deepEqual(checkOutputBody('ListFunctionUrlConfigs', { FunctionUrlConfigs: [url] }), []);
  const missing = checkOutputBody('ListFunctionUrlConfigs', { FunctionUrlConfigs: [url, withoutAuthType] });
  assert.deepEqual(missing, [{ path: '$.FunctionUrlConfigs[1].AuthType', problem: 'missing required member of FunctionUrlConfig' }]);
  const nulled = checkOutputBody('ListFunctionUrlConfigs', { FunctionUrlConfigs: [{ ...url, AuthType: null }] });
  assert.deepEqual(paths(nulled), ['$.FunctionUrlConfigs[0].AuthType']);
  assert.deepEqual(paths(checkOutputBody('ListFunctionUrlConfigs', {})), ['$.FunctionUrlConfigs']);
});

test('an enum value outside the model, directly or inside a list, is reported', () => {
  const problems = checkOutputBody('GetFunctionConfiguration', { ...configuration, State: 'Sleeping', Architectures: ['sparc'] });
  assert.deepEqual(paths(problems), ['$.State', '$.Architectures[0]']);
  assert.match(problems[0]?.problem ?? '', /"Sleeping" is not a State value/);
});

test('JSON type mismatches are reported, including fractions in integer members', () => {
  const problems = checkOutputBody('GetFunctionConfiguration', {
    ...configuration,
    FunctionName: 42,
    MemorySize: 128.5,
    Layers: {},
    Environment: { Variables: { GREETING: 1 } },
  });
  assert.deepEqual(paths(problems), ['$.FunctionName', '$.MemorySize', '$.Environment.Variables["GREETING"]', '$.Layers']);
  assert.equal(problems[0]?.problem, 'expected string, got number');
});

test('Timestamp-named strings stay strings while real timestamps are epoch-seconds numbers', () => {
  const mapping = { UUID: 'a1b2', State: 'Enabled', BatchSize: 10 };
  assert.deepEqual(checkOutputBody('GetEventSourceMapping', { ...mapping, LastModified: 1565821571.234 }), []);
  assert.deepEqual(paths(checkOutputBody('GetEventSourceMapping', { ...mapping, LastModified: '2019-08-14T22:26:11Z' })), [
    '$.LastModified',
  ]);
  assert.deepEqual(paths(checkOutputBody('GetFunctionConfiguration', { LastModified: 1565821571 })), ['$.LastModified']);
});

test('header-bound members are not accepted in the body, and Invoke bodies are not shape-checked', () => {
  assert.equal(describeOperation('Invoke').output.members.get('FunctionError')?.header, 'X-Amz-Function-Error');
  assert.deepEqual(paths(checkOutputBody('Invoke', { anything: 'goes' })), []);
  assert.deepEqual(paths(checkOutputBody('DeleteFunction', { StatusCode: 204 })), ['$.StatusCode']);
  assert.deepEqual(checkOutputBody('DeleteAlias', {}), []);
});

test('operationNames lists the Lambda operations', () => {
  const names = operationNames();
  for (const name of ['CreateFunction', 'Invoke', 'ListLayers', 'GetFunctionConfiguration']) assert.ok(names.includes(name), name);
  assert.ok(names.length > 60, `only ${names.length} operations`);
  assert.throws(() => checkOutputBody('NoSuchOperation', {}), { name: 'AssertionError' });
});

test('checkErrorResponse accepts declared and service-wide errors and rejects made-up ones', () => {
  const body = { Type: 'User', Message: 'Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope' };
  assert.deepEqual(checkErrorResponse('GetFunction', 'ResourceNotFoundException', body), []);
  assert.deepEqual(checkErrorResponse('GetFunction', 'ResourceNotFoundException:http://internal.amazon.com/coral/', body), []);
  assert.deepEqual(checkErrorResponse('GetFunction', 'UnrecognizedClientException', { message: 'bad token' }), []);
  assert.deepEqual(paths(checkErrorResponse('GetFunction', 'MadeUpException', body)), ['x-amzn-errortype']);
  assert.deepEqual(paths(checkErrorResponse('GetFunction', 'CodeStorageExceededException', body)), ['x-amzn-errortype']);
});

test('checkErrorResponse requires a JSON object with a string message and modeled member types', () => {
  assert.deepEqual(paths(checkErrorResponse('GetFunction', 'ResourceNotFoundException', { Type: 'User' })), ['$']);
  assert.deepEqual(paths(checkErrorResponse('GetFunction', 'ResourceNotFoundException', 'oops')), ['$']);
  assert.deepEqual(paths(checkErrorResponse('GetFunction', 'ResourceNotFoundException', { message: 'x', Type: 7 })), ['$.Type']);
  const throttled = { Type: 'User', message: 'Rate Exceeded.', Reason: 'TooBusy' };
  assert.deepEqual(paths(checkErrorResponse('Invoke', 'TooManyRequestsException', throttled)), ['$.Reason']);
});

async function startFakeLambda(t: test.TestContext, answer: (req: IncomingMessage) => { status: number; headers: Record<string, string>; body: string }) {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const { status, headers, body } = answer(req);
      res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const rec = createRecordingClient({
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    accessKeyId: 'AKIDEXAMPLE',
    secretAccessKey: 'secret',
  });
  t.after(async () => {
    rec.client.destroy();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return rec;
}

test('the recording client resolves SDK calls and keeps the raw response body', async (t) => {
  const raw = JSON.stringify(configuration);
  const rec = await startFakeLambda(t, (req) => {
    assert.equal(req.url, '/2015-03-31/functions/hello/configuration');
    return { status: 200, headers: { 'X-Amzn-RequestId': 'req-1' }, body: raw };
  });
  const output = await rec.client.send(new GetFunctionConfigurationCommand({ FunctionName: 'hello' }));
  assert.equal(output.FunctionName, 'hello');
  assert.deepEqual(output.Architectures, ['x86_64']);
  assert.equal(rec.last()?.body, raw);
  assert.equal(rec.last()?.statusCode, 200);
  assert.equal(rec.last()?.headers['x-amzn-requestid'], 'req-1');
  assert.doesNotThrow(() => assertLastOutput(rec, 'GetFunctionConfiguration'));
  assert.throws(() => assertLastOutput(rec, 'ListLayers'), { name: 'AssertionError' });
});

test('the recording client records error responses the SDK turns into exceptions', async (t) => {
  const raw = JSON.stringify({ Type: 'User', Message: 'Function not found: hello' });
  const rec = await startFakeLambda(t, () => ({ status: 404, headers: { 'x-amzn-ErrorType': 'ResourceNotFoundException' }, body: raw }));
  await assert.rejects(rec.client.send(new GetFunctionCommand({ FunctionName: 'hello' })), ResourceNotFoundException);
  const last = rec.last();
  assert.equal(last?.statusCode, 404);
  assert.equal(last?.body, raw);
  assert.equal(rec.all().length, 1);
  assert.deepEqual(checkErrorResponse('GetFunction', last?.headers['x-amzn-errortype'] ?? '', JSON.parse(last?.body ?? '')), []);
});
