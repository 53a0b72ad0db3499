/** PublishVersion and ListVersionsByFunction through the real SDK. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  DeleteFunctionCommand,
  GetFunctionConfigurationCommand,
  ListVersionsByFunctionCommand,
  PublishVersionCommand,
  UpdateFunctionCodeCommand,
  UpdateFunctionConfigurationCommand,
  waitUntilFunctionUpdatedV2,
  type LambdaClient,
} from '@aws-sdk/client-lambda';
import { assertLastOutput } from '../support/recording-client.js';
import { UUID, createHello, expectAwsError, functionArn, helloZip, sha256Base64, startWorld } from './fixtures.js';

async function changeDescription(client: LambdaClient, name: string, description: string): Promise<void> {
  await client.send(new UpdateFunctionConfigurationCommand({ FunctionName: name, Description: description }));
  await waitUntilFunctionUpdatedV2({ client, maxWaitTime: 10 }, { FunctionName: name });
}

test('PublishVersion numbers versions 1, 2, … and answers 201 with the qualified ARN, Active and Successful', async (t) => {
  const { rec, client } = await startWorld(t);
  const created = await createHello(client, 'pv');
  const one = await client.send(new PublishVersionCommand({ FunctionName: 'pv', Description: 'first' }));
  assert.equal(rec.last()?.statusCode, 201);
  assertLastOutput(rec, 'PublishVersion');
  assert.equal(one.Version, '1');
  assert.equal(one.FunctionArn, functionArn('pv', '1'));
  assert.equal(one.Description, 'first');
  assert.equal(one.State, 'Active');
  assert.equal(one.LastUpdateStatus, 'Successful');
  assert.equal(one.StateReason, undefined);
  assert.equal(one.CodeSha256, created.CodeSha256);
  assert.match(one.RevisionId ?? '', UUID);
  assert.notEqual(one.RevisionId, created.RevisionId);

  await changeDescription(client, 'pv', 'changed');
  const two = await client.send(new PublishVersionCommand({ FunctionName: 'pv' }));
  assertLastOutput(rec, 'PublishVersion');
  assert.equal(two.Version, '2');
  assert.equal(two.Description, 'changed');
  // $LATEST keeps its own description; a version's Description does not flow back.
  assert.equal((await client.send(new GetFunctionConfigurationCommand({ FunctionName: 'pv' }))).Description, 'changed');
});

test('publishing again without a change answers the same version (201, same RevisionId); a code change gives a new one', async (t) => {
  const { rec, client } = await startWorld(t);
  await createHello(client, 'idem');
  const first = await client.send(new PublishVersionCommand({ FunctionName: 'idem' }));
  const again = await client.send(new PublishVersionCommand({ FunctionName: 'idem' }));
  assert.equal(rec.last()?.statusCode, 201);
  assertLastOutput(rec, 'PublishVersion');
  assert.equal(again.Version, '1');
  assert.equal(again.RevisionId, first.RevisionId);

  const zip = await helloZip('new code');
  await client.send(new UpdateFunctionCodeCommand({ FunctionName: 'idem', ZipFile: zip }));
  await waitUntilFunctionUpdatedV2({ client, maxWaitTime: 10 }, { FunctionName: 'idem' });
  const two = await client.send(new PublishVersionCommand({ FunctionName: 'idem' }));
  assert.equal(two.Version, '2');
  assert.equal(two.CodeSha256, sha256Base64(zip));
  const third = await client.send(new PublishVersionCommand({ FunctionName: 'idem' }));
  assert.equal(third.Version, '2');
});

test('version numbers are never reused after a version is deleted', async (t) => {
  const { client } = await startWorld(t);
  await createHello(client, 'reuse', { Publish: true });
  await changeDescription(client, 'reuse', 'b');
  assert.equal((await client.send(new PublishVersionCommand({ FunctionName: 'reuse' }))).Version, '2');
  await client.send(new DeleteFunctionCommand({ FunctionName: 'reuse', Qualifier: '2' }));
  await changeDescription(client, 'reuse', 'c');
  assert.equal((await client.send(new PublishVersionCommand({ FunctionName: 'reuse' }))).Version, '3');
  const versions = await client.send(new ListVersionsByFunctionCommand({ FunctionName: 'reuse' }));
  assert.deepEqual(versions.Versions?.map((v) => v.Version), ['$LATEST', '1', '3']);
});

test('PublishVersion with a CodeSha256 other than $LATEST answers 400 with AWS message; the right one publishes', async (t) => {
  const { rec, client } = await startWorld(t);
  const created = await createHello(client, 'sha');
  const wrong = sha256Base64(Buffer.from('something else'));
  await expectAwsError(rec, 'PublishVersion', client.send(new PublishVersionCommand({ FunctionName: 'sha', CodeSha256: wrong })), {
    type: 'InvalidParameterValueException',
    status: 400,
    message: `CodeSHA256 (${wrong}) is different from current CodeSHA256 in $LATEST (${created.CodeSha256}). Please try again with the CodeSHA256 in $LATEST.`,
  });
  const ok = await client.send(new PublishVersionCommand({ FunctionName: 'sha', CodeSha256: created.CodeSha256 }));
  assert.equal(ok.Version, '1');
});

test('PublishVersion with a stale RevisionId answers 412; the current one publishes', async (t) => {
  const { rec, client } = await startWorld(t);
  const created = await createHello(client, 'rev');
  await changeDescription(client, 'rev', 'moved on');
  await expectAwsError(rec, 'PublishVersion', client.send(new PublishVersionCommand({ FunctionName: 'rev', RevisionId: created.RevisionId })), {
    type: 'PreconditionFailedException',
    status: 412,
    message: 'The Revision Id provided does not match the latest Revision Id. Call the GetFunction API to retrieve the latest Revision Id',
  });
  const current = await client.send(new GetFunctionConfigurationCommand({ FunctionName: 'rev' }));
  const ok = await client.send(new PublishVersionCommand({ FunctionName: 'rev', RevisionId: current.RevisionId }));
  assert.equal(ok.Version, '1');
  await expectAwsError(rec, 'PublishVersion', client.send(new PublishVersionCommand({ FunctionName: 'rev:1' })), {
    type: 'InvalidParameterValueException',
    status: 400,
  });
});

test('ListVersionsByFunction answers $LATEST first with its :$LATEST ARN, then versions in numeric order, in pages', async (t) => {
  const { rec, client } = await startWorld(t);
  await createHello(client, 'many', { Publish: true });
  for (let i = 2; i <= 11; i += 1) {
    const out = await client.send(new UpdateFunctionCodeCommand({ FunctionName: 'many', ZipFile: await helloZip(`v${i}`), Publish: true }));
    assert.equal(out.Version, String(i));
  }
  const all = await client.send(new ListVersionsByFunctionCommand({ FunctionName: 'many' }));
  assertLastOutput(rec, 'ListVersionsByFunction');
  const expected = ['$LATEST', ...Array.from({ length: 11 }, (_, i) => String(i + 1))];
  assert.deepEqual(all.Versions?.map((v) => v.Version), expected);
  assert.deepEqual(all.Versions?.map((v) => v.FunctionArn), expected.map((v) => functionArn('many', v)));
  assert.equal(all.NextMarker, undefined);
  const raw = JSON.parse(rec.last()!.body) as { Versions: Record<string, unknown>[] };
  for (const item of raw.Versions) {
    for (const member of ['State', 'LastUpdateStatus', 'RuntimeVersionConfig']) assert.equal(member in item, false);
  }

  const pages: string[][] = [];
  let marker: string | undefined;
  do {
    const page = await client.send(new ListVersionsByFunctionCommand({ FunctionName: 'many', MaxItems: 5, Marker: marker }));
    assertLastOutput(rec, 'ListVersionsByFunction');
    pages.push(page.Versions!.map((v) => v.Version!));
    marker = page.NextMarker;
  } while (marker !== undefined && pages.length < 5);
  assert.deepEqual(pages, [expected.slice(0, 5), expected.slice(5, 10), expected.slice(10)]);
});
