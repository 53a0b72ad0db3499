/** Put/Update/Get/Delete/ListFunctionEventInvokeConfig(s) through the SDK (LAMBDA_REFERENCE rows 94–98). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  CreateAliasCommand,
  DeleteAliasCommand,
  DeleteFunctionCommand,
  DeleteFunctionEventInvokeConfigCommand,
  GetFunctionEventInvokeConfigCommand,
  ListFunctionEventInvokeConfigsCommand,
  PutFunctionEventInvokeConfigCommand,
  UpdateFunctionEventInvokeConfigCommand,
} from '@aws-sdk/client-lambda';
import { assertLastOutput } from '../support/recording-client.js';
import { createHello, expectAwsError, functionArn, notFound, startWorld } from './fixtures.js';

const QUEUE = 'arn:aws:sqs:us-east-1:000000000000:failed';
const BUCKET = 'arn:aws:s3:::failed-events';

test('Put answers the config with a qualified ARN, epoch-seconds LastModified and empty destinations when unset', async (t) => {
  const { rec, client } = await startWorld(t);
  await createHello(client, 'fn');
  await createHello(client, 'dest');
  const before = Date.now();
  const out = await client.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: 'fn' }));
  assertLastOutput(rec, 'PutFunctionEventInvokeConfig');
  const raw = JSON.parse(rec.last()!.body) as Record<string, unknown>;
  assert.equal(typeof raw.LastModified, 'number');
  assert.deepEqual({ ...raw, LastModified: undefined }, {
    LastModified: undefined,
    FunctionArn: functionArn('fn', '$LATEST'),
    DestinationConfig: { OnSuccess: {}, OnFailure: {} },
  });
  assert.ok(out.LastModified instanceof Date && Math.abs(out.LastModified.getTime() - before) < 60_000);

  const full = await client.send(
    new PutFunctionEventInvokeConfigCommand({
      FunctionName: 'fn',
      MaximumRetryAttempts: 1,
      MaximumEventAgeInSeconds: 3600,
      DestinationConfig: { OnSuccess: { Destination: functionArn('dest') }, OnFailure: { Destination: QUEUE } },
    }),
  );
  assertLastOutput(rec, 'PutFunctionEventInvokeConfig');
  assert.deepEqual(
    { retries: full.MaximumRetryAttempts, age: full.MaximumEventAgeInSeconds, destinations: full.DestinationConfig },
    { retries: 1, age: 3600, destinations: { OnSuccess: { Destination: functionArn('dest') }, OnFailure: { Destination: QUEUE } } },
  );
  const got = await client.send(new GetFunctionEventInvokeConfigCommand({ FunctionName: 'fn' }));
  assertLastOutput(rec, 'GetFunctionEventInvokeConfig');
  assert.deepEqual({ ...got, $metadata: undefined }, { ...full, $metadata: undefined });
});

test('Put replaces the whole config; Update merges into it and refuses an empty change', async (t) => {
  const { rec, client } = await startWorld(t);
  await createHello(client, 'fn');
  await client.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: 'fn', MaximumRetryAttempts: 0, DestinationConfig: { OnFailure: { Destination: QUEUE } } }));
  const replaced = await client.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: 'fn', MaximumEventAgeInSeconds: 60 }));
  assert.deepEqual([replaced.MaximumRetryAttempts, replaced.MaximumEventAgeInSeconds, replaced.DestinationConfig], [undefined, 60, { OnSuccess: {}, OnFailure: {} }]);

  const merged = await client.send(new UpdateFunctionEventInvokeConfigCommand({ FunctionName: 'fn', MaximumRetryAttempts: 2, DestinationConfig: { OnFailure: { Destination: BUCKET } } }));
  assertLastOutput(rec, 'UpdateFunctionEventInvokeConfig');
  assert.deepEqual([merged.MaximumRetryAttempts, merged.MaximumEventAgeInSeconds, merged.DestinationConfig], [2, 60, { OnSuccess: {}, OnFailure: { Destination: BUCKET } }]);

  await expectAwsError(rec, 'UpdateFunctionEventInvokeConfig', client.send(new UpdateFunctionEventInvokeConfigCommand({ FunctionName: 'fn' })), {
    type: 'InvalidParameterValueException',
    status: 400,
    message: 'You must specify at least one of error handling or destination setting.',
  });
  await createHello(client, 'bare');
  await expectAwsError(rec, 'UpdateFunctionEventInvokeConfig', client.send(new UpdateFunctionEventInvokeConfigCommand({ FunctionName: 'bare', MaximumRetryAttempts: 1 })), {
    type: 'ResourceNotFoundException',
    status: 404,
    message: `The function ${functionArn('bare', '$LATEST')} doesn't have an EventInvokeConfig`,
  });
});

test('configs are per qualifier, listed with their qualified ARNs in pages, and deleted one by one', async (t) => {
  const { rec, client } = await startWorld(t);
  await createHello(client, 'fn', { Publish: true });
  await client.send(new CreateAliasCommand({ FunctionName: 'fn', Name: 'live', FunctionVersion: '1' }));
  await client.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: 'fn', MaximumRetryAttempts: 0 }));
  await client.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: 'fn', Qualifier: '1', MaximumRetryAttempts: 1 }));
  await client.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: functionArn('fn', 'live'), MaximumRetryAttempts: 2 }));
  const viaAlias = await client.send(new GetFunctionEventInvokeConfigCommand({ FunctionName: 'fn', Qualifier: 'live' }));
  assert.deepEqual([viaAlias.FunctionArn, viaAlias.MaximumRetryAttempts], [functionArn('fn', 'live'), 2]);

  const first = await client.send(new ListFunctionEventInvokeConfigsCommand({ FunctionName: 'fn', MaxItems: 2 }));
  assertLastOutput(rec, 'ListFunctionEventInvokeConfigs');
  assert.ok(first.NextMarker);
  const rest = await client.send(new ListFunctionEventInvokeConfigsCommand({ FunctionName: 'fn', Marker: first.NextMarker }));
  assert.equal(rest.NextMarker, undefined);
  const all = [...(first.FunctionEventInvokeConfigs ?? []), ...(rest.FunctionEventInvokeConfigs ?? [])];
  assert.deepEqual(all.map((c) => [c.FunctionArn, c.MaximumRetryAttempts]), [
    [functionArn('fn', '$LATEST'), 0],
    [functionArn('fn', '1'), 1],
    [functionArn('fn', 'live'), 2],
  ]);

  await client.send(new DeleteFunctionEventInvokeConfigCommand({ FunctionName: 'fn', Qualifier: '1' }));
  assert.equal(rec.last()?.statusCode, 204);
  const gone = { type: 'ResourceNotFoundException', status: 404, message: `The function ${functionArn('fn', '1')} doesn't have an EventInvokeConfig` };
  await expectAwsError(rec, 'GetFunctionEventInvokeConfig', client.send(new GetFunctionEventInvokeConfigCommand({ FunctionName: 'fn', Qualifier: '1' })), gone);
  await expectAwsError(rec, 'DeleteFunctionEventInvokeConfig', client.send(new DeleteFunctionEventInvokeConfigCommand({ FunctionName: 'fn', Qualifier: '1' })), gone);
  assert.equal((await client.send(new ListFunctionEventInvokeConfigsCommand({ FunctionName: 'fn' }))).FunctionEventInvokeConfigs?.length, 2);
});

test('numbers outside AWS ranges are ValidationExceptions; unknown functions and qualifiers are 404', async (t) => {
  const { rec, client } = await startWorld(t);
  await createHello(client, 'fn');
  const cases: Array<[Record<string, number>, string]> = [
    [{ MaximumRetryAttempts: 3 }, "Value '3' at 'maximumRetryAttempts' failed to satisfy constraint: Member must have value less than or equal to 2"],
    [{ MaximumEventAgeInSeconds: 59 }, "Value '59' at 'maximumEventAgeInSeconds' failed to satisfy constraint: Member must have value greater than or equal to 60"],
    [{ MaximumEventAgeInSeconds: 21601 }, "Value '21601' at 'maximumEventAgeInSeconds' failed to satisfy constraint: Member must have value less than or equal to 21600"],
  ];
  for (const [input, message] of cases) {
    await expectAwsError(rec, 'PutFunctionEventInvokeConfig', client.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: 'fn', ...input })), {
      type: 'ValidationException',
      status: 400,
      message: `1 validation error detected: ${message}`,
    });
  }
  await expectAwsError(rec, 'PutFunctionEventInvokeConfig', client.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: 'nope' })), notFound('nope'));
  await expectAwsError(rec, 'PutFunctionEventInvokeConfig', client.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: 'fn', Qualifier: '7' })), notFound('fn', '7'));
  await expectAwsError(rec, 'ListFunctionEventInvokeConfigs', client.send(new ListFunctionEventInvokeConfigsCommand({ FunctionName: 'nope' })), notFound('nope'));
});

test('destinations must be functions, queues, topics or buses (buckets on failure only), never the function itself', async (t) => {
  const { rec, client } = await startWorld(t);
  await createHello(client, 'fn');
  await expectAwsError(rec, 'PutFunctionEventInvokeConfig', client.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: 'fn', DestinationConfig: { OnFailure: { Destination: functionArn('fn', '$LATEST') } } })), {
    type: 'InvalidParameterValueException',
    status: 400,
    message: "You can't specify the function as a destination for itself.",
  });
  const table = 'arn:aws:dynamodb:us-east-1:000000000000:table/t';
  await expectAwsError(rec, 'PutFunctionEventInvokeConfig', client.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: 'fn', DestinationConfig: { OnSuccess: { Destination: table } } })), {
    type: 'InvalidParameterValueException',
    status: 400,
    message: `The provided destination config DestinationConfig(onSuccess=OnSuccess(destination=${table}), onFailure=null) is invalid.`,
  });
  await expectAwsError(rec, 'PutFunctionEventInvokeConfig', client.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: 'fn', DestinationConfig: { OnSuccess: { Destination: BUCKET } } })), {
    type: 'InvalidParameterValueException',
    status: 400,
    message: `The provided destination config DestinationConfig(onSuccess=OnSuccess(destination=${BUCKET}), onFailure=null) is invalid.`,
  });
  await expectAwsError(rec, 'PutFunctionEventInvokeConfig', client.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: 'fn', DestinationConfig: { OnSuccess: { Destination: 'not-an-arn' } } })), {
    type: 'ValidationException',
    status: 400,
    message: /^1 validation error detected: Value 'not-an-arn' at 'destinationConfig\.onSuccess\.destination' failed to satisfy constraint: Member must satisfy regular expression pattern/,
  });
  const ok = await client.send(
    new PutFunctionEventInvokeConfigCommand({
      FunctionName: 'fn',
      DestinationConfig: { OnSuccess: { Destination: 'arn:aws:events:us-east-1:000000000000:event-bus/default' }, OnFailure: { Destination: BUCKET } },
    }),
  );
  assert.deepEqual(ok.DestinationConfig, { OnSuccess: { Destination: 'arn:aws:events:us-east-1:000000000000:event-bus/default' }, OnFailure: { Destination: BUCKET } });
});

test('a config goes with its function, version or alias: a new one of the same name starts without it', async (t) => {
  const { rec, client } = await startWorld(t);
  await createHello(client, 'fn', { Publish: true });
  await client.send(new CreateAliasCommand({ FunctionName: 'fn', Name: 'live', FunctionVersion: '1' }));
  for (const Qualifier of [undefined, '1', 'live']) {
    await client.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: 'fn', ...(Qualifier ? { Qualifier } : {}), MaximumRetryAttempts: 1 }));
  }
  const missing = (qualifier: string) => ({
    type: 'ResourceNotFoundException',
    status: 404,
    message: `The function ${functionArn('fn', qualifier)} doesn't have an EventInvokeConfig`,
  });
  await client.send(new DeleteAliasCommand({ FunctionName: 'fn', Name: 'live' }));
  await client.send(new CreateAliasCommand({ FunctionName: 'fn', Name: 'live', FunctionVersion: '1' }));
  await expectAwsError(rec, 'GetFunctionEventInvokeConfig', client.send(new GetFunctionEventInvokeConfigCommand({ FunctionName: 'fn', Qualifier: 'live' })), missing('live'));
  assert.equal((await client.send(new GetFunctionEventInvokeConfigCommand({ FunctionName: 'fn', Qualifier: '1' }))).MaximumRetryAttempts, 1);

  await client.send(new DeleteAliasCommand({ FunctionName: 'fn', Name: 'live' }));
  await client.send(new DeleteFunctionCommand({ FunctionName: 'fn', Qualifier: '1' }));
  assert.deepEqual((await client.send(new ListFunctionEventInvokeConfigsCommand({ FunctionName: 'fn' }))).FunctionEventInvokeConfigs?.map((c) => c.FunctionArn), [
    functionArn('fn', '$LATEST'),
  ]);

  await client.send(new DeleteFunctionCommand({ FunctionName: 'fn' }));
  await createHello(client, 'fn');
  await expectAwsError(rec, 'GetFunctionEventInvokeConfig', client.send(new GetFunctionEventInvokeConfigCommand({ FunctionName: 'fn' })), missing('$LATEST'));
});
