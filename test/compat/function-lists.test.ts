/** ListFunctions and its paginator, version deletes, duplicate names, and 404 for an unknown function everywhere. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  AddPermissionCommand,
  CreateAliasCommand,
  DeleteAliasCommand,
  DeleteFunctionCommand,
  DeleteFunctionConcurrencyCommand,
  GetAliasCommand,
  GetFunctionCommand,
  GetFunctionConcurrencyCommand,
  GetFunctionConfigurationCommand,
  GetPolicyCommand,
  ListAliasesCommand,
  ListFunctionsCommand,
  ListTagsCommand,
  ListVersionsByFunctionCommand,
  PublishVersionCommand,
  PutFunctionConcurrencyCommand,
  RemovePermissionCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateAliasCommand,
  UpdateFunctionCodeCommand,
  UpdateFunctionConfigurationCommand,
  paginateListFunctions,
  type FunctionConfiguration,
  type LambdaClient,
} from '@aws-sdk/client-lambda';
import { assertLastOutput } from '../support/recording-client.js';
import { createHello, expectAwsError, functionArn, helloZip, notFound, startWorld } from './fixtures.js';

const LIST_OMITS = ['State', 'StateReason', 'StateReasonCode', 'LastUpdateStatus', 'LastUpdateStatusReason', 'LastUpdateStatusReasonCode', 'RuntimeVersionConfig'];

test('ListFunctions pages with MaxItems and Marker, omits NextMarker on the last page, and list items omit State fields', async (t) => {
  const { rec, client } = await startWorld(t);
  for (const name of ['e', 'c', 'a', 'd', 'b']) await createHello(client, `fn-${name}`);
  const first = await client.send(new ListFunctionsCommand({ MaxItems: 2 }));
  assertLastOutput(rec, 'ListFunctions');
  assert.deepEqual(first.Functions?.map((f) => f.FunctionName), ['fn-a', 'fn-b']);
  assert.equal(typeof first.NextMarker, 'string');
  const second = await client.send(new ListFunctionsCommand({ MaxItems: 2, Marker: first.NextMarker }));
  assertLastOutput(rec, 'ListFunctions');
  assert.deepEqual(second.Functions?.map((f) => f.FunctionName), ['fn-c', 'fn-d']);
  const third = await client.send(new ListFunctionsCommand({ MaxItems: 2, Marker: second.NextMarker }));
  assertLastOutput(rec, 'ListFunctions');
  assert.deepEqual(third.Functions?.map((f) => f.FunctionName), ['fn-e']);
  assert.equal('NextMarker' in JSON.parse(rec.last()!.body), false);

  const all = await client.send(new ListFunctionsCommand({}));
  assert.equal(all.Functions?.length, 5);
  const raw = JSON.parse(rec.last()!.body) as { Functions: Record<string, unknown>[] };
  for (const item of raw.Functions) {
    for (const member of LIST_OMITS) assert.equal(member in item, false, `${String(item.FunctionName)} has ${member}`);
    assert.equal(item.FunctionArn, functionArn(String(item.FunctionName)));
    assert.equal(item.Version, '$LATEST');
  }
});

test('paginateListFunctions terminates and yields each function exactly once', async (t) => {
  const { client } = await startWorld(t);
  const names = Array.from({ length: 7 }, (_, i) => `page-${i}`);
  for (const name of names) await createHello(client, name);
  const seen: string[] = [];
  let pages = 0;
  for await (const page of paginateListFunctions({ client, pageSize: 3 }, {})) {
    pages += 1;
    seen.push(...(page.Functions ?? []).map((f: FunctionConfiguration) => f.FunctionName!));
    assert.ok(pages <= 3, 'the paginator did not stop');
  }
  assert.equal(pages, 3);
  assert.deepEqual(seen, [...names].sort());
});

test('ListFunctions with FunctionVersion=ALL lists every version under its qualified ARN', async (t) => {
  const { rec, client } = await startWorld(t);
  await createHello(client, 'multi', { Publish: true });
  await client.send(new UpdateFunctionCodeCommand({ FunctionName: 'multi', ZipFile: await helloZip('v2'), Publish: true }));
  await createHello(client, 'single');
  const out = await client.send(new ListFunctionsCommand({ FunctionVersion: 'ALL' }));
  assertLastOutput(rec, 'ListFunctions');
  assert.deepEqual(out.Functions?.map((f) => [f.FunctionArn, f.Version]), [
    [functionArn('multi', '$LATEST'), '$LATEST'],
    [functionArn('multi', '1'), '1'],
    [functionArn('multi', '2'), '2'],
    [functionArn('single', '$LATEST'), '$LATEST'],
  ]);
  const paged = await client.send(new ListFunctionsCommand({ FunctionVersion: 'ALL', MaxItems: 3 }));
  assert.equal(paged.Functions?.length, 3);
  const rest = await client.send(new ListFunctionsCommand({ FunctionVersion: 'ALL', MaxItems: 3, Marker: paged.NextMarker }));
  assert.deepEqual(rest.Functions?.map((f) => f.FunctionArn), [functionArn('single', '$LATEST')]);
  assert.equal(rest.NextMarker, undefined);
  await expectAwsError(rec, 'ListFunctions', client.send(new ListFunctionsCommand({ FunctionVersion: 'SOME' as 'ALL' })), {
    type: 'ValidationException',
    status: 400,
    message: "1 validation error detected: Value 'SOME' at 'functionVersion' failed to satisfy constraint: Member must satisfy enum value set: [ALL]",
  });
  await expectAwsError(rec, 'ListFunctions', client.send(new ListFunctionsCommand({ MaxItems: 0 })), {
    type: 'ValidationException',
    status: 400,
    message: "1 validation error detected: Value '0' at 'maxItems' failed to satisfy constraint: Member must have value greater than or equal to 1",
  });
});

test('a second CreateFunction with the same name answers 409 with AWS message', async (t) => {
  const { rec, client } = await startWorld(t);
  const first = await createHello(client, 'twice');
  await expectAwsError(rec, 'CreateFunction', createHello(client, 'twice'), {
    type: 'ResourceConflictException',
    status: 409,
    message: 'Function already exist: twice',
  });
  const now = await client.send(new GetFunctionConfigurationCommand({ FunctionName: 'twice' }));
  assert.equal(now.RevisionId, first.RevisionId);
});

test('DeleteFunction with a Qualifier deletes one version; $LATEST and versions an alias uses are refused', async (t) => {
  const { rec, client } = await startWorld(t);
  await createHello(client, 'versions', { Publish: true });
  await client.send(new UpdateFunctionCodeCommand({ FunctionName: 'versions', ZipFile: await helloZip('v2'), Publish: true }));
  await client.send(new CreateAliasCommand({ FunctionName: 'versions', Name: 'live', FunctionVersion: '2' }));

  const deleted = await client.send(new DeleteFunctionCommand({ FunctionName: 'versions', Qualifier: '1' }));
  assert.equal(deleted.$metadata.httpStatusCode, 204);
  await expectAwsError(rec, 'GetFunctionConfiguration', client.send(new GetFunctionConfigurationCommand({ FunctionName: 'versions', Qualifier: '1' })), notFound('versions', '1'));
  await expectAwsError(rec, 'DeleteFunction', client.send(new DeleteFunctionCommand({ FunctionName: 'versions', Qualifier: '1' })), notFound('versions', '1'));

  await expectAwsError(rec, 'DeleteFunction', client.send(new DeleteFunctionCommand({ FunctionName: 'versions', Qualifier: '$LATEST' })), {
    type: 'InvalidParameterValueException',
    status: 400,
    message: '$LATEST version cannot be deleted without deleting the function.',
  });
  await expectAwsError(rec, 'DeleteFunction', client.send(new DeleteFunctionCommand({ FunctionName: 'versions:2' })), {
    type: 'ResourceConflictException',
    status: 409,
    message: /\blive\b/,
  });
  const versions = await client.send(new ListVersionsByFunctionCommand({ FunctionName: 'versions' }));
  assert.deepEqual(versions.Versions?.map((v) => v.Version), ['$LATEST', '2']);

  // Once the alias moves away, version 2 can go.
  await client.send(new DeleteAliasCommand({ FunctionName: 'versions', Name: 'live' }));
  await client.send(new DeleteFunctionCommand({ FunctionName: functionArn('versions', '2') }));
  const after = await client.send(new ListVersionsByFunctionCommand({ FunctionName: 'versions' }));
  assert.deepEqual(after.Versions?.map((v) => v.Version), ['$LATEST']);
});

/** Every operation that names a function, sent for one that does not exist. */
function callsOnMissing(client: LambdaClient, name: string): Array<[string, () => Promise<unknown>]> {
  const FunctionName = name;
  return [
    ['GetFunction', () => client.send(new GetFunctionCommand({ FunctionName }))],
    ['GetFunctionConfiguration', () => client.send(new GetFunctionConfigurationCommand({ FunctionName }))],
    ['DeleteFunction', () => client.send(new DeleteFunctionCommand({ FunctionName }))],
    ['UpdateFunctionCode', async () => client.send(new UpdateFunctionCodeCommand({ FunctionName, ZipFile: await helloZip() }))],
    ['UpdateFunctionConfiguration', () => client.send(new UpdateFunctionConfigurationCommand({ FunctionName, Timeout: 5 }))],
    ['PublishVersion', () => client.send(new PublishVersionCommand({ FunctionName }))],
    ['ListVersionsByFunction', () => client.send(new ListVersionsByFunctionCommand({ FunctionName }))],
    ['CreateAlias', () => client.send(new CreateAliasCommand({ FunctionName, Name: 'live', FunctionVersion: '$LATEST' }))],
    ['GetAlias', () => client.send(new GetAliasCommand({ FunctionName, Name: 'live' }))],
    ['UpdateAlias', () => client.send(new UpdateAliasCommand({ FunctionName, Name: 'live', Description: 'x' }))],
    ['DeleteAlias', () => client.send(new DeleteAliasCommand({ FunctionName, Name: 'live' }))],
    ['ListAliases', () => client.send(new ListAliasesCommand({ FunctionName }))],
    ['PutFunctionConcurrency', () => client.send(new PutFunctionConcurrencyCommand({ FunctionName, ReservedConcurrentExecutions: 1 }))],
    ['GetFunctionConcurrency', () => client.send(new GetFunctionConcurrencyCommand({ FunctionName }))],
    ['DeleteFunctionConcurrency', () => client.send(new DeleteFunctionConcurrencyCommand({ FunctionName }))],
    ['AddPermission', () => client.send(new AddPermissionCommand({ FunctionName, StatementId: 's', Action: 'lambda:InvokeFunction', Principal: 's3.amazonaws.com' }))],
    ['RemovePermission', () => client.send(new RemovePermissionCommand({ FunctionName, StatementId: 's' }))],
    ['GetPolicy', () => client.send(new GetPolicyCommand({ FunctionName }))],
    ['ListTags', () => client.send(new ListTagsCommand({ Resource: functionArn(name) }))],
    ['TagResource', () => client.send(new TagResourceCommand({ Resource: functionArn(name), Tags: { a: 'b' } }))],
    ['UntagResource', () => client.send(new UntagResourceCommand({ Resource: functionArn(name), TagKeys: ['a'] }))],
  ];
}

test('every operation on an unknown function answers 404 "Function not found: <arn>"', async (t) => {
  const { rec, client } = await startWorld(t);
  await createHello(client, 'exists');
  for (const [operation, call] of callsOnMissing(client, 'nope')) {
    await t.test(operation, async () => {
      await expectAwsError(rec, operation, call(), notFound('nope'));
    });
  }
});
