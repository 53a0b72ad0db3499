/** Put/Get/DeleteFunctionConcurrency and GetAccountSettings through the real SDK. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  DeleteFunctionCommand,
  DeleteFunctionConcurrencyCommand,
  GetAccountSettingsCommand,
  GetFunctionConcurrencyCommand,
  ListVersionsByFunctionCommand,
  PutFunctionConcurrencyCommand,
} from '@aws-sdk/client-lambda';
import { assertLastOutput } from '../support/recording-client.js';
import { createHello, expectAwsError, publishLayer, startWorld } from './fixtures.js';

const BELOW_MINIMUM = {
  type: 'InvalidParameterValueException',
  status: 400,
  message: "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [100].",
};

test('GetFunctionConcurrency answers {} when unset; Put answers the value, Get reads it, Delete answers 204 and unsets it', async (t) => {
  const { rec, client } = await startWorld(t);
  await createHello(client, 'conc');
  const unset = await client.send(new GetFunctionConcurrencyCommand({ FunctionName: 'conc' }));
  assertLastOutput(rec, 'GetFunctionConcurrency');
  assert.equal(rec.last()?.body, '{}');
  assert.equal(unset.ReservedConcurrentExecutions, undefined);

  const put = await client.send(new PutFunctionConcurrencyCommand({ FunctionName: 'conc', ReservedConcurrentExecutions: 25 }));
  assertLastOutput(rec, 'PutFunctionConcurrency');
  assert.equal(put.ReservedConcurrentExecutions, 25);
  const got = await client.send(new GetFunctionConcurrencyCommand({ FunctionName: 'conc' }));
  assertLastOutput(rec, 'GetFunctionConcurrency');
  assert.equal(got.ReservedConcurrentExecutions, 25);

  const deleted = await client.send(new DeleteFunctionConcurrencyCommand({ FunctionName: 'conc' }));
  assert.equal(deleted.$metadata.httpStatusCode, 204);
  await client.send(new GetFunctionConcurrencyCommand({ FunctionName: 'conc' }));
  assert.equal(rec.last()?.body, '{}');
});

test('reserved concurrency must leave 100 unreserved of the account limit; 0 is allowed', async (t) => {
  const { rec, client } = await startWorld(t, { env: { KINDLING_CONCURRENCY_LIMIT: '1000' } });
  await createHello(client, 'big');
  await createHello(client, 'small');
  await expectAwsError(rec, 'PutFunctionConcurrency', client.send(new PutFunctionConcurrencyCommand({ FunctionName: 'big', ReservedConcurrentExecutions: 901 })), BELOW_MINIMUM);
  await client.send(new PutFunctionConcurrencyCommand({ FunctionName: 'big', ReservedConcurrentExecutions: 900 }));
  // Changing a function's own value does not count its old value twice.
  await client.send(new PutFunctionConcurrencyCommand({ FunctionName: 'big', ReservedConcurrentExecutions: 899 }));
  await expectAwsError(rec, 'PutFunctionConcurrency', client.send(new PutFunctionConcurrencyCommand({ FunctionName: 'small', ReservedConcurrentExecutions: 2 })), BELOW_MINIMUM);
  await client.send(new PutFunctionConcurrencyCommand({ FunctionName: 'small', ReservedConcurrentExecutions: 1 }));
  const zero = await client.send(new PutFunctionConcurrencyCommand({ FunctionName: 'small', ReservedConcurrentExecutions: 0 }));
  assert.equal(zero.ReservedConcurrentExecutions, 0);
  assert.equal((await client.send(new GetFunctionConcurrencyCommand({ FunctionName: 'small' }))).ReservedConcurrentExecutions, 0);
  await expectAwsError(rec, 'PutFunctionConcurrency', client.send(new PutFunctionConcurrencyCommand({ FunctionName: 'small', ReservedConcurrentExecutions: -1 })), {
    type: 'ValidationException',
    status: 400,
    message: "1 validation error detected: Value '-1' at 'reservedConcurrentExecutions' failed to satisfy constraint: Member must have value greater than or equal to 0",
  });
  await expectAwsError(rec, 'PutFunctionConcurrency', client.send(new PutFunctionConcurrencyCommand({ FunctionName: 'small:1', ReservedConcurrentExecutions: 1 })), {
    type: 'InvalidParameterValueException',
    status: 400,
  });
});

test('GetAccountSettings answers the configured limit, limit minus reserved, and usage from the store', async (t) => {
  const { rec, client } = await startWorld(t, { env: { KINDLING_CONCURRENCY_LIMIT: '500' } });
  const empty = await client.send(new GetAccountSettingsCommand({}));
  assertLastOutput(rec, 'GetAccountSettings');
  assert.deepEqual(empty.AccountLimit, {
    TotalCodeSize: 80530636800,
    CodeSizeUnzipped: 262144000,
    CodeSizeZipped: 52428800,
    ConcurrentExecutions: 500,
    UnreservedConcurrentExecutions: 500,
  });
  assert.deepEqual(empty.AccountUsage, { TotalCodeSize: 0, FunctionCount: 0 });

  const a = await createHello(client, 'acct-a', { Publish: true });
  const b = await createHello(client, 'acct-b');
  const layer = await publishLayer(client, 'acct-layer');
  await client.send(new PutFunctionConcurrencyCommand({ FunctionName: 'acct-a', ReservedConcurrentExecutions: 150 }));
  await client.send(new PutFunctionConcurrencyCommand({ FunctionName: 'acct-b', ReservedConcurrentExecutions: 50 }));
  await expectAwsError(rec, 'PutFunctionConcurrency', client.send(new PutFunctionConcurrencyCommand({ FunctionName: 'acct-b', ReservedConcurrentExecutions: 251 })), BELOW_MINIMUM);

  const versionsOfA = (await client.send(new ListVersionsByFunctionCommand({ FunctionName: 'acct-a' }))).Versions ?? [];
  assert.equal(versionsOfA.length, 2);
  const settings = await client.send(new GetAccountSettingsCommand({}));
  assertLastOutput(rec, 'GetAccountSettings');
  assert.equal(settings.AccountLimit?.ConcurrentExecutions, 500);
  assert.equal(settings.AccountLimit?.UnreservedConcurrentExecutions, 300);
  assert.equal(settings.AccountUsage?.FunctionCount, 2);
  // Every function version and every layer version counts.
  assert.equal(settings.AccountUsage?.TotalCodeSize, 2 * a.CodeSize! + b.CodeSize! + layer.Content!.CodeSize!);

  await client.send(new DeleteFunctionCommand({ FunctionName: 'acct-a' }));
  const after = await client.send(new GetAccountSettingsCommand({}));
  assert.equal(after.AccountLimit?.UnreservedConcurrentExecutions, 450);
  assert.equal(after.AccountUsage?.FunctionCount, 1);
  assert.equal(after.AccountUsage?.TotalCodeSize, b.CodeSize! + layer.Content!.CodeSize!);
});
