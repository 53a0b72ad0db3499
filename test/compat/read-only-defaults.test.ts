/**
 * Read-only operations of features Kindling does not have yet answer what AWS answers for a function that does not
 * use them (infrastructure tools read them after every change), and operations not built yet answer a clear 4xx.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  CreateEventSourceMappingCommand,
  GetFunctionCodeSigningConfigCommand,
  GetFunctionEventInvokeConfigCommand,
  GetFunctionRecursionConfigCommand,
  GetFunctionUrlConfigCommand,
  GetProvisionedConcurrencyConfigCommand,
  GetRuntimeManagementConfigCommand,
  ListCodeSigningConfigsCommand,
  ListEventSourceMappingsCommand,
  ListFunctionEventInvokeConfigsCommand,
  ListFunctionUrlConfigsCommand,
  ListProvisionedConcurrencyConfigsCommand,
  CreateFunctionUrlConfigCommand,
} from '@aws-sdk/client-lambda';
import { assertLastOutput } from '../support/recording-client.js';
import { createHello, expectAwsError, functionArn, notFound, startWorld } from './fixtures.js';

test('the read-only defaults answer as AWS answers for a function without the feature, each shape per the model', async (t) => {
  const { rec, client } = await startWorld(t);
  await createHello(client, 'plain', { Publish: true });

  const signing = await client.send(new GetFunctionCodeSigningConfigCommand({ FunctionName: 'plain' }));
  assertLastOutput(rec, 'GetFunctionCodeSigningConfig');
  assert.deepEqual({ arn: signing.CodeSigningConfigArn, name: signing.FunctionName }, { arn: '', name: 'plain' });

  const recursion = await client.send(new GetFunctionRecursionConfigCommand({ FunctionName: 'plain' }));
  assertLastOutput(rec, 'GetFunctionRecursionConfig');
  assert.equal(recursion.RecursiveLoop, 'Terminate');

  const runtime = await client.send(new GetRuntimeManagementConfigCommand({ FunctionName: 'plain' }));
  assertLastOutput(rec, 'GetRuntimeManagementConfig');
  assert.equal(runtime.UpdateRuntimeOn, 'Auto');
  assert.equal(runtime.FunctionArn, functionArn('plain', '$LATEST'));

  const invokeConfigs = await client.send(new ListFunctionEventInvokeConfigsCommand({ FunctionName: 'plain' }));
  assertLastOutput(rec, 'ListFunctionEventInvokeConfigs');
  assert.deepEqual(invokeConfigs.FunctionEventInvokeConfigs, []);

  const provisioned = await client.send(new ListProvisionedConcurrencyConfigsCommand({ FunctionName: 'plain' }));
  assertLastOutput(rec, 'ListProvisionedConcurrencyConfigs');
  assert.deepEqual(provisioned.ProvisionedConcurrencyConfigs, []);

  const urls = await client.send(new ListFunctionUrlConfigsCommand({ FunctionName: 'plain' }));
  assertLastOutput(rec, 'ListFunctionUrlConfigs');
  assert.deepEqual(urls.FunctionUrlConfigs, []);

  const mappings = await client.send(new ListEventSourceMappingsCommand({}));
  assertLastOutput(rec, 'ListEventSourceMappings');
  assert.deepEqual(mappings.EventSourceMappings, []);
  await client.send(new ListEventSourceMappingsCommand({ FunctionName: 'plain' }));
  assertLastOutput(rec, 'ListEventSourceMappings');

  const signingConfigs = await client.send(new ListCodeSigningConfigsCommand({}));
  assertLastOutput(rec, 'ListCodeSigningConfigs');
  assert.deepEqual(signingConfigs.CodeSigningConfigs, []);
});

test('the "not configured" answers are AWS 404s naming what is missing', async (t) => {
  const { rec, client } = await startWorld(t);
  await createHello(client, 'plain', { Publish: true });
  await expectAwsError(rec, 'GetFunctionEventInvokeConfig', client.send(new GetFunctionEventInvokeConfigCommand({ FunctionName: 'plain' })), {
    type: 'ResourceNotFoundException',
    status: 404,
    message: `The function ${functionArn('plain', '$LATEST')} doesn't have an EventInvokeConfig`,
  });
  await expectAwsError(rec, 'GetFunctionEventInvokeConfig', client.send(new GetFunctionEventInvokeConfigCommand({ FunctionName: 'plain', Qualifier: '1' })), {
    type: 'ResourceNotFoundException',
    status: 404,
    message: `The function ${functionArn('plain', '1')} doesn't have an EventInvokeConfig`,
  });
  await expectAwsError(rec, 'GetProvisionedConcurrencyConfig', client.send(new GetProvisionedConcurrencyConfigCommand({ FunctionName: 'plain', Qualifier: '1' })), {
    type: 'ProvisionedConcurrencyConfigNotFoundException',
    status: 404,
    message: 'No Provisioned Concurrency Config found for this function',
  });
  await expectAwsError(rec, 'GetFunctionUrlConfig', client.send(new GetFunctionUrlConfigCommand({ FunctionName: 'plain' })), {
    type: 'ResourceNotFoundException',
    status: 404,
    message: 'The resource you requested does not exist.',
  });
});

test('the read-only defaults answer 404 for an unknown function', async (t) => {
  const { rec, client } = await startWorld(t);
  const FunctionName = 'nope';
  const calls: Array<[string, () => Promise<unknown>]> = [
    ['GetFunctionCodeSigningConfig', () => client.send(new GetFunctionCodeSigningConfigCommand({ FunctionName }))],
    ['GetFunctionRecursionConfig', () => client.send(new GetFunctionRecursionConfigCommand({ FunctionName }))],
    ['GetRuntimeManagementConfig', () => client.send(new GetRuntimeManagementConfigCommand({ FunctionName }))],
    ['ListFunctionEventInvokeConfigs', () => client.send(new ListFunctionEventInvokeConfigsCommand({ FunctionName }))],
    ['GetFunctionEventInvokeConfig', () => client.send(new GetFunctionEventInvokeConfigCommand({ FunctionName }))],
    ['ListProvisionedConcurrencyConfigs', () => client.send(new ListProvisionedConcurrencyConfigsCommand({ FunctionName }))],
    ['ListFunctionUrlConfigs', () => client.send(new ListFunctionUrlConfigsCommand({ FunctionName }))],
  ];
  for (const [operation, call] of calls) await expectAwsError(rec, operation, call(), notFound('nope'));
});

test('an operation that is not built yet answers a clear 4xx naming it, never a 500', async (t) => {
  const { rec, client } = await startWorld(t);
  await createHello(client, 'plain');
  const calls: Array<[string, () => Promise<unknown>]> = [
    ['CreateEventSourceMapping', () => client.send(new CreateEventSourceMappingCommand({ FunctionName: 'plain', EventSourceArn: 'arn:aws:sqs:us-east-1:000000000000:q' }))],
    ['CreateFunctionUrlConfig', () => client.send(new CreateFunctionUrlConfigCommand({ FunctionName: 'plain', AuthType: 'NONE' }))],
  ];
  for (const [operation, call] of calls) {
    const error = await expectAwsError(rec, operation, call(), { type: 'UnknownOperationException', status: 404, message: /^Kindling does not implement this operation yet: (POST|PUT) \/20\d\d-\d\d-\d\d\// });
    assert.equal(error.$fault, 'client');
  }
});

test('an operation that is not built yet still requires a valid signature', async (t) => {
  const { server } = await startWorld(t);
  const response = await fetch(`${server.url}/2015-03-31/event-source-mappings`, { method: 'POST', body: '{}' });
  await response.arrayBuffer();
  assert.equal(response.status, 403);
  assert.equal(response.headers.get('x-amzn-errortype'), 'MissingAuthenticationTokenException');
});
