/**
 * Provisioned concurrency through the SDK with real sandboxes: environments initialised ahead of the first invoke,
 * spill-over to on-demand, AWS's refusals, FAILED on a node too small, Delete, and a restart.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  CreateAliasCommand,
  DeleteAliasCommand,
  DeleteFunctionCommand,
  DeleteProvisionedConcurrencyConfigCommand,
  GetProvisionedConcurrencyConfigCommand,
  ListProvisionedConcurrencyConfigsCommand,
  PublishVersionCommand,
  PutFunctionConcurrencyCommand,
  PutProvisionedConcurrencyConfigCommand,
  UpdateAliasCommand,
  UpdateFunctionConfigurationCommand,
  type GetProvisionedConcurrencyConfigCommandOutput,
  type LambdaClient,
} from '@aws-sdk/client-lambda';
import { assertLastOutput, type RecordingClient } from '../support/recording-client.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { expectAwsError, functionArn, LAMBDA_TIMESTAMP, notFound, startWorld } from './fixtures.js';
import { deploy, invoke, parseReport, waitActive } from './invoke-support.js';

/** Records when its module was loaded (the init), which environment it is, and how it was initialised. */
const HANDLER = `
const initAt = Date.now();
const envId = Math.random().toString(36).slice(2);
export const handler = async (event) => {
  const startedAt = Date.now();
  if (event.crash) process.exit(1);
  if (event.sleepMs) await new Promise((resolve) => setTimeout(resolve, event.sleepMs));
  if (event.until) await new Promise((resolve) => setTimeout(resolve, Math.max(0, event.until - Date.now())));
  return { initAt, startedAt, envId, initType: process.env.AWS_LAMBDA_INITIALIZATION_TYPE };
};
`;

interface Answer {
  initAt: number;
  startedAt: number;
  envId: string;
  initType: string;
}

/** Deploys the handler and publishes version 1. */
async function deployPublished(client: LambdaClient, name: string, memoryMb = 128): Promise<void> {
  await deploy(client, name, { 'index.mjs': HANDLER }, { MemorySize: memoryMb, Timeout: 10 });
  await client.send(new PublishVersionCommand({ FunctionName: name }));
}

/** Polls Get (bounded) until the status is `want`; fails on any other settled status. */
async function waitStatus(rec: RecordingClient, name: string, qualifier: string, want: 'READY' | 'FAILED'): Promise<GetProvisionedConcurrencyConfigCommandOutput> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const out = await rec.client.send(new GetProvisionedConcurrencyConfigCommand({ FunctionName: name, Qualifier: qualifier }));
    assertLastOutput(rec, 'GetProvisionedConcurrencyConfig');
    if (out.Status === want) return out;
    assert.equal(out.Status, 'IN_PROGRESS', `unexpected status ${out.Status} (${out.StatusReason ?? ''})`);
    assert.ok(Date.now() < deadline, `${name}:${qualifier} did not become ${want}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Waits (bounded) until the server has exactly `n` environments. */
async function waitEnvironments(server: TestServer, n: number, message: string): Promise<void> {
  for (let i = 0; server.standalone.environmentCount() !== n; i++) {
    assert.ok(i < 400, `${message} (${server.standalone.environmentCount()} environments)`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Invokes once and checks it ran in an environment initialised before the call, without an Init Duration. */
async function invokeProvisioned(client: LambdaClient, name: string, qualifier: string): Promise<Answer> {
  const sentAt = Date.now();
  const out = await invoke(client, name, {}, { Qualifier: qualifier });
  assert.equal(out.functionError, undefined, out.text);
  const answer = out.json as Answer;
  assert.equal(answer.initType, 'provisioned-concurrency');
  assert.ok(answer.initAt < sentAt, `init ${answer.initAt} did not precede the invoke ${sentAt}`);
  assert.equal(parseReport(out.log, out.requestId!).initMs, undefined, 'a provisioned environment reports no Init Duration');
  return answer;
}

test('Put on a version: 202 IN_PROGRESS, then READY; the environments are initialised before the first invoke; List and Delete', async (t) => {
  const { rec, client, server } = await startWorld(t);
  await deployPublished(client, 'pc');
  const put = await client.send(new PutProvisionedConcurrencyConfigCommand({ FunctionName: 'pc', Qualifier: '1', ProvisionedConcurrentExecutions: 2 }));
  assertLastOutput(rec, 'PutProvisionedConcurrencyConfig');
  assert.equal(put.$metadata.httpStatusCode, 202);
  assert.equal(put.RequestedProvisionedConcurrentExecutions, 2);
  assert.equal(put.Status, 'IN_PROGRESS');
  assert.match(put.LastModified ?? '', LAMBDA_TIMESTAMP);

  const ready = await waitStatus(rec, 'pc', '1', 'READY');
  assert.deepEqual(
    [ready.RequestedProvisionedConcurrentExecutions, ready.AllocatedProvisionedConcurrentExecutions, ready.AvailableProvisionedConcurrentExecutions],
    [2, 2, 2],
  );
  assert.equal(ready.StatusReason, undefined);
  assert.equal(ready.LastModified, put.LastModified);
  assert.equal(server.standalone.environmentCount(), 2, 'both environments exist before any invoke');

  const first = await invokeProvisioned(client, 'pc', '1');
  const second = await invokeProvisioned(client, 'pc', '1');
  assert.equal(server.standalone.environmentCount(), 2, 'sequential invokes start no on-demand environment');
  assert.ok(first.envId.length > 0 && second.envId.length > 0);

  const list = await client.send(new ListProvisionedConcurrencyConfigsCommand({ FunctionName: 'pc' }));
  assertLastOutput(rec, 'ListProvisionedConcurrencyConfigs');
  assert.deepEqual(
    list.ProvisionedConcurrencyConfigs?.map((c) => [c.FunctionArn, c.RequestedProvisionedConcurrentExecutions, c.Status]),
    [[functionArn('pc', '1'), 2, 'READY']],
  );
  assert.equal(list.NextMarker, undefined);

  const deleted = await client.send(new DeleteProvisionedConcurrencyConfigCommand({ FunctionName: 'pc', Qualifier: '1' }));
  assert.equal(deleted.$metadata.httpStatusCode, 204);
  await expectAwsError(rec, 'GetProvisionedConcurrencyConfig', client.send(new GetProvisionedConcurrencyConfigCommand({ FunctionName: 'pc', Qualifier: '1' })), {
    type: 'ProvisionedConcurrencyConfigNotFoundException',
    status: 404,
    message: 'No Provisioned Concurrency Config found for this function',
  });
  await waitEnvironments(server, 0, 'Delete did not stop the provisioned environments');
  const after = await invoke(client, 'pc', {}, { Qualifier: '1' });
  assert.equal((after.json as Answer).initType, 'on-demand');
});

test('a provisioned environment that crashes is replaced by a fresh provisioned one', async (t) => {
  const { rec, client, server } = await startWorld(t);
  await deployPublished(client, 'crashy');
  await client.send(new PutProvisionedConcurrencyConfigCommand({ FunctionName: 'crashy', Qualifier: '1', ProvisionedConcurrentExecutions: 1 }));
  await waitStatus(rec, 'crashy', '1', 'READY');
  const before = await invokeProvisioned(client, 'crashy', '1');
  const crashed = await invoke(client, 'crashy', { crash: true }, { Qualifier: '1' });
  assert.equal(crashed.functionError, 'Unhandled');
  await waitStatus(rec, 'crashy', '1', 'READY');
  await waitEnvironments(server, 1, 'the crashed environment was not replaced by exactly one');
  const after = await invokeProvisioned(client, 'crashy', '1');
  assert.notEqual(after.envId, before.envId);
});

test('List pages with MaxItems and Marker; each item names its qualified ARN', async (t) => {
  const { rec, client } = await startWorld(t);
  await deployPublished(client, 'paged');
  await client.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'paged', Description: 'v2' }));
  await waitActive(client, 'paged');
  await client.send(new PublishVersionCommand({ FunctionName: 'paged' }));
  for (const Qualifier of ['2', '1']) {
    await client.send(new PutProvisionedConcurrencyConfigCommand({ FunctionName: 'paged', Qualifier, ProvisionedConcurrentExecutions: 1 }));
  }
  const first = await client.send(new ListProvisionedConcurrencyConfigsCommand({ FunctionName: 'paged', MaxItems: 1 }));
  assertLastOutput(rec, 'ListProvisionedConcurrencyConfigs');
  assert.deepEqual(first.ProvisionedConcurrencyConfigs?.map((c) => c.FunctionArn), [functionArn('paged', '1')]);
  assert.ok(first.NextMarker);
  const second = await client.send(new ListProvisionedConcurrencyConfigsCommand({ FunctionName: 'paged', MaxItems: 1, Marker: first.NextMarker }));
  assertLastOutput(rec, 'ListProvisionedConcurrencyConfigs');
  assert.deepEqual(second.ProvisionedConcurrencyConfigs?.map((c) => c.FunctionArn), [functionArn('paged', '2')]);
  assert.equal(second.NextMarker, undefined);
  await expectAwsError(rec, 'ListProvisionedConcurrencyConfigs', client.send(new ListProvisionedConcurrencyConfigsCommand({ FunctionName: 'paged', MaxItems: 51 })), {
    type: 'ValidationException',
    status: 400,
    message: "1 validation error detected: Value '51' at 'maxItems' failed to satisfy constraint: Member must have value less than or equal to 50",
  });
  await waitStatus(rec, 'paged', '1', 'READY');
  await waitStatus(rec, 'paged', '2', 'READY');
});

test('an alias config provisions its version; invocations beyond it spill over to on-demand environments', async (t) => {
  const { rec, client } = await startWorld(t);
  await deployPublished(client, 'spill');
  await client.send(new CreateAliasCommand({ FunctionName: 'spill', Name: 'live', FunctionVersion: '1' }));
  await client.send(new PutProvisionedConcurrencyConfigCommand({ FunctionName: 'spill', Qualifier: 'live', ProvisionedConcurrentExecutions: 1 }));
  await waitStatus(rec, 'spill', 'live', 'READY');
  const list = await client.send(new ListProvisionedConcurrencyConfigsCommand({ FunctionName: 'spill' }));
  assert.deepEqual(list.ProvisionedConcurrencyConfigs?.map((c) => c.FunctionArn), [functionArn('spill', 'live')]);
  const warm = await invokeProvisioned(client, 'spill', 'live');

  // Three at once, each holding its environment until one shared moment, so the others' cold starts finish while it runs.
  const sentAt = Date.now();
  const until = sentAt + 5_000;
  const answers = await Promise.all(
    [1, 2, 3].map(async () => {
      const out = await invoke(rec.client, 'spill', { until }, { Qualifier: 'live' });
      assert.equal(out.functionError, undefined, out.text);
      assert.equal(out.executedVersion, '1');
      return out.json as Answer;
    }),
  );
  const provisioned = answers.filter((a) => a.initType === 'provisioned-concurrency');
  const onDemand = answers.filter((a) => a.initType === 'on-demand');
  assert.equal(provisioned.length + onDemand.length, 3);
  assert.deepEqual(provisioned.map((a) => a.envId), [warm.envId], 'the one provisioned environment served one of them');
  assert.equal(onDemand.length, 2);
  for (const a of onDemand) assert.ok(a.initAt >= sentAt, 'the extra ones started on demand');
  assert.equal(new Set(answers.map((a) => a.envId)).size, 3, 'three environments overlapped');
});

test('an alias moved to another version moves its provisioned environments; deleting the alias stops them', async (t) => {
  const { rec, client, server } = await startWorld(t);
  await deployPublished(client, 'moving');
  await client.send(new CreateAliasCommand({ FunctionName: 'moving', Name: 'live', FunctionVersion: '1' }));
  await client.send(new PutProvisionedConcurrencyConfigCommand({ FunctionName: 'moving', Qualifier: 'live', ProvisionedConcurrentExecutions: 1 }));
  await waitStatus(rec, 'moving', 'live', 'READY');
  await client.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'moving', Description: 'v2' }));
  await waitActive(client, 'moving');
  assert.equal((await client.send(new PublishVersionCommand({ FunctionName: 'moving' }))).Version, '2');
  await client.send(new UpdateAliasCommand({ FunctionName: 'moving', Name: 'live', FunctionVersion: '2' }));
  await waitStatus(rec, 'moving', 'live', 'READY');
  const sentAt = Date.now();
  const out = await invoke(client, 'moving', {}, { Qualifier: 'live' });
  assert.equal(out.executedVersion, '2');
  assert.equal((out.json as Answer).initType, 'provisioned-concurrency');
  assert.ok((out.json as Answer).initAt < sentAt);
  await waitEnvironments(server, 1, 'the version 1 environment was not retired');
  await client.send(new DeleteAliasCommand({ FunctionName: 'moving', Name: 'live' }));
  await waitEnvironments(server, 0, 'deleting the alias did not stop its provisioned environment');
});

test('refusals with AWS\'s types and messages', async (t) => {
  const { rec, client } = await startWorld(t, { env: { KINDLING_CONCURRENCY_LIMIT: '103' } });
  await deployPublished(client, 'rules');
  await client.send(new CreateAliasCommand({ FunctionName: 'rules', Name: 'live', FunctionVersion: '1' }));
  await client.send(new CreateAliasCommand({ FunctionName: 'rules', Name: 'dev', FunctionVersion: '$LATEST' }));
  const put = (Qualifier: string, n: number, FunctionName = 'rules') =>
    client.send(new PutProvisionedConcurrencyConfigCommand({ FunctionName, Qualifier, ProvisionedConcurrentExecutions: n }));
  const unpublished = { type: 'InvalidParameterValueException', status: 400, message: 'Provisioned Concurrency Configs cannot be applied to unpublished function versions.' };
  await expectAwsError(rec, 'PutProvisionedConcurrencyConfig', put('$LATEST', 1), unpublished);
  await expectAwsError(rec, 'PutProvisionedConcurrencyConfig', put('dev', 1), unpublished);
  await expectAwsError(rec, 'PutProvisionedConcurrencyConfig', put('7', 1), notFound('rules', '7'));
  await expectAwsError(rec, 'PutProvisionedConcurrencyConfig', put('nope', 1), {
    type: 'ResourceNotFoundException',
    status: 404,
    message: `Cannot find alias arn: ${functionArn('rules', 'nope')}`,
  });
  await expectAwsError(rec, 'PutProvisionedConcurrencyConfig', put('1', 1, 'ghost'), notFound('ghost', '1'));
  await expectAwsError(rec, 'PutProvisionedConcurrencyConfig', put('1', 0), {
    type: 'ValidationException',
    status: 400,
    message: "1 validation error detected: Value '0' at 'provisionedConcurrentExecutions' failed to satisfy constraint: Member must have value greater than or equal to 1",
  });
  await expectAwsError(rec, 'GetProvisionedConcurrencyConfig', client.send(new GetProvisionedConcurrencyConfigCommand({ FunctionName: 'rules', Qualifier: '$LATEST' })), {
    type: 'InvalidParameterValueException',
    status: 400,
    message: 'The function resource provided must be an alias or a published version.',
  });
  // A limit of 103 keeps 100 unreserved: at most 3 provisioned on unreserved functions.
  await expectAwsError(rec, 'PutProvisionedConcurrencyConfig', put('1', 4), {
    type: 'InvalidParameterValueException',
    status: 400,
    message: "Specified ConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [100].",
  });
  await put('1', 1);
  await expectAwsError(rec, 'PutProvisionedConcurrencyConfig', put('live', 1), {
    type: 'ResourceConflictException',
    status: 409,
    message: "Alias can't be used for Provisioned Concurrency configuration on an already Provisioned version",
  });
  await client.send(new DeleteProvisionedConcurrencyConfigCommand({ FunctionName: 'rules', Qualifier: '1' }));
  await put('live', 1);
  await expectAwsError(rec, 'PutProvisionedConcurrencyConfig', put('1', 1), {
    type: 'ResourceConflictException',
    status: 409,
    message: 'Version is pointed by a Provisioned Concurrency alias',
  });
  await client.send(new DeleteProvisionedConcurrencyConfigCommand({ FunctionName: 'rules', Qualifier: 'live' }));
  await client.send(new PutFunctionConcurrencyCommand({ FunctionName: 'rules', ReservedConcurrentExecutions: 2 }));
  await expectAwsError(rec, 'PutProvisionedConcurrencyConfig', put('1', 3), {
    type: 'InvalidParameterValueException',
    status: 400,
    message: 'Requested Provisioned Concurrency should not be greater than the reservedConcurrentExecution for function',
  });
  // Deleting the alias deletes its (already deleted) config; a config of a deleted alias is no longer listed.
  await put('live', 2);
  // The reservation cannot drop below what is provisioned, nor (reserved again) squeeze others' provisioned environments.
  await expectAwsError(rec, 'PutFunctionConcurrency', client.send(new PutFunctionConcurrencyCommand({ FunctionName: 'rules', ReservedConcurrentExecutions: 1 })), {
    type: 'InvalidParameterValueException',
    status: 400,
    message: "ReservedConcurrentExecutions 1 should not be lower than function's total provisioned concurrency [2].",
  });
  await deployPublished(client, 'other');
  await client.send(new PutProvisionedConcurrencyConfigCommand({ FunctionName: 'other', Qualifier: '1', ProvisionedConcurrentExecutions: 1 }));
  // 103 − 2 reserved − 1 provisioned on an unreserved function leaves exactly 100; 3 reserved would leave 99.
  await expectAwsError(rec, 'PutFunctionConcurrency', client.send(new PutFunctionConcurrencyCommand({ FunctionName: 'rules', ReservedConcurrentExecutions: 3 })), {
    type: 'InvalidParameterValueException',
    status: 400,
    message: "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [100].",
  });
  await client.send(new DeleteProvisionedConcurrencyConfigCommand({ FunctionName: 'other', Qualifier: '1' }));
  await client.send(new DeleteAliasCommand({ FunctionName: 'rules', Name: 'live' }));
  const list = await client.send(new ListProvisionedConcurrencyConfigsCommand({ FunctionName: 'rules' }));
  assert.deepEqual(list.ProvisionedConcurrencyConfigs, []);
});

test('a node too small for the requested environments: FAILED with a reason, the ones that fit stay; deleting the version stops them', async (t) => {
  const { rec, client, server } = await startWorld(t, { env: { KINDLING_MAX_MEMORY_MB: '300' } });
  await deployPublished(client, 'big', 128);
  await client.send(new PutProvisionedConcurrencyConfigCommand({ FunctionName: 'big', Qualifier: '1', ProvisionedConcurrentExecutions: 3 }));
  const failed = await waitStatus(rec, 'big', '1', 'FAILED');
  assert.equal(failed.AllocatedProvisionedConcurrentExecutions, 2);
  assert.match(failed.StatusReason ?? '', /^Insufficient capacity: this node cannot host 3 provisioned environments of 128 MB/);
  await invokeProvisioned(client, 'big', '1');
  // Deleting the version deletes its config and stops its environments.
  await client.send(new DeleteFunctionCommand({ FunctionName: 'big', Qualifier: '1' }));
  await waitEnvironments(server, 0, 'deleting the version did not stop its provisioned environments');
});

test('configs survive a restart and are initialised again, with fresh environments', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'kindling-pc-restart-'));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const first = await startTestServer({ dataDir });
  t.after(() => first.close());
  const rec1 = first.recordingClient();
  await deployPublished(rec1.client, 'again');
  await rec1.client.send(new PutProvisionedConcurrencyConfigCommand({ FunctionName: 'again', Qualifier: '1', ProvisionedConcurrentExecutions: 1 }));
  await waitStatus(rec1, 'again', '1', 'READY');
  const before = await invokeProvisioned(rec1.client, 'again', '1');
  await first.close();

  const restartedAt = Date.now();
  const second = await startTestServer({ dataDir });
  t.after(() => second.close());
  const rec2 = second.recordingClient();
  const ready = await waitStatus(rec2, 'again', '1', 'READY');
  assert.equal(ready.AllocatedProvisionedConcurrentExecutions, 1);
  const after = await invokeProvisioned(rec2.client, 'again', '1');
  assert.notEqual(after.envId, before.envId);
  assert.ok(after.initAt >= restartedAt, 'the environment was initialised after the restart');
});
