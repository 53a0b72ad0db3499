/** Create/Get/Update/Delete/ListAliases with routing, and reading a function through an alias. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  CreateAliasCommand,
  DeleteAliasCommand,
  GetAliasCommand,
  GetFunctionCommand,
  GetFunctionConfigurationCommand,
  ListAliasesCommand,
  UpdateAliasCommand,
  UpdateFunctionCodeCommand,
  type CreateAliasCommandInput,
  type LambdaClient,
} from '@aws-sdk/client-lambda';
import { assertLastOutput } from '../support/recording-client.js';
import { UUID, createHello, expectAwsError, functionArn, helloZip, startWorld, type World } from './fixtures.js';

/** A function with versions 1 and 2 (different code). */
async function twoVersions(client: LambdaClient, name: string): Promise<void> {
  await createHello(client, name, { Publish: true });
  await client.send(new UpdateFunctionCodeCommand({ FunctionName: name, ZipFile: await helloZip(`${name} v2`), Publish: true }));
}

test('CreateAlias answers 201, then Get, Update, List and Delete behave as on AWS', async (t) => {
  const { rec, client } = await startWorld(t);
  await twoVersions(client, 'al');
  const created = await client.send(new CreateAliasCommand({ FunctionName: 'al', Name: 'live', FunctionVersion: '1', Description: 'prod' }));
  assert.equal(rec.last()?.statusCode, 201);
  assertLastOutput(rec, 'CreateAlias');
  assert.equal(created.AliasArn, functionArn('al', 'live'));
  assert.equal(created.Name, 'live');
  assert.equal(created.FunctionVersion, '1');
  assert.equal(created.Description, 'prod');
  assert.equal(created.RoutingConfig, undefined);
  assert.match(created.RevisionId ?? '', UUID);

  const got = await client.send(new GetAliasCommand({ FunctionName: 'al', Name: 'live' }));
  assertLastOutput(rec, 'GetAlias');
  assert.equal(got.RevisionId, created.RevisionId);

  const updated = await client.send(new UpdateAliasCommand({ FunctionName: 'al', Name: 'live', FunctionVersion: '2', RevisionId: created.RevisionId }));
  assertLastOutput(rec, 'UpdateAlias');
  assert.equal(updated.FunctionVersion, '2');
  assert.equal(updated.Description, 'prod');
  assert.notEqual(updated.RevisionId, created.RevisionId);

  await client.send(new CreateAliasCommand({ FunctionName: 'al', Name: 'beta', FunctionVersion: '$LATEST' }));
  const all = await client.send(new ListAliasesCommand({ FunctionName: 'al' }));
  assertLastOutput(rec, 'ListAliases');
  assert.deepEqual(all.Aliases?.map((a) => [a.Name, a.FunctionVersion]), [['beta', '$LATEST'], ['live', '2']]);
  const onTwo = await client.send(new ListAliasesCommand({ FunctionName: 'al', FunctionVersion: '2' }));
  assert.deepEqual(onTwo.Aliases?.map((a) => a.Name), ['live']);
  const page = await client.send(new ListAliasesCommand({ FunctionName: 'al', MaxItems: 1 }));
  assert.deepEqual(page.Aliases?.map((a) => a.Name), ['beta']);
  const next = await client.send(new ListAliasesCommand({ FunctionName: 'al', MaxItems: 1, Marker: page.NextMarker }));
  assert.deepEqual(next.Aliases?.map((a) => a.Name), ['live']);
  assert.equal(next.NextMarker, undefined);

  const deleted = await client.send(new DeleteAliasCommand({ FunctionName: 'al', Name: 'live' }));
  assert.equal(deleted.$metadata.httpStatusCode, 204);
  await expectAwsError(rec, 'GetAlias', client.send(new GetAliasCommand({ FunctionName: 'al', Name: 'live' })), {
    type: 'ResourceNotFoundException',
    status: 404,
    message: `Alias not found: ${functionArn('al', 'live')}`,
  });
  await expectAwsError(rec, 'UpdateAlias', client.send(new UpdateAliasCommand({ FunctionName: 'al', Name: 'live', Description: 'x' })), {
    type: 'ResourceNotFoundException',
    status: 404,
    message: `Cannot find alias arn: ${functionArn('al', 'live')}`,
  });
});

test('a RoutingConfig with one weighted version is kept, answered and can be removed', async (t) => {
  const { rec, client } = await startWorld(t);
  await twoVersions(client, 'rt');
  const created = await client.send(
    new CreateAliasCommand({ FunctionName: 'rt', Name: 'canary', FunctionVersion: '2', RoutingConfig: { AdditionalVersionWeights: { '1': 0.25 } } }),
  );
  assertLastOutput(rec, 'CreateAlias');
  assert.deepEqual(created.RoutingConfig, { AdditionalVersionWeights: { '1': 0.25 } });
  const got = await client.send(new GetAliasCommand({ FunctionName: 'rt', Name: 'canary' }));
  assert.deepEqual(got.RoutingConfig, { AdditionalVersionWeights: { '1': 0.25 } });
  const byAdditional = await client.send(new ListAliasesCommand({ FunctionName: 'rt', FunctionVersion: '1' }));
  assert.deepEqual(byAdditional.Aliases?.map((a) => a.Name), ['canary']);

  const moved = await client.send(new UpdateAliasCommand({ FunctionName: 'rt', Name: 'canary', RoutingConfig: { AdditionalVersionWeights: { '1': 0.5 } } }));
  assertLastOutput(rec, 'UpdateAlias');
  assert.deepEqual(moved.RoutingConfig, { AdditionalVersionWeights: { '1': 0.5 } });
  const cleared = await client.send(new UpdateAliasCommand({ FunctionName: 'rt', Name: 'canary', RoutingConfig: { AdditionalVersionWeights: {} } }));
  assertLastOutput(rec, 'UpdateAlias');
  assert.equal('RoutingConfig' in JSON.parse(rec.last()!.body), false);
  assert.equal(cleared.FunctionVersion, '2');
});

async function refusedAlias(world: World, input: { Name?: string; FunctionVersion?: string; weights?: Record<string, number> }, type: string, status: number, message: string | RegExp): Promise<void> {
  await expectAwsError(
    world.rec,
    'CreateAlias',
    world.client.send(
      new CreateAliasCommand({
        FunctionName: 'bad',
        Name: input.Name ?? 'a',
        FunctionVersion: input.FunctionVersion ?? '2',
        ...(input.weights ? { RoutingConfig: { AdditionalVersionWeights: input.weights } } : {}),
      }),
    ),
    { type, status, message },
  );
}

test('invalid aliases and routing configurations are refused with AWS error types and messages', async (t) => {
  const world = await startWorld(t);
  await twoVersions(world.client, 'bad');
  await createHello(world.client, 'other', { Publish: true });
  await refusedAlias(world, { weights: { '1': 0.1, '3': 0.1 } }, 'InvalidParameterValueException', 400, 'Number of items in AdditionalVersionWeights cannot be greater than 1');
  await refusedAlias(world, { weights: { '1': 1.5 } }, 'ValidationException', 400, /^1 validation error detected: Value '\{1=1.5\}' at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: Map value must satisfy constraint: \[Member must have value less than or equal to 1.0/);
  await refusedAlias(world, { weights: { '2': 0.5 } }, 'InvalidParameterValueException', 400, 'Invalid function version 2. Function version 2 is already included in routing configuration.');
  await refusedAlias(world, { FunctionVersion: '$LATEST', weights: { '1': 0.5 } }, 'InvalidParameterValueException', 400, '$LATEST is not supported for an alias pointing to more than 1 version');
  await refusedAlias(world, { Name: '2024' }, 'ValidationException', 400, "1 validation error detected: Value '2024' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)");
  await refusedAlias(world, { FunctionVersion: '9' }, 'ResourceNotFoundException', 404, `Function not found: ${functionArn('bad', '9')}`);
  await expectAwsError(
    world.rec,
    'CreateAlias',
    world.client.send(new CreateAliasCommand({ FunctionName: 'bad', Name: 'no-version' } as CreateAliasCommandInput)),
    { type: 'ValidationException', status: 400, message: "1 validation error detected: Value null at 'functionVersion' failed to satisfy constraint: Member must not be null" },
  );
  await refusedAlias(world, { weights: { '9': 0.5 } }, 'ResourceNotFoundException', 404, `Function not found: ${functionArn('bad', '9')}`);

  const first = await world.client.send(new CreateAliasCommand({ FunctionName: 'bad', Name: 'dup', FunctionVersion: '1' }));
  await refusedAlias(world, { Name: 'dup' }, 'ResourceConflictException', 409, `Alias already exists: ${functionArn('bad', 'dup')}`);
  // The same alias name on another function is another alias.
  await world.client.send(new CreateAliasCommand({ FunctionName: 'other', Name: 'dup', FunctionVersion: '1' }));
  await world.client.send(new UpdateAliasCommand({ FunctionName: 'bad', Name: 'dup', Description: 'moved' }));
  await expectAwsError(
    world.rec,
    'UpdateAlias',
    world.client.send(new UpdateAliasCommand({ FunctionName: 'bad', Name: 'dup', FunctionVersion: '2', RevisionId: first.RevisionId })),
    {
      type: 'PreconditionFailedException',
      status: 412,
      message: 'The Revision Id provided does not match the latest Revision Id. Call the GetAlias API to retrieve the latest Revision Id',
    },
  );
  const kept = await world.client.send(new GetAliasCommand({ FunctionName: 'bad', Name: 'dup' }));
  assert.equal(kept.FunctionVersion, '1');
  assert.equal(kept.Description, 'moved');
});

test('GetFunction and GetFunctionConfiguration through an alias answer the target version under the alias ARN', async (t) => {
  const { rec, client } = await startWorld(t);
  await twoVersions(client, 'via');
  await client.send(new CreateAliasCommand({ FunctionName: 'via', Name: 'stable', FunctionVersion: '1' }));
  const one = await client.send(new GetFunctionConfigurationCommand({ FunctionName: 'via', Qualifier: '1' }));
  const latest = await client.send(new GetFunctionConfigurationCommand({ FunctionName: 'via' }));
  assert.notEqual(one.CodeSha256, latest.CodeSha256);

  const config = await client.send(new GetFunctionConfigurationCommand({ FunctionName: 'via', Qualifier: 'stable' }));
  assertLastOutput(rec, 'GetFunctionConfiguration');
  assert.equal(config.FunctionArn, functionArn('via', 'stable'));
  assert.equal(config.Version, '1');
  assert.equal(config.CodeSha256, one.CodeSha256);
  assert.equal(config.RevisionId, one.RevisionId);

  const full = await client.send(new GetFunctionCommand({ FunctionName: functionArn('via', 'stable') }));
  assertLastOutput(rec, 'GetFunction');
  assert.equal(full.Configuration?.FunctionArn, functionArn('via', 'stable'));
  assert.equal(full.Configuration?.Version, '1');
  assert.equal(full.Configuration?.CodeSha256, one.CodeSha256);
});
